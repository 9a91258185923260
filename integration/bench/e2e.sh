#!/bin/bash
# End-to-end benchmark of soft-ix against strongSwan and wireguard-go, in
# one run, in nslab's seed scenario; the work is done by the Go driver
# integration/cmd/e2ebench, which this script builds and runs:
#
#   LAN host -- IX router -- internet router -- gateway -- VNet host
#
# The tunnel endpoints run in the IX router and gateway namespaces; iperf3
# TCP and ping go from the LAN host to the VNet host. Contenders, one at a
# time, their order rotated every round so that noise hits all alike:
#
#   plain        no tunnel: the internet router routes the private prefixes
#   plain-pp     plain with the internet path carrying one packet at a
#                time (as WAN_GSO=off, for this contender only): the most
#                a raw ESP tunnel can move here, since every raw ESP packet
#                crosses the path alone (no GSO for IP protocol 50)
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
#                published branch configurations (see e2ebench,
#                branchFilters); filters.sh compares them
#   softix-nat-cbc, softix-nat-gcm
#                soft-ix <-> soft-ix with the IX behind a masquerading
#                internet router (iptables), so ESP goes in UDP 4500 as
#                strongSwan's and wireguard-go's packets do (only when
#                iptables is installed)
#
# Not in the default list: esppeer-{raw,udp}-{cbc,gcm}, soft-ix's ESP
# engine alone with static keys, raw ESP or ESP in UDP.
#
# Usage (root):  integration/bench/e2e.sh
# Environment:   ROUNDS (3), SECS iperf3 seconds (10), WARMUP omitted
#                seconds (1), PINGS per latency sample (200),
#                CONTENDERS (all of the above), SOFTIX_BIN (built if unset),
#                KEEP=1 keeps the work directory with logs and configs;
#                also MAX_SECONDS (the run's bound), PFX (namespace name
#                prefix), WORK (work directory), SOFTIX_LOG_LEVEL (info),
#                SOFTIX_RAW_ESP (passed to both soft-ix as --raw-esp),
#                WAN_GSO (on; off makes the four veths of the internet
#                path carry packets one at a time, as a real WAN does:
#                gso_max_segs 1, gso_max_size and gro_max_size 1500, for
#                every contender alike; the run logs the internet router's
#                bytes per skb, about 1500 when off), PIN (0; 1 puts
#                every thread of the IX endpoint on CPU 0 and of the
#                gateway on CPU 1, and starts Go endpoints with
#                GOMAXPROCS=1: two one-core machines, for every contender
#                alike; iperf3 and the routers stay free).
#
# It measures, it does not gate: exit 0 whatever the numbers, 1 when a
# setup step fails (tools missing, a tunnel that does not come up).
set -u
cd "$(dirname "$0")/../.." || exit 1
WORK=${WORK:-$(mktemp -d /tmp/e2e-bench.XXXXXX)}
export WORK
# The driver removes WORK (its own binary with it) when done, unless KEEP=1.
if ! go build -o "$WORK/e2ebench" ./integration/cmd/e2ebench; then
	echo "e2e.sh: go build ./integration/cmd/e2ebench failed" >&2
	rm -rf "$WORK"
	exit 1
fi
exec "$WORK/e2ebench"
