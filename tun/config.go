package tun

import "net/netip"

// Config is what a Manager keeps the kernel in line with: the router's
// interfaces as links and its static routes. Package tun does not read
// the IX model; internal/ixtun translates an IX configuration into a
// Config.
type Config struct {
	// Links are the router's interfaces, in the configuration's order.
	Links []Link
	// Routes are the static routes ("ip route").
	Routes []Route
	// PeerRoutes are host routes to tunnel peers that must leave by a
	// given interface ("ikev2 outgoing-interface IF NEXTHOP"). A route of
	// Routes to the same prefix with the same distance wins over one of
	// these, and only Routes are merged into ECMP routes.
	PeerRoutes []Route
}

// LinkKind says how a Manager treats a Link.
type LinkKind int

const (
	// LinkOther is an interface tun keeps no Linux link for (Null0.0):
	// routes out of it are still checked against its admin state.
	LinkOther LinkKind = iota
	// LinkMapped is a host's link playing the interface (an IX
	// GigaEthernet), found through the Manager's mapping. Its address, MTU
	// and admin state are applied only with SetMappedAddresses(true).
	LinkMapped
	// LinkLoopback is a dummy link the Manager creates and owns.
	LinkLoopback
	// LinkTunnel is a tunnel's TUN device, created by package esp and
	// found here by name.
	LinkTunnel
)

// Link is one interface of the router.
type Link struct {
	// Name is the interface's name in the router (GigaEthernet0.0,
	// Tunnel0.0); the Linux link is LinkName(Name).
	Name string
	Kind LinkKind
	// Address is the interface's IPv4 address, if any.
	Address netip.Prefix
	// MTU is the link MTU to set; 0 leaves it alone.
	MTU int
	// Shutdown keeps the link down, and routes out of it out of the kernel.
	Shutdown bool
	// Peer is an IPsec tunnel's outer peer address, if known: a BGP route
	// covering it is not installed out of this tunnel, since it would
	// carry the tunnel's own IKE and ESP packets into itself.
	Peer netip.Addr
}

// Route is one static route.
type Route struct {
	Prefix netip.Prefix
	// NextHop is the gateway, if any; with Interface too, the gateway by
	// that interface.
	NextHop netip.Addr
	// Interface is the router's interface the route leaves by, when it
	// names one.
	Interface string
	// Blackhole discards what the route matches (a route to Null0.0); it
	// applies to a route without NextHop.
	Blackhole bool
	// Distance is the administrative distance, used as the kernel metric;
	// 0 means 1.
	Distance int
	// Metric ranks routes to one prefix at one distance, as an IX's
	// static route metric does: only the installable ones of the lowest
	// metric are installed (several of them as one multipath route), so
	// a higher one is a backup that takes over while they cannot be (a
	// tunnel down). 0 means 1.
	Metric uint32
	// DHCP marks a route through the router of Interface's DHCP lease
	// whose router is not known yet: it is not installed. (A caller that
	// knows the lease hands the route in with the router as NextHop.)
	DHCP bool
}

// link returns the link named name, or nil.
func (c *Config) link(name string) *Link {
	if c == nil {
		return nil
	}
	for i := range c.Links {
		if c.Links[i].Name == name {
			return &c.Links[i]
		}
	}
	return nil
}
