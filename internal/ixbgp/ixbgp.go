// Package ixbgp translates the IX model's "router bgp" (with the interface
// addresses, route-maps, prefix lists and access lists it refers to) into
// bgp.Config. It is the router's part for BGP: package bgp speaks BGP from
// its own config and does not read the IX model, so the IX's rules (how it
// chooses a router ID, that it brings a loopback-sourced eBGP session up
// without ebgp-multihop, what a prefix list matches) live here. The
// daemon and the bgppeer test driver both use it.
package ixbgp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/config"
)

// loopbackMultihopTTL is the TTL soft-ix uses towards an eBGP neighbor
// that has "update-source" but no "ebgp-multihop".
//
// The IX brings up the seed's session (10.2.2.2 on Loopback0.0 to
// 172.16.0.6 routed into Tunnel0.0) without ebgp-multihop: it does no
// connected check on eBGP sessions. GoBGP does no connected check either,
// but it sends TTL 1 on eBGP sessions, which only works while the peer is
// exactly one IP hop away. A neighbor addressed from a loopback is by
// definition not on a shared subnet, and whatever stands between (the
// Azure gateway's tunnel endpoint, a router in a lab) may cost a hop, so
// soft-ix treats it as multihop with TTL 255, as the IX behaves.
const loopbackMultihopTTL = 255

// Config translates cfg's "router bgp". IPv6 neighbors are left out
// (config warns that they are not emulated), and so are the route-maps
// only they use.
func Config(cfg *config.Config) (bgp.Config, error) {
	b := cfg.BGP
	if b == nil {
		return bgp.Config{}, errors.New("bgp: no router bgp in configuration")
	}
	if b.ASN == 0 {
		return bgp.Config{}, errors.New("bgp: router bgp without AS number")
	}
	rid, err := RouterID(cfg)
	if err != nil {
		return bgp.Config{}, err
	}
	out := bgp.Config{ASN: b.ASN, RouterID: rid, RouteMaps: map[string]bgp.RouteMap{}}
	for _, n := range b.Neighbors {
		if !n.Addr.Is4() {
			continue
		}
		nb, err := neighbor(cfg, b, n)
		if err != nil {
			return bgp.Config{}, err
		}
		for _, name := range []string{n.RouteMapIn, n.RouteMapOut} {
			if _, ok := out.RouteMaps[name]; name != "" && !ok {
				out.RouteMaps[name] = routeMap(cfg, name)
			}
		}
		out.Neighbors = append(out.Neighbors, nb)
	}
	out.Networks = append(out.Networks, b.Networks...)
	return out, nil
}

func neighbor(cfg *config.Config, b *config.BGP, n *config.Neighbor) (bgp.Neighbor, error) {
	if n.RemoteAS == 0 {
		return bgp.Neighbor{}, fmt.Errorf("bgp: neighbor %s: no remote-as", n.Addr)
	}
	nb := bgp.Neighbor{
		Addr:        n.Addr,
		RemoteAS:    n.RemoteAS,
		Keepalive:   n.Keepalive,
		Hold:        n.Hold,
		Description: n.Description,

		ConnectRetry: n.ConnectInterval,
		RouteMapIn:   n.RouteMapIn,
		RouteMapOut:  n.RouteMapOut,
	}
	if n.UpdateSource != "" {
		ifc := cfg.Interface(n.UpdateSource)
		if ifc == nil {
			return bgp.Neighbor{}, fmt.Errorf("bgp: neighbor %s: update-source %s is not configured", n.Addr, n.UpdateSource)
		}
		// An update-source without an address loads on the IX (config
		// warns); the session then leaves from the address the kernel
		// picks, rather than keeping the whole speaker from starting.
		if ifc.Address.IsValid() {
			nb.LocalAddr = ifc.Address.Addr()
		}
	}
	ebgp := n.RemoteAS != b.ASN
	switch {
	case n.EBGPMultihop > 255:
		nb.MultihopTTL = 255
	case n.EBGPMultihop > 0:
		nb.MultihopTTL = uint8(n.EBGPMultihop)
	case ebgp && n.UpdateSource != "":
		nb.MultihopTTL = loopbackMultihopTTL
	}
	return nb, nil
}

// RouterID returns the BGP router ID as the IX chooses it: the configured
// "router-id", else the highest loopback address, else the highest address
// of any interface.
func RouterID(cfg *config.Config) (netip.Addr, error) {
	if cfg.BGP != nil && cfg.BGP.RouterID.IsValid() {
		return cfg.BGP.RouterID, nil
	}
	var loop, any netip.Addr
	for _, ifc := range cfg.Interfaces {
		if !ifc.Address.IsValid() || !ifc.Address.Addr().Is4() || ifc.Shutdown {
			continue
		}
		a := ifc.Address.Addr()
		if ifc.Kind == config.KindLoopback && (!loop.IsValid() || a.Compare(loop) > 0) {
			loop = a
		}
		if !any.IsValid() || a.Compare(any) > 0 {
			any = a
		}
	}
	switch {
	case loop.IsValid():
		return loop, nil
	case any.IsValid():
		return any, nil
	}
	return netip.Addr{}, errors.New("bgp: no router-id configured and no IPv4 interface address to choose one from")
}

// routeMap translates the entries of one route-map. A configuration that
// names a route-map it does not define does not load (config.Validate),
// so every name here has entries.
func routeMap(cfg *config.Config, name string) bgp.RouteMap {
	var rm bgp.RouteMap
	for _, e := range cfg.RouteMap(name) {
		out := bgp.RouteMapEntry{
			Seq:               e.Seq,
			Deny:              e.Deny,
			LocalPref:         e.SetLocalPref,
			MED:               e.SetMetric,
			Prepend:           e.SetPrepend,
			Communities:       e.SetCommunity,
			CommunityAdditive: e.CommunityAdditive,
			CommunityNone:     e.CommunityNone,
		}
		switch {
		case e.KeptMatch():
			out.Match = []bgp.PrefixRange{} // a match soft-ix cannot evaluate: never matches
		case e.MatchPrefixList != "":
			// With an access list as well, both should hold; a GoBGP
			// statement takes one prefix set, so only the prefix list
			// is applied (config.Validate warns).
			out.Match = permitRanges(cfg.PrefixList(e.MatchPrefixList))
		case e.MatchAccessList != "":
			acl, _ := cfg.AccessListSources(e.MatchAccessList)
			out.Match = permitRanges(acl)
		default:
			out.MatchAll = true
		}
		rm.Entries = append(rm.Entries, out)
	}
	return rm
}

// permitRanges are the ranges a prefix (or access) list permits. GoBGP
// prefix sets have no deny lines, so a deny line that precedes permit
// lines is not applied (config.Validate warns about that case); deny
// lines after the last permit line change nothing, since a route no line
// matches is not matched either.
func permitRanges(lines []*config.PrefixList) []bgp.PrefixRange {
	out := []bgp.PrefixRange{}
	for _, l := range lines {
		if l.Deny {
			continue
		}
		out = append(out, bgp.PrefixRange{Prefix: l.Prefix.Masked(), MinLen: l.MinLen(), MaxLen: l.MaxLen()})
	}
	return out
}
