// Package dhcp is the DHCPv4 client of an IX WAN port ("ip address dhcp"):
// it obtains a lease on one Linux link, renews it at T1, rebinds at T2,
// starts over after a NAK or when the lease runs out, and releases it
// when closed (RFC 2131, section 4.4). The protocol work is
// github.com/insomniacslk/dhcp's nclient4; this package adds the lease's
// life cycle.
//
// The client does not touch the link's addresses or routes: it reports
// each lease (and its loss) through Config.OnLease, and the caller (the
// daemon, through package tun) installs what the lease says.
//
// Packets go through a packet socket bound to the link, so the client
// works before the link has an address. A socket filter lets only UDP to
// port 68 reach it: the WAN's other traffic is not copied to user space.
package dhcp
