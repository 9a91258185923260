// Package tun is the Linux side of soft-ix: TUN devices named like IX tunnel
// interfaces, dummy links for loopbacks, addresses, MTU, routes and the
// forwarding sysctl, all through netlink. Everything it adds carries
// soft-ix's own route protocol number so it can remove exactly that.
package tun
