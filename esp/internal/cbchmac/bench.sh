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
# openssl speed divides by the process's user CPU time unless given -elapsed,
# so it hardly notices other load on a shared machine, while go test -bench
# divides by wall-clock time. The benchmark therefore also reports cpu-MB/s
# (per second of the benchmark thread's CPU time), and the script compares
# like with like: CPU time (openssl speed, cpu-MB/s) as the main figure, and
# wall-clock time (openssl speed -elapsed, MB/s) beside it.
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

# ossl prints the MB/s of "openssl speed [-elapsed] -evp $1" at 1408 bytes.
ossl() {
	taskset -c "$CPU" openssl speed ${2:-} -evp "$1" -bytes 1408 -seconds "$SECS" 2>/dev/null |
		awk 'END { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v / 1000 }'
}

# gobench prints "batch MB/s cpu-MB/s" lines for Seal/aes256-sha256/1400.
gobench() {
	taskset -c "$CPU" "$tmp/cbchmac.test" -test.run '^$' \
		-test.bench 'Seal/aes256-sha256/1400/' -test.benchtime "${SECS}s" |
		awk '/^BenchmarkSeal/ {
			b = $1; sub(/.*batch/, "", b); sub(/-.*/, "", b)
			for (i = 1; i < NF; i++) {
				if ($(i+1) == "MB/s") w = $i
				if ($(i+1) == "cpu-MB/s") c = $i
			}
			print b, w, c
		}'
}

ratio() { awk -v g="$1" -v o="$2" 'BEGIN { printf "%.2f", g / o }'; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "context (one run each, CPU $CPU, 1408 bytes):"
echo "  openssl aes-256-cbc: $(ossl aes-256-cbc) MB/s"
echo "  openssl sha256:      $(ossl sha256) MB/s"

i=1
while [ "$i" -le "$RUNS" ]; do
	o=$(ossl aes-256-cbc-hmac-sha256)
	oe=$(ossl aes-256-cbc-hmac-sha256 -elapsed)
	echo "$o" >>"$tmp/ossl"
	echo "$oe" >>"$tmp/ossle"
	gobench >"$tmp/go.$i"
	for b in 8 1; do
		awk -v b=$b '$1 == b { print $2 }' "$tmp/go.$i" >>"$tmp/gow$b"
		awk -v b=$b '$1 == b { print $3 }' "$tmp/go.$i" >>"$tmp/goc$b"
	done
	echo "run $i: openssl $o MB/s (cpu), $oe MB/s (elapsed);" \
		"cbchmac batch8 $(tail -n1 "$tmp/goc8") cpu-MB/s, $(tail -n1 "$tmp/gow8") MB/s;" \
		"batch1 $(tail -n1 "$tmp/goc1") cpu-MB/s, $(tail -n1 "$tmp/gow1") MB/s"
	i=$((i + 1))
done

o=$(median <"$tmp/ossl")
oe=$(median <"$tmp/ossle")
echo "medians of $RUNS runs, MB/s:"
echo "  openssl speed -evp aes-256-cbc-hmac-sha256 -bytes 1408: $o (cpu time), $oe (elapsed)"
for b in 8 1; do
	c=$(median <"$tmp/goc$b")
	w=$(median <"$tmp/gow$b")
	echo "  cbchmac Seal aes256-sha256 1400 batch$b: $c (cpu time, ratio $(ratio "$c" "$o")), $w (elapsed, ratio $(ratio "$w" "$oe"))"
done
