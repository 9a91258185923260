#!/bin/sh
# Measures how fast soft-ix puts BGP-learned prefixes into the kernel and
# takes them out again: BIRD 2 in a network namespace announces 10,000
# static /24s to soft-ix's bgp+tun (integration/cmd/bgppeer) in another, then
# withdraws them; the time until the kernel holds all of them (and none) is
# measured three times and the medians are printed (target: < 5 s each).
#
# Needs root, ip, bird and birdc. Usage: bgp/bench/prefixes.sh [runs]
set -eu
cd "$(dirname "$0")/../.."
BGT_BENCH=1 BGT_RUNS="${1:-3}" exec go test -count=1 -run '^TestBGPPrefixes10k$' -v ./integration
