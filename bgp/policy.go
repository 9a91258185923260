package bgp

import (
	"net/netip"

	"github.com/soft-ix/soft-ix/config"
)

// policy is the IX route-maps the speaker applies, in bgp's own terms:
// the route-maps that neighbors use, and which neighbor uses which one in
// which direction. The zero policy applies nothing (every route passes).
type policy struct {
	maps map[string]routeMap
	in   map[netip.Addr]string // neighbor -> route-map applied to what it sends
	out  map[netip.Addr]string // neighbor -> route-map applied to what is sent to it
}

func (p policy) empty() bool { return len(p.in) == 0 && len(p.out) == 0 }

// routeMap is one IX route-map: its entries in sequence order. The first
// entry that matches a route decides; a route no entry matches is dropped.
type routeMap struct {
	Name    string
	Entries []routeMapEntry
}

// routeMapEntry is one "route-map NAME permit|deny SEQ" block.
type routeMapEntry struct {
	Seq  int
	Deny bool
	// MatchAll is set for an entry without match lines. Otherwise a route
	// matches when its prefix is within one of Match (an empty Match then
	// matches nothing: a list with no permit lines).
	MatchAll bool
	Match    []prefixRange

	LocalPref         *uint32
	MED               *uint32
	Prepend           []uint32 // prepended in this order: the first is leftmost
	Communities       []string // "AA:NN" or a well-known name
	CommunityAdditive bool     // add to the route's communities rather than replace them
	CommunityNone     bool     // remove the route's communities
}

// prefixRange matches the routes within Prefix whose length is MinLen..MaxLen.
type prefixRange struct {
	Prefix         netip.Prefix
	MinLen, MaxLen int
}

// policyFrom translates the route-maps neighbors refer to. IPv6 neighbors
// are not emulated, so their route-maps are left out.
func policyFrom(cfg *config.Config) policy {
	p := policy{maps: map[string]routeMap{}, in: map[netip.Addr]string{}, out: map[netip.Addr]string{}}
	if cfg.BGP == nil {
		return p
	}
	use := func(dir map[netip.Addr]string, addr netip.Addr, name string) {
		if name == "" {
			return
		}
		dir[addr] = name
		if _, ok := p.maps[name]; !ok {
			p.maps[name] = routeMapFrom(cfg, name)
		}
	}
	for _, n := range cfg.BGP.Neighbors {
		if !n.Addr.Is4() {
			continue
		}
		use(p.in, n.Addr, n.RouteMapIn)
		use(p.out, n.Addr, n.RouteMapOut)
	}
	return p
}

func routeMapFrom(cfg *config.Config, name string) routeMap {
	rm := routeMap{Name: name}
	for _, e := range cfg.RouteMap(name) {
		out := routeMapEntry{
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
func permitRanges(lines []*config.PrefixList) []prefixRange {
	out := []prefixRange{}
	for _, l := range lines {
		if l.Deny {
			continue
		}
		out = append(out, prefixRange{Prefix: l.Prefix.Masked(), MinLen: l.MinLen(), MaxLen: l.MaxLen()})
	}
	return out
}
