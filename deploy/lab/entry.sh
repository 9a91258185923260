#!/bin/sh
# entry.sh: the compose lab's entry point for every container (mounted at
# /lab/entry.sh). Docker names a container's interfaces eth0, eth1... in an
# order compose does not promise, so each soft-ix interface is found by the
# address docker gave it (renaming it would leave its host end behind when
# docker tears the container down). Then the default route is set (docker's
# leads to the bridge's gateway address on the Docker host, which is no part
# of the lab) and the role's program started.
#
#   entry.sh ROLE [ARGS...]   ROLE: ix, azure, internet, host GATEWAY
set -eu

# dev ADDR prints the interface holding ADDR.
dev() {
	d=$(ip -o -4 addr show to "$1" | awk '{print $2; exit}')
	[ -n "$d" ] || { echo "entry.sh: no interface has $1" >&2; exit 1; }
	echo "$d"
}

role=$1
shift
case $role in
ix)
	# The IX: WAN 203.0.113.94 towards the internet router, LAN 192.168.2.1.
	wan=$(dev 203.0.113.94)
	lan=$(dev 192.168.2.1)
	ip route replace default via 203.0.113.1
	exec soft-ix -c /lab/conf/ix-lab-bgp.conf --map GigaEthernet0.0="$wan" --map GigaEthernet1.0="$lan" "$@"
	;;
azure)
	# Azure's gateway: public 198.51.100.6, the VNet subnet router
	# 172.16.1.1 and its BGP address 172.16.0.6 in the GatewaySubnet, on a
	# link of its own as soft-ix lab has it: a dummy, or an ifb where the
	# kernel has no dummy links (as nslab does).
	wan=$(dev 198.51.100.6)
	vnet=$(dev 172.16.1.1)
	ip link add bgp0 type dummy 2>/dev/null || ip link add bgp0 type ifb
	ip link set bgp0 up
	ip route replace default via 198.51.100.1
	exec soft-ix -c /lab/conf/azure-lab.conf --emulate azure --map GigaEthernet0.0="$wan" \
		--map GigaEthernet1.0="$vnet" --map GigaEthernet2.0=bgp0 "$@"
	;;
internet)
	# The internet between the two gateways: a router, nothing more.
	exec sleep infinity
	;;
host)
	ip route replace default via "$1"
	exec sleep infinity
	;;
esac
echo "entry.sh: unknown role $role" >&2
exit 2
