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

ossl() { # ossl EVP -> MB/s
	openssl speed -evp "$1" -bytes 1408 -seconds 3 2>/dev/null |
		awk 'END { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v * 1000 / 1e6 }'
}
gobench() { # gobench REGEX -> MB/s
	"$TMP/esp.test" -test.run XXX -test.bench "$1" -test.benchtime 1s -test.cpu 1 |
		awk '/MB\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") print $i }' | head -1
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2] + a[NR/2+1]) / 2 }'; }

for r in $(seq "$ROUNDS"); do
	ossl aes-256-cbc-hmac-sha256 >>"$TMP/ossl_cbc"
	gobench 'BenchmarkSealBatch/aes256-sha256/1400$' >>"$TMP/go_cbc"
	ossl aes-256-gcm >>"$TMP/ossl_gcm"
	gobench 'BenchmarkSealBatch/aes256gcm16/1400$' >>"$TMP/go_gcm"
	echo "round $r: openssl cbc-hmac $(tail -1 "$TMP/ossl_cbc") go $(tail -1 "$TMP/go_cbc"); openssl gcm $(tail -1 "$TMP/ossl_gcm") go $(tail -1 "$TMP/go_gcm") MB/s" >&2
done

oc=$(median <"$TMP/ossl_cbc") gc=$(median <"$TMP/go_cbc")
og=$(median <"$TMP/ossl_gcm") gg=$(median <"$TMP/go_gcm")
echo "per-core seal throughput, 1400-byte packets (OpenSSL 1408 bytes), median of $ROUNDS rounds, MB/s"
printf "%-32s %10s %10s %8s\n" suite openssl soft-ix ratio
printf "%-32s %10s %10s %8s\n" "AES-256-CBC + HMAC-SHA2-256-128" "$oc" "$gc" "$(awk -v a="$gc" -v b="$oc" 'BEGIN { printf "%.2fx", a / b }')"
printf "%-32s %10s %10s %8s\n" "AES-256-GCM-16" "$og" "$gg" "$(awk -v a="$gg" -v b="$og" 'BEGIN { printf "%.2fx", a / b }')"
