#!/bin/sh
# bench.sh compares per-core seal throughput of package cbchmac for
# AES-256-CBC/HMAC-SHA256 at 1400-byte payloads with OpenSSL's stitched
# aes-256-cbc-hmac-sha256 at 1408 bytes (the 1400-byte payload padded with its
# ESP trailer to whole blocks; the Go figure counts only the 1400 bytes).
#
# Both run pinned to one CPU (taskset -c $CPU), alternating, $RUNS times; the
# script prints the median MB/s of each and the ratio Go/OpenSSL for the
# batch sizes 8 (what the data plane uses) and 1.
#
# Usage: esp/internal/cbchmac/bench.sh   (env: RUNS=5 CPU=1 SECONDS_EACH=2)
set -eu

RUNS=${RUNS:-5}
CPU=${CPU:-1}
SECS=${SECONDS_EACH:-2}
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Build the test binary once, so that compiling is not part of the runs.
(cd "$dir" && go test -c -o "$tmp/cbchmac.test" .)

# ossl prints the MB/s of "openssl speed -evp $1" at 1408 bytes.
ossl() {
	taskset -c "$CPU" openssl speed -evp "$1" -bytes 1408 -seconds "$SECS" 2>/dev/null |
		awk 'END { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v / 1000 }'
}

# gobench prints "batch MB/s" lines for Seal/aes256-sha256/1400.
gobench() {
	taskset -c "$CPU" "$tmp/cbchmac.test" -test.run '^$' \
		-test.bench 'Seal/aes256-sha256/1400/' -test.benchtime "${SECS}s" |
		awk '/^BenchmarkSeal/ { for (i = 1; i < NF; i++) if ($(i+1) == "MB/s") { b = $1; sub(/.*batch/, "", b); sub(/-.*/, "", b); print b, $i } }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "context (one run each, CPU $CPU, 1408 bytes):"
echo "  openssl aes-256-cbc: $(ossl aes-256-cbc) MB/s"
echo "  openssl sha256:      $(ossl sha256) MB/s"

i=1
while [ "$i" -le "$RUNS" ]; do
	o=$(ossl aes-256-cbc-hmac-sha256)
	echo "$o" >>"$tmp/ossl"
	gobench >"$tmp/go.$i"
	awk '$1 == 8 { print $2 }' "$tmp/go.$i" >>"$tmp/go8"
	awk '$1 == 1 { print $2 }' "$tmp/go.$i" >>"$tmp/go1"
	echo "run $i: openssl $o MB/s, cbchmac batch8 $(tail -n1 "$tmp/go8") MB/s, batch1 $(tail -n1 "$tmp/go1") MB/s"
	i=$((i + 1))
done

o=$(median <"$tmp/ossl")
g8=$(median <"$tmp/go8")
g1=$(median <"$tmp/go1")
echo "median of $RUNS: openssl aes-256-cbc-hmac-sha256 $o MB/s"
echo "median of $RUNS: cbchmac Seal aes256-sha256 1400 batch8 $g8 MB/s, ratio $(awk -v g="$g8" -v o="$o" 'BEGIN { printf "%.2f", g / o }')"
echo "median of $RUNS: cbchmac Seal aes256-sha256 1400 batch1 $g1 MB/s, ratio $(awk -v g="$g1" -v o="$o" 'BEGIN { printf "%.2f", g / o }')"
