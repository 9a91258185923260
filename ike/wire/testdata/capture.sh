#!/bin/bash
# capture.sh records real IKEv2 messages between two strongSwan instances
# (charon-systemd with kernel-libipsec) in network namespaces iw-a and
# iw-b, for the wire codec's seed corpus and the key derivation test in
# ike/crypto. Needs root. Everything stays in the two namespaces; the
# namespaces, processes and the work directory are removed on exit.
#
# Usage: capture.sh WORKDIR   (pcap and charon logs are left in WORKDIR)
set -euo pipefail
W=${1:?usage: capture.sh WORKDIR}
mkdir -p "$W"
W=$(cd "$W" && pwd)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	ip netns del iw-a 2>/dev/null || true
	ip netns del iw-b 2>/dev/null || true
}
trap cleanup EXIT

ip netns add iw-a
ip netns add iw-b
ip link add iwa0 netns iw-a type veth peer name iwb0 netns iw-b
ip -n iw-a addr add 192.0.2.1/24 dev iwa0
ip -n iw-b addr add 192.0.2.2/24 dev iwb0
for n in a b; do
	ip -n iw-$n link set lo up
	ip -n iw-$n link set iw${n}0 up
done

# conf NAME LOCAL REMOTE: strongswan.conf and swanctl.conf for one side.
# Level 4 for ike and chd makes charon log g^ir, SKEYSEED and all keys.
conf() {
	local n=$1 l=$2 r=$3
	cat >"$W/$n.conf" <<CONF
charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip = no
  fragment_size = ${FRAG:-1280}
  plugins {
    vici {
      socket = unix://$W/$n.vici
    }
  }
  filelog {
    iw {
      path = $W/$n.log
      time_format = %T
      append = no
      flush_line = yes
      default = 1
      ike = 4
      chd = 4
      cfg = 2
      enc = 2
    }
  }
}
charon-systemd {
  journal {
    default = -1
  }
}
CONF
	cat >"$W/$n-swanctl.conf" <<CONF
connections {
  modp {
    version = 2
    local_addrs = $l
    remote_addrs = $r
    proposals = aes256-sha1-modp1024
    mobike = no
    dpd_delay = 2s
    fragmentation = yes
    local {
      auth = psk
      id = $l
    }
    remote {
      auth = psk
      id = $r
    }
    children {
      modp-child {
        mode = tunnel
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes256-sha256
      }
    }
  }
  gcm {
    version = 2
    local_addrs = $l
    remote_addrs = $r
    proposals = aes256gcm16-prfsha256-ecp256
    mobike = no
    fragmentation = yes
    local {
      auth = psk
      id = fqdn-$l.example
    }
    remote {
      auth = psk
      id = fqdn-$r.example
    }
    children {
      gcm-child {
        mode = tunnel
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes256gcm16-modp2048
      }
    }
  }
}
secrets {
  ike-a {
    id-a = $l
    id-b = $r
    id-c = fqdn-$l.example
    id-d = fqdn-$r.example
    secret = "iw-test-psk"
  }
}
CONF
}

conf a 192.0.2.1 192.0.2.2
conf b 192.0.2.2 192.0.2.1

ip netns exec iw-a tcpdump -i iwa0 -U -w "$W/ike.pcap" 'udp port 500 or udp port 4500' 2>"$W/tcpdump.err" &
PIDS+=($!)
for n in a b; do
	ip netns exec iw-$n env STRONGSWAN_CONF="$W/$n.conf" charon-systemd >"$W/$n.out" 2>&1 &
	PIDS+=($!)
done
for n in a b; do
	for i in $(seq 50); do
		[ -S "$W/$n.vici" ] && break
		sleep 0.2
	done
	swanctl --load-all --file "$W/$n-swanctl.conf" --uri "unix://$W/$n.vici" >/dev/null 2>&1
done
sw() { swanctl "$@" --uri "unix://$W/a.vici" 2>/dev/null; }

sw --initiate --child modp-child --timeout 10 >/dev/null
sleep 5 # a few DPD exchanges
sw --rekey --child modp-child >/dev/null
sleep 2
sw --rekey --ike modp >/dev/null
sleep 2
sw --terminate --ike modp --timeout 10 >/dev/null
sleep 1
sw --initiate --child gcm-child --timeout 10 >/dev/null
sleep 1
sw --rekey --child gcm-child >/dev/null
sleep 2
sw --terminate --ike gcm --timeout 10 >/dev/null
sleep 1
