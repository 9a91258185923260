package esp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/internal/rtwatch"
)

// Next hops of raw ESP sent as Ethernet frames (afpacket.go). The kernel
// resolves them for the raw socket on every packet; the packet socket
// needs them ahead of time. A peer's next hop is resolved once, off the
// packet path, and re-resolved whenever a route, neighbour or link
// changes; until it resolves, the peer's packets go through the raw socket
// (which also makes the kernel resolve the neighbour).
//
//  1. resolver.lookup (packet path): the peer's nextHop, or nil, in which
//     case the peer is queued for resolution.
//  2. resolver.run: resolves queued peers (route, link, neighbour), logs
//     once per peer and reason why one cannot be sent as a frame, and
//     re-resolves all peers on netlink route, neighbour and link events
//     and once a second while some are unresolved.

// nextHop is how a frame to one peer leaves: on which device, from which
// source address, with which Ethernet header.
type nextHop struct {
	ifindex int
	mtu     int        // of the device: the largest IP packet it sends
	src     netip.Addr // outer source address
	via     netip.Addr // the neighbour: the gateway, or the peer on link
	eth     [ethHeader]byte
}

// linkLookup is what the resolver asks of the kernel: netlink in the
// daemon, fakes in tests.
type linkLookup interface {
	// route returns the device, gateway (invalid when the peer is on
	// link) and preferred source address of the route to dst.
	route(dst netip.Addr) (ifindex int, gw, src netip.Addr, err error)
	// link returns the device's name, hardware address and MTU; ether is
	// false for devices without Ethernet framing (TUN, PPP, loopback).
	link(ifindex int) (name string, mac net.HardwareAddr, mtu int, ether bool, err error)
	// neighbours returns the link-layer addresses of the device's
	// neighbours of the family (v6) that the kernel has a usable one for
	// (not those not resolved yet, or failed).
	neighbours(ifindex int, v6 bool) (map[netip.Addr]net.HardwareAddr, error)
}

// neighbourPending is resolve's error for a next hop whose neighbour
// entry the kernel has not resolved (yet).
type neighbourPending struct {
	ip  netip.Addr
	dev string
}

func (e neighbourPending) Error() string {
	return fmt.Sprintf("neighbour %v on %s not resolved yet", e.ip, e.dev)
}

// roundLookup asks the kernel about each device and its neighbour table
// once per resolveAll: a hub's thousand peers on one WAN would otherwise
// each dump the device's thousand neighbours.
type roundLookup struct {
	linkLookup
	links  map[int]roundLink
	neighs map[roundNeighKey]map[netip.Addr]net.HardwareAddr
}

type roundLink struct {
	name  string
	mac   net.HardwareAddr
	mtu   int
	ether bool
	err   error
}

type roundNeighKey struct {
	ifindex int
	v6      bool
}

func newRoundLookup(lk linkLookup) *roundLookup {
	return &roundLookup{linkLookup: lk, links: map[int]roundLink{}, neighs: map[roundNeighKey]map[netip.Addr]net.HardwareAddr{}}
}

func (c *roundLookup) link(ifindex int) (string, net.HardwareAddr, int, bool, error) {
	l, ok := c.links[ifindex]
	if !ok {
		l.name, l.mac, l.mtu, l.ether, l.err = c.linkLookup.link(ifindex)
		c.links[ifindex] = l
	}
	return l.name, l.mac, l.mtu, l.ether, l.err
}

// neighbour returns the usable link-layer address of ip on the device,
// or nil.
func (c *roundLookup) neighbour(ifindex int, ip netip.Addr) (net.HardwareAddr, error) {
	k := roundNeighKey{ifindex, !ip.Is4()}
	t, ok := c.neighs[k]
	if !ok {
		var err error
		if t, err = c.linkLookup.neighbours(ifindex, k.v6); err != nil {
			return nil, err
		}
		c.neighs[k] = t
	}
	return t[ip], nil
}

// resolver keeps the next hops of the peers raw ESP goes to.
type resolver struct {
	lk    linkLookup
	log   *slog.Logger
	local netip.Addr // the socket's bound address; unspecified: the route's
	hops  atomic.Pointer[map[netip.Addr]*nextHop]

	mu     sync.Mutex
	peers  map[netip.Addr]string // every peer seen, with the last reason logged
	queued map[netip.Addr]bool   // peers lookup asked for since the last run
	// waiting holds the neighbours unresolved peers wait for: an entry
	// for one of them appearing is worth a round (neighbourMatters).
	waiting map[netip.Addr]bool
	kick    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
}

func newResolver(lk linkLookup, local netip.Addr, log *slog.Logger) *resolver {
	r := &resolver{
		lk:      lk,
		log:     log,
		local:   local,
		peers:   map[netip.Addr]string{},
		queued:  map[netip.Addr]bool{},
		waiting: map[netip.Addr]bool{},
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	r.hops.Store(&map[netip.Addr]*nextHop{})
	return r
}

// lookup returns the next hop of peer, or nil when it is not resolved
// (then the caller sends through the raw socket).
func (r *resolver) lookup(peer netip.Addr) *nextHop {
	if h := (*r.hops.Load())[peer]; h != nil {
		return h
	}
	r.mu.Lock()
	if _, seen := r.peers[peer]; !seen && !r.queued[peer] {
		r.queued[peer] = true
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
	return nil
}

// start runs the resolver until stop; events, when not nil, is called
// once to subscribe to the kernel's changes and tell the resolver of each
// (wake, neighbourMatters) until r.done.
func (r *resolver) start(events func(r *resolver) error) {
	if events != nil {
		if err := events(r); err != nil {
			r.log.Warn("esp: raw ESP: cannot follow route and neighbour changes; next hops are re-resolved once a second", "err", err)
		}
	}
	r.wg.Add(1)
	go r.run()
}

func (r *resolver) stop() {
	close(r.done)
	r.wg.Wait()
}

// wake asks for all peers to be resolved again.
func (r *resolver) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// retryMax is the longest gap between rounds retrying unresolved peers
// while nothing else wakes the resolver: a hub whose many on-link peers'
// neighbour entries the kernel collected (they see no traffic from the
// IP stack) would otherwise look all of them up every second at rest.
const retryMax = 32 * time.Second

func (r *resolver) run() {
	defer r.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	retry, last := time.Second, time.Now()
	for {
		select {
		case <-r.done:
			return
		case <-r.kick:
			retry = time.Second
		case now := <-tick.C:
			// Retry only while a peer is unresolved, less often the
			// longer nothing changes.
			r.mu.Lock()
			n := len(r.peers)
			r.mu.Unlock()
			if n == len(*r.hops.Load()) || now.Sub(last) < retry {
				continue
			}
			retry = min(2*retry, retryMax)
		}
		last = time.Now()
		r.resolveAll()
		// A burst of events (a link flapping, neighbours ageing) costs
		// at most ten rounds a second.
		select {
		case <-r.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// resolveAll resolves every known peer and replaces the table.
func (r *resolver) resolveAll() {
	r.mu.Lock()
	for p := range r.queued {
		if _, ok := r.peers[p]; !ok {
			r.peers[p] = ""
		}
	}
	clear(r.queued)
	peers := make([]netip.Addr, 0, len(r.peers))
	for p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()

	hops := make(map[netip.Addr]*nextHop, len(peers))
	waiting := map[netip.Addr]bool{}
	lk := newRoundLookup(r.lk)
	for _, p := range peers {
		h, err := r.resolveWith(lk, p)
		reason := "frame"
		if err != nil {
			reason = err.Error()
			var np neighbourPending
			if errors.As(err, &np) {
				waiting[np.ip] = true
			}
		} else {
			hops[p] = h
		}
		r.mu.Lock()
		last := r.peers[p]
		r.peers[p] = reason
		r.mu.Unlock()
		if reason == last {
			continue
		}
		if err != nil {
			r.log.Info("esp: raw ESP to this peer goes through the raw IP socket", "peer", p, "why", reason)
		} else {
			r.log.Info("esp: raw ESP to this peer goes out as Ethernet frames (packet socket)", "peer", p, "ifindex", h.ifindex, "src", h.src,
				"next-hop", net.HardwareAddr(h.eth[0:6]).String())
		}
	}
	r.mu.Lock()
	r.waiting = waiting
	r.mu.Unlock()
	r.hops.Store(&hops)
}

// resolveWith finds the next hop of peer, asking lk.
func (r *resolver) resolveWith(lk *roundLookup, peer netip.Addr) (*nextHop, error) {
	ifindex, gw, src, err := lk.route(peer)
	if err != nil {
		return nil, fmt.Errorf("no route: %v", err)
	}
	if r.local.IsValid() && !r.local.IsUnspecified() {
		src = r.local
	}
	if !src.IsValid() || src.Is4() != peer.Is4() {
		return nil, errors.New("the route names no source address")
	}
	name, mac, mtu, ether, err := lk.link(ifindex)
	if err != nil {
		return nil, fmt.Errorf("device %d: %v", ifindex, err)
	}
	if !ether || len(mac) != 6 {
		return nil, fmt.Errorf("device %s is not an Ethernet device", name)
	}
	hop := peer
	if gw.IsValid() {
		hop = gw
	}
	nmac, err := lk.neighbour(ifindex, hop)
	if err != nil {
		return nil, fmt.Errorf("neighbour %v on %s: %v", hop, name, err)
	}
	if len(nmac) != 6 {
		return nil, neighbourPending{hop, name}
	}
	h := &nextHop{ifindex: ifindex, mtu: mtu, src: src, via: hop}
	copy(h.eth[0:6], nmac)
	copy(h.eth[6:12], mac)
	if peer.Is4() {
		h.eth[12], h.eth[13] = 0x08, 0x00
	} else {
		h.eth[12], h.eth[13] = 0x86, 0xdd
	}
	return h, nil
}

// netlinkLookup is linkLookup through rtnetlink, in the process's network
// namespace.
type netlinkLookup struct{}

func (netlinkLookup) route(dst netip.Addr) (int, netip.Addr, netip.Addr, error) {
	rs, err := netlink.RouteGet(dst.AsSlice())
	if err != nil {
		return 0, netip.Addr{}, netip.Addr{}, err
	}
	if len(rs) == 0 {
		return 0, netip.Addr{}, netip.Addr{}, errors.New("none")
	}
	rt := rs[0]
	if rt.Type == unix.RTN_LOCAL {
		return 0, netip.Addr{}, netip.Addr{}, errors.New("the peer is a local address")
	}
	gw, _ := netip.AddrFromSlice(rt.Gw)
	src, _ := netip.AddrFromSlice(rt.Src)
	return rt.LinkIndex, gw.Unmap(), src.Unmap(), nil
}

func (netlinkLookup) link(ifindex int) (string, net.HardwareAddr, int, bool, error) {
	l, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return "", nil, 0, false, err
	}
	a := l.Attrs()
	return a.Name, a.HardwareAddr, a.MTU, a.EncapType == "ether", nil
}

// usableNeighbour is the set of neighbour states whose link-layer address
// the kernel itself would send to.
const usableNeighbour = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT

func (netlinkLookup) neighbours(ifindex int, v6 bool) (map[netip.Addr]net.HardwareAddr, error) {
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	ns, err := netlink.NeighList(ifindex, family)
	if err != nil {
		return nil, err
	}
	t := make(map[netip.Addr]net.HardwareAddr, len(ns))
	for _, n := range ns {
		if a, ok := netip.AddrFromSlice(n.IP); ok && n.State&usableNeighbour != 0 {
			t[a.Unmap()] = n.HardwareAddr
		}
	}
	return t, nil
}

// netlinkEvents follows route, neighbour and link changes and wakes r on
// each that may change a next hop, until r.done is closed.
func netlinkEvents(r *resolver) error {
	w, err := rtwatch.Watch(rtwatch.Routes4|rtwatch.Routes6|rtwatch.Neighbours|rtwatch.Links, func(ev rtwatch.Event) {
		if n := ev.Neigh; n != nil && !r.neighbourMatters(n.Addr, n.LLAddr, ev.Type == unix.RTM_NEWNEIGH && n.State&usableNeighbour != 0) {
			return
		}
		r.wake()
	})
	if err != nil {
		return err
	}
	go func() {
		<-r.done
		w.Close()
	}()
	return nil
}

// neighbourMatters reports whether a neighbour entry's change (ip now
// with link-layer address mac, or unusable) may change a next hop: it is
// one, with another address or gone, or an unresolved peer waits for it,
// or a new peer is queued. The
// kernel reports an entry's every state change (reachable, stale, delay,
// probe); re-resolving every peer on each would cost a hub with many
// peers a round of route lookups per change.
func (r *resolver) neighbourMatters(ip netip.Addr, mac []byte, usable bool) bool {
	ip = ip.Unmap()
	hops := *r.hops.Load()
	r.mu.Lock()
	wanted := len(r.queued) > 0 || (usable && r.waiting[ip])
	r.mu.Unlock()
	if wanted {
		return true
	}
	for _, h := range hops {
		if h.via == ip && (!usable || string(h.eth[0:6]) != string(mac)) {
			return true
		}
	}
	return false
}
