#!/bin/bash
# Shared namespace lab for the esp scripts: two namespaces joined by a veth
# pair on documentation addresses, each running esppeer with a static SA
# pair. Source it; call lab_up SUITE UDP(0|1) and lab_down.
#
#   A (esplabA): outer 192.0.2.1 on espvA, LAN 192.168.2.1 on lo
#   B (esplabB): outer 192.0.2.2 on espvB, LAN 172.16.1.4 on lo
#   A routes 172.16.0.0/16 into Tunnel0.0, B routes 192.168.2.0/24.
#   LAB_OUTER6=1: the outer addresses are 2001:db8::1 and 2001:db8::2
#   (IPv6 outer, IPv4 inner) instead of 192.0.2.1 and 192.0.2.2.
set -u
LAB_A=${LAB_A:-esplabA}
LAB_B=${LAB_B:-esplabB}
LAB_DIR=${LAB_DIR:-$(mktemp -d /tmp/esplab.XXXXXX)}
ESPPEER=${ESPPEER:-$LAB_DIR/esppeer}
SWANCONF=${SWANCONF:-$LAB_DIR/swanconf} # nslab's strongswan.conf and swanctl.conf, for ss_up
LAB_PIDS=()

lab_build() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && go build -o "$ESPPEER" ./integration/cmd/esppeer &&
		go build -o "$SWANCONF" ./integration/cmd/swanconf)
}

lab_key() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# lab_up SUITE UDP [extra esppeer flags...]
lab_up() {
	local suite=$1 udp=$2
	shift 2
	local ek ik
	case $suite in
	aes128gcm16) ek=20 ik=0 ;;
	aes256gcm16) ek=36 ik=0 ;;
	aes128-*) ek=16 ;;
	aes192-*) ek=24 ;;
	aes256-*) ek=32 ;;
	esac
	case $suite in
	*-sha1) ik=20 ;; *-sha256) ik=32 ;; *-sha384) ik=48 ;; *-sha512) ik=64 ;;
	esac
	local kab=$(lab_key $ek) kba=$(lab_key $ek) iab=$(lab_key $ik) iba=$(lab_key $ik)
	lab_net
	local u="" oa=192.0.2.1 ob=192.0.2.2
	[ "$udp" = 1 ] && u="-udp"
	[ "${LAB_OUTER6:-0}" = 1 ] && oa=2001:db8::1 ob=2001:db8::2
	ip netns exec "$LAB_A" "$ESPPEER" -local $oa -remote $ob $u -suite "$suite" \
		-spi-out 0x1001 -spi-in 0x2002 -key-out "$kab" -ikey-out "$iab" -key-in "$kba" -ikey-in "$iba" ${LAB_A_EXTRA:-} "$@" \
		>"$LAB_DIR/a.out" 2>"$LAB_DIR/a.err" &
	LAB_PIDS+=($!)
	ip netns exec "$LAB_B" "$ESPPEER" -local $ob -remote $oa $u -suite "$suite" \
		-spi-out 0x2002 -spi-in 0x1001 -key-out "$kba" -ikey-out "$iba" -key-in "$kab" -ikey-in "$iab" ${LAB_B_EXTRA:-} "$@" \
		>"$LAB_DIR/b.out" 2>"$LAB_DIR/b.err" &
	LAB_PIDS+=($!)
	lab_route Tunnel0.0 Tunnel0.0
}

# iperf_once -> Mbit/s received, A -> B through the tunnel, in a run of
# $SECS seconds.
iperf_once() {
	ip netns exec "$LAB_B" iperf3 -s -1 -B 172.16.1.4 -D >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$LAB_A" timeout $((SECS + 10)) iperf3 -J -c 172.16.1.4 -B 192.168.2.1 -t "$SECS" 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e6 | floor' 2>/dev/null || echo 0
}

# median of the numbers on stdin, one a line.
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }

# lab_net builds the namespaces, the veth pair and the LAN addresses.
lab_net() {
	ip netns add "$LAB_A"
	ip netns add "$LAB_B"
	ip link add espvA netns "$LAB_A" type veth peer name espvB netns "$LAB_B"
	ip -n "$LAB_A" addr add 192.0.2.1/24 dev espvA
	ip -n "$LAB_B" addr add 192.0.2.2/24 dev espvB
	ip -n "$LAB_A" link set espvA up
	ip -n "$LAB_B" link set espvB up
	ip -n "$LAB_A" link set lo up
	ip -n "$LAB_B" link set lo up
	if [ "${LAB_OUTER6:-0}" = 1 ]; then
		local ns
		for ns in "$LAB_A" "$LAB_B"; do
			ip netns exec "$ns" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 0 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
		done
		ip -n "$LAB_A" -6 addr add 2001:db8::1/64 dev espvA nodad
		ip -n "$LAB_B" -6 addr add 2001:db8::2/64 dev espvB nodad
	fi
	ip -n "$LAB_A" addr add 192.168.2.1/32 dev lo
	ip -n "$LAB_B" addr add 172.16.1.4/32 dev lo
}

# lab_route DEV_A DEV_B waits for the tunnel devices, sets them up and
# routes each side's remote LAN into them.
lab_route() {
	local i
	for i in $(seq 100); do
		ip -n "$LAB_A" link show "$1" >/dev/null 2>&1 && ip -n "$LAB_B" link show "$2" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$LAB_A" link set "$1" up
	ip -n "$LAB_B" link set "$2" up
	ip -n "$LAB_A" route add 172.16.0.0/16 dev "$1" src 192.168.2.1
	ip -n "$LAB_B" route add 192.168.2.0/24 dev "$2" src 172.16.1.4
}

# wireguard-go from the module cache (the same wireguard module soft-ix
# uses for its TUN devices), for the comparison row.
WG=${WG:-$LAB_DIR/wireguard-go}
wg_build() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && go build -o "$WG" golang.zx2c4.com/wireguard)
}

# wg_keypair -> "private public" as hex (X25519 through openssl).
wg_keypair() {
	local k
	k=$(mktemp)
	openssl genpkey -algorithm X25519 -out "$k" 2>/dev/null
	echo "$(openssl pkey -in "$k" -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')" \
		"$(openssl pkey -in "$k" -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')"
	rm -f "$k"
}

# wg_uapi IFNAME CONFIG: configure wireguard-go over its UAPI socket.
wg_uapi() {
	python3 - "/var/run/wireguard/$1.sock" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n\n")
sys.exit(0 if "errno=0" in s.recv(4096).decode() else 1)
PY
}

# wg_up: the same topology with wireguard-go devices espwgA / espwgB.
wg_up() {
	local a b
	read -r -a a <<<"$(wg_keypair)"
	read -r -a b <<<"$(wg_keypair)"
	lab_net
	ip netns exec "$LAB_A" "$WG" -f espwgA >"$LAB_DIR/wga.log" 2>&1 &
	LAB_PIDS+=($!)
	ip netns exec "$LAB_B" "$WG" -f espwgB >"$LAB_DIR/wgb.log" 2>&1 &
	LAB_PIDS+=($!)
	local i
	for i in $(seq 100); do
		[ -S /var/run/wireguard/espwgA.sock ] && [ -S /var/run/wireguard/espwgB.sock ] && break
		sleep 0.1
	done
	wg_uapi espwgA "set=1
private_key=${a[0]}
listen_port=51820
public_key=${b[1]}
endpoint=192.0.2.2:51820
allowed_ip=172.16.0.0/16" || echo "wg_uapi A failed" >&2
	wg_uapi espwgB "set=1
private_key=${b[0]}
listen_port=51820
public_key=${a[1]}
endpoint=192.0.2.1:51820
allowed_ip=192.168.2.0/24" || echo "wg_uapi B failed" >&2
	lab_route espwgA espwgB
}

lab_down() {
	local p
	for p in "${LAB_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${LAB_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	LAB_PIDS=()
	ip netns del "$LAB_A" 2>/dev/null
	ip netns del "$LAB_B" 2>/dev/null
	return 0
}

# ss_ctl A|B COMMAND [ARGS]: swanctl against instance A or B (the command
# option first, then --uri).
ss_ctl() {
	local name=$1 cmd=$2
	shift 2
	STRONGSWAN_CONF="$LAB_DIR/ss$name.conf" swanctl "$cmd" --uri "unix://$LAB_DIR/ss$name.vici" "$@"
}

# ss_up SUITE: the same topology with strongSwan (charon-systemd and its
# userspace ESP, kernel-libipsec, which always encapsulates in UDP 4500) on
# both sides, PSK, route-based (0.0.0.0/0), A initiating. See
# /work/shared/notes/strongswan-lab.md for why each step is there.
ss_up() {
	local suite=$1 ns name local remote
	lab_net
	for name in A B; do
		if [ $name = A ]; then ns=$LAB_A local=192.0.2.1 remote=192.0.2.2; else ns=$LAB_B local=192.0.2.2 remote=192.0.2.1; fi
		"$SWANCONF" -charon -vici "unix://$LAB_DIR/ss$name.vici" -log "$LAB_DIR/ss$name-charon.log" \
			-plugins gcm -loglevel default=1 -loglevel "chd=${SS_CHD:-1}" >"$LAB_DIR/ss$name.conf" || return 1
		"$SWANCONF" -name lab -local $local -remote $remote -psk esplab-psk \
			-ike aes256-sha256-modp2048 -esp "$suite" >"$LAB_DIR/ss$name-swanctl.conf" || return 1
		ip netns exec "$ns" env STRONGSWAN_CONF="$LAB_DIR/ss$name.conf" charon-systemd >"$LAB_DIR/ss$name.out" 2>&1 &
		LAB_PIDS+=($!)
	done
	local i
	for name in A B; do
		for i in $(seq 100); do
			ss_ctl $name --stats >/dev/null 2>&1 && break
			sleep 0.1
		done
		ss_ctl $name --load-all --file "$LAB_DIR/ss$name-swanctl.conf" >/dev/null 2>&1
	done
	ss_ctl A --initiate --child lab-child --timeout 20 >/dev/null 2>&1
	for ns in "$LAB_A" "$LAB_B"; do
		for i in $(seq 10); do ip -n "$ns" rule del lookup 220 2>/dev/null || break; done
	done
	lab_route ipsec0 ipsec0
}
