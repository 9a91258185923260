#!/bin/bash
# End-to-end benchmark of soft-ix against strongSwan and wireguard-go, in
# one run, in one namespace topology (see lib.sh):
#
#   LAN host -- IX router -- internet router -- gateway -- VNet host
#
# The tunnel endpoints run in the IX router and gateway namespaces; iperf3
# TCP and ping go from the LAN host to the VNet host. Contenders, one at a
# time, their order rotated every round so that noise hits all alike:
#
#   plain        no tunnel: the internet router routes the private prefixes
#   softix-cbc   soft-ix <-> soft-ix, ESP AES-256-CBC/HMAC-SHA256-128
#   softix-gcm   soft-ix <-> soft-ix, ESP AES-256-GCM-16
#                (no NAT between them: raw ESP, IP protocol 50)
#   swan-cbc     strongSwan <-> strongSwan (kernel-libipsec) aes256-sha256
#   swan-gcm     strongSwan <-> strongSwan (kernel-libipsec) aes256gcm16
#   wg           wireguard-go <-> wireguard-go (ChaCha20-Poly1305)
#   softix-encap-cbc, softix-encap-gcm
#                soft-ix <-> soft-ix, no NAT, the IX started with
#                --force-udp-encap: ESP in UDP 4500, strongSwan's and
#                wireguard-go's wire format (UDP GSO/GRO apply)
#   softix-filt-cbc, softix-filt-gcm
#                softix-cbc / softix-gcm with the WAN filter and NAPT of
#                published branch configurations (see lib.sh,
#                softix_branch_filters); filters.sh compares them
#   softix-nat-cbc, softix-nat-gcm
#                soft-ix <-> soft-ix with the IX behind a masquerading
#                internet router (iptables), so ESP goes in UDP 4500 as
#                strongSwan's and wireguard-go's packets do (only when
#                iptables is installed)
#
# Not in the default list: esppeer-{raw,udp}-{cbc,gcm}, soft-ix's ESP
# engine alone with static keys, raw ESP or ESP in UDP (see lib.sh).
#
# Usage (root):  integration/bench/e2e.sh
# Environment:   ROUNDS (3), SECS iperf3 seconds (10), WARMUP omitted
#                seconds (1), PINGS per latency sample (200),
#                CONTENDERS (all of the above), SOFTIX_BIN (built if unset),
#                KEEP=1 keeps the work directory with logs and configs,
#                SOFTIX_RAW_ESP passed to both soft-ix as --raw-esp.
#
# It measures, it does not gate: exit 0 whatever the numbers, 1 when a
# setup step fails (tools missing, a tunnel that does not come up).
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
WARMUP=${WARMUP:-1}
PINGS=${PINGS:-200}
# softix-nat-* (the same wire format as strongSwan's and wireguard-go's:
# UDP) join the default list when iptables is there to build the NAT.
DEFAULT_CONTENDERS="plain softix-cbc softix-gcm swan-cbc swan-gcm wg softix-encap-cbc softix-encap-gcm"
command -v iptables >/dev/null && DEFAULT_CONTENDERS="$DEFAULT_CONTENDERS softix-nat-cbc softix-nat-gcm"
CONTENDERS=${CONTENDERS:-$DEFAULT_CONTENDERS}
read -r -a LIST <<<"$CONTENDERS"

[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS=$ROUNDS: want 1 to 99"
[[ $SECS =~ ^[1-9][0-9]?$ ]] || die "SECS=$SECS: want 1 to 99"
[[ $PINGS =~ ^[1-9][0-9]{0,3}$ ]] || die "PINGS=$PINGS: want 1 to 9999"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for tool in ip iperf3 ping jq ss timeout awk; do
	command -v $tool >/dev/null || die "missing $tool (apt-get install iproute2 iperf3 iputils-ping jq)"
done

# The whole run is bounded: each contender needs at most about 2 minutes
# (setup timeouts included) per round.
MAX_SECONDS=${MAX_SECONDS:-$((300 + ROUNDS * ${#LIST[@]} * 120))}
mkdir -p "$WORK/res"
trap 'log "interrupted"; exit 130' INT TERM
# The watchdog polls once a second rather than sleeping MAX_SECONDS in one
# go, so it ends (and lets go of stdout) within a second of the script.
(
	end=$((SECONDS + MAX_SECONDS))
	while [ $SECONDS -lt $end ]; do
		sleep 1
		kill -0 $$ 2>/dev/null || exit 0
	done
	log "run exceeded MAX_SECONDS=$MAX_SECONDS, stopping"
	kill -TERM $$
) &
WATCHDOG=$!
trap 'kill $WATCHDOG 2>/dev/null; cleanup' EXIT

for c in "${LIST[@]}"; do
	case $c in
	softix-*) softix_build ;;
	swan-*) command -v charon-systemd >/dev/null && command -v swanctl >/dev/null ||
		die "missing charon-systemd/swanctl (apt-get install charon-systemd strongswan-swanctl libcharon-extra-plugins)" ;;
	wg) wg_ensure ;;
	esppeer-*) esppeer_build ;;
	plain) ;;
	*) die "unknown contender $c" ;;
	esac
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "nproc $(nproc), load average $LOAD_START, rounds $ROUNDS, ${SECS}s iperf3 after ${WARMUP}s warm-up"
sweep_stale
topology_up || die "building the namespace topology failed"
reach && die "LAN reaches VNet without a tunnel: topology is wrong"

# contender_up NAME / contender_down NAME dispatch to lib.sh.
contender_up() {
	case $1 in
	plain) plain_up ;;
	softix-*) softix_up "${1#softix-}" ;;
	swan-*) swan_up "${1#swan-}" ;;
	wg) wg_up gcm ;;
	esppeer-*) esppeer_up "${1#esppeer-}" ;;
	esac
}
contender_down() {
	case $1 in
	plain) plain_down ;;
	softix-*) softix_down ;;
	swan-*) swan_down ;;
	wg) wg_down ;;
	esppeer-*) esppeer_down ;;
	esac
}

# show_logs NAME: the last lines of the logs a failed contender left.
show_logs() {
	local f
	for f in "$WORK"/*.log; do
		[ -f "$f" ] || continue
		case $(basename "$f") in "${1%%-*}"* | swan*) ;; *) continue ;; esac
		echo "===== $f" >&2
		tail -n 30 "$f" >&2
	done
}

n=${#LIST[@]}
for r in $(seq "$ROUNDS"); do
	for i in $(seq 0 $((n - 1))); do
		c=${LIST[$(((i + r - 1) % n))]}
		log "round $r/$ROUNDS: $c up"
		if ! contender_up "$c"; then
			show_logs "$c"
			contender_down "$c"
			die "$c: tunnel setup failed"
		fi
		measure_iperf
		rtt=$(measure_rtt)
		contender_down "$c"
		log "round $r/$ROUNDS: $c ${IPERF_MBPS} Mbit/s (retransmits $IPERF_RETR, endpoints CPU ${IPERF_CPU}%), RTT median ${rtt} us"
		echo "$IPERF_MBPS" >>"$WORK/res/$c.mbps"
		echo "$IPERF_CPU" >>"$WORK/res/$c.cpu"
		echo "$IPERF_RETR" >>"$WORK/res/$c.retr"
		[ "$rtt" = n/a ] || echo "$rtt" >>"$WORK/res/$c.rtt"
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# median FILE: the median of the numbers in FILE, "n/a" if none.
median() {
	[ -s "$1" ] || {
		echo n/a
		return
	}
	sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else print a - b }'; }

declare -A MBPS RTT
echo
echo "End-to-end LAN host -> VNet host, iperf3 TCP ${SECS}s (+${WARMUP}s warm-up), ping -c $PINGS -i 0.01"
echo "nproc $(nproc); load average at start $LOAD_START, at end $LOAD_END; rounds $ROUNDS"
printf '%-16s %10s %-26s %9s %10s %9s %8s\n' contender "Mbit/s" "(runs)" "RTT us" "added us" "CPU %" "retr"
for c in "${LIST[@]}"; do
	MBPS[$c]=$(median "$WORK/res/$c.mbps")
	RTT[$c]=$(median "$WORK/res/$c.rtt")
done
for c in "${LIST[@]}"; do
	printf '%-16s %10s %-26s %9s %10s %9s %8s\n' "$c" "${MBPS[$c]}" "($(paste -sd' ' "$WORK/res/$c.mbps"))" \
		"${RTT[$c]}" "$(minus "${RTT[$c]}" "${RTT[plain]:-n/a}")" \
		"$(median "$WORK/res/$c.cpu")" "$(median "$WORK/res/$c.retr")"
done
echo "(Mbit/s, RTT, CPU, retr: medians over rounds; CPU is both tunnel endpoints' processes, 100 = one core;"
echo " added us = RTT minus the no-tunnel RTT over the same hops)"
R_CBC=$(ratio "${MBPS[softix-cbc]:-n/a}" "${MBPS[swan-cbc]:-n/a}")
R_GCM=$(ratio "${MBPS[softix-gcm]:-n/a}" "${MBPS[wg]:-n/a}")
ADD_GCM=$(minus "${RTT[softix-gcm]:-n/a}" "${RTT[plain]:-n/a}")
ADD_CBC=$(minus "${RTT[softix-cbc]:-n/a}" "${RTT[plain]:-n/a}")
echo
echo "soft-ix-cbc / strongswan-cbc = $R_CBC   (target >= 5)"
echo "soft-ix-gcm / wireguard-go   = $R_GCM   (target >= 1.0)"
echo "soft-ix added RTT median     = gcm $ADD_GCM us, cbc $ADD_CBC us   (target < 100)"
# udp_ratios KIND TITLE: the ratios of softix-KIND-cbc and -gcm (ESP in
# UDP 4500) to strongSwan and wireguard-go, kept in RATIO[KIND-cbc] and
# RATIO[KIND-gcm] for the SUMMARY line and printed when they ran.
declare -A RATIO
udp_ratios() {
	local cbc gcm
	cbc=$(ratio "${MBPS[softix-$1-cbc]:-n/a}" "${MBPS[swan-cbc]:-n/a}")
	gcm=$(ratio "${MBPS[softix-$1-gcm]:-n/a}" "${MBPS[wg]:-n/a}")
	RATIO[$1-cbc]=$cbc RATIO[$1-gcm]=$gcm
	[ "$cbc$gcm" = n/an/a ] && return
	echo "with ESP in UDP 4500 ($2), the others' wire format:"
	echo "soft-ix-$1-cbc / strongswan-cbc = $cbc   (target >= 5)"
	echo "soft-ix-$1-gcm / wireguard-go   = $gcm   (target >= 1.0)"
	echo "soft-ix-$1 added RTT median     = gcm $(minus "${RTT[softix-$1-gcm]:-n/a}" "${RTT[plain]:-n/a}") us, cbc $(minus "${RTT[softix-$1-cbc]:-n/a}" "${RTT[plain]:-n/a}") us"
}
udp_ratios encap "--force-udp-encap, no NAT"
udp_ratios nat "IX behind NAT"
R_FILT_GCM=$(ratio "${MBPS[softix-filt-gcm]:-n/a}" "${MBPS[softix-gcm]:-n/a}")
R_FILT_CBC=$(ratio "${MBPS[softix-filt-cbc]:-n/a}" "${MBPS[softix-cbc]:-n/a}")
if [ "$R_FILT_GCM$R_FILT_CBC" != n/an/a ]; then
	echo "with a branch's WAN filter and NAPT (nftables), against the same without:"
	echo "soft-ix-filt-gcm / soft-ix-gcm = $R_FILT_GCM   (target >= 0.9)"
	echo "soft-ix-filt-cbc / soft-ix-cbc = $R_FILT_CBC   (target >= 0.9)"
fi
echo
echo "SUMMARY rounds=$ROUNDS nproc=$(nproc) load=\"$LOAD_START\" softix-cbc=${MBPS[softix-cbc]:-n/a} swan-cbc=${MBPS[swan-cbc]:-n/a} ratio=$R_CBC softix-gcm=${MBPS[softix-gcm]:-n/a} wg=${MBPS[wg]:-n/a} ratio=$R_GCM plain=${MBPS[plain]:-n/a} added-rtt-us=gcm:$ADD_GCM,cbc:$ADD_CBC nat-cbc=${MBPS[softix-nat-cbc]:-n/a} nat-cbc-ratio=${RATIO[nat-cbc]} nat-gcm=${MBPS[softix-nat-gcm]:-n/a} nat-gcm-ratio=${RATIO[nat-gcm]} encap-cbc=${MBPS[softix-encap-cbc]:-n/a} encap-cbc-ratio=${RATIO[encap-cbc]} encap-gcm=${MBPS[softix-encap-gcm]:-n/a} encap-gcm-ratio=${RATIO[encap-gcm]} filt-gcm=${MBPS[softix-filt-gcm]:-n/a} filt-gcm-ratio=$R_FILT_GCM filt-cbc=${MBPS[softix-filt-cbc]:-n/a} filt-cbc-ratio=$R_FILT_CBC"
exit 0
