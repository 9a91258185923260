#!/bin/bash
# Throughput through the tunnel with a branch IX's packet filters and NAPT
# applied (nftables, from the IX file) against the same tunnel without
# them, in one run: e2e.sh with the contenders softix-gcm and
# softix-filt-gcm (and the CBC pair when SUITES says so), rotated every
# round, medians of ROUNDS (default 3) iperf3 runs; it prints the ratio
# filtered / unfiltered. The filters are those of published branch
# configurations in config/testdata/wild/ (lib.sh, softix_branch_filters).
#
# Usage (root):  integration/bench/filters.sh
# Environment:   ROUNDS (3), SECS (10), SUITES ("gcm"; "gcm cbc" for both),
#                and e2e.sh's others (SOFTIX_BIN, KEEP, ...).
set -e
dir=$(dirname "$0")
contenders=""
for s in ${SUITES:-gcm}; do
	case $s in
	gcm | cbc) contenders="$contenders softix-$s softix-filt-$s" ;;
	*) echo "filters.sh: SUITES: unknown suite $s (gcm, cbc)" >&2; exit 2 ;;
	esac
done
ROUNDS=${ROUNDS:-3} PINGS=${PINGS:-50} CONTENDERS="${contenders# }" exec bash "$dir/e2e.sh"
