#!/bin/bash
# compare.sh: IKEv2 setups per second of soft-ix and strongSwan charon as
# responders, DH group 2 (1024-bit) and 14 (2048-bit), in the same run.
#
# Builds ikeload, ikepeer and the soft-ix binary, makes two namespaces
# isl<pid>a (load generator, 4 addresses) and isl<pid>b (responder), and
# for each round and group runs ikeload against three fresh responders:
# ikepeer (the ike.Manager alone, with its own sockets), the soft-ix
# daemon (its real sockets, intake queue, workers and ESP data plane: a
# "peer any" tunnel into a TUN device) and charon (kernel-libipsec).
# Prints every run, then the medians and the ratios to charon per group. Bounded: COUNT setups or TIME
# per run, ROUNDS rounds. Needs root, ip, charon-systemd, swanctl, jq.
#
#   sudo integration/cmd/ikeload/compare.sh            # COUNT=1500 TIME=20s ROUNDS=3 CONC=32
#   COUNT=500 ROUNDS=1 integration/cmd/ikeload/compare.sh
#   SOFTIX_ARGS="-dh-reuse-under-load 1s" integration/cmd/ikeload/compare.sh
#
# Measured 2026-11-27 on the shared 2-core build machine (load average 5-10
# from other jobs), COUNT=1500 ROUNDS=3, medians in setups/s:
#   DH 2 (1024-bit):  soft-ix 2086.6  charon 545.7  ratio 3.82
#   DH 14 (2048-bit): soft-ix  626.7  charon 214.1  ratio 2.93
set -euo pipefail
COUNT=${COUNT:-1500}
TIME=${TIME:-20s}
ROUNDS=${ROUNDS:-3}
CONC=${CONC:-32}
cd "$(dirname "$0")/../../.."
W=$(mktemp -d /tmp/isl.XXXXXX)
P=isl$(( $$ % 100000 ))
A=${P}a B=${P}b
RESP=192.0.2.2
LOCALS=192.0.2.10,192.0.2.11,192.0.2.12,192.0.2.13
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	[ -n "${CHARON_LOG:-}" ] && cp "$W/charon.log" /tmp/isl-charon.log
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/ikeload" ./integration/cmd/ikeload
go build -o "$W/ikepeer" ./integration/cmd/ikepeer
go build -o "$W/soft-ix" ./cmd/soft-ix
go build -o "$W/swanconf" ./integration/cmd/swanconf

ip netns add "$A"; ip netns add "$B"
ip link add "${P}va" type veth peer name "${P}vb"
ip link set "${P}va" netns "$A"; ip link set "${P}vb" netns "$B"
for a in ${LOCALS//,/ }; do ip -n "$A" addr add "$a/24" dev "${P}va"; done
ip -n "$B" addr add "$RESP/24" dev "${P}vb"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "${P}va" up; ip -n "$B" link set "${P}vb" up

# Load settings: no cookies or blocking however many half-open SAs the
# generator keeps; the file log quiet unless CHARON_LOG asks for more.
"$W/swanconf" -charon -vici "unix://$W/charon.vici" -log "$W/charon.log" -log-time '%T.%f' \
	-loglevel "default=${CHARON_LOG:-0}" -set 'cookie_threshold = 100000' \
	-set 'cookie_threshold_ip = 100000' -set 'block_threshold = 100000' >"$W/strongswan.conf"
# A responder for any initiator, never rekeying: nslab's swanctl.conf.
"$W/swanconf" -name load -local "$RESP" -remote %any -psk loadtest \
	-ike aes256-sha1-modp1024,aes256-sha1-modp2048 -esp aes256-sha256 -no-rekey >"$W/swanctl.conf"

# The daemon's configuration: the generator's addresses as PSK identities,
# the proposals ikeload offers, and per address one tunnel that answers
# any peer authenticating as that address (a "peer any" tunnel keeps every
# IKE SA it is offered, as ikepeer's does).
{
	echo "hostname load"
	for a in ${LOCALS//,/ }; do echo "ikev2 authentication psk id ipv4 $a key char loadtest"; done
	cat <<CONF
ikev2 default-profile
  sa-proposal enc aes-cbc-256
  sa-proposal integrity sha1
  sa-proposal dh 1024-bit 2048-bit
  child-proposal enc aes-cbc-256
  child-proposal integrity sha2-256
!
CONF
	n=0
	for a in ${LOCALS//,/ }; do
		printf 'interface Tunnel%d.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.%d.1/30\n  ip tcp adjust-mss auto\n  ikev2 peer any authentication psk id ipv4 %s\n  no shutdown\n!\n' $n $n "$a"
		n=$((n + 1))
	done
} >"$W/daemon.conf"
"$W/soft-ix" check -c "$W/daemon.conf"
start_daemon() {
	ip netns exec "$B" "$W/soft-ix" -c "$W/daemon.conf" --socket "$W/daemon.sock" --log-level warn >"$W/daemon.log" 2>&1 &
	RPID=$!; PIDS+=("$RPID")
	for _ in $(seq 50); do
		ip netns exec "$B" "$W/soft-ix" show ikev2 sa --socket "$W/daemon.sock" >/dev/null 2>&1 && break
		sleep 0.1
	done
}
start_softix() {
	ip netns exec "$B" "$W/ikepeer" -local $RESP -peer any -psk loadtest \
		-psk-id "ipv4:${LOCALS//,/,ipv4:}" -dh 1024-bit,2048-bit -cookie-threshold 100000 ${SOFTIX_ARGS:-} >"$W/softix.log" 2>&1 &
	RPID=$!; PIDS+=("$RPID"); sleep 0.5
}
start_charon() {
	ip netns exec "$B" env STRONGSWAN_CONF="$W/strongswan.conf" charon-systemd >"$W/charon.out" 2>&1 &
	RPID=$!; PIDS+=("$RPID")
	for _ in $(seq 50); do
		ip netns exec "$B" swanctl --stats --uri "unix://$W/charon.vici" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip netns exec "$B" swanctl --load-all --uri "unix://$W/charon.vici" --file "$W/swanctl.conf" >/dev/null 2>&1
	# kernel-libipsec routes everything into ipsec0 via table 220 once a
	# Child SA is up, which would send charon's answers to the other
	# generator addresses into the first tunnel.
	ip -n "$B" rule del lookup 220 2>/dev/null || true
}
stop_responder() { kill "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; sleep 0.3; }

run() { # impl group
	ip netns exec "$A" "$W/ikeload" -peer $RESP -psk loadtest -local $LOCALS -dh "$2" \
		-count "$COUNT" -time "$TIME" -concurrency "$CONC" | tee -a "$W/results-$1-$2"
}

for r in $(seq "$ROUNDS"); do
	for g in 1024-bit 2048-bit; do
		echo "round $r group $g"
		start_softix; printf 'ikepeer  '; run softix $g; stop_responder
		start_daemon; printf 'daemon   '; run daemon $g; stop_responder
		start_charon; printf 'charon   '; run charon $g; stop_responder
	done
done

median() { jq -s 'map(.setups_per_sec) | sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end' "$1"; }
echo
printf '%-9s %12s %12s %12s %14s %13s\n' group ikepeer/s daemon/s charon/s ikepeer/charon daemon/charon
for g in 1024-bit 2048-bit; do
	s=$(median "$W/results-softix-$g"); d=$(median "$W/results-daemon-$g"); c=$(median "$W/results-charon-$g")
	printf '%-9s %12.1f %12.1f %12.1f %14.2f %13.2f\n' "$g" "$s" "$d" "$c" "$(echo "$s / $c" | bc -l)" "$(echo "$d / $c" | bc -l)"
done
