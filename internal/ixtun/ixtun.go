// Package ixtun translates the IX model's interfaces and "ip route" lines
// into tun.Config. Package tun keeps the kernel in line with its own
// configuration and does not read the IX model, so the IX's rules live
// here: which interfaces are links soft-ix owns, that a route to Null0.0
// discards, that "ikev2 outgoing-interface IF NEXTHOP" pins the route to a
// tunnel's peer, that an unnumbered tunnel sends from the address it
// borrows. The daemon and the bgppeer test driver both use it.
package ixtun

import (
	"net/netip"
	"strings"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/tun"
)

// Config translates the interfaces and static routes of cfg. A route
// "ip route P IF dhcp" stays marked DHCP (tun leaves it out): the daemon
// hands in the configuration with its leases applied.
func Config(cfg *config.Config) tun.Config {
	var out tun.Config
	if cfg == nil {
		return out
	}
	for _, ifc := range cfg.Interfaces {
		out.Links = append(out.Links, link(cfg, ifc))
	}
	for _, r := range cfg.Routes {
		out.Routes = append(out.Routes, route(r))
	}
	out.PeerRoutes = peerRoutes(cfg)
	return out
}

func link(cfg *config.Config, ifc *config.Interface) tun.Link {
	l := tun.Link{Name: ifc.Name, Address: ifc.Address, MTU: ifc.MTU, Shutdown: ifc.Shutdown}
	if !l.Address.IsValid() && ifc.Kind == config.KindTunnel {
		l.Address = unnumbered(cfg, ifc)
	}
	switch ifc.Kind {
	case config.KindGigaEthernet:
		l.Kind = tun.LinkMapped
	case config.KindLoopback:
		l.Kind = tun.LinkLoopback
	case config.KindTunnel:
		l.Kind = tun.LinkTunnel
	default:
		l.Kind = tun.LinkOther
	}
	if ifc.Kind == config.KindTunnel && ifc.Tunnel != nil && ifc.Tunnel.Mode == "ipsec-ikev2" {
		l.Peer = ifc.Tunnel.Peer
	}
	return l
}

// unnumbered is the address a tunnel with "ip unnumbered IF" borrows, as
// a host prefix: what the router itself sends into the tunnel (a ping, a
// BGP session without update-source, ICMP errors) leaves from IF's
// address, as on the IX. Without an address of its own the Linux device
// would take the kernel's pick, the first global address of another link,
// usually the WAN's, which the far side routes back through the internet
// or drops. The same address on two links is what Linux does for
// unnumbered links: the /32 adds no subnet route, and its local route goes
// with the device. Invalid when IF has no IPv4 address (yet).
func unnumbered(cfg *config.Config, ifc *config.Interface) netip.Prefix {
	if ifc.Unnumbered == "" {
		return netip.Prefix{}
	}
	src := cfg.Interface(ifc.Unnumbered)
	if src == nil || !src.Address.IsValid() || !src.Address.Addr().Is4() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(src.Address.Addr(), 32)
}

func route(r *config.Route) tun.Route {
	return tun.Route{
		Prefix: r.Prefix, NextHop: r.NextHop, Interface: r.Interface, Distance: r.Distance, Metric: r.Metric, DHCP: r.DHCP,
		Blackhole: strings.HasPrefix(r.Interface, string(config.KindNull)),
	}
}

// peerRoutes are the host routes "ikev2 outgoing-interface IF NEXTHOP"
// asks for: IKE and ESP to the tunnel's peer leave by IF through NEXTHOP,
// whatever else the routing table says. Without a next hop (or with
// "auto") the table decides.
func peerRoutes(cfg *config.Config) []tun.Route {
	var out []tun.Route
	for _, ifc := range cfg.Tunnels() {
		t := ifc.Tunnel
		if !t.OutgoingNextHop.IsValid() || !t.Peer.IsValid() || t.OutgoingInterface == "" || t.Peer.Is4() != t.OutgoingNextHop.Is4() {
			continue
		}
		out = append(out, tun.Route{Prefix: netip.PrefixFrom(t.Peer, t.Peer.BitLen()), NextHop: t.OutgoingNextHop, Interface: t.OutgoingInterface})
	}
	return out
}
