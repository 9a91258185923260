#!/bin/bash
# A/B comparison of two esppeer builds (soft-ix's ESP engine alone, static
# keys, no IKE) in integration/bench's namespace topology, alternating the
# builds round by round so a busy machine's slow phases hit both alike.
#
#   go build -o /tmp/esppeer-a ./integration/cmd/esppeer    # before
#   go build -o /tmp/esppeer-b ./integration/cmd/esppeer    # after
#   sudo esp/bench/ab.sh /tmp/esppeer-a /tmp/esppeer-b
#
# Environment: VARIANTS ("udp-gcm raw-gcm"; any of {raw,udp}-{cbc,gcm}),
# ROUNDS (3), SECS (8), WARMUP (1), PINGS (100). Prints per build and
# variant the median iperf3 TCP Mbit/s (all runs in brackets), the median
# ping RTT in us, the endpoints' CPU % and the sender's TCP retransmits.
set -u
[ $# -eq 2 ] || {
	echo "usage: $0 ESPPEER_A ESPPEER_B" >&2
	exit 2
}
BIN_A=$(realpath "$1") BIN_B=$(realpath "$2")
VARIANTS=${VARIANTS:-udp-gcm raw-gcm}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
WARMUP=${WARMUP:-1}
PINGS=${PINGS:-100}
PFX=espab
source "$(dirname "$0")/../../integration/bench/lib.sh"
trap cleanup EXIT
mkdir -p "$WORK/res"

sweep_stale
topology_up || die "building the namespace topology failed"
for r in $(seq "$ROUNDS"); do
	for v in $VARIANTS; do
		order="A B"
		[ $((r % 2)) = 0 ] && order="B A"
		for which in $order; do
			if [ "$which" = A ]; then ESPPEER_BIN=$BIN_A; else ESPPEER_BIN=$BIN_B; fi
			esppeer_up "$v" || die "esppeer $v ($which) setup failed"
			measure_iperf
			rtt=$(measure_rtt)
			esppeer_down
			log "round $r $v $which: $IPERF_MBPS Mbit/s, RTT $rtt us, CPU $IPERF_CPU%, retransmits $IPERF_RETR"
			echo "$IPERF_MBPS" >>"$WORK/res/$v-$which.mbps"
			echo "$IPERF_CPU" >>"$WORK/res/$v-$which.cpu"
			echo "$IPERF_RETR" >>"$WORK/res/$v-$which.retr"
			[ "$rtt" = n/a ] || echo "$rtt" >>"$WORK/res/$v-$which.rtt"
		done
	done
done

median() {
	[ -s "$1" ] || {
		echo n/a
		return
	}
	sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
echo "A=$BIN_A B=$BIN_B rounds=$ROUNDS secs=$SECS load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-3s %8s %-24s %8s %6s %6s\n' variant bin Mbit/s "(runs)" "RTT us" "CPU %" retr
for v in $VARIANTS; do
	for which in A B; do
		f=$WORK/res/$v-$which
		printf '%-10s %-3s %8s %-24s %8s %6s %6s\n' "$v" "$which" "$(median "$f.mbps")" \
			"($(paste -sd' ' "$f.mbps"))" "$(median "$f.rtt")" "$(median "$f.cpu")" "$(median "$f.retr")"
	done
done
