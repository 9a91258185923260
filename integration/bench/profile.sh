#!/bin/bash
# Where does a tunnel's time go? Brings up one contender of e2e.sh
# (default softix-cbc) in the same topology, runs one iperf3 TCP stream
# LAN -> VNet and, while it runs:
#
#   1. counts packets on every interface of the two endpoint namespaces
#      and the endpoints' system calls (perf stat on syscall tracepoints)
#      over the same window: packets per sendmmsg/recvmmsg/read/write
#      are the batch sizes actually achieved;
#   2. reads each endpoint thread's CPU time: are both cores used?
#   3. samples call stacks of both endpoints (perf record -g) and prints
#      the top symbols of each side, user and kernel;
#   4. prints the TUN device's offload features (ethtool -k) and average
#      packet sizes (above the MTU means GSO/GRO super-packets).
#
# Usage (root):  integration/bench/profile.sh [CONTENDER]
# Environment:   SECS iperf3 seconds (20), WINDOW seconds per measurement
#                (5), TOP symbols shown (25), KEEP=1 keeps perf.data and logs,
#                ALL=1 samples every CPU (perf record -a) instead of the
#                endpoints alone and adds the whole machine's split: its
#                busy time by kind, samples by command, top symbols, and
#                the share of a few kernel stages, callees included (the
#                routers' forwarding and the receiving side's ingress run
#                in the sender's softirq, iperf3's TCP in the TUN writer's).
#                WAN_GSO=off makes the internet path's four veths carry one
#                packet per skb, as e2e.sh's WAN_GSO=off does, so raw ESP
#                and ESP in UDP can be profiled over the same path.
# Needs perf (linux-perf) for steps 1 and 3; ethtool for step 4 (optional).
source "$(dirname "$0")/lib.sh"

CONTENDER=${1:-softix-cbc}
SECS=${SECS:-20}
WINDOW=${WINDOW:-5}
TOP=${TOP:-25}
[[ $SECS =~ ^[1-9][0-9]?$ ]] || die "SECS=$SECS: want 1 to 99"
[[ $WINDOW =~ ^[1-9]$ ]] || die "WINDOW=$WINDOW: want 1 to 9"
[ $((2 * WINDOW + 3)) -le "$SECS" ] || die "SECS must be at least 2*WINDOW+3"
[ "$(id -u)" = 0 ] || die "needs root"
for tool in ip iperf3 ping jq perf; do
	command -v $tool >/dev/null || die "missing $tool"
done

trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

case $CONTENDER in
softix-*) softix_build ;;
wg) wg_ensure ;;
esppeer-*) esppeer_build ;;
swan-* | plain) ;;
*) die "unknown contender $CONTENDER" ;;
esac
sweep_stale
topology_up || die "building the namespace topology failed"
if [ "${WAN_GSO:-on}" = off ]; then
	for l in "$NS_IX GigaEthernet0.0" "$NS_INET ix" "$NS_INET azure" "$NS_AZURE wan"; do
		set -- $l
		ip -n "$1" link set dev "$2" gso_max_segs 1 gso_max_size 1500 gro_max_size 1500 ||
			die "WAN_GSO=off: $2 in $1"
	done
fi
case $CONTENDER in
plain) plain_up ;;
softix-*) softix_up "${CONTENDER#softix-}" ;;
swan-*) swan_up "${CONTENDER#swan-}" ;;
wg) wg_up gcm ;;
esppeer-*) esppeer_up "${CONTENDER#esppeer-}" ;;
esac || die "$CONTENDER: tunnel setup failed (KEEP=1 keeps the logs in $WORK)"
[ ${#TUNNEL_PIDS[@]} -gt 0 ] || die "$CONTENDER has no endpoint processes to profile"
PIDLIST=$(
	IFS=,
	echo "${TUNNEL_PIDS[*]}"
)
log "$CONTENDER up; endpoint PIDs ix=${TUNNEL_PIDS[0]} azure=${TUNNEL_PIDS[1]:-}; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"

# link_stats: "ns dev rx_packets rx_bytes tx_packets tx_bytes" for every
# interface of the two endpoint namespaces.
link_stats() {
	local ns
	for ns in "$NS_IX" "$NS_AZURE"; do
		ip -s -j -n "$ns" link show | jq -r --arg ns "${ns##*-}" \
			'.[] | "\($ns) \(.ifname) \(.stats64.rx.packets) \(.stats64.rx.bytes) \(.stats64.tx.packets) \(.stats64.tx.bytes)"'
	done
}

# thread_ticks: "pid tid comm ticks" for every endpoint thread.
thread_ticks() {
	local p t
	for p in "${TUNNEL_PIDS[@]}"; do
		for t in /proc/"$p"/task/*; do
			awk -v p="$p" -v t="${t##*/}" '{ print p, t, $2, $14 + $15 }' "$t/stat" 2>/dev/null
		done
	done
}

start iperf3-server "$NS_VNET" iperf3 -s -1 -B $VNET_HOST
wait_until 5 "iperf3 server" nsx "$NS_VNET" sh -c "ss -Htln src $VNET_HOST:5201 | grep -q ."
start iperf3-client "$NS_LAN" timeout $((SECS + 15)) iperf3 -J -c $VNET_HOST -B $LAN_HOST -t "$SECS"
CLIENT=$START_PID
sleep 2

# 1 and 2: packets, syscalls (one perf stat per endpoint) and thread CPU
# over one window.
link_stats >"$WORK/links0"
thread_ticks >"$WORK/ticks0"
T0=$(date +%s%N)
SYSCALLS="sendmmsg recvmmsg sendmsg recvmsg sendto recvfrom read write readv writev futex epoll_pwait nanosleep sched_yield"
EVENTS=context-switches,cpu-migrations,$(for s in $SYSCALLS; do printf 'syscalls:sys_enter_%s,' "$s"; done)
STATS=()
for i in "${!TUNNEL_PIDS[@]}"; do
	timeout $((WINDOW + 10)) perf stat -x, -e "${EVENTS%,}" -p "${TUNNEL_PIDS[$i]}" -- sleep "$WINDOW" \
		2>"$WORK/perfstat.$i.csv" >/dev/null &
	STATS+=($!)
done
wait "${STATS[@]}"
T1=$(date +%s%N)
link_stats >"$WORK/links1"
thread_ticks >"$WORK/ticks1"

# 3: call stacks over a second window.
TARGET=(-p "$PIDLIST")
[ "${ALL:-0}" = 1 ] && TARGET=(-a)
head -n 1 /proc/stat >"$WORK/stat0"
timeout $((WINDOW + 30)) perf record -q -F 499 -g "${TARGET[@]}" -o "$WORK/perf.data" -- sleep "$WINDOW" \
	>/dev/null 2>"$WORK/perfrecord.log" || log "perf record failed (see $WORK/perfrecord.log)"
head -n 1 /proc/stat >"$WORK/stat1"

wait "$CLIENT" 2>/dev/null
MBPS=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$WORK/iperf3-client.log" 2>/dev/null || echo "?")
RETR=$(jq -r '.end.sum_sent.retransmits' "$WORK/iperf3-client.log" 2>/dev/null || echo "?")
WIN_S=$(awk -v n=$((T1 - T0)) 'BEGIN { printf "%.2f", n / 1e9 }')

echo
echo "== $CONTENDER: iperf3 TCP ${SECS}s LAN -> VNet: $MBPS Mbit/s, $RETR retransmits (profiling overhead included)"
echo "   nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== packets per interface over ${WIN_S}s (avg bytes/packet; > MTU means GSO/GRO super-packets)"
printf '%-6s %-16s %10s %8s %10s %8s\n' ns dev rx_pkt/s rx_avgB tx_pkt/s tx_avgB
join <(awk '{ print $1 ":" $2, $3, $4, $5, $6 }' "$WORK/links0" | sort) \
	<(awk '{ print $1 ":" $2, $3, $4, $5, $6 }' "$WORK/links1" | sort) |
	awk -v s="$WIN_S" '{ split($1, k, ":"); rp = $6 - $2; rb = $7 - $3; tp = $8 - $4; tb = $9 - $5;
		if (rp + tp < 10) next;
		printf "%-6s %-16s %10.0f %8.0f %10.0f %8.0f\n", k[1], k[2], rp / s, rp ? rb / rp : 0, tp / s, tp ? tb / tp : 0 }'
echo
# rate NS DEV FIELD: packets (or bytes) per second over the window, FIELD
# 3 rx_packets, 4 rx_bytes, 5 tx_packets, 6 tx_bytes.
rate() {
	join <(awk '{ print $1 ":" $2, $3, $4, $5, $6 }' "$WORK/links0" | sort) \
		<(awk '{ print $1 ":" $2, $3, $4, $5, $6 }' "$WORK/links1" | sort) |
		awk -v k="$1:$2" -v f="$3" -v s="$WIN_S" '$1 == k { print ($(f + 3) - $(f - 1)) / s }'
}
# calls I SYSCALL: calls per second of endpoint I (0 IX side, 1 gateway).
calls() {
	awk -F, -v e="$2" -v s="$WIN_S" '$3 == e { print $1 / s; found = 1 } END { if (!found) print 0 }' "$WORK/perfstat.$1.csv"
}
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.1f", a / b }'; }

echo "== system calls per second, per endpoint (perf stat over the same window)"
printf '%-28s %10s %10s\n' event ix azure
for e in context-switches cpu-migrations $(for s in $SYSCALLS; do echo syscalls:sys_enter_$s; done); do
	a=$(calls 0 "$e")
	b=$(calls 1 "$e")
	awk -v a="$a" -v b="$b" 'BEGIN { exit !(a + b > 0) }' || continue
	printf '%-28s %10.0f %10.0f\n' "${e#syscalls:sys_enter_}" "$a" "$b"
done
echo
case $CONTENDER in
softix-* | esppeer-*) TUN_IX=Tunnel0.0 TUN_AZ=Tunnel0.0 ;;
swan-*) TUN_IX=ipsec0 TUN_AZ=ipsec0 ;;
wg) TUN_IX=$WG_IX TUN_AZ=$WG_AZ ;;
*) TUN_IX= TUN_AZ= ;;
esac
if [ -n "$TUN_IX" ]; then
	echo "== batches achieved, data direction LAN -> VNet (IX side seals, gateway side opens)"
	p=$(rate ix "$TUN_IX" 5)
	b=$(rate ix "$TUN_IX" 6)
	echo "IX  TUN -> daemon:   $(per "$p" 1) pkt/s of $(per "$b" "$p") B avg; reads/s $(calls 0 syscalls:sys_enter_read); pkts per read $(per "$p" "$(calls 0 syscalls:sys_enter_read)")"
	p=$(rate ix GigaEthernet0.0 5)
	m=$(awk -v a="$(calls 0 syscalls:sys_enter_sendmmsg)" -v b="$(calls 0 syscalls:sys_enter_sendmsg)" -v c="$(calls 0 syscalls:sys_enter_sendto)" 'BEGIN { print a + b + c }')
	echo "IX  daemon -> wire:  $(per "$p" 1) pkt/s of $(per "$(rate ix GigaEthernet0.0 6)" "$p") B avg; send calls/s $(per "$m" 1); pkts per call $(per "$p" "$m")"
	p=$(rate azure wan 3)
	m=$(awk -v a="$(calls 1 syscalls:sys_enter_recvmmsg)" -v b="$(calls 1 syscalls:sys_enter_recvmsg)" -v c="$(calls 1 syscalls:sys_enter_recvfrom)" 'BEGIN { print a + b + c }')
	echo "GW  wire -> daemon:  $(per "$p" 1) pkt/s of $(per "$(rate azure wan 4)" "$p") B avg; recv calls/s $(per "$m" 1); pkts per call $(per "$p" "$m")"
	p=$(rate azure "$TUN_AZ" 3)
	m=$(awk -v a="$(calls 1 syscalls:sys_enter_write)" -v b="$(calls 1 syscalls:sys_enter_writev)" 'BEGIN { print a + b }')
	echo "GW  daemon -> TUN:   $(per "$p" 1) pkt/s of $(per "$(rate azure "$TUN_AZ" 4)" "$p") B avg; writes/s $(per "$m" 1); pkts per write $(per "$p" "$m")"
	echo "(a packet above ~1500 B is a GSO/GRO super-packet; pkt/s on the wire counts ESP packets)"
	echo
fi
echo "== endpoint threads' CPU over the window (100 = one core), busiest first"
HZ=$(getconf CLK_TCK)
join <(awk '{ print $1 ":" $2 ":" $3, $4 }' "$WORK/ticks0" | sort) <(awk '{ print $1 ":" $2 ":" $3, $4 }' "$WORK/ticks1" | sort) |
	awk -v hz="$HZ" -v s="$WIN_S" '{ split($1, k, ":"); c = ($3 - $2) / hz / s * 100; tot[k[1]] += c; if (c >= 1) printf "pid %-8s tid %-8s %-16s %6.1f\n", k[1], k[2], k[3], c }' |
	sort -k6 -nr
join <(awk '{ print $1 ":" $2, $4 }' "$WORK/ticks0" | sort) <(awk '{ print $1 ":" $2, $4 }' "$WORK/ticks1" | sort) |
	awk -v hz="$HZ" -v s="$WIN_S" '{ split($1, k, ":"); tot[k[1]] += ($3 - $2) / hz / s * 100 }
		END { for (p in tot) printf "total pid %s: %.0f%%\n", p, tot[p] }'
echo
if [ -s "$WORK/perf.data" ]; then
	for i in "${!TUNNEL_PIDS[@]}"; do
		side=ix
		[ "$i" = 1 ] && side=azure
		echo "== perf: top $TOP symbols of the $side endpoint (pid ${TUNNEL_PIDS[$i]}), self time"
		perf report -i "$WORK/perf.data" --pid "${TUNNEL_PIDS[$i]}" --no-children --sort dso,symbol \
			--stdio -q -g none --percent-limit 0.5 2>/dev/null | grep -v '^$' | head -n "$TOP"
		echo
	done
	if [ "${ALL:-0}" = 1 ]; then
		echo "== the whole machine over the sampling window (% of all CPU time)"
		paste -d' ' "$WORK/stat0" "$WORK/stat1" | awk '{ n = NF / 2; for (i = 2; i <= n; i++) { d[i] = $(i + n) - $i; t += d[i] }
			printf "user %.1f  system %.1f  softirq %.1f  irq %.1f  idle %.1f  steal %.1f\n",
				100 * (d[2] + d[3]) / t, 100 * d[4] / t, 100 * d[8] / t, 100 * d[7] / t, 100 * (d[5] + d[6]) / t, 100 * d[9] / t }'
		echo
		echo "== perf: whole machine, samples by command"
		perf report -i "$WORK/perf.data" --no-children --sort comm --stdio -q -g none --percent-limit 0.5 2>/dev/null | grep -v '^$'
		echo
		echo "== perf: whole machine, top $TOP symbols, self time"
		perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -q -g none 2>/dev/null | grep -v '^$' | head -n "$TOP"
		echo
		echo "== perf: whole machine, kernel stages with their callees"
		perf report -i "$WORK/perf.data" --children --sort symbol --stdio -q -g none 2>/dev/null |
			grep -E '\] (packet_sendmsg|tpacket_rcv|sock_def_readable|nft_do_chain_netdev|ip_forward|tun_get_user|tun_do_read|tcp_v4_rcv|udp_rcv|__schedule|do_epoll_wait)( |$)' | sed -E 's/ +- +- *$//'
		echo
	fi
	echo "== perf: callers of the busiest kernel entry points (both endpoints, children included)"
	perf report -i "$WORK/perf.data" --children --sort symbol --stdio -q -g none 2>/dev/null |
		grep -E 'syscall|sendmmsg|recvmmsg|tun_|__x64_sys|runtime\.|esp\.' | head -n "$TOP"
	echo
fi
echo "== offloads"
for ns in "$NS_IX" "$NS_AZURE"; do
	for dev in $(ip -n "$ns" -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
		case $dev in lo | bgp0) continue ;; esac
		if command -v ethtool >/dev/null; then
			f=$(nsx "$ns" ethtool -k "$dev" 2>/dev/null | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-udp-segmentation|rx-udp-gro-forwarding|scatter-gather):' |
				sed 's/: /=/' | tr '\n' ' ')
		else
			f="(ethtool not installed)"
		fi
		printf '%-6s %-16s %s\n' "${ns##*-}" "$dev" "$f"
	done
done
echo
log "done; KEEP=1 keeps $WORK (perf.data: perf report -i $WORK/perf.data)"
exit 0
