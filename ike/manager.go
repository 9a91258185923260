package ike

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ManagerConfig is what cmd/soft-ix passes to NewManager.
type ManagerConfig struct {
	Config    Config
	DataPlane DataPlane

	// Transport sends IKE packets. Nil: the Manager opens its own UDP
	// sockets (ListenUDP on ListenAddr, IKEPort and NATTPort) and reads
	// them in Run. When package esp owns UDP 4500, pass a Transport that
	// sends through esp's sockets and feed received IKE packets to
	// Manager.Deliver.
	Transport  Transport
	ListenAddr netip.Addr // for the Manager's own sockets; default all IPv4 and (where the host has IPv6) IPv6 addresses
	IKEPort    uint16     // default 500
	NATTPort   uint16     // default 4500

	Logger *slog.Logger // default slog.Default()
	// KeyLog, when set, receives Wireshark key-table lines for every new
	// IKE and Child SA (see keylog.go). Lab use only: it holds keys.
	KeyLog io.Writer

	// Tuning overrides CoreConfig fields (timeouts, retries, backoff);
	// its Config, DataPlane, Transport, Logger, KeyLog and ports are
	// ignored in favour of the fields above.
	Tuning CoreConfig

	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Manager runs the IKEv2 control plane of one soft-ix: the sans-IO Core
// behind a mutex, its timers, and (unless a Transport is given) the UDP
// 500/4500 sockets. All methods are safe for concurrent use.
//
// Typical use in cmd/soft-ix:
//
//	m, err := ike.NewManager(ike.ManagerConfig{Config: cfg, DataPlane: dp, Logger: log})
//	go m.Run(ctx)          // initiates connect-type auto tunnels
//	...                    // m.IKESAs(), m.ChildSAs() for "show"
//	m.Reload(newCfg, changed)
//	m.Close()              // sends DELETEs
type Manager struct {
	mu   sync.Mutex
	core *Core
	udp  *UDPTransport
	now  func() time.Time
	wake chan struct{}
	log  *slog.Logger
	dp   DataPlane
	pool *keyPool
	rand io.Reader

	halfOpen atomic.Int64 // len(core.halfOpen) after the last packet

	// intake carries datagrams read by other goroutines (esp's UDP 4500
	// reader, a daemon's own UDP 500 socket, the Manager's sockets) to the
	// IKE workers Run starts, one queue per worker. A reader never waits
	// for IKE: a PFS rekey's DH or a tunnel going up must not stall the
	// data path. The datagrams of one IKE SA always go to the same worker
	// (see queueFor), so they are handled in the order they arrived, as
	// one reader would; the DH work of different SAs runs in parallel.
	intake []chan received
	// testHookWorker, when set, runs in a worker before each packet (tests
	// hold IKE processing still with it).
	testHookWorker func()
}

// testHookStall is nil in the daemon. A build with the softix_testhooks
// tag sets it (stallhook_testhooks.go): then every IKE worker runs it
// before each packet with the Core's lock held, so an integration test
// can hold a real daemon's IKE processing still, as a PFS rekey's DH or a
// tunnel going up would, while ESP traffic flows.
var testHookStall func()

// IntakeQueue is how many received IKE datagrams may wait for the IKE
// workers, shared out between their queues; Deliver drops (and counts)
// beyond it.
const IntakeQueue = 1024

// NewManager builds a Manager. With no Transport it binds the UDP sockets
// now, so a bind failure (port in use, no privilege) is reported here.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	m := &Manager{now: cfg.Now, wake: make(chan struct{}, 1), dp: cfg.DataPlane}
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		m.intake = append(m.intake, make(chan received, max(IntakeQueue/workers, 1)))
	}
	if m.now == nil {
		m.now = time.Now
	}
	if cfg.DataPlane == nil {
		return nil, errors.New("ike: NewManager needs a DataPlane")
	}
	cc := cfg.Tuning
	cc.Config, cc.DataPlane, cc.Logger, cc.KeyLog = cfg.Config, cfg.DataPlane, cfg.Logger, cfg.KeyLog
	cc.IKEPort, cc.NATTPort = cfg.IKEPort, cfg.NATTPort
	cc.Transport = cfg.Transport
	if cc.LocalAddr == nil {
		cc.LocalAddr = RouteSource
	}
	if cc.Transport == nil {
		u, err := ListenUDP(cfg.ListenAddr, cfg.IKEPort, cfg.NATTPort)
		if err != nil {
			return nil, err
		}
		m.udp, cc.Transport = u, u
	}
	core, err := NewCore(cc)
	if err != nil {
		if m.udp != nil {
			m.udp.Close()
		}
		return nil, err
	}
	m.core, m.log = core, core.log
	core.pool = newKeyPool(core.opt.Rand, core.policyGroups())
	core.pool.reuseFor = core.opt.DHReuseUnderLoad
	m.pool, m.rand = core.pool, core.opt.Rand
	return m, nil
}

// Run initiates the connect-type auto tunnels and drives timers (and the
// Manager's own sockets) until ctx ends. It then sends DELETEs (Close).
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	m.core.Start(m.now())
	pool := m.core.pool
	m.mu.Unlock()
	pctx, stopPool := context.WithCancel(ctx)
	defer stopPool()
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go pool.run(pctx)
	}
	errc := make(chan error, 1)
	// The workers and sockets outlive ctx until Close has sent the DELETEs.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Workers let the DH work of IKE_SA_INIT requests (PrecomputeInit) run
	// on every core; the Core itself stays single-threaded.
	for _, q := range m.intake {
		go m.work(sctx, q)
	}
	if m.udp != nil {
		go func() {
			errc <- m.udp.Serve(sctx, func(pkt []byte, from, to netip.AddrPort) {
				// The Manager's own IKE-only socket may wait: the kernel
				// queues behind it, and no data path shares it.
				select {
				case m.queueFor(pkt, from) <- received{pkt, from, to}:
				case <-sctx.Done():
				}
			})
		}()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		m.mu.Lock()
		next := m.core.NextTimer()
		m.mu.Unlock()
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(m.now()), 0)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			m.Close()
			return nil
		case err := <-errc:
			if err != nil {
				return err
			}
			errc = nil
		case <-m.wake:
		case <-timer.C:
			m.mu.Lock()
			m.core.HandleTimer(m.now())
			// Half-open SAs time out here too: while the packet reader
			// answers a flood's requests itself (answerCookie), no
			// packet may come through HandlePacket to lower the count.
			m.halfOpen.Store(int64(len(m.core.halfOpen)))
			m.mu.Unlock()
		}
	}
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// work is one IKE worker: it processes the datagrams of its queue until
// ctx ends.
func (m *Manager) work(ctx context.Context, q <-chan received) {
	for {
		select {
		case r := <-q:
			if m.testHookWorker != nil {
				m.testHookWorker()
			}
			if testHookStall != nil {
				m.mu.Lock()
				testHookStall()
				m.mu.Unlock()
			}
			m.HandlePacket(r.pkt, r.from, r.to)
		case <-ctx.Done():
			return
		}
	}
}

// Deliver queues one IKE datagram received from the peer address from on
// local address to for the IKE workers and returns at once: false, and
// counted as QueueFull, when the queue is full. It never waits for IKE, so
// package esp's UDP 4500 reader calls it inline. It queues a copy of pkt
// (the caller may reuse it) and, while cookies are demanded, answers or
// drops IKE_SA_INIT requests without one itself (answerCookie): under a
// flood of them the reader then keeps up and allocates nothing for them.
// Packets are processed once Run has started.
func (m *Manager) Deliver(pkt []byte, from, to netip.AddrPort) bool {
	if m.halfOpen.Load() >= int64(m.core.opt.CookieThreshold) && m.core.answerCookie(pkt, from, to) {
		return true
	}
	select {
	case m.queueFor(pkt, from) <- received{append([]byte(nil), pkt...), from, to}:
		return true
	default:
		m.core.count(nil, statQueueFull) // atomics: no lock
		return false
	}
}

// queueFor is the intake queue of the worker that handles the IKE SA a
// datagram pkt from peer from belongs to: chosen by the peer's address and
// the initiator's SPI (the first 8 bytes of every IKE header), so the
// messages of one IKE SA keep their order while different SAs, even of
// one peer, use every worker.
func (m *Manager) queueFor(pkt []byte, from netip.AddrPort) chan received {
	if len(m.intake) == 1 {
		return m.intake[0]
	}
	h := uint32(2166136261) // FNV-1a
	for _, b := range from.Addr().As16() {
		h = (h ^ uint32(b)) * 16777619
	}
	for _, b := range pkt[:min(len(pkt), 8)] {
		h = (h ^ uint32(b)) * 16777619
	}
	return m.intake[h%uint32(len(m.intake))]
}

// HandlePacket processes one IKE message received from the peer address
// from on local address to, on the calling goroutine (the IKE workers call
// it for what Deliver queued; a packet reader should call Deliver).
//
// It may be called from several goroutines: the Diffie-Hellman work of
// IKE_SA_INIT requests runs before the Manager's lock is taken.
func (m *Manager) HandlePacket(pkt []byte, from, to netip.AddrPort) {
	var pre *initPre
	if m.halfOpen.Load() < int64(m.core.opt.CookieThreshold) {
		// Below the cookie threshold: no DH work for unverified peers
		// beyond what the Core would do anyway.
		pre = precomputeInit(m.pool, m.rand, pkt)
	}
	m.mu.Lock()
	m.core.handlePacketPre(m.now(), pkt, from, to, pre)
	m.halfOpen.Store(int64(len(m.core.halfOpen)))
	m.mu.Unlock()
	m.poke()
}

type received struct {
	pkt      []byte
	from, to netip.AddrPort
}

// Stats returns the IKE counters of the Manager (all tunnels, and
// messages no tunnel claimed). It does not wait for the Manager's lock:
// the counters are atomic and the Core keeps them for its whole life.
func (m *Manager) Stats() Stats { return m.core.stats.snapshot() }

// TunnelStats returns the IKE counters of one tunnel; false when the
// configuration has no such tunnel.
func (m *Manager) TunnelStats(tunnel string) (Stats, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.TunnelStats(tunnel)
}

// Initiate starts an IKE SA for a tunnel now (as "connect-type auto"
// does at start).
func (m *Manager) Initiate(tunnel string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.poke()
	return m.core.Initiate(m.now(), tunnel)
}

// Reload switches to a new configuration. Tunnels named in changed (and
// tunnels that disappeared) lose every IKE SA they have (established ones
// with DELETE, duplicates and half-open ones included) and, when
// connect-type auto, are re-initiated with the new settings; other
// tunnels keep their SAs. A configuration the Core cannot use is refused
// before anything changes.
func (m *Manager) Reload(cfg Config, changed []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.poke()
	now := m.now()
	c := m.core
	tunnels, order, err := c.buildTunnels(cfg)
	if err != nil {
		return err
	}
	drop := map[string]*tunnel{}
	for name, t := range c.tunnels {
		if tunnels[name] == nil {
			drop[name] = t
		}
	}
	for _, name := range changed {
		if t := c.tunnels[name]; t != nil {
			drop[name] = t
		}
	}
	for _, sa := range c.sasSnapshot() {
		if reloadDrops(sa, drop) {
			c.dropForReload(now, sa)
		}
	}
	for _, t := range drop {
		t.ike, t.backoff, t.retryAt, t.upSince = nil, 0, time.Time{}, time.Time{}
		delete(c.retries, t)
	}
	c.setTunnels(cfg, tunnels, order)
	c.Start(now)
	return nil
}

// reloadDrops reports whether sa belongs to a tunnel in drop: it serves
// that tunnel, or it is a half-open responder SA from the tunnel's peer
// (its IKE_SA_INIT was answered under the old settings).
func reloadDrops(sa *ikeSA, drop map[string]*tunnel) bool {
	if sa.tun != nil {
		return drop[sa.tun.name] != nil
	}
	if sa.state != StateHalfOpen {
		return false
	}
	for _, t := range drop {
		if t.conf.Peer.IsValid() && t.conf.Peer == sa.remote.Addr() {
			return true
		}
	}
	return false
}

// dropForReload ends an IKE SA of a reconfigured tunnel: an SA with keys
// the peer may hold is deleted with DELETE; one still in IKE_SA_INIT (or
// half-open, unauthenticated) just goes. It no longer serves the tunnel
// either way.
func (c *Core) dropForReload(now time.Time, sa *ikeSA) {
	c.log.Info("ike: reload: removing IKE SA of a changed tunnel", "tunnel", tunName(sa), "peer", sa.remote, "state", sa.state.String())
	sa.tun = nil
	if sa.state == StateInitSent || sa.state == StateHalfOpen {
		c.removeSA(now, sa)
		return
	}
	c.deleteIKE(now, sa)
}

// sasOf lists the live IKE SAs of tunnel t.
func (c *Core) sasOf(t *tunnel) []*ikeSA {
	var out []*ikeSA
	// tunSAs may hold SAs that left the tunnel since (a reload): the
	// check below drops them. A scan of c.sas instead would make every
	// setup on a hub cost O(N).
	for sa := range c.tunSAs[t.name] {
		if sa.tun == t && sa.state != StateDead {
			out = append(out, sa)
		}
	}
	return out
}

// ClearSA deletes (with DELETE to the peer) the IKE SAs of peer, or all
// when peer is invalid: "clear ikev2 sa [peer A]". connect-type auto
// tunnels re-initiate at once (see scheduleRetry). It returns how many it
// cleared.
func (m *Manager) ClearSA(peer netip.Addr) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.poke()
	now := m.now()
	n := 0
	for _, sa := range m.core.sasSnapshot() {
		if sa.state == StateDead || (peer.IsValid() && sa.remote.Addr() != peer) {
			continue
		}
		m.core.deleteIKE(now, sa)
		n++
	}
	return n
}

// Close sends DELETE for every established IKE SA (best effort, no
// waiting for answers), removes all Child SAs from the data plane and
// closes the Manager's own sockets.
func (m *Manager) Close() error {
	m.mu.Lock()
	now := m.now()
	c := m.core
	for _, sa := range c.sasSnapshot() {
		if sa.state == StateEstablished {
			if pkts, err := c.sealSK(sa, &message{Exchange: exInformational, MsgID: sa.nextMsgID, SPIi: sa.spiI, SPIr: sa.spiR,
				Initiator: sa.initiator, Deletes: []deletion{{Protocol: protoIKE}}}); err == nil {
				c.count(sa.tun, exchangeStat(statSent, exInformational))
				c.resend(sa, pkts)
			}
		}
		sa.replacedBy = nil
		c.removeSA(now, sa)
	}
	for _, t := range c.tunnels {
		t.auto = false
	}
	m.mu.Unlock()
	if m.udp != nil {
		m.udp.Close()
	}
	return nil
}

// SoftExpired implements childsa.Events: the SA passed its soft volume
// limit, so its Child SA is rekeyed.
func (m *Manager) SoftExpired(spi uint32, inbound bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.poke()
	c := m.core
	if ch := c.childBySPI(spi, inbound); ch != nil && ch.rekeying == nil && ch.replacedBy == nil && !ch.deleting {
		c.startChildRekey(m.now(), ch.ike, ch)
	}
}

// HardExpired implements childsa.Events: the SA reached its hard limit
// and the data plane stopped using it. Unless a rekey is already under
// way, one starts now; its DELETE removes the spent SA.
func (m *Manager) HardExpired(spi uint32, inbound bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.poke()
	c := m.core
	if ch := c.childBySPI(spi, inbound); ch != nil && ch.rekeying == nil && ch.replacedBy == nil && !ch.deleting {
		c.startChildRekey(m.now(), ch.ike, ch)
	}
}

// PeerMoved implements childsa.Events: an authenticated ESP packet of
// inbound SA spi came from another address or port (from) than the
// peer's, whose NAT changed its mapping. The SA's IKE SA follows it
// (followPeer).
func (m *Manager) PeerMoved(spi uint32, from netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.poke()
	c := m.core
	if ch := c.childBySPI(spi, true); ch != nil && ch.ike != nil {
		c.followPeer(m.now(), ch.ike, from)
	}
}

func (c *Core) childBySPI(spi uint32, inbound bool) *childSA {
	if inbound {
		return c.children[spi]
	}
	for _, ch := range c.children {
		if ch.outSPI == spi {
			return ch
		}
	}
	return nil
}
