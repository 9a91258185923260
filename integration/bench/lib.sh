#!/bin/bash
# Shared pieces of the end-to-end benchmark scripts: the seed topology in
# network namespaces, the tunnel contenders (soft-ix, strongSwan,
# wireguard-go, no tunnel), iperf3 and ping measurements, cleanup.
# Source it from e2e.sh or profile.sh; it is not run on its own.
#
# Topology (the same as integration/nslab's Scenario, on documentation
# addresses; nothing is added to the root namespace):
#
#   LAN host  $NS_LAN    eth0 192.168.2.10/24, default via 192.168.2.1
#   IX router $NS_IX     GigaEthernet1.0 192.168.2.1/24 (LAN)
#                        GigaEthernet0.0 203.0.113.94/24 (WAN), default via 203.0.113.1
#   internet  $NS_INET   ix 203.0.113.1/24, azure 198.51.100.1/24 (routes only these)
#   gateway   $NS_AZURE  wan 198.51.100.6/24, default via 198.51.100.1
#                        vnet 172.16.1.1/24, bgp0 172.16.0.6/32
#   VNet host $NS_VNET   eth0 172.16.1.4/24, default via 172.16.1.1
#
# The internet router knows no route to 192.168.2.0/24 or 172.16.0.0/16,
# so LAN <-> VNet traffic crosses only inside a tunnel (or after
# plain_up adds the routes for the no-tunnel baseline).

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/../.." && pwd)

# Namespace names carry the script's PID, so two runs never collide and a
# run killed with SIGKILL is recognisable (sweep_stale removes it).
PFX=${PFX:-e2eb}
NS_LAN=$PFX-$$-lan
NS_IX=$PFX-$$-ix
NS_INET=$PFX-$$-inet
NS_AZURE=$PFX-$$-azure
NS_VNET=$PFX-$$-vnet
ALL_NS=("$NS_LAN" "$NS_IX" "$NS_INET" "$NS_AZURE" "$NS_VNET")

LAN_HOST=192.168.2.10
VNET_HOST=172.16.1.4
IX_WAN=203.0.113.94
AZ_WAN=198.51.100.6

WORK=${WORK:-$(mktemp -d /tmp/e2e-bench.XXXXXX)}
CMD_TIMEOUT=30 # bound of every short command

# PIDs of the long-running processes this run started (tunnel daemons,
# iperf3 servers), killed by PID at the end of each contender and at exit.
RUN_PIDS=()

log() { printf '%s %s\n' "$(date -u +%T)" "$*" >&2; }
die() {
	log "FATAL: $*"
	exit 1
}

# nsx NS CMD... runs a short command inside a namespace, bounded.
nsx() {
	local ns=$1
	shift
	timeout "$CMD_TIMEOUT" ip netns exec "$ns" "$@"
}

# ---------------------------------------------------------------- topology

# sweep_stale removes namespaces of earlier runs (same prefix) whose
# script PID is gone, killing what is left inside them.
sweep_stale() {
	local name pid p
	for name in $(ip netns list | awk '{print $1}'); do
		case $name in "$PFX"-*-*) ;; *) continue ;; esac
		pid=${name#"$PFX"-}
		pid=${pid%%-*}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		[ -d /proc/"$pid" ] && continue
		for p in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns delete "$name" 2>/dev/null && log "removed stale namespace $name"
	done
}

# link A AIF AADDR B BIF BADDR: a veth pair created directly inside the two
# namespaces (the names never exist in the root namespace).
link() {
	ip link add name "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" link set "$2" up &&
		ip -n "$4" addr add "$6" dev "$5" && ip -n "$4" link set "$5" up
}

topology_up() {
	local ns
	for ns in "${ALL_NS[@]}"; do
		ns_add "$ns" || return 1
	done
	link "$NS_IX" GigaEthernet1.0 192.168.2.1/24 "$NS_LAN" eth0 $LAN_HOST/24 &&
		link "$NS_AZURE" vnet 172.16.1.1/24 "$NS_VNET" eth0 $VNET_HOST/24 || return 1
	ip -n "$NS_LAN" route add default via 192.168.2.1 &&
		ip -n "$NS_VNET" route add default via 172.16.1.1 || return 1
	inet_links || return 1
	# Azure's BGP address on a loopback-like device (no dummy driver on
	# some kernels here: ifb behaves the same for a local address).
	ip -n "$NS_AZURE" link add bgp0 type dummy 2>/dev/null ||
		ip -n "$NS_AZURE" link add bgp0 type ifb || return 1
	ip -n "$NS_AZURE" addr add 172.16.0.6/32 dev bgp0 && ip -n "$NS_AZURE" link set bgp0 up
}

# ns_add NS: a namespace with loopback up, forwarding on, rp_filter off.
ns_add() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up || return 1
	nsx "$1" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward &&
		echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter &&
		echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter'
}

# inet_links: the internet router's two links and the default routes of
# the IX router and the gateway through it.
inet_links() {
	link "$NS_IX" GigaEthernet0.0 $IX_WAN/24 "$NS_INET" ix 203.0.113.1/24 &&
		link "$NS_INET" azure 198.51.100.1/24 "$NS_AZURE" wan $AZ_WAN/24 || return 1
	ip -n "$NS_IX" route add default via 203.0.113.1 &&
		ip -n "$NS_AZURE" route add default via 198.51.100.1
}

# inet_rebuild replaces the internet router by a fresh namespace: the only
# sure way to drop the NAT contenders' connection tracking state (no
# conntrack tool here), which would otherwise translate the next
# contender's UDP 500/4500 packets too.
inet_rebuild() {
	local p
	for p in $(ip netns pids "$NS_INET" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	ip netns delete "$NS_INET" || return 1
	ns_add "$NS_INET" && inet_links
}

topology_down() {
	local ns p
	for ns in "${ALL_NS[@]}"; do
		ip netns list | grep -qw "^$ns" || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns delete "$ns" 2>/dev/null
	done
}

# ------------------------------------------------------------- processes

# start NAME NS CMD...: a long-running process in NS, output to
# $WORK/NAME.log; sets START_PID (ip netns exec execs the command, so it
# is the daemon's own PID).
start() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
	START_PID=$!
	RUN_PIDS+=("$START_PID")
}

# stop_pid PID: SIGTERM, up to 5 s, then SIGKILL.
stop_pid() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

stop_all() {
	local p
	for p in "${RUN_PIDS[@]}"; do stop_pid "$p"; done
	RUN_PIDS=()
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.2 s.
wait_until() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	while ! "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			log "timed out after ${secs}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# cpu_ticks PID...: user+system clock ticks used so far by the processes
# (all their threads).
cpu_ticks() {
	local p sum=0 t
	for p in "$@"; do
		t=$(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null) || t=0
		sum=$((sum + ${t:-0}))
	done
	echo $sum
}

# ------------------------------------------------------------ measurement

# measure_iperf sets IPERF_MBPS to the Mbit/s received at the VNet host,
# LAN -> VNet, over $SECS s after a $WARMUP s omitted warm-up (0 when the
# run failed), IPERF_RETR to the sender's retransmits and IPERF_CPU to the
# CPU % the tunnel endpoints in TUNNEL_PIDS used during the run (100 = one
# core). Call it directly, not in $(...): it sets variables.
measure_iperf() {
	local srv out ticks0 ticks1 t0 t1
	start iperf3-server "$NS_VNET" iperf3 -s -1 -B $VNET_HOST
	srv=$START_PID
	wait_until 5 "iperf3 server" nsx "$NS_VNET" sh -c "ss -Htln src $VNET_HOST:5201 | grep -q ."
	ticks0=$(cpu_ticks "${TUNNEL_PIDS[@]}")
	t0=$(date +%s%N)
	out=$(nsx "$NS_LAN" timeout $((SECS + WARMUP + 15)) iperf3 -J -c $VNET_HOST -B $LAN_HOST \
		-t "$SECS" -O "$WARMUP" 2>/dev/null)
	t1=$(date +%s%N)
	ticks1=$(cpu_ticks "${TUNNEL_PIDS[@]}")
	stop_pid "$srv"
	echo "$out" >"$WORK/iperf-last.json"
	IPERF_RETR=$(jq -r '.end.sum_sent.retransmits // "?"' <<<"$out" 2>/dev/null) || IPERF_RETR="?"
	IPERF_CPU=$(awk -v d=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) \
		'BEGIN { printf "%.0f", d / hz / (ns / 1e9) * 100 }')
	IPERF_MBPS=$(jq -r 'if .error then 0 else (.end.sum_received.bits_per_second / 1e6 | floor) end' \
		<<<"$out" 2>/dev/null) || IPERF_MBPS=0
	[ -n "$IPERF_MBPS" ] || IPERF_MBPS=0
}

# measure_rtt -> median RTT in microseconds of $PINGS pings LAN -> VNet at
# 10 ms intervals ("n/a" when none came back).
measure_rtt() {
	nsx "$NS_LAN" timeout 20 ping -n -c "$PINGS" -i 0.01 -W 1 $VNET_HOST 2>/dev/null |
		awk -F'time=' '/time=/ { split($2, a, " "); printf "%.0f\n", a[1] * 1000 }' |
		sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print v[int((NR + 1) / 2)] }'
}

# reach: one ping LAN -> VNet gets an answer.
reach() { nsx "$NS_LAN" ping -n -c 1 -W 1 $VNET_HOST >/dev/null 2>&1; }

# wait_reach SECONDS: the tunnel carries traffic end to end.
wait_reach() { wait_until "$1" "LAN -> VNet ping through the tunnel" reach; }

# ------------------------------------------------------------ contenders
#
# Each contender has NAME_up SUITE (start, wait until a ping crosses, set
# TUNNEL_PIDS) and NAME_down (kill by PID, remove what it added). They run
# one at a time in the same namespaces.

TUNNEL_PIDS=()
SOFTIX_NAT=0

# -- no tunnel: the internet router routes the private prefixes directly.
plain_up() {
	ip -n "$NS_INET" route add 192.168.2.0/24 via $IX_WAN &&
		ip -n "$NS_INET" route add 172.16.0.0/16 via $AZ_WAN || return 1
	TUNNEL_PIDS=()
	wait_reach 10
}
plain_down() {
	ip -n "$NS_INET" route del 192.168.2.0/24 2>/dev/null
	ip -n "$NS_INET" route del 172.16.0.0/16 2>/dev/null
	return 0
}

# -- soft-ix <-> soft-ix: the real daemon on both sides, IKE brings the
# tunnel up. Configs are cmd/soft-ix/labconf's static IX config and Azure
# gateway config (its BGP section dropped: static routes on both sides),
# with the IX's child proposal set to the suite under test.
SOFTIX_BIN=${SOFTIX_BIN:-}

softix_build() {
	if [ -n "$SOFTIX_BIN" ]; then
		[ -x "$SOFTIX_BIN" ] || die "SOFTIX_BIN=$SOFTIX_BIN is not executable"
		return 0
	fi
	SOFTIX_BIN=$WORK/soft-ix
	log "building soft-ix (go build ./cmd/soft-ix)"
	(cd "$REPO_DIR" && timeout 600 go build -o "$SOFTIX_BIN" ./cmd/soft-ix) || die "go build failed"
}

# softix_conf SUITE: writes $WORK/softix-ix.conf and softix-azure.conf.
# SUITE nat-cbc / nat-gcm: the gateway side accepts any peer address and
# only responds (the IX is behind the internet router's NAT, as in
# integration/interop_softix_test.go). encap-cbc / encap-gcm: the configs
# of cbc / gcm (softix_up adds --force-udp-encap). filt-cbc / filt-gcm: the
# configs of cbc / gcm with a published branch's WAN filter and NAPT (see
# softix_branch_filters).
softix_conf() {
	local suite=${1#encap-} conf=$REPO_DIR/cmd/soft-ix/labconf
	suite=${suite#nat-}
	suite=${suite#filt-}
	case $suite in
	cbc) cp "$conf/ix-lab-static.conf" "$WORK/softix-ix.conf" ;;
	gcm) sed -e 's/^  child-proposal enc aes-cbc-256$/  child-proposal enc aes-gcm-256/' \
		-e '/^  child-proposal integrity/d' "$conf/ix-lab-static.conf" >"$WORK/softix-ix.conf" ;;
	*) die "softix: unknown suite $suite" ;;
	esac
	sed -e '/^router bgp/,/^!/d' "$conf/azure-lab.conf" >"$WORK/softix-azure.conf"
	if [ "$suite" != "$1" ]; then
		sed -i -e '/^  ikev2 connect-type auto$/d' \
			-e 's/^  ikev2 peer 203\.0\.113\.94 authentication/  ikev2 peer any authentication/' "$WORK/softix-azure.conf"
		grep -q '^  ikev2 peer any ' "$WORK/softix-azure.conf" || die "azure-lab.conf changed: no 'ikev2 peer 203.0.113.94' to replace"
	fi
	if [ "${1#filt-}" != "$1" ]; then
		softix_branch_filters "$WORK/softix-ix.conf" || return 1
	fi
	# With the IX's maps: its filters are checked as enforceable there.
	"$SOFTIX_BIN" check -c "$WORK/softix-ix.conf" --map GigaEthernet0.0=GigaEthernet0.0 --map GigaEthernet1.0=GigaEthernet1.0 &&
		"$SOFTIX_BIN" check -c "$WORK/softix-azure.conf"
}

# softix_branch_filters FILE: gives the IX config FILE the packet filters
# and NAPT of published branch configurations (config/testdata/wild/),
# taken from those files as they are: the WAN access list "flt-list" of
# shigehiro-ix2025-router1.conf (IKE, NAT-T and L2TP ports, then any),
# applied to GigaEthernet0.0 in both directions (the file applies it
# "out"; "in" makes every packet from the peer walk it too), and the NAPT
# of alibaba-ix2215.conf (a branch to a cloud VPN gateway: ip napt enable,
# ip napt static for ESP, IKE and NAT-T to the router itself). Every
# packet of the tunnel then passes nftables filter chains, connection
# tracking and the NAPT table, as on a branch IX.
softix_branch_filters() {
	local wild=$REPO_DIR/config/testdata/wild acl napt
	acl=$(grep '^ip access-list flt-list ' "$wild/shigehiro-ix2025-router1.conf")
	napt=$(grep -E '^ +ip napt (enable|static GigaEthernet0\.0 )' "$wild/alibaba-ix2215.conf" | sed 's/^ */  /')
	[ "$(wc -l <<<"$acl")" = 4 ] && [ "$(wc -l <<<"$napt")" = 4 ] ||
		die "the published branch configurations changed: flt-list or the NAPT lines not found"
	awk -v acl="$acl" -v napt="$napt" '
		NR == 1 { print acl }
		{ print }
		/^interface GigaEthernet0\.0$/ { print napt; print "  ip filter flt-list 30 in"; print "  ip filter flt-list 30 out" }
	' "$1" >"$1.new" && mv "$1.new" "$1"
}

softix_sock() { echo "$WORK/softix-$1.sock"; }

# softix_child_up: the IX side reports at least one connected Child SA.
softix_child_up() {
	timeout 5 "$SOFTIX_BIN" show ikev2 child-sa --socket "$(softix_sock ix)" 2>/dev/null |
		grep -Eq 'Child SA - [1-9][0-9]* connected'
}

softix_up() {
	local suite=$1 az ix encap=()
	softix_conf "$suite" || return 1
	# No NAT, but the IX forces ESP into UDP 4500 (strongSwan's encap=yes).
	[ "${suite#encap-}" != "$suite" ] && encap=(--force-udp-encap)
	[ -n "${SOFTIX_RAW_ESP:-}" ] && encap+=(--raw-esp "$SOFTIX_RAW_ESP") # auto, socket or packet
	if [ "${suite#nat-}" != "$suite" ]; then
		command -v iptables >/dev/null || die "softix-nat-*: iptables missing (apt-get install iptables)"
		# The internet router hides the IX behind its own address, so IKE
		# detects the NAT and ESP goes in UDP 4500 (RFC 3948).
		nsx "$NS_INET" iptables -t nat -A POSTROUTING -o azure -s 203.0.113.0/24 -j MASQUERADE || return 1
		SOFTIX_NAT=1
	fi
	rm -f "$(softix_sock ix)" "$(softix_sock azure)"
	start softix-azure "$NS_AZURE" "$SOFTIX_BIN" -c "$WORK/softix-azure.conf" \
		--map GigaEthernet0.0=wan --map GigaEthernet1.0=vnet --map GigaEthernet2.0=bgp0 \
		--socket "$(softix_sock azure)" --log-level "${SOFTIX_LOG_LEVEL:-info}" ${SOFTIX_RAW_ESP:+--raw-esp "$SOFTIX_RAW_ESP"}
	az=$START_PID
	wait_until 20 "soft-ix azure control socket" \
		timeout 3 "$SOFTIX_BIN" show running-config --socket "$(softix_sock azure)" || return 1
	start softix-ix "$NS_IX" "$SOFTIX_BIN" -c "$WORK/softix-ix.conf" \
		--map GigaEthernet0.0=GigaEthernet0.0 --map GigaEthernet1.0=GigaEthernet1.0 \
		--socket "$(softix_sock ix)" --log-level "${SOFTIX_LOG_LEVEL:-info}" "${encap[@]}"
	ix=$START_PID
	TUNNEL_PIDS=("$ix" "$az")
	wait_until 60 "soft-ix Child SA" softix_child_up || return 1
	if [ "${suite#filt-}" != "$suite" ]; then
		# The measurement is only worth its name with the filters in
		# the kernel: the IX lists them with their counters.
		timeout 5 "$SOFTIX_BIN" show ip filter --socket "$(softix_sock ix)" | grep -q flt-list || {
			log "softix-$suite: the IX shows no flt-list filter"
			return 1
		}
	fi
	wait_reach 20
}

softix_down() {
	local p
	for p in "${TUNNEL_PIDS[@]}"; do stop_pid "$p"; done
	TUNNEL_PIDS=()
	# The daemons remove their Tunnel0.0 devices and routes on SIGTERM;
	# make sure nothing is left for the next contender.
	ip -n "$NS_IX" link del Tunnel0.0 2>/dev/null
	ip -n "$NS_AZURE" link del Tunnel0.0 2>/dev/null
	ip -n "$NS_IX" route del 172.16.0.0/16 2>/dev/null
	ip -n "$NS_AZURE" route del 192.168.2.0/24 2>/dev/null
	ip -n "$NS_AZURE" route del 10.2.2.2/32 2>/dev/null
	if [ "${SOFTIX_NAT:-0}" = 1 ]; then
		SOFTIX_NAT=0
		inet_rebuild || die "rebuilding the internet router after NAT failed"
	fi
	return 0
}

# -- strongSwan <-> strongSwan: charon-systemd with kernel-libipsec (the
# kernel here has no XFRM), route-based through ipsec0, its strongswan.conf
# and swanctl.conf nslab's (integration/cmd/swanconf); see
# /work/shared/notes/strongswan-lab.md for why the table-220 rule goes.
SWANCONF_BIN=${SWANCONF_BIN:-}

swanconf_build() {
	[ -n "$SWANCONF_BIN" ] && return 0
	SWANCONF_BIN=$WORK/swanconf
	(cd "$REPO_DIR" && timeout 600 go build -o "$SWANCONF_BIN" ./integration/cmd/swanconf) || die "go build swanconf failed"
}

swan_conf() {
	local side=$1 local_addr=$2 remote_addr=$3 esp=$4 initiate=$5
	swanconf_build
	"$SWANCONF_BIN" -charon -vici "unix://$WORK/swan-$side.vici" -log "$WORK/swan-$side-charon.log" \
		>"$WORK/swan-$side.conf" || die "swanconf -charon failed"
	local start=
	[ "$initiate" = 1 ] && start=-initiate
	"$SWANCONF_BIN" -name bench -local "$local_addr" -remote "$remote_addr" -psk bench-psk-not-secret \
		-ike aes256-sha1-modp1024 -esp "$esp" $start >"$WORK/swan-$side-swanctl.conf" || die "swanconf failed"
}

swanctl_() {
	local side=$1 cmd=$2
	shift 2
	STRONGSWAN_CONF=$WORK/swan-$side.conf timeout "$CMD_TIMEOUT" swanctl "$cmd" \
		--uri "unix://$WORK/swan-$side.vici" "$@"
}

swan_installed() { swanctl_ "$1" --list-sas 2>/dev/null | grep -q INSTALLED; }

swan_up() {
	local suite=$1 esp side ns pids=()
	case $suite in
	cbc) esp=aes256-sha256 ;;
	gcm) esp=aes256gcm16 ;;
	*) die "strongswan: unknown suite $suite" ;;
	esac
	swan_conf azure $AZ_WAN $IX_WAN "$esp" 0
	swan_conf ix $IX_WAN $AZ_WAN "$esp" 1
	for side in azure ix; do
		ns=$NS_AZURE
		[ $side = ix ] && ns=$NS_IX
		rm -f "$WORK/swan-$side.vici"
		start swan-$side "$ns" env STRONGSWAN_CONF="$WORK/swan-$side.conf" charon-systemd
		pids+=("$START_PID")
		wait_until 15 "charon $side vici socket" swanctl_ $side --stats || return 1
		# swanctl complains on stderr about the credential directories
		# next to the file, which a PSK setup does not have.
		swanctl_ $side --load-all --file "$WORK/swan-$side-swanctl.conf" >>"$WORK/swanctl.log" 2>&1 || return 1
	done
	TUNNEL_PIDS=("${pids[@]}")
	wait_until 30 "strongSwan Child SA (ix)" swan_installed ix || return 1
	wait_until 30 "strongSwan Child SA (azure)" swan_installed azure || return 1
	for ns in "$NS_IX" "$NS_AZURE"; do
		wait_until 10 "ipsec0" ip -n "$ns" link show ipsec0 || return 1
		while ip -n "$ns" rule del lookup 220 2>/dev/null; do :; done
	done
	ip -n "$NS_IX" route replace 172.16.0.0/16 dev ipsec0 &&
		ip -n "$NS_AZURE" route replace 192.168.2.0/24 dev ipsec0 || return 1
	wait_reach 20
}

swan_down() {
	local p
	for p in "${TUNNEL_PIDS[@]}"; do stop_pid "$p"; done
	TUNNEL_PIDS=()
	ip -n "$NS_IX" route del 172.16.0.0/16 2>/dev/null
	ip -n "$NS_AZURE" route del 192.168.2.0/24 2>/dev/null
	while ip -n "$NS_IX" rule del lookup 220 2>/dev/null; do :; done
	while ip -n "$NS_AZURE" rule del lookup 220 2>/dev/null; do :; done
	return 0
}

# -- wireguard-go <-> wireguard-go, configured with wg(8) and ip(8). The
# UAPI sockets live in /var/run/wireguard, shared by all namespaces, so the
# interface names carry the run's PID.
WG_IX=wgi$$
WG_AZ=wga$$

wg_ensure() {
	command -v wireguard-go >/dev/null && command -v wg >/dev/null && return 0
	log "installing wireguard-go and wireguard-tools with apt-get"
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y --no-install-recommends \
		wireguard-go wireguard-tools >"$WORK/apt.log" 2>&1 || die "apt-get install wireguard-go wireguard-tools failed (see $WORK/apt.log)"
}

wg_up() {
	local kix kaz
	[ "$1" = gcm ] || die "wireguard-go has one suite (ChaCha20-Poly1305); asked for $1"
	umask 077
	wg genkey >"$WORK/wg-ix.key" && wg genkey >"$WORK/wg-az.key" || return 1
	kix=$(wg pubkey <"$WORK/wg-ix.key") && kaz=$(wg pubkey <"$WORK/wg-az.key") || return 1
	start wg-ix "$NS_IX" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$WG_IX"
	TUNNEL_PIDS=("$START_PID")
	start wg-azure "$NS_AZURE" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$WG_AZ"
	TUNNEL_PIDS+=("$START_PID")
	wait_until 10 "$WG_IX" ip -n "$NS_IX" link show "$WG_IX" || return 1
	wait_until 10 "$WG_AZ" ip -n "$NS_AZURE" link show "$WG_AZ" || return 1
	nsx "$NS_IX" wg set "$WG_IX" private-key "$WORK/wg-ix.key" listen-port 51820 \
		peer "$kaz" endpoint $AZ_WAN:51820 allowed-ips 172.16.0.0/16 || return 1
	nsx "$NS_AZURE" wg set "$WG_AZ" private-key "$WORK/wg-az.key" listen-port 51820 \
		peer "$kix" endpoint $IX_WAN:51820 allowed-ips 192.168.2.0/24 || return 1
	ip -n "$NS_IX" link set "$WG_IX" up && ip -n "$NS_AZURE" link set "$WG_AZ" up &&
		ip -n "$NS_IX" route add 172.16.0.0/16 dev "$WG_IX" &&
		ip -n "$NS_AZURE" route add 192.168.2.0/24 dev "$WG_AZ" || return 1
	wait_reach 20
}

wg_down() {
	local p
	for p in "${TUNNEL_PIDS[@]}"; do stop_pid "$p"; done
	TUNNEL_PIDS=()
	ip -n "$NS_IX" link del "$WG_IX" 2>/dev/null
	ip -n "$NS_AZURE" link del "$WG_AZ" 2>/dev/null
	rm -f /var/run/wireguard/"$WG_IX".sock /var/run/wireguard/"$WG_AZ".sock
	return 0
}

# -- esppeer <-> esppeer: soft-ix's ESP engine alone (integration/cmd/esppeer)
# with static keys and no IKE, for comparing raw ESP (protocol 50) with
# ESP in UDP 4500 (UDP GSO/GRO possible) on the same path: soft-ix <->
# soft-ix negotiate raw ESP when there is no NAT, and this lab has none.
# Not one of e2e.sh's default contenders; VARIANT is raw-cbc, raw-gcm,
# udp-cbc or udp-gcm.
ESPPEER_BIN=${ESPPEER_BIN:-}

esppeer_build() {
	[ -n "$ESPPEER_BIN" ] && return 0
	ESPPEER_BIN=$WORK/esppeer
	log "building esppeer (go build ./integration/cmd/esppeer)"
	(cd "$REPO_DIR" && timeout 600 go build -o "$ESPPEER_BIN" ./integration/cmd/esppeer) || die "go build esppeer failed"
}

hexkey() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

esppeer_up() {
	local enc=${1#*-} udp= suite ek ik kab kba iab iba
	[ "${1%%-*}" = udp ] && udp=-udp
	case $enc in
	cbc) suite=aes256-sha256 ek=32 ik=32 ;;
	gcm) suite=aes256gcm16 ek=36 ik=0 ;;
	*) die "esppeer: unknown variant $1" ;;
	esac
	kab=$(hexkey $ek) kba=$(hexkey $ek) iab=$(hexkey $ik) iba=$(hexkey $ik)
	# Flags as the soft-ix lab configs set them: pre-fragment, adjust-mss auto.
	start esppeer-ix "$NS_IX" "$ESPPEER_BIN" -local $IX_WAN -remote $AZ_WAN $udp -suite $suite \
		-spi-out 0x1001 -spi-in 0x2002 -key-out "$kab" -ikey-out "$iab" -key-in "$kba" -ikey-in "$iba" \
		-pre-fragment -adjust-mss -1
	TUNNEL_PIDS=("$START_PID")
	start esppeer-azure "$NS_AZURE" "$ESPPEER_BIN" -local $AZ_WAN -remote $IX_WAN $udp -suite $suite \
		-spi-out 0x2002 -spi-in 0x1001 -key-out "$kba" -ikey-out "$iba" -key-in "$kab" -ikey-in "$iab" \
		-pre-fragment -adjust-mss -1
	TUNNEL_PIDS+=("$START_PID")
	wait_until 10 "esppeer Tunnel0.0 (ix)" ip -n "$NS_IX" link show Tunnel0.0 || return 1
	wait_until 10 "esppeer Tunnel0.0 (azure)" ip -n "$NS_AZURE" link show Tunnel0.0 || return 1
	ip -n "$NS_IX" link set Tunnel0.0 up && ip -n "$NS_AZURE" link set Tunnel0.0 up &&
		ip -n "$NS_IX" route add 172.16.0.0/16 dev Tunnel0.0 &&
		ip -n "$NS_AZURE" route add 192.168.2.0/24 dev Tunnel0.0 || return 1
	wait_reach 20
}

esppeer_down() { softix_down; }

# cleanup is the EXIT trap: every process by PID, the namespaces, the
# wireguard sockets, the work directory (kept with KEEP=1).
cleanup() {
	stop_all
	topology_down
	rm -f /var/run/wireguard/"$WG_IX".sock /var/run/wireguard/"$WG_AZ".sock
	if [ "${KEEP:-0}" = 1 ]; then
		log "files kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
