package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Route protocol numbers and the link alias that mark what soft-ix adds.
const (
	// ProtoStatic marks kernel routes made from "ip route" commands.
	ProtoStatic netlink.RouteProtocol = 0xf0
	// ProtoBGP marks kernel routes made from BGP best paths.
	ProtoBGP netlink.RouteProtocol = 0xf1
	// LinkAlias is the alias (ip link ... alias) of every link tun creates.
	LinkAlias = "soft-ix"
)

// BGPMetric is the kernel metric of BGP routes: IX's administrative
// distance for eBGP. Static routes use their distance (default 1) as metric,
// so a static route to the same prefix wins, as it does on the IX.
const BGPMetric = 20

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// Manager keeps the kernel in line with a Config. All methods are
// safe for concurrent use.
type Manager struct {
	log     *slog.Logger
	mapping map[string]string // IX interface name -> Linux link name

	mu             sync.Mutex
	h              *netlink.Handle
	cfg            *Config
	mappedAddrs    bool
	loopbacks      map[string]bool                  // dummy links we created, by name
	addrs          map[string]map[netip.Prefix]bool // addresses we added to links we do not own
	tunnelDown     map[string]bool                  // IX tunnel name -> down
	noLL           map[string]int                   // link name -> index whose IPv6 link-local address noLinkLocal removed
	acceptLocalSet map[string]int                   // link name -> index acceptLocal set accept_local on
	static         map[routeKey]*netlink.Route      // static routes in the kernel
	staticSince    map[routeKey]time.Time           // when each was installed, for "show ip route" ages
	staticMetric   map[routeKey]uint32              // the IX metric of each (Route.Metric, at least 1)
	connSince      map[connKey]time.Time            // when tun put each address (its connected route) in place
	bgp            map[netip.Prefix]*bgpRoute       // BGP routes wanted, installed or not
	forwardBefore  string                           // ip_forward before we set it, "" if untouched
	// What mapped links had before soft-ix changed it (see applyMapped),
	// restored when the configuration no longer asks for it and on Cleanup.
	mtuBefore  map[string]int
	downBefore map[string]bool // true: the link was down and soft-ix brought it up
	closed     bool
	stopWatch  chan struct{} // closes the address/link watcher (see Watch)
}

// NewManager opens a netlink handle in the current network namespace and
// removes routes and links of soft-ix left behind by an earlier run.
// mapping maps IX interface names (GigaEthernet0.0) to existing Linux links.
func NewManager(log *slog.Logger, mapping map[string]string) (*Manager, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tun: netlink: %w", err)
	}
	m := &Manager{
		log:            log,
		mapping:        mapping,
		h:              h,
		loopbacks:      map[string]bool{},
		addrs:          map[string]map[netip.Prefix]bool{},
		tunnelDown:     map[string]bool{},
		noLL:           map[string]int{},
		acceptLocalSet: map[string]int{},
		static:         map[routeKey]*netlink.Route{},
		staticSince:    map[routeKey]time.Time{},
		staticMetric:   map[routeKey]uint32{},
		connSince:      map[connKey]time.Time{},
		bgp:            map[netip.Prefix]*bgpRoute{},
		mtuBefore:      map[string]int{},
		downBefore:     map[string]bool{},
	}
	if err := m.removeMarked("stale"); err != nil {
		h.Close()
		return nil, err
	}
	return m, nil
}

// SetMappedAddresses says whether Apply gives mapped interfaces
// (GigaEthernet) what the IX file says of them: the address ("ip
// address"), the MTU ("ip mtu") and the admin state ("shutdown" / "no
// shutdown"), as an IX does with its own ports. Off by default in the
// package (the daemon turns it on unless the host manages the links):
// then soft-ix only routes over them.
func (m *Manager) SetMappedAddresses(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mappedAddrs = on
}

// LinkName returns the Linux link name for an IX interface name: the mapped
// link for GigaEthernet, the name itself for loopbacks and tunnels.
func (m *Manager) LinkName(ixName string) string {
	if l, ok := m.mapping[ixName]; ok {
		return l
	}
	return ixName
}

// ixName is the reverse of LinkName.
func (m *Manager) ixName(linkName string) string {
	for ix, l := range m.mapping {
		if l == linkName {
			return ix
		}
	}
	return linkName
}

// Apply makes the kernel match cfg: loopback links and their addresses,
// tunnel addresses, MTU and admin state, static routes, IPv4 forwarding.
// It is idempotent and removes what an earlier Apply added that cfg no
// longer has. Tunnel links that do not exist yet are skipped (with a log
// line); call Apply or SetTunnelUp again once they do. The Manager keeps
// cfg until the next Apply: the caller must not change it.
func (m *Manager) Apply(cfg Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("tun: manager closed")
	}
	m.cfg = &cfg
	var errs []error
	if err := m.enableForwarding(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, m.applyInterfaces(&cfg)...)
	errs = append(errs, m.syncStatic()...)
	m.dropPeerCoveringBGP()
	m.retryBGP()
	return errors.Join(errs...)
}

func (m *Manager) enableForwarding() error {
	b, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return fmt.Errorf("tun: read %s: %w", ipForwardPath, err)
	}
	cur := strings.TrimSpace(string(b))
	if cur == "1" {
		return nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("tun: enable IPv4 forwarding: %w", err)
	}
	if m.forwardBefore == "" {
		m.forwardBefore = cur
	}
	m.log.Info("tun: IPv4 forwarding enabled", "sysctl", "net.ipv4.ip_forward", "was", cur)
	return nil
}

func (m *Manager) applyInterfaces(cfg *Config) []error {
	var errs []error
	wantLoop := map[string]bool{}
	wantAddrs := map[string]map[netip.Prefix]bool{} // foreign links only
	wantMapped := map[string]bool{}
	for i := range cfg.Links {
		ifc := &cfg.Links[i]
		switch ifc.Kind {
		case LinkLoopback:
			wantLoop[ifc.Name] = true
			if err := m.applyLoopback(ifc); err != nil {
				errs = append(errs, err)
			}
		case LinkTunnel:
			if err := m.applyTunnel(ifc, wantAddrs); err != nil {
				errs = append(errs, err)
			}
		case LinkMapped:
			if !m.mappedAddrs {
				continue
			}
			name, ok := m.mapping[ifc.Name]
			if !ok {
				continue
			}
			wantMapped[name] = true
			errs = append(errs, m.applyMapped(ifc, name, wantAddrs)...)
		}
	}
	// MTU and admin state soft-ix set on a mapped link the configuration
	// no longer names (or no longer sets): back to what the host had.
	for name := range m.mtuBefore {
		if !wantMapped[name] || m.mappedMTU(cfg, name) == 0 {
			errs = append(errs, m.restoreMTU(name)...)
		}
	}
	for name := range m.downBefore {
		if !wantMapped[name] {
			errs = append(errs, m.restoreDown(name)...)
		}
	}
	// Loopbacks and addresses an earlier configuration had.
	for name := range m.loopbacks {
		if !wantLoop[name] {
			if err := m.deleteOwnLink(name); err != nil {
				errs = append(errs, err)
			}
			delete(m.loopbacks, name)
		}
	}
	removed := map[string]bool{}
	for name, had := range m.addrs {
		for p := range had {
			if wantAddrs[name][p] {
				continue
			}
			removed[name] = true
			if link, err := m.h.LinkByName(name); err == nil {
				if err := m.h.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
					errs = append(errs, fmt.Errorf("tun: remove %s from %s: %w", p, name, err))
				}
			}
			delete(had, p)
			delete(m.connSince, connKey{name, p.Masked()})
		}
	}
	// Deleting the primary address of a subnet takes its secondaries with
	// it (unless net.ipv4.conf.*.promote_secondaries is set): a new
	// address in the same subnet, added above, would be gone. Put back
	// what is wanted, keeping the host's addresses the host's.
	for name := range removed {
		link, err := m.h.LinkByName(name)
		if err != nil {
			continue
		}
		for p := range wantAddrs[name] {
			ours := m.addrs[name][p]
			if err := m.addAddr(link, p, map[string]map[netip.Prefix]bool{}); err != nil {
				errs = append(errs, err)
				continue
			}
			if !ours {
				delete(m.addrs[name], p)
			}
		}
	}
	return errs
}

// applyMapped gives a mapped link (a GigaEthernet) the address, MTU and
// admin state of its interface block, recording what it changes so that
// only that is undone: an address the link already had stays the host's.
func (m *Manager) applyMapped(ifc *Link, name string, wantAddrs map[string]map[netip.Prefix]bool) []error {
	link, err := m.h.LinkByName(name)
	if err != nil {
		return []error{fmt.Errorf("tun: %s (%s): %w", ifc.Name, name, err)}
	}
	var errs []error
	if ifc.Address.IsValid() {
		if err := m.addAddr(link, ifc.Address, wantAddrs); err != nil {
			errs = append(errs, err)
		}
	}
	if ifc.MTU > 0 && link.Attrs().MTU != ifc.MTU {
		if _, ok := m.mtuBefore[name]; !ok {
			m.mtuBefore[name] = link.Attrs().MTU
		}
		if err := m.h.LinkSetMTU(link, ifc.MTU); err != nil {
			errs = append(errs, fmt.Errorf("tun: %s (%s) mtu %d: %w", ifc.Name, name, ifc.MTU, err))
		}
	}
	up := link.Attrs().Flags&net.FlagUp != 0
	if _, ok := m.downBefore[name]; !ok && up == ifc.Shutdown {
		m.downBefore[name] = !up
	}
	if err := m.setAdmin(link, ifc); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// mappedMTU is the "ip mtu" of the interface mapped to link name (0: none).
func (m *Manager) mappedMTU(cfg *Config, name string) int {
	if ifc := cfg.link(m.ixName(name)); ifc != nil {
		return ifc.MTU
	}
	return 0
}

func (m *Manager) restoreMTU(name string) []error {
	mtu := m.mtuBefore[name]
	delete(m.mtuBefore, name)
	link, err := m.h.LinkByName(name)
	if err != nil {
		return nil // gone: nothing to restore
	}
	if err := m.h.LinkSetMTU(link, mtu); err != nil {
		return []error{fmt.Errorf("tun: restore mtu %d of %s: %w", mtu, name, err)}
	}
	return nil
}

func (m *Manager) restoreDown(name string) []error {
	wasDown := m.downBefore[name]
	delete(m.downBefore, name)
	link, err := m.h.LinkByName(name)
	if err != nil {
		return nil
	}
	set := m.h.LinkSetUp
	if wasDown {
		set = m.h.LinkSetDown
	}
	if err := set(link); err != nil {
		return []error{fmt.Errorf("tun: restore admin state of %s: %w", name, err)}
	}
	return nil
}

// applyLoopback creates (or adopts, when marked as ours) the dummy link for
// a LoopbackN.M interface and gives it exactly the configured address.
func (m *Manager) applyLoopback(ifc *Link) error {
	link, err := m.h.LinkByName(ifc.Name)
	if err == nil && link.Attrs().Alias != LinkAlias {
		return fmt.Errorf("tun: %s: a link of that name exists and is not soft-ix's", ifc.Name)
	}
	if err != nil {
		if err := m.addLoopbackLink(ifc.Name); err != nil {
			return err
		}
		if link, err = m.h.LinkByName(ifc.Name); err != nil {
			return fmt.Errorf("tun: %s: %w", ifc.Name, err)
		}
		if err := m.h.LinkSetAlias(link, LinkAlias); err != nil {
			m.h.LinkDel(link)
			return fmt.Errorf("tun: mark %s: %w", ifc.Name, err)
		}
		m.log.Info("tun: loopback created", "link", ifc.Name)
	}
	m.loopbacks[ifc.Name] = true
	if err := m.syncOwnAddrs(link, ifc.Address); err != nil {
		return err
	}
	return m.setAdmin(link, ifc)
}

// addLoopbackLink creates the link for a loopback: a dummy link, or where
// the kernel has no dummy driver, a persistent TUN device nobody reads
// (addresses on it are local all the same, which is all a loopback is for).
func (m *Manager) addLoopbackLink(name string) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	err := m.h.LinkAdd(&netlink.Dummy{LinkAttrs: attrs})
	if errors.Is(err, unix.EOPNOTSUPP) {
		kind := "tun"
		err = m.h.LinkAdd(&netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TUN, Flags: netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI})
		if err == nil {
			m.log.Info("tun: kernel has no dummy links, loopback is a persistent TUN device", "link", name, "kind", kind)
		}
	}
	if err != nil {
		return fmt.Errorf("tun: create %s: %w", name, err)
	}
	return nil
}

// applyTunnel configures the TUN device of a tunnel interface, if present.
func (m *Manager) applyTunnel(ifc *Link, wantAddrs map[string]map[netip.Prefix]bool) error {
	// Normally esp's TUN device is named like the interface; a mapping
	// (Tunnel0.0=ipsec0) lets another tunnel device play the part.
	name := m.LinkName(ifc.Name)
	link, err := m.h.LinkByName(name)
	if err != nil {
		m.log.Info("tun: tunnel device not there yet", "link", name)
		return nil
	}
	if ifc.MTU > 0 && link.Attrs().MTU != ifc.MTU {
		if err := m.h.LinkSetMTU(link, ifc.MTU); err != nil {
			return fmt.Errorf("tun: %s mtu %d: %w", ifc.Name, ifc.MTU, err)
		}
	}
	if ifc.Address.IsValid() {
		if err := m.addAddr(link, ifc.Address, wantAddrs); err != nil {
			return err
		}
	}
	if !ifc.Address.Addr().Is6() {
		m.noLinkLocal(link)
	}
	if ifc.Address.Addr().Is4() {
		m.acceptLocal(link)
	}
	return m.setAdmin(link, ifc)
}

// acceptLocal lets the kernel take IPv4 packets from the tunnel that carry
// the tunnel's own address as source: the ICMP errors (fragmentation
// needed) that package esp writes into the device as the router that
// could not send the packet, for its sender to adapt. By default the
// kernel drops them as martians, and the sender's path MTU discovery never
// hears of the tunnel's MTU. What else the peer sends from that address
// must have passed its ESP integrity check and traffic selectors. Once per
// device, like noLinkLocal; a failure only reaches the log.
func (m *Manager) acceptLocal(link netlink.Link) {
	name, index := link.Attrs().Name, link.Attrs().Index
	if m.acceptLocalSet[name] == index {
		return
	}
	m.acceptLocalSet[name] = index
	path := "/proc/sys/net/ipv4/conf/" + name + "/accept_local"
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		m.log.Warn("tun: ICMP errors of the tunnel may not reach their senders", "link", name, "err", err)
	}
}

// noLinkLocal keeps an IPv4 tunnel free of the IPv6 link-local address
// the kernel would give it: otherwise the kernel's router solicitations and
// MLD reports go into the tunnel, where no traffic selector admits them, and
// show up as "ts unacceptable" on the Child SA. A kernel without IPv6 has
// nothing to do here, so errors only reach the debug log.
//
// Once per device (by name and index: a re-created device is new): the
// address dump it takes lists every address of the namespace, and setting
// the mode makes the kernel redo the link's IPv6 routes, so a hub of N
// tunnels coming up did N² work here (integration/bench/hub).
func (m *Manager) noLinkLocal(link netlink.Link) {
	const addrGenModeNone = 1 // IN6_ADDR_GEN_MODE_NONE
	name, index := link.Attrs().Name, link.Attrs().Index
	if m.noLL[name] == index {
		return
	}
	m.noLL[name] = index
	if err := m.h.LinkSetIP6AddrGenMode(link, addrGenModeNone); err != nil {
		m.log.Debug("tun: no IPv6 address generation mode", "link", link.Attrs().Name, "err", err)
		return
	}
	addrs, err := m.h.AddrList(link, unix.AF_INET6)
	if err != nil {
		return
	}
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() {
			if err := m.h.AddrDel(link, &a); err != nil {
				m.log.Debug("tun: remove link-local address", "link", link.Attrs().Name, "err", err)
			}
		}
	}
}

func (m *Manager) setAdmin(link netlink.Link, ifc *Link) error {
	up := link.Attrs().Flags&net.FlagUp != 0
	switch {
	case ifc.Shutdown && up:
		if err := m.h.LinkSetDown(link); err != nil {
			return fmt.Errorf("tun: %s down: %w", ifc.Name, err)
		}
	case !ifc.Shutdown && !up:
		if err := m.h.LinkSetUp(link); err != nil {
			return fmt.Errorf("tun: %s up: %w", ifc.Name, err)
		}
	}
	return nil
}

// syncOwnAddrs leaves exactly want (if valid) on a link soft-ix owns.
func (m *Manager) syncOwnAddrs(link netlink.Link, want netip.Prefix) error {
	have, err := m.h.AddrList(link, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("tun: %s addresses: %w", link.Attrs().Name, err)
	}
	found := false
	for _, a := range have {
		p := prefixOf(a.IPNet)
		if p == want {
			found = true
			continue
		}
		if err := m.h.AddrDel(link, &a); err != nil {
			return fmt.Errorf("tun: remove %s from %s: %w", p, link.Attrs().Name, err)
		}
		delete(m.connSince, connKey{link.Attrs().Name, p.Masked()})
	}
	if want.IsValid() && !found {
		if err := m.h.AddrAdd(link, &netlink.Addr{IPNet: ipNet(want)}); err != nil {
			return fmt.Errorf("tun: add %s to %s: %w", want, link.Attrs().Name, err)
		}
	}
	if want.IsValid() {
		m.connectedSince(link.Attrs().Name, want, !found)
	}
	return nil
}

// connKey names the connected route of an address: its link and network.
type connKey struct {
	link   string
	prefix netip.Prefix
}

// connectedSince records when the connected route of address p on link
// appeared: now when tun has just added the address, else when tun first
// saw it in place.
func (m *Manager) connectedSince(link string, p netip.Prefix, added bool) {
	k := connKey{link, p.Masked()}
	if _, seen := m.connSince[k]; added || !seen {
		m.connSince[k] = time.Now()
	}
}

// addAddr puts p on a link soft-ix does not own and records that it did.
func (m *Manager) addAddr(link netlink.Link, p netip.Prefix, want map[string]map[netip.Prefix]bool) error {
	name := link.Attrs().Name
	if want[name] == nil {
		want[name] = map[netip.Prefix]bool{}
	}
	want[name][p] = true
	// Adding, not listing first: a listing dumps every address of the
	// namespace (N tunnels: N² work as they come up), and the kernel
	// says EEXIST when the address is there already.
	if err := m.h.AddrAdd(link, &netlink.Addr{IPNet: ipNet(p)}); errors.Is(err, unix.EEXIST) {
		m.connectedSince(name, p, false)
		return nil
	} else if err != nil {
		return fmt.Errorf("tun: add %s to %s: %w", p, name, err)
	}
	m.connectedSince(name, p, true)
	if m.addrs[name] == nil {
		m.addrs[name] = map[netip.Prefix]bool{}
	}
	m.addrs[name][p] = true
	return nil
}

func (m *Manager) deleteOwnLink(name string) error {
	link, err := m.h.LinkByName(name)
	if err != nil {
		return nil // already gone
	}
	if link.Attrs().Alias != LinkAlias {
		return nil
	}
	if err := m.h.LinkDel(link); err != nil {
		return fmt.Errorf("tun: delete %s: %w", name, err)
	}
	for k := range m.connSince {
		if k.link == name {
			delete(m.connSince, k)
		}
	}
	m.log.Info("tun: link removed", "link", name)
	return nil
}

// removeMarked deletes every route with soft-ix's protocol numbers and
// every link with soft-ix's alias in this namespace.
func (m *Manager) removeMarked(why string) error {
	var errs []error
	nr := 0
	for _, proto := range []netlink.RouteProtocol{ProtoStatic, ProtoBGP} {
		routes, err := m.listRoutes(&netlink.Route{Protocol: proto, Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range routes {
			if err := m.h.RouteDel(&routes[i]); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("tun: remove %s route %s: %w", why, routes[i].Dst, err))
				continue
			}
			nr++
		}
	}
	links, err := m.h.LinkList()
	if err != nil {
		errs = append(errs, fmt.Errorf("tun: list links: %w", err))
	}
	nl := 0
	for _, l := range links {
		if l.Attrs().Alias != LinkAlias {
			continue
		}
		if err := m.h.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("tun: remove %s link %s: %w", why, l.Attrs().Name, err))
			continue
		}
		nl++
	}
	if nr > 0 || nl > 0 {
		m.log.Info("tun: removed "+why+" routes and links", "routes", nr, "links", nl)
	}
	return errors.Join(errs...)
}

// listRoutes lists IPv4 routes, retrying when the kernel reports that the
// dump was interrupted by concurrent changes.
func (m *Manager) listRoutes(filter *netlink.Route, mask uint64) ([]netlink.Route, error) {
	var err error
	for range 5 {
		var rs []netlink.Route
		rs, err = m.h.RouteListFiltered(unix.AF_INET, filter, mask)
		if err == nil {
			return rs, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("tun: list routes: %w", err)
}

// Cleanup removes every route and link soft-ix added, the addresses it put
// on links it does not own, and restores ip_forward if it changed it.
// The Manager cannot be used afterwards.
func (m *Manager) Cleanup() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for name, ps := range m.addrs {
		link, err := m.h.LinkByName(name)
		if err != nil {
			continue
		}
		for p := range ps {
			if err := m.h.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("tun: remove %s from %s: %w", p, name, err))
			}
		}
	}
	if err := m.removeMarked("soft-ix"); err != nil {
		errs = append(errs, err)
	}
	for name := range m.mtuBefore {
		errs = append(errs, m.restoreMTU(name)...)
	}
	for name := range m.downBefore {
		errs = append(errs, m.restoreDown(name)...)
	}
	if m.stopWatch != nil {
		close(m.stopWatch)
	}
	if m.forwardBefore != "" {
		if err := os.WriteFile(ipForwardPath, []byte(m.forwardBefore+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("tun: restore ip_forward: %w", err))
		} else {
			m.log.Info("tun: IPv4 forwarding restored", "value", m.forwardBefore)
		}
	}
	m.h.Close()
	return errors.Join(errs...)
}
