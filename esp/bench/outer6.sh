#!/bin/bash
# Throughput of the ESP data plane with IPv6 outer addresses beside IPv4
# ones, in the same run: esppeer in two namespaces (lab.sh; LAB_OUTER6=1
# puts 2001:db8::1 and 2001:db8::2 on the veth), iperf3 TCP of IPv4 inner
# traffic, raw ESP and ESP in UDP 4500, the outer families alternating
# within each round. Prints medians and the IPv6/IPv4 ratio per encapsulation.
#
#   esp/bench/outer6.sh [rounds] [seconds] [suite]   (defaults 5, 5, aes256gcm16)
#
# Needs root, ip(8), iperf3, jq. Namespaces: $LAB_A / $LAB_B (default
# outer6A-PID / outer6B-PID).
set -u
ROUNDS=${1:-5}
SECS=${2:-5}
SUITE=${3:-aes256gcm16}
LAB_A=${LAB_A:-outer6A-$$}
LAB_B=${LAB_B:-outer6B-$$}
source "$(dirname "$0")/lab.sh"
trap lab_down EXIT
for tool in ip iperf3 jq; do
	command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
lab_build || exit 1

RESULTS=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
	order="0 1"
	[ $((r % 2)) = 0 ] && order="1 0"
	for udp in 0 1; do
		for v6 in $order; do
			LAB_OUTER6=$v6 lab_up "$SUITE" "$udp"
			sleep 0.3
			v=$(iperf_once)
			lab_down
			echo "$v" >>"$RESULTS/udp$udp-v6$v6"
			echo "round $r udp=$udp ipv6=$v6: $v Mbit/s" >&2
		done
	done
done

echo
echo "iperf3 TCP A->B, $SUITE, ${SECS}s runs, median of $ROUNDS rounds (Mbit/s); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-8s %10s %10s %8s\n" encap IPv4 IPv6 IPv6/IPv4
for udp in 0 1; do
	a=$(median <"$RESULTS/udp$udp-v60")
	b=$(median <"$RESULTS/udp$udp-v61")
	printf "%-8s %10s %10s %8s\n" "$([ $udp = 1 ] && echo udp4500 || echo raw)" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { if (a+0 > 0) printf "%.2f", b / a; else print "n/a" }')"
	echo "  runs IPv4: $(paste -sd' ' "$RESULTS/udp$udp-v60"); IPv6: $(paste -sd' ' "$RESULTS/udp$udp-v61")"
done
rm -rf "$RESULTS"
