#!/bin/bash
# Shared namespace lab for the esp scripts: two namespaces joined by a veth
# pair on documentation addresses, each running esppeer with a static SA
# pair. Source it; call lab_up SUITE UDP(0|1) and lab_down.
#
#   A (esplabA): outer 192.0.2.1 on espvA, LAN 192.168.2.1 on lo
#   B (esplabB): outer 192.0.2.2 on espvB, LAN 172.16.1.4 on lo
#   A routes 172.16.0.0/16 into Tunnel0.0, B routes 192.168.2.0/24.
set -u
LAB_A=${LAB_A:-esplabA}
LAB_B=${LAB_B:-esplabB}
LAB_DIR=${LAB_DIR:-$(mktemp -d /tmp/esplab.XXXXXX)}
ESPPEER=${ESPPEER:-$LAB_DIR/esppeer}
LAB_PIDS=()

lab_build() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && go build -o "$ESPPEER" ./esp/internal/esppeer)
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
	ip netns add "$LAB_A"
	ip netns add "$LAB_B"
	ip link add espvA netns "$LAB_A" type veth peer name espvB netns "$LAB_B"
	ip -n "$LAB_A" addr add 192.0.2.1/24 dev espvA
	ip -n "$LAB_B" addr add 192.0.2.2/24 dev espvB
	ip -n "$LAB_A" link set espvA up
	ip -n "$LAB_B" link set espvB up
	ip -n "$LAB_A" link set lo up
	ip -n "$LAB_B" link set lo up
	ip -n "$LAB_A" addr add 192.168.2.1/32 dev lo
	ip -n "$LAB_B" addr add 172.16.1.4/32 dev lo
	local u=""
	[ "$udp" = 1 ] && u="-udp"
	ip netns exec "$LAB_A" "$ESPPEER" -local 192.0.2.1 -remote 192.0.2.2 $u -suite "$suite" \
		-spi-out 0x1001 -spi-in 0x2002 -key-out "$kab" -ikey-out "$iab" -key-in "$kba" -ikey-in "$iba" ${LAB_A_EXTRA:-} "$@" \
		>"$LAB_DIR/a.out" 2>"$LAB_DIR/a.err" &
	LAB_PIDS+=($!)
	ip netns exec "$LAB_B" "$ESPPEER" -local 192.0.2.2 -remote 192.0.2.1 $u -suite "$suite" \
		-spi-out 0x2002 -spi-in 0x1001 -key-out "$kba" -ikey-out "$iba" -key-in "$kab" -ikey-in "$iab" ${LAB_B_EXTRA:-} "$@" \
		>"$LAB_DIR/b.out" 2>"$LAB_DIR/b.err" &
	LAB_PIDS+=($!)
	local i
	for i in $(seq 50); do
		ip -n "$LAB_A" link show Tunnel0.0 >/dev/null 2>&1 && ip -n "$LAB_B" link show Tunnel0.0 >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$LAB_A" link set Tunnel0.0 up
	ip -n "$LAB_B" link set Tunnel0.0 up
	ip -n "$LAB_A" route add 172.16.0.0/16 dev Tunnel0.0 src 192.168.2.1
	ip -n "$LAB_B" route add 192.168.2.0/24 dev Tunnel0.0 src 172.16.1.4
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
