package ike

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// fakeDP records what the core asks of the data plane.
type fakeDP struct {
	mu       sync.Mutex
	sas      map[dpKey]childsa.SA
	outbound map[string]uint32
	log      []string
	rx       map[uint32]uint64 // packets per inbound SPI, when a test counts them (probeRun)
	// collide, when set, says an outbound SA's SPI is another tunnel's:
	// InstallSA refuses it, as esp.Engine does, and that tunnel's SA
	// (Tunnel9.0) sits under the SPI.
	collide func(childsa.SA) bool
}

type dpKey struct {
	spi uint32
	in  bool
}

func newFakeDP() *fakeDP {
	return &fakeDP{sas: map[dpKey]childsa.SA{}, outbound: map[string]uint32{}}
}

func (d *fakeDP) InstallSA(sa childsa.SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.collide != nil && !sa.Inbound && d.collide(sa) {
		d.sas[dpKey{sa.SPI, false}] = childsa.SA{SPI: sa.SPI, Tunnel: "Tunnel9.0"}
		return fmt.Errorf("SA %08x (outbound) already installed", sa.SPI)
	}
	d.sas[dpKey{sa.SPI, sa.Inbound}] = sa
	d.log = append(d.log, fmt.Sprintf("install %08x in=%v", sa.SPI, sa.Inbound))
	return nil
}

func (d *fakeDP) SetOutbound(tunnel string, spi uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.sas[dpKey{spi, false}]; !ok {
		return fmt.Errorf("no outbound SA %08x", spi)
	}
	d.outbound[tunnel] = spi
	d.log = append(d.log, fmt.Sprintf("outbound %s %08x", tunnel, spi))
	return nil
}

func (d *fakeDP) DeleteSA(spi uint32, inbound bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.sas, dpKey{spi, inbound})
	d.log = append(d.log, fmt.Sprintf("delete %08x in=%v", spi, inbound))
	return nil
}

func (d *fakeDP) Counters(spi uint32, inbound bool) (childsa.Counters, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sas[dpKey{spi, inbound}]
	if d.rx != nil && inbound {
		return childsa.Counters{Packets: d.rx[spi]}, ok
	}
	return childsa.Counters{Packets: 1, Octets: 100}, ok
}

func (d *fakeDP) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sas)
}

// datagram is one packet in flight on the fake network.
type datagram struct {
	pkt      []byte
	from, to netip.AddrPort
}

// fakeNet connects cores by address; tests may drop, duplicate or hold
// packets with the filter.
type fakeNet struct {
	t      *testing.T
	queue  []datagram
	nodes  map[netip.Addr]*node
	filter func(d datagram) (drop bool)
	sent   int
	late   []lateDatagram // held back by a filter (hold), delivered by release
}

// lateDatagram is a packet a filter holds back until at.
type lateDatagram struct {
	d  datagram
	at time.Time
}

// hold delays d until at: a filter that holds a packet returns true.
func (n *fakeNet) hold(d datagram, at time.Time) {
	n.late = append(n.late, lateDatagram{d, at})
}

// release queues the held packets due at now, in the order held.
func (n *fakeNet) release(now time.Time) {
	keep := n.late[:0]
	for _, l := range n.late {
		if now.Before(l.at) {
			keep = append(keep, l)
			continue
		}
		n.queue = append(n.queue, l.d)
	}
	n.late = keep
}

type node struct {
	core *Core
	dp   *fakeDP
	addr netip.Addr
}

func (n *fakeNet) Send(pkt []byte, from, to netip.AddrPort) error {
	n.sent++
	n.queue = append(n.queue, datagram{append([]byte(nil), pkt...), from, to})
	return nil
}

// SendNATKeepalive implements NATKeepaliveSender.
func (n *fakeNet) SendNATKeepalive(from, to netip.AddrPort) error {
	return n.Send([]byte{0xff}, from, to)
}

// deliver runs the network until no packet is in flight.
func (n *fakeNet) deliver(now time.Time) {
	for i := 0; len(n.queue) > 0 && i < 10000; i++ {
		d := n.queue[0]
		n.queue = n.queue[1:]
		if n.filter != nil && n.filter(d) {
			continue
		}
		dst := n.nodes[d.to.Addr()]
		if dst == nil {
			continue
		}
		if len(d.pkt) == 1 {
			continue // NAT keepalive
		}
		dst.core.HandlePacket(now, d.pkt, d.from, d.to)
	}
}

// isInitRequest reports whether d is an IKE_SA_INIT request: an end
// setting up a new IKE SA.
func isInitRequest(d datagram) bool {
	m, err := parseHeader(d.pkt)
	return err == nil && m.Exchange == exIKESAInit && !m.Response
}

// pair is two cores on a fake network with one clock.
type pair struct {
	t    *testing.T
	now  time.Time
	net  *fakeNet
	a, b *node

	probed map[netip.Addr]bool // nodes a probe reached (probeRunOutage)
}

var (
	addrA = netip.MustParseAddr("203.0.113.1")
	addrB = netip.MustParseAddr("198.51.100.6")
)

// testLogger logs to stderr when IKE_TEST_LOG is set, else nowhere.
func testLogger(t *testing.T) *slog.Logger { return clockLogger(t, nil) }

// clockLogger is testLogger with each record's time taken from clock,
// the simulated time of a pair, where clock is not nil.
func clockLogger(t *testing.T, clock func() time.Time) *slog.Logger {
	if os.Getenv("IKE_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	if clock != nil {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				a.Value = slog.TimeValue(clock())
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// testProfile names a policy's algorithms as the configuration does;
// policy fills what it leaves empty with the IX defaults, as
// config.ProfileFor does for the daemon.
type testProfile struct {
	Enc, Integrity, DH, ChildEnc, ChildIntegrity []string
	ChildPFS                                     string
	Lifetime, ChildLifetime, DPDInterval         time.Duration
	ChildLifetimeKB                              uint64
}

func (p *testProfile) policy() Policy {
	or := func(l []string, def ...string) []string {
		if len(l) == 0 {
			return def
		}
		return l
	}
	algs := func(find func(string) (Algorithm, bool), names []string) []Algorithm {
		var out []Algorithm
		for _, n := range names {
			a, ok := find(n)
			if !ok {
				panic("testProfile: unknown algorithm " + n)
			}
			out = append(out, a)
		}
		return out
	}
	integ := or(p.Integrity, "sha2-256")
	pol := Policy{
		IKEEnc: algs(EncAlgorithm, or(p.Enc, "aes-cbc-256")), IKEInteg: algs(IntegAlgorithm, integ),
		IKEPRF: algs(PRFAlgorithm, integ), IKEDH: algs(DHAlgorithm, or(p.DH, "2048-bit")),
		ChildEnc:   algs(EncAlgorithm, or(p.ChildEnc, "aes-cbc-256")),
		ChildInteg: algs(IntegAlgorithm, or(p.ChildIntegrity, "sha2-256")),
		ESN:        true, IKELifetime: p.Lifetime, ChildLifetime: p.ChildLifetime,
		ChildLifetimeKB: p.ChildLifetimeKB, DPDInterval: p.DPDInterval,
	}
	if p.ChildPFS != "" {
		pol.ChildPFS = algs(DHAlgorithm, []string{p.ChildPFS})
	}
	if pol.IKELifetime == 0 {
		pol.IKELifetime = 86400 * time.Second
	}
	if pol.ChildLifetime == 0 {
		pol.ChildLifetime = 28800 * time.Second
	}
	return pol
}

// seedProfile is the seed's proposal: IKE AES-CBC-256/SHA1/DH2, ESP
// AES-CBC-256/SHA2-256.
func seedProfile() *testProfile {
	return &testProfile{
		Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"}, DH: []string{"1024-bit"},
		ChildEnc: []string{"aes-cbc-256"}, ChildIntegrity: []string{"sha2-256"},
		ChildLifetime: time.Hour,
	}
}

// testConfig is one side's configuration: a tunnel to peer with PSK psk
// (keyed by the peer's address identity) under prof (nil: seedProfile),
// which is also the default policy.
func testConfig(peer netip.Addr, psk string, auto bool, prof *testProfile) Config {
	if prof == nil {
		prof = seedProfile()
	}
	pol := prof.policy()
	return Config{
		PSKs:    []PSK{{ID: ID{Addr: peer}, Key: []byte(psk)}},
		Default: pol,
		Tunnels: []TunnelConfig{{Name: "Tunnel0.0", ConnectAuto: auto, Peer: peer, PeerID: ID{Addr: peer}, Policy: pol}},
	}
}

func newPair(t *testing.T, cfgA, cfgB Config, tweak func(*CoreConfig)) *pair {
	return newPairAt(t, addrA, addrB, cfgA, cfgB, tweak)
}

// newPairAt is newPair with the outer addresses a and b.
func newPairAt(t *testing.T, a, b netip.Addr, cfgA, cfgB Config, tweak func(*CoreConfig)) *pair {
	p := &pair{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.net = &fakeNet{t: t, nodes: map[netip.Addr]*node{}}
	mk := func(cfg Config, addr netip.Addr) *node {
		n := &node{dp: newFakeDP(), addr: addr}
		cc := CoreConfig{Config: cfg, DataPlane: n.dp, Transport: p.net, Logger: clockLogger(t, func() time.Time { return p.now }).With("node", addr.String()),
			LocalAddr: func(netip.Addr) netip.Addr { return addr }}
		if tweak != nil {
			tweak(&cc)
		}
		c, err := NewCore(cc)
		if err != nil {
			t.Fatal(err)
		}
		n.core = c
		p.net.nodes[addr] = n
		return n
	}
	p.a = mk(cfgA, a)
	p.b = mk(cfgB, b)
	return p
}

// tick moves the clock to the nodes' next timer, or to limit if that
// comes first, and fires the timers due.
func (p *pair) tick(limit time.Time) {
	next := limit
	for _, n := range []*node{p.a, p.b} {
		if t := n.core.NextTimer(); !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	// A held packet is due at its own time, not at the next timer's.
	for _, l := range p.net.late {
		if l.at.Before(next) {
			next = l.at
		}
	}
	if next.After(p.now) {
		p.now = next
	}
	p.a.core.HandleTimer(p.now)
	p.b.core.HandleTimer(p.now)
}

// run advances the clock in steps to d, firing timers and delivering.
func (p *pair) run(d time.Duration) {
	end := p.now.Add(d)
	p.net.deliver(p.now)
	for i := 0; i < 100000; i++ {
		p.tick(end)
		p.net.release(p.now)
		p.net.deliver(p.now)
		checkIndex(p.t, p.a.core)
		checkIndex(p.t, p.b.core)
		if !p.now.Before(end) {
			return
		}
	}
	p.t.Fatal("run: timer loop did not settle")
}

// startKeepingFirst starts A, runs the pair for a second and returns a
// copy of the first datagram A sent (its IKE_SA_INIT request).
func (p *pair) startKeepingFirst() []byte {
	var first []byte
	p.net.filter = func(d datagram) bool {
		if first == nil && d.from.Addr() == addrA {
			first = append([]byte(nil), d.pkt...)
		}
		return false
	}
	p.a.core.Start(p.now)
	p.run(time.Second)
	return first
}

// established returns the established IKE SAs of a node.
func established(n *node) []*ikeSA {
	var out []*ikeSA
	for _, sa := range n.core.sas {
		if sa.state == StateEstablished {
			out = append(out, sa)
		}
	}
	return out
}

// checkUp asserts one established IKE SA each side with matching SPIs and
// a matching, installed Child SA pair whose keys agree.
func (p *pair) checkUp() (*ikeSA, *ikeSA) {
	p.t.Helper()
	ea, eb := established(p.a), established(p.b)
	if len(ea) != 1 || len(eb) != 1 {
		p.t.Fatalf("established IKE SAs: a=%d b=%d", len(ea), len(eb))
	}
	sa, sb := ea[0], eb[0]
	if sa.spiI != sb.spiI || sa.spiR != sb.spiR {
		p.t.Fatalf("IKE SPIs differ: %x/%x vs %x/%x", sa.spiI, sa.spiR, sb.spiI, sb.spiR)
	}
	outA := p.a.dp.outbound["Tunnel0.0"]
	outB := p.b.dp.outbound["Tunnel0.0"]
	oa, ok1 := p.a.dp.sas[dpKey{outA, false}]
	ib, ok2 := p.b.dp.sas[dpKey{outA, true}]
	if !ok1 || !ok2 {
		p.t.Fatalf("a's outbound %08x not installed inbound at b (%v %v)\na: %v\nb: %v", outA, ok1, ok2, p.a.dp.log, p.b.dp.log)
	}
	if string(oa.EncrKey) != string(ib.EncrKey) || string(oa.IntegKey) != string(ib.IntegKey) {
		p.t.Fatalf("a->b keys differ")
	}
	ob, ok3 := p.b.dp.sas[dpKey{outB, false}]
	ia, ok4 := p.a.dp.sas[dpKey{outB, true}]
	if !ok3 || !ok4 {
		p.t.Fatalf("b's outbound %08x not installed inbound at a\na: %v\nb: %v", outB, p.a.dp.log, p.b.dp.log)
	}
	if string(ob.EncrKey) != string(ia.EncrKey) || string(ob.IntegKey) != string(ia.IntegKey) {
		p.t.Fatalf("b->a keys differ")
	}
	return sa, sb
}

// checkIndex fails t if c's per-tunnel SA index (sasOf) misses a live SA
// of a tunnel: every place that sets an SA's tunnel must index it.
func checkIndex(t *testing.T, c *Core) {
	if t == nil {
		return // a pair a fuzz target set up before its own testing.T
	}
	t.Helper()
	for _, sa := range c.sas {
		if sa.tun != nil && sa.state != StateDead && !c.tunSAs[sa.tun.name][sa] {
			t.Fatalf("IKE SA %016x (%s) of tunnel %s is not in tunSAs", sa.spiI, sa.state, sa.tun.name)
		}
	}
}
