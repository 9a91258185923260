#!/bin/bash
# Per-core seal throughput of soft-ix's ESP suites against OpenSSL's
# stitched AES-256-CBC-HMAC-SHA256 and AES-256-GCM at the same packet size,
# measured in alternating rounds in one run; prints medians and ratios.
#
#   esp/bench/crypto.sh [rounds]   (default 5 rounds; about 10 s per round)
set -eu
ROUNDS=${1:-5}
cd "$(dirname "$0")/../.."
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Build the benchmark binary once so rounds measure only the crypto.
go test -c -o "$TMP/esp.test" ./esp >/dev/null

# openssl speed divides by user CPU time (default) or wall-clock time
# (-elapsed); the Go benchmark reports both too (cpu-MB/s and MB/s). The
# CPU-time figures are the main comparison: they hold up on a shared,
# loaded machine. Each is pinned to CPU $PIN.
PIN=${PIN:-1}
ossl() { # ossl EVP [-elapsed] -> MB/s
	taskset -c "$PIN" openssl speed ${2:-} -evp "$1" -bytes 1408 -seconds 3 2>/dev/null |
		awk 'END { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v * 1000 / 1e6 }'
}
gobench() { # gobench REGEX NAME -> appends MB/s to NAME-cpu and NAME-wall
	taskset -c "$PIN" "$TMP/esp.test" -test.run XXX -test.bench "$1" -test.benchtime 1s -test.cpu 1 >"$TMP/last"
	awk '/MB\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "cpu-MB/s") print $i }' "$TMP/last" | head -1 >>"$TMP/$2-cpu"
	awk '/MB\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") print $i }' "$TMP/last" | head -1 >>"$TMP/$2-wall"
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2] + a[NR/2+1]) / 2 }'; }

for r in $(seq "$ROUNDS"); do
	ossl aes-256-cbc-hmac-sha256 >>"$TMP/ossl_cbc-cpu"
	ossl aes-256-cbc-hmac-sha256 -elapsed >>"$TMP/ossl_cbc-wall"
	gobench 'BenchmarkSealBatch/aes256-sha256/1400$' go_cbc
	ossl aes-256-gcm >>"$TMP/ossl_gcm-cpu"
	ossl aes-256-gcm -elapsed >>"$TMP/ossl_gcm-wall"
	gobench 'BenchmarkSealBatch/aes256gcm16/1400$' go_gcm
	echo "round $r (cpu-time MB/s): openssl cbc-hmac $(tail -1 "$TMP/ossl_cbc-cpu") soft-ix $(tail -1 "$TMP/go_cbc-cpu");" \
		"openssl gcm $(tail -1 "$TMP/ossl_gcm-cpu") soft-ix $(tail -1 "$TMP/go_gcm-cpu")" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
row() { # row NAME OSSL GO
	local oc oe gc ge
	oc=$(median <"$TMP/$2-cpu") oe=$(median <"$TMP/$2-wall")
	gc=$(median <"$TMP/$3-cpu") ge=$(median <"$TMP/$3-wall")
	printf "%-32s %9s %9s %7s   %9s %9s %7s\n" "$1" "$oc" "$gc" "$(ratio "$gc" "$oc")" "$oe" "$ge" "$(ratio "$ge" "$oe")"
}
echo "per-core seal throughput, 1400-byte packets (OpenSSL: 1408 bytes), median of $ROUNDS rounds, MB/s"
printf "%-32s %9s %9s %7s   %9s %9s %7s\n" "" "CPU time:" "" "" "wall:" "" ""
printf "%-32s %9s %9s %7s   %9s %9s %7s\n" suite openssl soft-ix ratio openssl soft-ix ratio
row "AES-256-CBC + HMAC-SHA2-256-128" ossl_cbc go_cbc
row "AES-256-GCM-16" ossl_gcm go_gcm
