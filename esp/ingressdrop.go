package esp

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/internal/rtwatch"
)

// What the receive ring (packetrx.go) takes from the IP stack, and the
// nftables rule that keeps the stack from seeing it a second time.
//
// A packet tap sees a packet before the device's ingress hook, and the
// ingress hook before the IP stack: so the ring gets its copy, then the
// rule in table netdev softix_esp_rx4 (or 6) drops the original. Without
// the rule every packet would also climb the stack to the raw socket (a
// second, replayed copy) or, with no raw socket, draw an ICMP protocol
// unreachable. The ring's filter and the rule test the same things,
// built from one rxClaim, so a packet is either in the ring and dropped,
// or in neither and left to the stack.
//
//  1. claimOf lists the family's addresses (the socket's own, or every
//     one on a device other than loopback) and the devices holding them.
//  2. rxClaimer.update sets the ring's filter and then the rule to it,
//     at the start and again on every address or link change.
//  3. rxClaimer.stop removes the rule's table (the ring closes with the
//     socket). The table belongs to the engine's netlink socket
//     (droptable.go), so the kernel removes it too when the daemon dies
//     without stopping.

// rxClaim is the raw ESP the receive ring takes: packets to one of addrs
// arriving on one of devs.
type rxClaim struct {
	addrs []netip.Addr
	devs  []rxDev
}

// rxDev is a device in a claim.
type rxDev struct {
	index int
	name  string
}

func (c rxClaim) equal(d rxClaim) bool {
	return slices.Equal(c.addrs, d.addrs) && slices.Equal(c.devs, d.devs)
}

func (c rxClaim) empty() bool { return len(c.addrs) == 0 || len(c.devs) == 0 }

// rxLink is what a claim needs to know of a device.
type rxLink struct {
	name string
	// skip: loopback, or a TUN device (the daemon's own tunnels), where
	// no ESP from the network arrives.
	skip bool
}

func rxLinkOf(l netlink.Link) rxLink {
	a := l.Attrs()
	return rxLink{name: a.Name, skip: a.Flags&net.FlagLoopback != 0 || l.Type() == "tuntap"}
}

// linkByIndex asks the kernel about one device.
func linkByIndex(index int) (rxLink, error) {
	l, err := netlink.LinkByIndex(index)
	if err != nil {
		return rxLink{}, err
	}
	return rxLinkOf(l), nil
}

// claimOf returns the claim of the family (v6) for a socket bound to
// local: that address, or when it is unspecified every address of the
// family but loopback and link-local ones; with the devices holding
// them, loopback and TUN devices (and their addresses) left out. link
// tells about a device.
func claimOf(local netip.Addr, v6 bool, link func(index int) (rxLink, error)) (rxClaim, error) {
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(nil, family)
	if err != nil {
		return rxClaim{}, err
	}
	var c rxClaim
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() == v6 || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		if !local.IsUnspecified() && ip != local {
			continue
		}
		l, err := link(a.LinkIndex)
		if err != nil || l.skip {
			continue
		}
		if !slices.Contains(c.addrs, ip) {
			c.addrs = append(c.addrs, ip)
		}
		d := rxDev{index: a.LinkIndex, name: l.name}
		if !slices.Contains(c.devs, d) {
			c.devs = append(c.devs, d)
		}
		if len(c.addrs) > rxClaimMax || len(c.devs) > rxClaimMax {
			return rxClaim{}, fmt.Errorf("more than %d addresses or devices: the ring's filter takes at most %d of each", rxClaimMax, rxClaimMax)
		}
	}
	slices.SortFunc(c.addrs, netip.Addr.Compare)
	slices.SortFunc(c.devs, func(a, b rxDev) int { return a.index - b.index })
	return c, nil
}

// dropExprs is the rule dropping what rxFilter takes for address a:
// addressed to this host, the family's EtherType, at most rxFrameData
// bytes, ESP, not a fragment (IPv4), to a. The device is the chain's.
func dropExprs(a netip.Addr, v6 bool) []expr.Any {
	proto := []byte{0x08, 0x00}
	next, dst := uint32(9), uint32(16)
	if v6 {
		proto = []byte{0x86, 0xdd}
		next, dst = 6, 24
	}
	var maxLen [4]byte
	binary.BigEndian.PutUint32(maxLen[:], rxFrameData)
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.PACKET_HOST}},
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: proto},
		&expr.Meta{Key: expr.MetaKeyLEN, Register: 1},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: maxLen[:]},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: next, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ESP}},
	}
	if !v6 {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 6, Len: 2},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0x3f, 0xff}, Xor: []byte{0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0}})
	}
	return append(e,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: dst, Len: uint32(a.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
		&expr.Verdict{Kind: expr.VerdictDrop})
}

// rxClaimer keeps a ring's claim and drop rule in step with the host's
// addresses.
type rxClaimer struct {
	ring  *rxRing
	drop  *dropTable
	local netip.Addr
	log   *slog.Logger

	mu  sync.Mutex
	cur rxClaim
	why string // the last failure logged
	// links caches what claimOf needs of each device, kept by the link
	// events: a hub's thousand TUN devices are asked about once, not at
	// every change.
	links map[int]rxLink
	// handedOver: the family's table belongs to the socket replacing
	// this one (Engine.SetRawESPMode); update and stop leave it alone.
	handedOver bool
	watch      *rtwatch.Watcher
	kick       chan struct{} // a change to look at (capacity 1)
	done       chan struct{}
	wg         sync.WaitGroup
}

// startClaimer sets ring's claim and drop rule (in drop, the engine's
// table of the ring's family) for local and follows address and link
// changes until stop. It fails when the first rule cannot be installed
// (no nftables netdev support, no CAP_NET_ADMIN, the table another
// process's).
func startClaimer(ring *rxRing, local netip.Addr, drop *dropTable, log *slog.Logger) (*rxClaimer, error) {
	w := &rxClaimer{ring: ring, drop: drop, local: local, log: log, done: make(chan struct{}), kick: make(chan struct{}, 1), links: map[int]rxLink{}}
	// An empty claim (no address yet) would not show whether the rule
	// can be installed: try the table alone first.
	if err := w.drop.apply(rxClaim{}); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if err := w.update(); err != nil {
		return nil, err
	}
	groups := uint32(rtwatch.Links | rtwatch.Addrs4)
	if ring.v6 {
		groups = rtwatch.Links | rtwatch.Addrs6
	}
	watch, err := rtwatch.Watch(groups, w.note)
	if err != nil {
		w.stop()
		return nil, err
	}
	w.watch = watch
	w.wg.Add(1)
	go w.run()
	return w, nil
}

func (w *rxClaimer) run() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case <-w.kick:
		}
		// Let a burst of changes (an interface coming up with its
		// addresses, a hub's thousand TUN devices) settle into one
		// update.
		select {
		case <-w.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
		select {
		case <-w.kick:
		default:
		}
		w.update()
	}
}

// note keeps the link cache up to date with a notification and asks run
// for an update.
func (w *rxClaimer) note(ev rtwatch.Event) {
	w.mu.Lock()
	switch {
	case ev.Lost:
		clear(w.links)
	case ev.Type == unix.RTM_DELLINK:
		delete(w.links, ev.Index)
	case ev.Link != nil:
		l := w.links[ev.Index]
		if l.name != string(ev.Link.Name) { // a new string only for a new name
			l.name = string(ev.Link.Name)
		}
		l.skip = ev.Link.Flags&unix.IFF_LOOPBACK != 0 || string(ev.Link.Kind) == "tun"
		w.links[ev.Index] = l
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// link is claimOf's device lookup through the cache (w.mu held).
func (w *rxClaimer) link(index int) (rxLink, error) {
	if l, ok := w.links[index]; ok {
		return l, nil
	}
	l, err := linkByIndex(index)
	if err == nil {
		w.links[index] = l
	}
	return l, err
}

// update sets the ring's filter and the drop rule to the current claim.
// The filter goes first: for a moment a new address's packets may come
// twice (the second is a replay), never not at all.
func (w *rxClaimer) update() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handedOver {
		return nil
	}
	c, err := claimOf(w.local, w.ring.v6, w.link)
	if err == nil && c.equal(w.cur) {
		return nil
	}
	if err == nil {
		if err = w.ring.setClaim(c); err == nil {
			err = w.drop.apply(c)
		}
	}
	if err != nil {
		// Leave everything to the IP stack and the raw socket.
		w.ring.setClaim(rxClaim{})
		w.drop.apply(rxClaim{})
		w.cur = rxClaim{}
		if why := err.Error(); why != w.why {
			w.why = why
			w.log.Warn("esp: raw ESP is received on the raw IP socket only", "why", why)
		}
		return err
	}
	w.cur, w.why = c, ""
	names := make([]string, len(c.devs))
	for i, d := range c.devs {
		names[i] = d.name
	}
	w.log.Info("esp: raw ESP to these addresses is received from a packet ring", "addresses", c.addrs, "devices", names)
	return nil
}

// stop ends the following and removes the drop rule.
func (w *rxClaimer) stop() error {
	if w.watch != nil {
		w.watch.Close()
	}
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cur = rxClaim{}
	if w.handedOver {
		return nil
	}
	return w.drop.apply(rxClaim{})
}

// handOver leaves the drop rule's table to the socket opened to replace
// this one (on), or takes it back when that failed (off).
func (w *rxClaimer) handOver(on bool) {
	w.mu.Lock()
	w.handedOver = on
	w.cur = rxClaim{} // the next update applies the claim again
	w.mu.Unlock()
	if !on {
		w.update()
	}
}
