#!/bin/bash
# End-to-end throughput and added latency of the ESP data plane through
# network namespaces: iperf3 TCP, bounded 10 s runs, alternating rounds,
# medians. Rows for strongSwan and wireguard-go plug in as run_<impl>
# functions of the same shape (bring the tunnel up, iperf_once, take it down).
#
#   esp/bench/throughput.sh [rounds] [seconds]   (defaults 3 and 10)
#
# Needs root, ip(8), iperf3, ping, jq, openssl, python3 (wireguard-go's
# UAPI); strongSwan rows need charon-systemd and swanctl with
# kernel-libipsec. Namespaces: esplabA / esplabB.
set -u
ROUNDS=${1:-3}
SECS=${2:-10}
source "$(dirname "$0")/lab.sh"
trap lab_down EXIT
for tool in ip iperf3 ping jq; do
	command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
lab_build || exit 1
wg_build || exit 1

# rtt_median DST -> median ping RTT in microseconds (50 pings).
rtt_median() {
	ip netns exec "$LAB_A" ping -n -c 50 -i 0.02 -W 1 -I "$2" "$1" 2>/dev/null |
		awk -F'time=' '/time=/ { split($2, a, " "); print a[1] * 1000 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print v[int((NR+1)/2)] }'
}

# run_softix SUITE -> Mbit/s of one run (UDP 4500 encapsulation, as
# against strongSwan's kernel-libipsec; RAW=1 for protocol 50).
run_softix() {
	lab_up "$1" "${UDP:-1}"
	iperf_once
	lab_down
}

# run_wireguard -> Mbit/s of wireguard-go (ChaCha20-Poly1305; shown in the
# AEAD column).
run_wireguard() {
	wg_up
	iperf_once
	lab_down
}

# run_strongswan SUITE -> Mbit/s of strongSwan with kernel-libipsec.
run_strongswan() {
	if ! command -v charon-systemd >/dev/null || ! command -v swanctl >/dev/null; then
		echo n/a
		return
	fi
	ss_up "$1"
	iperf_once
	lab_down
}

RESULTS=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
	for suite in aes256-sha256 aes256gcm16; do
		for impl in softix strongswan wireguard; do
			[ "$impl" = wireguard ] && [ "$suite" = aes256-sha256 ] && continue
			v=$(run_$impl "$suite")
			[ "$v" = n/a ] || echo "$v" >>"$RESULTS/$impl-$suite"
			echo "round $r $impl $suite: $v Mbit/s" >&2
		done
	done
done

# Added latency: RTT through the tunnel minus RTT over the bare veth. On a
# shared machine the wake-ups of four engine stages wait for a CPU; with
# RT=1 the engines run SCHED_FIFO (chrt) to show the engine's own share.
lab_up aes256gcm16 "${UDP:-1}"
sleep 0.5
rtt_tun=$(rtt_median 172.16.1.4 192.168.2.1)
rtt_raw=$(rtt_median 192.0.2.2 192.0.2.1)
if [ "${RT:-0}" = 1 ]; then
	for p in "${LAB_PIDS[@]}"; do
		for t in $(pgrep -P "$p") "$p"; do chrt -a -f -p 10 "$t" >/dev/null 2>&1; done
	done
	rtt_rt=$(rtt_median 172.16.1.4 192.168.2.1)
fi
lab_down
# Baseline: a plain Go UDP echo over the bare veth (two netpoller wake-ups
# per round trip; the tunnel adds four).
lab_net
ip netns exec "$LAB_B" "$ESPPEER" -udp-echo-server 192.0.2.2:7777 &
LAB_PIDS+=($!)
sleep 0.3
rtt_goecho=$(ip netns exec "$LAB_A" "$ESPPEER" -udp-echo-client 192.0.2.2:7777)
lab_down

echo
echo "iperf3 TCP A->B, ${SECS}s runs, median of $ROUNDS rounds (Mbit/s)"
printf "%-14s %14s %14s\n" impl aes256-sha256 aes256gcm16
for impl in softix strongswan wireguard; do
	a=n/a g=n/a
	[ -f "$RESULTS/$impl-aes256-sha256" ] && a=$(median <"$RESULTS/$impl-aes256-sha256")
	[ -f "$RESULTS/$impl-aes256gcm16" ] && g=$(median <"$RESULTS/$impl-aes256gcm16")
	printf "%-14s %14s %14s\n" "$impl" "${a:-n/a}" "${g:-n/a}"
	eval "med_${impl}_cbc=\$a med_${impl}_gcm=\$g"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo "soft-ix / strongSwan: aes256-sha256 $(ratio "$med_softix_cbc" "$med_strongswan_cbc"), aes256gcm16 $(ratio "$med_softix_gcm" "$med_strongswan_gcm")"
echo "soft-ix aes256gcm16 / wireguard-go: $(ratio "$med_softix_gcm" "$med_wireguard_gcm")"
added() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0) print a - b; else print "n/a" }'; }
echo "ping RTT median (us): through soft-ix $rtt_tun, bare veth $rtt_raw, added $(added "$rtt_tun" "$rtt_raw")"
echo "  baseline: Go UDP echo over the bare veth $rtt_goecho us, i.e. $(added "$rtt_goecho" "$rtt_raw") us for two Go wake-ups"
[ -n "${rtt_rt:-}" ] && echo "  engines at SCHED_FIFO: through soft-ix $rtt_rt, added $(added "$rtt_rt" "$rtt_raw")"
rm -rf "$RESULTS"
