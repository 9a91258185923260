package esp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
	"golang.zx2c4.com/wireguard/tun"
)

// Config configures an Engine.
type Config struct {
	// Logger receives the engine's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Events is told about SAs that reach their soft or hard limits; may be nil.
	Events childsa.Events
	// IKEHandler receives IKE messages that arrive on the shared UDP 4500
	// socket, with the non-ESP marker removed. pkt is only valid during the
	// call. May be nil, then such messages are dropped.
	IKEHandler func(pkt []byte, src, dst netip.AddrPort)
	// Workers is the number of parallel crypto workers; zero means one per CPU.
	Workers int
	// ReplayWindow is the anti-replay window of inbound SAs in packets;
	// zero means DefaultReplayWindow (1024). Rounded up to a multiple of
	// 64; at most MaxReplayWindow.
	ReplayWindow int
	// RawESP chooses how OpenRawESP's socket sends: Ethernet frames on a
	// packet socket where it can (RawESPAuto, the zero value), or the
	// raw IP socket only (RawESPSocket). See afpacket.go.
	RawESP RawESPMode
	// InboundGrace is how long a deleted inbound SA goes on opening
	// packets before it is gone; zero: it goes at once. IKE deletes an
	// SA when the peer answers its DELETE (or sent one), and that answer
	// can overtake the peer's last ESP packets, still in the receive
	// ring, a socket buffer or a crypto worker: without a grace they are
	// lost as unknown SPIs (a TCP stream's fast retransmit at every
	// duplicate SA or rekey under load). Anti-replay and the ICV still
	// apply to them.
	InboundGrace time.Duration
}

// Stats are engine-wide counters for packets that belong to no SA.
type Stats struct {
	// UnknownSPI counts inbound ESP for an SPI not installed, from any
	// source; when the source is a peer with an inbound SA, that SA's
	// "invalid sa" counts it too.
	UnknownSPI   uint64
	Truncated    uint64 // inbound packets shorter than an ESP header, or cut short by the receive buffer
	NoOutboundSA uint64 // packets routed into a tunnel that has no outbound SA
	Keepalives   uint64 // NAT keepalives received on UDP 4500
	IKEPackets   uint64 // non-ESP-marked packets handed to IKEHandler
	SendErrors   uint64 // outer socket write failures (packets)
	TUNErrors    uint64 // TUN write failures (batches)
	// ICVLimited counts ESP for a live SA dropped before its ICV check
	// because its source, not the SA's peer, sent too many packets that
	// failed it (see icvGuard).
	ICVLimited uint64
	// RingDrops counts raw ESP packets the kernel could not put in the
	// receive ring because it was full (packetrx.go).
	RingDrops uint64
	// PathMTUUpdates counts ICMP errors that lowered a tunnel's path MTU;
	// PathMTUIgnored those about an ESP packet that no outbound SA could
	// have sent lately, or not below the configured MTU (pmtu.go).
	PathMTUUpdates, PathMTUIgnored uint64
}

// Engine is the ESP data plane. Its SA methods match ike.DataPlane.
type Engine struct {
	log    *slog.Logger
	events childsa.Events
	ike    func(pkt []byte, src, dst netip.AddrPort)
	window int
	rawESP RawESPMode    // under mu (SetRawESPMode changes it)
	grace  time.Duration // Config.InboundGrace
	// rawSwitch serializes SetRawESPMode; closedRingDrops keeps the
	// drops of the rings it closed.
	rawSwitch       sync.Mutex
	closedRingDrops atomic.Uint64
	// drop4 and drop6 are the tables of the receive rings' drop rules,
	// one per family, owned by the engine for its life (droptable.go).
	drop4, drop6 *dropTable

	sas saDB
	// byPeer maps each peer address to its newest inbound SA (*sa;
	// written under mu): an ESP packet from that peer that no SA takes is
	// counted on it as "invalid sa", as IX counts it per SA. A sync.Map,
	// not a map replaced whole on each change like sas: only stray
	// packets read it, and a hub of 1,000 tunnels copied the whole map
	// on every install, 30 MB of garbage while they came up
	// (integration/bench/hub).
	byPeer   sync.Map
	installs uint64 // install order of SAs, under mu

	mu       sync.Mutex // serializes SA database and tunnel changes
	outbound map[string]*atomic.Pointer[sa]
	paths    map[string]*pathMTU // by tunnel name, like outbound
	tunnels  atomic.Pointer[map[string]*tunnel]
	udp      atomic.Pointer[outer] // UDP 4500 (RFC 3948), shared with IKE
	raw      atomic.Pointer[outer] // raw IP protocol 50
	udp6     atomic.Pointer[outer] // the same two for IPv6 outer addresses
	raw6     atomic.Pointer[outer]
	// icmp4 and icmp6 read the path MTU reports of their family, opened
	// with its first outer socket (pmtu.go); under mu.
	icmp4, icmp6 *icmpWatch
	closed       bool

	work      chan *container
	producers sync.WaitGroup // goroutines that feed work
	consumers sync.WaitGroup // workers, senders and ordered receivers

	stats struct {
		unknownSPI, truncated, noOutboundSA, keepalives, ikePackets, sendErrors, tunErrors, icvLimited atomic.Uint64
		pathMTUUpdates, pathMTUIgnored                                                                 atomic.Uint64
	}
	guard icvGuard // bad-ICV work per source
}

type saKey struct {
	spi     uint32
	inbound bool
}

// saShards is the number of parts of the SA database.
const saShards = 64

// saDB is the SA database: readers look SAs up without a lock, writers
// (holding Engine.mu) replace a whole map. It is split by SPI so that a
// change copies one part: replaced whole, a hub of 1,000 tunnels copied
// the full map on each of its 2,000 installs, about 150 MiB of garbage
// that the collector, paced by a heap of large idle buffers, left in RSS
// (integration/bench/hub).
type saDB [saShards]atomic.Pointer[map[saKey]*sa]

func (d *saDB) get(k saKey) *sa {
	m := d[k.spi%saShards].Load()
	if m == nil {
		return nil
	}
	return (*m)[k]
}

// set installs a under k, or removes k when a is nil. The caller holds
// Engine.mu.
func (d *saDB) set(k saKey, a *sa) {
	p := &d[k.spi%saShards]
	var old map[saKey]*sa
	if o := p.Load(); o != nil {
		old = *o
	}
	m := make(map[saKey]*sa, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if a == nil {
		delete(m, k)
	} else {
		m[k] = a
	}
	p.Store(&m)
}

// NewEngine starts an engine with its crypto workers. Attach outer sockets
// with OpenUDP / OpenRawESP and tunnels with CreateTunnel / AttachTunnel.
func NewEngine(cfg Config) *Engine {
	e := &Engine{
		log:      cfg.Logger,
		events:   cfg.Events,
		ike:      cfg.IKEHandler,
		window:   cfg.ReplayWindow,
		rawESP:   cfg.RawESP,
		grace:    cfg.InboundGrace,
		outbound: make(map[string]*atomic.Pointer[sa]),
		paths:    make(map[string]*pathMTU),
		work:     make(chan *container, 256),
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.drop4, e.drop6 = newDropTable(false, e.log), newDropTable(true, e.log)
	noTunnels := map[string]*tunnel{}
	e.tunnels.Store(&noTunnels)
	n := cfg.Workers
	if n <= 0 {
		n = runtime.NumCPU()
	}
	for i := 0; i < n; i++ {
		e.consumers.Add(1)
		go e.cryptoWorker()
	}
	return e
}

// InstallSA adds one direction of an SA. For make-before-break install the
// new inbound SA first, then the outbound one, then call SetOutbound. An
// outbound SA becomes the tunnel's current SA at once if it has none.
func (e *Engine) InstallSA(c childsa.SA) error {
	a, err := newSA(&c, e.window)
	if err != nil {
		return err
	}
	spi, inbound := c.SPI, c.Inbound
	a.events = func(soft bool) {
		if e.events == nil {
			return
		}
		if soft {
			go e.events.SoftExpired(spi, inbound)
		} else {
			go e.events.HardExpired(spi, inbound)
		}
	}
	a.moved = func(from netip.AddrPort) {
		if e.events != nil {
			go e.events.PeerMoved(spi, from)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("esp: engine closed")
	}
	k := saKey{c.SPI, c.Inbound}
	if !c.Inbound {
		a.path = e.pathLocked(c.Tunnel)
	}
	if old := e.sas.get(k); old != nil && old.leaving {
		e.removeLocked(k, old) // its grace ends early: the SPI is taken again
	} else if old != nil {
		return fmt.Errorf("esp: SA 0x%08x (%s) already installed", c.SPI, dirName(c.Inbound))
	}
	e.sas.set(k, a)
	e.installs++
	a.installed = e.installs
	if c.Inbound {
		e.setPeerSALocked(a.remote.Addr(), a)
	}
	if !c.Inbound {
		p := e.outboundLocked(c.Tunnel)
		p.CompareAndSwap(nil, a)
	}
	return nil
}

func dirName(inbound bool) string {
	if inbound {
		return "inbound"
	}
	return "outbound"
}

func (e *Engine) outboundLocked(tunnel string) *atomic.Pointer[sa] {
	p := e.outbound[tunnel]
	if p == nil {
		p = new(atomic.Pointer[sa])
		e.outbound[tunnel] = p
	}
	return p
}

// SetOutbound makes the installed outbound SA spi the one that traffic
// routed into tunnel uses.
func (e *Engine) SetOutbound(tunnel string, spi uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.sas.get(saKey{spi, false})
	if a == nil {
		return fmt.Errorf("esp: SetOutbound %s: outbound SA 0x%08x: %w", tunnel, spi, errNoSA)
	}
	if a.tunnel != tunnel {
		return fmt.Errorf("esp: SetOutbound %s: SA 0x%08x belongs to %s", tunnel, spi, a.tunnel)
	}
	e.outboundLocked(tunnel).Store(a)
	return nil
}

// DeleteSA removes one direction of an SA. Deleting a tunnel's current
// outbound SA leaves the tunnel without one until SetOutbound.
func (e *Engine) DeleteSA(spi uint32, inbound bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := saKey{spi, inbound}
	a := e.sas.get(k)
	if a == nil || a.leaving {
		return fmt.Errorf("esp: DeleteSA 0x%08x (%s): %w", spi, dirName(inbound), errNoSA)
	}
	if inbound && e.grace > 0 {
		a.leaving = true
		time.AfterFunc(e.grace, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.sas.get(k) == a {
				e.removeLocked(k, a)
			}
		})
		return nil
	}
	e.removeLocked(k, a)
	return nil
}

// removeLocked takes SA a, installed under k, out of the engine.
func (e *Engine) removeLocked(k saKey, a *sa) {
	inbound := k.inbound
	e.sas.set(k, nil)
	if inbound && e.peerSA(a.remote.Addr()) == a {
		e.setPeerSALocked(a.remote.Addr(), e.newestInboundLocked(a.remote.Addr()))
	}
	if !inbound {
		if p := e.outbound[a.tunnel]; p != nil {
			p.CompareAndSwap(a, nil)
		}
	}
	a.dead.Store(true)
}

// childsa.Counters reports the "show ikev2 child-sa" statistics of an SA.
func (e *Engine) Counters(spi uint32, inbound bool) (childsa.Counters, bool) {
	a := e.sas.get(saKey{spi, inbound})
	if a == nil {
		return childsa.Counters{}, false
	}
	return a.counters.snapshot(), true
}

// Stats reports the engine-wide counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	return Stats{
		UnknownSPI:   s.unknownSPI.Load(),
		Truncated:    s.truncated.Load(),
		NoOutboundSA: s.noOutboundSA.Load(),
		Keepalives:   s.keepalives.Load(),
		IKEPackets:   s.ikePackets.Load(),
		SendErrors:   s.sendErrors.Load(),
		TUNErrors:    s.tunErrors.Load(),
		ICVLimited:   s.icvLimited.Load(),
		RingDrops:    e.ringDrops(),

		PathMTUUpdates: s.pathMTUUpdates.Load(),
		PathMTUIgnored: s.pathMTUIgnored.Load(),
	}
}

// ringDrops sums the drops of the raw ESP sockets' receive rings, those
// SetRawESPMode closed included.
func (e *Engine) ringDrops() uint64 {
	n := e.closedRingDrops.Load()
	for _, p := range []*atomic.Pointer[outer]{&e.raw, &e.raw6} {
		if o := p.Load(); o != nil {
			n += o.ringDrops()
		}
	}
	return n
}

// claimer is the claimer of o's receive ring, or nil.
func (o *outer) claimer() *rxClaimer {
	if pio, ok := o.io.(*packetIO); ok {
		return pio.claim
	}
	return nil
}

// ringDrops is the drops of o's receive ring (zero without one).
func (o *outer) ringDrops() uint64 {
	if pio, ok := o.io.(*packetIO); ok && pio.rx != nil {
		return pio.rx.drops()
	}
	return 0
}

// setPeerSALocked makes a (nil: none) the SA that counts the peer's
// stray ESP.
func (e *Engine) setPeerSALocked(peer netip.Addr, a *sa) {
	if a == nil {
		e.byPeer.Delete(peer)
	} else {
		e.byPeer.Store(peer, a)
	}
}

// newestInboundLocked returns the newest inbound SA from peer, or nil; it
// looks through the whole database, which only the deletion of a peer's
// newest SA needs (rare: a rekey installs the new SA first).
func (e *Engine) newestInboundLocked(peer netip.Addr) *sa {
	var best *sa
	for i := range e.sas {
		m := e.sas[i].Load()
		if m == nil {
			continue
		}
		for k, a := range *m {
			if k.inbound && a.remote.Addr() == peer && (best == nil || best.installed < a.installed) {
				best = a
			}
		}
	}
	return best
}

// peerSA returns the newest inbound SA from peer, or nil.
func (e *Engine) peerSA(peer netip.Addr) *sa {
	v, _ := e.byPeer.Load(peer)
	a, _ := v.(*sa)
	return a
}

func (e *Engine) lookup(spi uint32, inbound bool) *sa {
	return e.sas.get(saKey{spi, inbound})
}

func (e *Engine) tunnel(name string) *tunnel {
	return (*e.tunnels.Load())[name]
}

// CreateTunnel creates the TUN device cfg.Name (with the MTU of
// cfg.DeviceMTU) and attaches it. The tun package configures addresses
// and routes on it.
func (e *Engine) CreateTunnel(cfg TunnelConfig) (tun.Device, error) {
	dev, err := createTUN(cfg.Name, cfg.DeviceMTU())
	if err != nil {
		return nil, fmt.Errorf("esp: create TUN %s: %w", cfg.Name, err)
	}
	if err := e.AttachTunnel(cfg, dev); err != nil {
		dev.Close()
		return nil, err
	}
	return dev, nil
}

// AttachTunnel runs the packet loops of an already created TUN device for
// tunnel cfg.Name. The engine closes dev on RemoveTunnel or Close.
func (e *Engine) AttachTunnel(cfg TunnelConfig, dev tun.Device) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("esp: engine closed")
	}
	old := *e.tunnels.Load()
	if _, dup := old[cfg.Name]; dup {
		return fmt.Errorf("esp: tunnel %s already attached", cfg.Name)
	}
	t := newTunnel(e, cfg, dev, e.outboundLocked(cfg.Name), e.pathLocked(cfg.Name))
	m := make(map[string]*tunnel, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[cfg.Name] = t
	e.tunnels.Store(&m)
	e.producers.Add(1)
	e.consumers.Add(1)
	go t.readLoop()
	go t.sendLoop()
	// Nothing here needs the device's up/down/MTU events, but a full
	// channel would stall the device's netlink listener.
	if ev := dev.Events(); ev != nil {
		go func() {
			for range ev {
			}
		}()
	}
	return nil
}

// RemoveTunnel stops the tunnel's loops and closes its TUN device. Its SAs
// stay installed.
func (e *Engine) RemoveTunnel(name string) error {
	e.mu.Lock()
	old := *e.tunnels.Load()
	t := old[name]
	if t == nil {
		e.mu.Unlock()
		return fmt.Errorf("esp: tunnel %s not attached", name)
	}
	m := make(map[string]*tunnel, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	e.tunnels.Store(&m)
	e.mu.Unlock()
	return t.close()
}

// Close stops all loops and closes the sockets and TUN devices.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	tunnels := *e.tunnels.Load()
	outers := []*outer{e.udp.Load(), e.raw.Load(), e.udp6.Load(), e.raw6.Load()}
	watches := []*icmpWatch{e.icmp4, e.icmp6}
	for _, p := range e.paths {
		p.stop()
	}
	e.mu.Unlock()
	var errs []error
	for _, w := range watches {
		if w != nil {
			errs = append(errs, w.close())
		}
	}
	for _, t := range tunnels {
		errs = append(errs, t.close())
	}
	for _, o := range outers {
		if o != nil {
			errs = append(errs, o.close())
		}
	}
	e.producers.Wait()
	close(e.work)
	e.consumers.Wait()
	errs = append(errs, e.drop4.close(), e.drop6.close())
	return errors.Join(errs...)
}

// dropFor returns the drop rule table of local's family.
func (e *Engine) dropFor(local netip.Addr) *dropTable {
	if isIPv6(local) {
		return e.drop6
	}
	return e.drop4
}

// isIPv6 reports whether a is of the IPv6 family on the wire: an
// IPv4-mapped address travels as IPv4.
func isIPv6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }
