package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeKey is how the kernel tells routes of the main table apart.
type routeKey struct {
	prefix netip.Prefix
	metric int
}

// bgpRoute is one BGP best path soft-ix wants in the kernel.
type bgpRoute struct {
	nextHop netip.Addr
	route   *netlink.Route // nil while pending (next hop unresolved or its tunnel down)
	dev     string         // Linux link the route leaves by, when installed
	since   time.Time      // when route was installed
}

// staticRoute turns one "ip route" into a kernel route, or says why it
// cannot be installed now (missing link, tunnel down, shut interface).
func (m *Manager) staticRoute(r *Route) (*netlink.Route, string) {
	if r.DHCP {
		// "ip route ... GigaEthernet0.0 dhcp" means the router of the DHCP
		// lease; the daemon hands such routes in with that router as next
		// hop. A device route in its place would send everything on-link.
		return nil, "no DHCP lease with a router yet"
	}
	metric := r.Distance
	if metric <= 0 {
		metric = 1
	}
	nr := &netlink.Route{
		Dst:      ipNet(r.Prefix.Masked()),
		Protocol: ProtoStatic,
		Priority: metric,
		Table:    unix.RT_TABLE_MAIN,
	}
	if r.NextHop.IsValid() {
		nr.Gw = net.IP(r.NextHop.AsSlice())
		if r.Interface == "" {
			return nr, ""
		}
		// "ip route P NEXTHOP IF": the next hop by that interface.
	} else if r.Blackhole {
		nr.Type = unix.RTN_BLACKHOLE
		return nr, ""
	}
	if m.tunnelDown[r.Interface] {
		return nil, "tunnel down"
	}
	if ifc := m.cfg.link(r.Interface); ifc != nil && ifc.Shutdown {
		return nil, "interface shut down"
	}
	link, err := m.h.LinkByName(m.LinkName(r.Interface))
	if err != nil {
		return nil, "no link " + m.LinkName(r.Interface)
	}
	nr.LinkIndex = link.Attrs().Index
	if nr.Gw == nil {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr, ""
}

// multipath merges two routes of one prefix and metric into one ECMP
// route with the next hops of both, as an IX balances over equal static
// routes. A blackhole is not merged: the first route stays.
func multipath(a, b *netlink.Route) *netlink.Route {
	if a.Type == unix.RTN_BLACKHOLE || b.Type == unix.RTN_BLACKHOLE {
		return a
	}
	hops := func(r *netlink.Route) []*netlink.NexthopInfo {
		if len(r.MultiPath) > 0 {
			return r.MultiPath
		}
		return []*netlink.NexthopInfo{{LinkIndex: r.LinkIndex, Gw: r.Gw}}
	}
	m := *a
	m.MultiPath = append(append([]*netlink.NexthopInfo{}, hops(a)...), hops(b)...)
	m.LinkIndex, m.Gw, m.Scope = 0, nil, netlink.SCOPE_LINK
	for _, h := range m.MultiPath {
		if h.Gw != nil {
			m.Scope = netlink.SCOPE_UNIVERSE
		}
	}
	return &m
}

// syncStatic installs the static routes of the current configuration that
// can be installed and removes the ones it installed that are no longer
// wanted or possible.
func (m *Manager) syncStatic() []error {
	var errs []error
	want := map[routeKey]*netlink.Route{}
	wantMetric := map[routeKey]uint32{}
	if m.cfg != nil {
		// A file's own route to the peer, of the same distance, wins.
		outgoing := m.cfg.PeerRoutes
		fromFile := map[routeKey]bool{}
		for i, r := range append(append([]Route{}, outgoing...), m.cfg.Routes...) {
			nr, why := m.staticRoute(&r)
			if nr == nil {
				m.log.Info("tun: static route not installed", "prefix", r.Prefix, "interface", r.Interface, "reason", why)
				continue
			}
			k := routeKey{r.Prefix.Masked(), nr.Priority}
			file := i >= len(outgoing)
			metric := max(r.Metric, 1)
			if prev, ok := want[k]; ok && file && fromFile[k] {
				switch {
				case metric > wantMetric[k]:
					continue // a backup while a lower metric is installable
				case metric == wantMetric[k]:
					// The same prefix, distance and metric out of two
					// tunnels (an active-active Azure gateway): both
					// carry traffic.
					nr = multipath(prev, nr)
				}
			}
			want[k], fromFile[k], wantMetric[k] = nr, file, metric
		}
	}
	for k, old := range m.static {
		if _, ok := want[k]; ok {
			continue
		}
		if err := m.h.RouteDel(old); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("tun: remove route %s: %w", k.prefix, err))
		}
		delete(m.static, k)
		delete(m.staticSince, k)
		delete(m.staticMetric, k)
	}
	for k, nr := range want {
		var err error
		if _, ours := m.static[k]; ours {
			err = m.h.RouteReplace(nr)
		} else {
			// Add, not replace: a route of the same prefix and metric that is
			// not ours stays untouched.
			err = m.h.RouteAdd(nr)
			if errors.Is(err, unix.EEXIST) {
				err = errors.New("a route not installed by soft-ix is in the way")
			}
		}
		if err != nil {
			m.log.Info("tun: static route not installed", "prefix", k.prefix, "err", err)
			continue
		}
		if _, ours := m.static[k]; !ours || m.staticMetric[k] != wantMetric[k] {
			m.staticSince[k] = time.Now()
		}
		m.static[k], m.staticMetric[k] = nr, wantMetric[k]
	}
	return errs
}

// SetTunnelUp tells the manager whether the IPsec tunnel of an IX tunnel
// interface (Tunnel0.0) is up. While it is down, static and BGP routes out
// of it are withdrawn from the kernel; they come back when it is up again,
// as on the IX. A tunnel counts as up until it is first reported down.
// Reporting up again (e.g. after esp re-created the device) re-installs
// every route out of it.
func (m *Manager) SetTunnelUp(name string, up bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("tun: manager closed")
	}
	if !up && m.tunnelDown[name] {
		return nil
	}
	m.tunnelDown[name] = !up
	m.log.Info("tun: tunnel state", "tunnel", name, "up", up)
	var errs []error
	if up && m.cfg != nil {
		// The device may have appeared (or been re-created) since the last
		// Apply; the kernel flushes a link's routes when it loses its last
		// address, so everything out of it is installed again. Only this
		// tunnel's interface: re-applying every interface here made a hub
		// of N tunnels do N² netlink requests while its tunnels came up,
		// under the IKE lock InstallSA is called with, and IKE stalled
		// (integration/bench/hub).
		for i := range m.cfg.Links {
			if ifc := &m.cfg.Links[i]; ifc.Kind == LinkTunnel && ifc.Name == name {
				if err := m.applyTunnel(ifc, map[string]map[netip.Prefix]bool{}); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	errs = append(errs, m.syncStatic()...)
	if up {
		dev := m.LinkName(name)
		for _, br := range m.bgp {
			if br.dev == dev {
				br.route, br.dev = nil, ""
			}
		}
		m.retryBGP()
	} else {
		dev := m.LinkName(name)
		for _, br := range m.bgp {
			if br.route != nil && br.dev == dev {
				if err := m.h.RouteDel(br.route); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("tun: remove bgp route %s: %w", br.route.Dst, err))
				}
				br.route, br.dev = nil, ""
			}
		}
	}
	return errors.Join(errs...)
}

// nextHopPath is how a next hop is reached: out of link, via gw if set.
type nextHopPath struct {
	linkIndex int
	dev       string
	gw        net.IP
}

// resolve finds the link (and gateway) a BGP next hop is reached through,
// as the kernel would route it now. Through a point-to-point or NOARP link
// (a TUN device) the route is a device route without gateway.
func (m *Manager) resolve(nh netip.Addr) (nextHopPath, error) {
	rs, err := m.h.RouteGet(net.IP(nh.AsSlice()))
	if err != nil || len(rs) == 0 {
		return nextHopPath{}, fmt.Errorf("next hop %s unreachable: %v", nh, err)
	}
	r := rs[0]
	if r.Type == unix.RTN_LOCAL {
		return nextHopPath{}, fmt.Errorf("next hop %s is a local address", nh)
	}
	link, err := m.h.LinkByIndex(r.LinkIndex)
	if err != nil {
		return nextHopPath{}, fmt.Errorf("next hop %s: link %d: %w", nh, r.LinkIndex, err)
	}
	p := nextHopPath{linkIndex: r.LinkIndex, dev: link.Attrs().Name}
	switch {
	case r.Gw != nil:
		p.gw = r.Gw
	case link.Attrs().RawFlags&(unix.IFF_POINTOPOINT|unix.IFF_NOARP) != 0:
		// device route, no gateway
	default:
		p.gw = net.IP(nh.AsSlice())
	}
	if m.tunnelDown[m.ixName(p.dev)] {
		return nextHopPath{}, fmt.Errorf("next hop %s: tunnel %s down", nh, m.ixName(p.dev))
	}
	return p, nil
}

// InstallRoutes puts BGP routes for prefixes, all with the given next hop,
// into the kernel out of the link the next hop resolves through, replacing
// what soft-ix had for those prefixes. A next hop that cannot be resolved
// leaves the routes pending; they are retried when tunnels or the
// configuration change.
func (m *Manager) InstallRoutes(nextHop netip.Addr, prefixes []netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("tun: manager closed")
	}
	path, rerr := m.resolve(nextHop)
	var errs []error
	for _, p := range prefixes {
		p = p.Masked()
		br := m.bgp[p]
		if br == nil {
			br = &bgpRoute{}
			m.bgp[p] = br
		}
		br.nextHop = nextHop
		if rerr != nil {
			if br.route != nil {
				m.h.RouteDel(br.route)
				br.route, br.dev = nil, ""
			}
			continue
		}
		if err := m.installBGP(p, br, path); err != nil && len(errs) < 5 {
			errs = append(errs, err)
		}
	}
	if rerr != nil {
		m.log.Info("tun: bgp routes pending", "next_hop", nextHop, "count", len(prefixes), "reason", rerr)
	}
	return errors.Join(errs...)
}

// coversTunnelPeer reports whether p, routed out of the Linux link dev,
// contains the IKE peer address of the IX tunnel dev is. Such a route
// would carry the tunnel's own IKE and ESP packets into the tunnel
// (recursive routing) and break it the moment it was installed; a peer
// that advertises its own public address, or a default route, over BGP
// must not do that. Routes out of other links are not affected.
func (m *Manager) coversTunnelPeer(p netip.Prefix, dev string) (netip.Addr, string, bool) {
	if m.cfg == nil {
		return netip.Addr{}, "", false
	}
	ifc := m.cfg.link(m.ixName(dev))
	if ifc == nil || ifc.Kind != LinkTunnel || !ifc.Peer.IsValid() || !p.Contains(ifc.Peer) {
		return netip.Addr{}, "", false
	}
	return ifc.Peer, ifc.Name, true
}

func (m *Manager) installBGP(p netip.Prefix, br *bgpRoute, path nextHopPath) error {
	if peer, tunnel, ok := m.coversTunnelPeer(p, path.dev); ok {
		if br.route != nil {
			m.h.RouteDel(br.route)
			br.route, br.dev = nil, ""
		}
		return fmt.Errorf("tun: bgp route %s not installed: it covers %s, the IKE peer of %s, and would route that tunnel into itself", p, peer, tunnel)
	}
	nr := &netlink.Route{
		Dst:       ipNet(p),
		LinkIndex: path.linkIndex,
		Gw:        path.gw,
		Protocol:  ProtoBGP,
		Priority:  BGPMetric,
		Table:     unix.RT_TABLE_MAIN,
	}
	if path.gw == nil {
		nr.Scope = netlink.SCOPE_LINK
	}
	if err := m.h.RouteReplace(nr); err != nil {
		return fmt.Errorf("tun: bgp route %s dev %s: %w", p, path.dev, err)
	}
	br.route, br.dev, br.since = nr, path.dev, time.Now()
	return nil
}

// RemoveRoutes removes the BGP routes for prefixes from the kernel.
func (m *Manager) RemoveRoutes(prefixes []netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("tun: manager closed")
	}
	var errs []error
	for _, p := range prefixes {
		p = p.Masked()
		br := m.bgp[p]
		if br == nil {
			continue
		}
		delete(m.bgp, p)
		if br.route == nil {
			continue
		}
		if err := m.h.RouteDel(br.route); err != nil && !errors.Is(err, unix.ESRCH) && len(errs) < 5 {
			errs = append(errs, fmt.Errorf("tun: remove bgp route %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// dropPeerCoveringBGP takes out the installed BGP routes that now cover
// the IKE peer of the tunnel they leave by (a reload changed the peer).
// They stay wanted, and installBGP refuses them while they cover it.
func (m *Manager) dropPeerCoveringBGP() {
	for p, br := range m.bgp {
		if br.route == nil {
			continue
		}
		if peer, tunnel, ok := m.coversTunnelPeer(p, br.dev); ok {
			m.log.Warn("tun: bgp route removed: it covers the new IKE peer of the tunnel it leaves by",
				"prefix", p, "peer", peer, "tunnel", tunnel)
			m.h.RouteDel(br.route)
			br.route, br.dev = nil, ""
		}
	}
}

// retryBGP tries again to install pending BGP routes, one next hop at a time.
func (m *Manager) retryBGP() {
	pending := map[netip.Addr][]netip.Prefix{}
	for p, br := range m.bgp {
		if br.route == nil {
			pending[br.nextHop] = append(pending[br.nextHop], p)
		}
	}
	for nh, ps := range pending {
		path, err := m.resolve(nh)
		if err != nil {
			continue
		}
		n := 0
		for _, p := range ps {
			if m.installBGP(p, m.bgp[p], path) == nil {
				n++
			}
		}
		m.log.Info("tun: pending bgp routes installed", "next_hop", nh, "count", n)
	}
}

// Route sources as "show ip route" tells them apart.
const (
	SourceConnected = "connected"
	SourceStatic    = "static"
	SourceBGP       = "bgp"
	SourceKernel    = "kernel" // any other route in the main table
)

// RouteInfo is one IPv4 route of the main table, for "show ip route".
type RouteInfo struct {
	Prefix    netip.Prefix
	Interface string     // the router's name when known (Tunnel0.0, GigaEthernet0.0), else the Linux link; "" for blackholes
	Blackhole bool       // the route discards what it matches
	Gateway   netip.Addr // invalid for device routes
	Metric    int        // the kernel's metric (soft-ix's static routes: the IX distance)
	// RouteMetric is the IX metric of a static route of soft-ix's
	// (Route.Metric, at least 1), 0 for other routes.
	RouteMetric uint32
	Source      string // SourceConnected, SourceStatic, SourceBGP, SourceKernel
	// Age is how long the route has been in place: since soft-ix installed
	// it, or added (or first found) the address of a connected route;
	// 0 when unknown (routes and addresses of others).
	Age time.Duration
}

// Routes lists the IPv4 routes of the main table in this namespace, sorted
// by prefix and metric.
func (m *Manager) Routes() ([]RouteInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("tun: manager closed")
	}
	rs, err := m.listRoutes(&netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	now := time.Now()
	out := make([]RouteInfo, 0, len(rs))
	for _, r := range rs {
		ri := RouteInfo{Metric: r.Priority, Prefix: netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
		if r.Dst != nil {
			ri.Prefix = prefixOf(r.Dst)
		}
		linkName := func(index int) string {
			name, ok := names[index]
			if !ok {
				if l, err := m.h.LinkByIndex(index); err == nil {
					name = l.Attrs().Name
				}
				names[index] = name
			}
			return name
		}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			ri.Gateway = gw.Unmap()
		}
		switch {
		case r.Type == unix.RTN_BLACKHOLE:
			ri.Blackhole = true
		case r.LinkIndex > 0:
			ri.Interface = m.ixName(linkName(r.LinkIndex))
		}
		var since time.Time
		switch {
		case r.Protocol == ProtoStatic:
			ri.Source = SourceStatic
			since = m.staticSince[routeKey{ri.Prefix.Masked(), r.Priority}]
			ri.RouteMetric = m.staticMetric[routeKey{ri.Prefix.Masked(), r.Priority}]
		case r.Protocol == ProtoBGP:
			ri.Source = SourceBGP
			if br := m.bgp[ri.Prefix.Masked()]; br != nil && br.route != nil {
				since = br.since
			}
		case r.Protocol == unix.RTPROT_KERNEL && r.Scope == netlink.SCOPE_LINK:
			ri.Source = SourceConnected
			since = m.connSince[connKey{names[r.LinkIndex], ri.Prefix.Masked()}]
		default:
			ri.Source = SourceKernel
		}
		if !since.IsZero() {
			ri.Age = now.Sub(since)
		}
		if len(r.MultiPath) == 0 {
			out = append(out, ri)
			continue
		}
		// An ECMP route is listed once per next hop, as the IX lists
		// equal routes.
		for _, h := range r.MultiPath {
			hr := ri
			hr.Interface, hr.Gateway = m.ixName(linkName(h.LinkIndex)), netip.Addr{}
			if gw, ok := netip.AddrFromSlice(h.Gw); ok {
				hr.Gateway = gw.Unmap()
			}
			out = append(out, hr)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Prefix.Addr().Compare(out[j].Prefix.Addr()); c != 0 {
			return c < 0
		}
		if out[i].Prefix.Bits() != out[j].Prefix.Bits() {
			return out[i].Prefix.Bits() < out[j].Prefix.Bits()
		}
		return out[i].Metric < out[j].Metric
	})
	return out, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	a = a.Unmap()
	return netip.PrefixFrom(a, ones)
}
