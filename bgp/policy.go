package bgp

import "net/netip"

// policy is the route-maps the speaker applies: the ones neighbors use,
// and which neighbor uses which one in which direction. The zero policy
// applies nothing (every route passes).
type policy struct {
	maps map[string]RouteMap
	in   map[netip.Addr]string // neighbor -> route-map applied to what it sends
	out  map[netip.Addr]string // neighbor -> route-map applied to what is sent to it
}

func (p policy) empty() bool { return len(p.in) == 0 && len(p.out) == 0 }

// RouteMap is an IX route-map: its entries in sequence order. The first
// entry that matches a route decides; a route no entry matches is dropped.
type RouteMap struct {
	Entries []RouteMapEntry
}

// RouteMapEntry is one "route-map NAME permit|deny SEQ" block.
type RouteMapEntry struct {
	Seq  int
	Deny bool
	// MatchAll is set for an entry without match lines. Otherwise a route
	// matches when its prefix is within one of Match (an empty Match then
	// matches nothing: a list with no permit lines).
	MatchAll bool
	Match    []PrefixRange

	LocalPref         *uint32
	MED               *uint32
	Prepend           []uint32 // prepended in this order: the first is leftmost
	Communities       []string // "AA:NN" or a well-known name
	CommunityAdditive bool     // add to the route's communities rather than replace them
	CommunityNone     bool     // remove the route's communities
}

// PrefixRange matches the routes within Prefix whose length is MinLen..MaxLen.
type PrefixRange struct {
	Prefix         netip.Prefix
	MinLen, MaxLen int
}
