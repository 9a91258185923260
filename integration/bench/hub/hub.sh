#!/bin/bash
# hub.sh: soft-ix as a hub, one daemon terminating N IKEv2 PSK tunnels
# (TunnelK.0, each with its own peer address), against N initiators, with
# strongSwan's charon terminating the same N initiators as the reference.
#
#   namespace hub<pid>h  the hub: WAN 198.18.0.1/15, soft-ix (or charon)
#   namespace hub<pid>p  the peers: 198.18.1.0 ... one address each,
#                        integration/cmd/ikeload with one ike.Manager per address
#
# 198.18.0.0/15 is the benchmarking range (RFC 2544, RFC 5735): N can go
# past the 254 addresses of a documentation /24. Nothing is added to the
# root namespace.
#
# Measured for soft-ix, in order, and printed as "hub ..." lines:
#   check_s        soft-ix check -c (parse + validate the N-tunnel file)
#   start_s        exec to the control socket answering
#   tuns_up_s      exec to all N TUN devices UP (ip link)
#   idle_rss_mib   VmRSS with N tunnels and no peer, after SETTLE s
#   idle_cpu_pct   CPU of that daemon over IDLE s, % of one core
#                  (utime+stime from /proc/PID/stat)
#   show_s         soft-ix show ikev2 sa, idle
#   reload_s       soft-ix reload with one tunnel added (N+1)
#   setup_s        ikeload: all N initiators to an installed Child SA
#   setup_cpu_ms   the hub's CPU (utime+stime) per setup while they ran:
#                  on a small machine the initiators share the CPUs, so
#                  this, not setup_s, compares the responders themselves
#                  (not a ping: ikeload carries no ESP; the hub counts
#                  "show ikev2 sa" entries to confirm, est_sas)
#   est_rss_mib, est_cpu_pct, est_show_s  the same with N SAs up
#   esp_sent_to_peers, traffic_rss_mib, traffic_cpu_pct
#                  after one ping into every tunnel (ESP to every peer,
#                  so raw ESP's next-hop resolver follows all of them):
#                  packets the WAN sent, RSS, CPU at rest over IDLE s
# and for charon (kernel-libipsec, one connection with remote %any):
#   setup_s, setup_cpu_ms, est_rss_mib, est_cpu_pct
#
# Bounded: every wait has a timeout, ikeload runs at most SETUP_TIME and
# holds its SAs at most 10 minutes; processes are stopped by PID.
#
#   sudo integration/bench/hub/hub.sh              # N=1000 IDLE=30
#   N=100 IDLE=5 integration/bench/hub/hub.sh      # quick
#   CHARON=0 ...                                   # soft-ix only
#   SOFTIX_BIN=/path/soft-ix ...                   # instead of building
#   SOFTIX_RAW_ESP=auto ...                        # the daemon's --raw-esp
#   PERF=1 [TOP=40] ...                            # perf record the daemon during the
#                                                  # setups; top symbols on stderr
#   KEEP=1 ...                                     # keep the work directory, with
#                                                  # the daemon's smaps and status at est
#   integration/bench/hub/rounds.sh                # ROUNDS runs and their medians
# Needs root, ip, jq, awk; charon-systemd and swanctl for the reference.
set -euo pipefail
N=${N:-1000}
IDLE=${IDLE:-30}
SETTLE=${SETTLE:-3}
SETUP_TIME=${SETUP_TIME:-120s}
CHARON=${CHARON:-1}
[[ $N =~ ^[1-9][0-9]{0,4}$ ]] && [ "$N" -le 30000 ] || { echo "N=$N: want 1 to 30000" >&2; exit 1; }
[[ $IDLE =~ ^[1-9][0-9]{0,2}$ ]] || { echo "IDLE=$IDLE: want 1 to 999" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
cd "$(dirname "$0")/../../.."
W=$(mktemp -d /tmp/hub.XXXXXX)
P=hub$(($$ % 100000))
H=${P}h A=${P}p
HUB=198.18.0.1
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$H" 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
log() { printf '%s %s\n' "$(date -u +%T)" "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# waitfor SECONDS CMD...: poll CMD every 0.1 s, fail after SECONDS.
waitfor() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# peer K: the K-th initiator's address, 198.18.1.0 onwards.
peer() { local k=$(($1 + 256)); echo "198.18.$((k / 256)).$((k % 256))"; }

if [ -z "${SOFTIX_BIN:-}" ]; then
	go build -o "$W/soft-ix" ./cmd/soft-ix
	SOFTIX_BIN=$W/soft-ix
fi
go build -o "$W/ikeload" ./integration/cmd/ikeload
go build -o "$W/swanconf" ./integration/cmd/swanconf

# conf N: the hub's configuration with tunnels 0..N-1.
conf() {
	cat <<EOF
! integration/bench/hub: soft-ix as a hub with $1 responder tunnels
hostname hub
ikev2 default-profile
  sa-proposal enc aes-cbc-256
  sa-proposal integrity sha1
  sa-proposal dh 1024-bit
  child-proposal enc aes-cbc-256
  child-proposal integrity sha2-256
!
EOF
	local k
	for ((k = 0; k < $1; k++)); do
		echo "ikev2 authentication psk id ipv4 $(peer $k) key char hubload"
	done
	printf '!\ninterface GigaEthernet0.0\n  ip address %s/15\n  no shutdown\n!\n' $HUB
	for ((k = 0; k < $1; k++)); do
		local a=$(peer $k)
		printf 'interface Tunnel%d.0\n  tunnel mode ipsec-ikev2\n  ip unnumbered GigaEthernet0.0\n  ip tcp adjust-mss auto\n  ikev2 peer %s authentication psk id ipv4 %s\n  no shutdown\n!\n' "$k" "$a" "$a"
	done
}
conf "$N" >"$W/hub.conf"
conf $((N + 1)) >"$W/hub-plus1.conf"

ip netns add "$H"
ip netns add "$A"
ip link add "${P}h" type veth peer name "${P}p"
ip link set "${P}h" netns "$H"
ip link set "${P}p" netns "$A"
for ns in "$H" "$A"; do ip -n "$ns" link set lo up; done
ip -n "$H" link set "${P}h" up
# The config names the same address; set here too so that charon, which
# runs in the same namespace afterwards, has it.
ip -n "$H" addr add $HUB/15 dev "${P}h"
ip -n "$A" link set "${P}p" up
for ((k = 0; k < N; k++)); do
	echo "addr add $(peer $k)/15 dev ${P}p"
done | ip -n "$A" -batch -
LOCALS=$(for ((k = 0; k < N; k++)); do printf '%s,' "$(peer $k)"; done)
LOCALS=${LOCALS%,}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "N=$N nproc $(nproc) load average $LOAD_START"
out() { echo "hub $*"; }

TCK=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# cpu_pct PID SECS: CPU of PID over SECS, in % of one core.
# cpu_ms_per COUNT TICKS0 TICKS1: CPU milliseconds per item.
cpu_ms_per() { awk -v n="$1" -v a="$2" -v b="$3" -v t="$TCK" 'BEGIN { printf "%.3f", (b - a) * 1000 / (t * n) }'; }
cpu_pct() {
	local a b
	a=$(cputicks "$1")
	sleep "$2"
	b=$(cputicks "$1")
	awk -v a="$a" -v b="$b" -v t="$TCK" -v s="$2" 'BEGIN { printf "%.2f", (b - a) * 100 / (t * s) }'
}
sx() { ip netns exec "$H" "$SOFTIX_BIN" --socket "$W/ctl.sock" "$@"; }
tuns_up() { [ "$(ip -n "$H" -o link show up | grep -c ': Tunnel[0-9]*\.0')" -ge "$N" ]; }
# timed CMD...: wall seconds of CMD (its output discarded), or "failed".
timed() {
	local t0
	t0=$(now)
	if ! "$@" >/dev/null; then
		echo failed
		return
	fi
	since "$t0"
}

# ---------------- soft-ix
t0=$(now)
"$SOFTIX_BIN" check -c "$W/hub.conf" >"$W/check.out" 2>&1 || { cat "$W/check.out" >&2; exit 1; }
out "softix check_s $(since "$t0")"

t0=$(now)
ip netns exec "$H" "$SOFTIX_BIN" -c "$W/hub.conf" --map "GigaEthernet0.0=${P}h" --socket "$W/ctl.sock" \
	--log-level "${LOG_LEVEL:-warn}" ${SOFTIX_RAW_ESP:+--raw-esp "$SOFTIX_RAW_ESP"} >"$W/softix.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
waitfor 120 sx show ikev2 sa >/dev/null 2>&1 || { tail "$W/softix.log" >&2; exit 1; }
out "softix start_s $(since "$t0")"
waitfor 120 tuns_up || { log "not all TUN devices came up"; exit 1; }
out "softix tuns_up_s $(since "$t0")"
sleep "$SETTLE"
out "softix idle_rss_mib $(rss_mib $SPID)"
out "softix idle_cpu_pct $(cpu_pct $SPID "$IDLE")"
out "softix show_s $(timed sx show ikev2 sa)"
cp "$W/hub-plus1.conf" "$W/hub.conf"
out "softix reload_s $(timed sx reload)"
conf "$N" >"$W/hub.conf"
sx reload >/dev/null
# The reload's own work (the added tunnel torn down) is not a setup's.
sleep "$SETTLE"

# ikeload holds its SAs until the established figures are taken, then is
# stopped (the hold bounds it).
C0=$(cputicks $SPID)
if [ -n "${PERF:-}" ]; then
	perf record -F 1999 -g -p "$SPID" -o "$W/setup.perf" >/dev/null 2>&1 &
	PERFPID=$!
	PIDS+=("$PERFPID")
fi
ip netns exec "$A" "$W/ikeload" -peer $HUB -psk hubload -local "$LOCALS" -count "$N" \
	-concurrency 1 -time "$SETUP_TIME" -setup-timeout 30s -hold 10m >"$W/load-softix.json" 2>"$W/load-softix.err" &
LPID=$!
PIDS+=("$LPID")
waitfor 200 test -s "$W/load-softix.json" || { log "ikeload printed nothing"; cat "$W/load-softix.err" >&2; exit 1; }
C1=$(cputicks $SPID)
if [ -n "${PERF:-}" ]; then
	kill -INT "$PERFPID" 2>/dev/null || true
	wait "$PERFPID" 2>/dev/null || true
	# head closes the pipe early; under pipefail that is not a failure.
	perf report -i "$W/setup.perf" --no-children --sort dso,sym 2>/dev/null | grep '%' | head -"${TOP:-40}" >&2 || true
fi
out "softix setup_s $(jq .seconds "$W/load-softix.json") setups $(jq .setups "$W/load-softix.json") failures $(jq .failures "$W/load-softix.json")"
out "softix setup_cpu_ms $(cpu_ms_per "$(jq .setups "$W/load-softix.json")" "$C0" "$C1")"
sleep "$SETTLE"
est=$(sx show ikev2 sa | grep -c '^Peer Addr' || true)
out "softix est_sas $est"
out "softix est_rss_mib $(rss_mib $SPID)"
[ -n "${KEEP:-}" ] && { cat /proc/$SPID/smaps >"$W/smaps.est"; cat /proc/$SPID/status >"$W/status.est"; }
out "softix est_cpu_pct $(cpu_pct $SPID "$IDLE")"
out "softix est_show_s $(timed sx show ikev2 sa)"
# One packet into every tunnel: the hub sends ESP to each initiator (which
# drops it), so raw ESP's next-hop resolver knows every peer while the
# CPU at rest is measured again.
tx0=$(ip -n "$H" -s -j link show "$H" | jq '.[0].stats64.tx.packets')
for ((k = 0; k < N; k += 100)); do
	pings=()
	for ((j = k; j < k + 100 && j < N; j++)); do
		ip netns exec "$H" timeout 2 ping -n -q -c 1 -W 1 -I "Tunnel$j.0" 10.255.255.1 >/dev/null 2>&1 &
		pings+=($!)
	done
	wait "${pings[@]}" || true
done
sleep "$SETTLE"
tx1=$(ip -n "$H" -s -j link show "$H" | jq '.[0].stats64.tx.packets')
out "softix esp_sent_to_peers $((tx1 - tx0))"
out "softix traffic_rss_mib $(rss_mib $SPID)"
out "softix traffic_cpu_pct $(cpu_pct $SPID "$IDLE")"
kill "$LPID"; wait "$LPID" 2>/dev/null || true
kill "$SPID"; wait "$SPID" 2>/dev/null || true

# ---------------- charon
if [ "$CHARON" = 1 ] && command -v charon-systemd >/dev/null && command -v swanctl >/dev/null; then
	# Load settings: no cookies or blocking however many half-open SAs
	# ikeload keeps; no file log.
	"$W/swanconf" -charon -vici "unix://$W/charon.vici" -set 'cookie_threshold = 100000' \
		-set 'cookie_threshold_ip = 100000' -set 'block_threshold = 100000' >"$W/strongswan.conf"
	# A responder for any initiator, never rekeying: nslab's swanctl.conf.
	"$W/swanconf" -name hub -local "$HUB" -remote %any -psk hubload \
		-ike aes256-sha1-modp1024 -esp aes256-sha256 -no-rekey >"$W/swanctl.conf"
	ip netns exec "$H" env STRONGSWAN_CONF="$W/strongswan.conf" charon-systemd >"$W/charon.out" 2>&1 &
	CPID=$!
	PIDS+=("$CPID")
	waitfor 10 ip netns exec "$H" swanctl --stats --uri "unix://$W/charon.vici" >/dev/null 2>&1
	ip netns exec "$H" swanctl --load-all --uri "unix://$W/charon.vici" --file "$W/swanctl.conf" >/dev/null
	# kernel-libipsec routes everything into ipsec0 via table 220 once a
	# Child SA is up; the hub must keep answering the others on its WAN.
	ip -n "$H" rule del lookup 220 2>/dev/null || true
	sleep "$SETTLE"
	out "charon idle_rss_mib $(rss_mib $CPID)"
	C0=$(cputicks $CPID)
	ip netns exec "$A" "$W/ikeload" -peer $HUB -psk hubload -local "$LOCALS" -count "$N" \
		-concurrency 1 -time "$SETUP_TIME" -setup-timeout 30s -hold 10m >"$W/load-charon.json" 2>"$W/load-charon.err" &
	LPID=$!
	PIDS+=("$LPID")
	waitfor 200 test -s "$W/load-charon.json" || { log "ikeload printed nothing"; exit 1; }
	C1=$(cputicks $CPID)
	out "charon setup_s $(jq .seconds "$W/load-charon.json") setups $(jq .setups "$W/load-charon.json") failures $(jq .failures "$W/load-charon.json")"
	out "charon setup_cpu_ms $(cpu_ms_per "$(jq .setups "$W/load-charon.json")" "$C0" "$C1")"
	sleep "$SETTLE"
	out "charon est_rss_mib $(rss_mib $CPID)"
	out "charon est_cpu_pct $(cpu_pct $CPID "$IDLE")"
	out "charon est_show_s $(timed ip netns exec "$H" swanctl --list-sas --uri "unix://$W/charon.vici")"
	kill "$LPID"; wait "$LPID" 2>/dev/null || true
	kill "$CPID"; wait "$CPID" 2>/dev/null || true
fi
log "done, load average $(cut -d' ' -f1-3 /proc/loadavg) (start $LOAD_START)"
