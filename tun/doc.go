// Package tun is the Linux side of soft-ix: dummy links for IX loopbacks,
// addresses, MTU and admin state of the tunnel TUN devices (created by
// package esp and found here by name), kernel routes for "ip route" and for
// BGP best paths, and the IPv4 forwarding sysctl, all through netlink.
//
// Everything tun adds is marked so that it can remove exactly that and
// never touch what others own:
//
//   - static routes carry route protocol ProtoStatic (240, 0xf0),
//     BGP routes carry ProtoBGP (241, 0xf1); neither number is reserved in
//     /etc/iproute2/rt_protos. To see names in "ip route", add
//     "240 soft-ix" and "241 soft-ix-bgp" to /etc/iproute2/rt_protos.d/soft-ix.conf.
//   - links it creates for loopbacks carry the link alias LinkAlias
//     ("soft-ix"). They are dummy links, or persistent TUN devices where the
//     kernel has no dummy driver (as on the test machines).
//
// A Manager removes stale marked routes and links left by a crash when it
// starts, and everything it added when Cleanup is called.
package tun
