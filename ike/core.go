package ike

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Transport sends IKE messages. pkt is the bare IKE message; when from's
// port is the NAT-T port (4500) the transport prepends the 4-byte non-ESP
// marker (RFC 3948), as esp.Engine.SendIKE does. from is the local address
// and port to send from, to the destination.
type Transport interface {
	Send(pkt []byte, from, to netip.AddrPort) error
}

// NATKeepaliveSender is implemented by transports that can send a NAT-T
// keepalive (one 0xFF byte without marker, RFC 3948 §2.3) from the NAT-T
// port; the core sends keepalives only through it.
type NATKeepaliveSender interface {
	SendNATKeepalive(from, to netip.AddrPort) error
}

// CoreConfig configures a Core. Zero values take the defaults noted.
type CoreConfig struct {
	Config    Config
	DataPlane DataPlane
	Transport Transport
	Logger    *slog.Logger // default slog.Default()
	KeyLog    io.Writer    // Wireshark key tables; nil: none
	Rand      io.Reader    // default crypto/rand

	// LocalAddr returns the local address to use towards peer (the
	// kernel's source address for the route) when the tunnel sets no
	// ikev2 source-address. Default: unspecified address of peer's family.
	LocalAddr func(peer netip.Addr) netip.Addr

	IKEPort  uint16 // default 500
	NATTPort uint16 // default 4500

	RetransmitBase  time.Duration // first retransmission timeout, default 2 s
	RetransmitTries int           // retransmissions before giving up, default 5
	// DPDTimeout is how long a liveness check (or any request, while DPD
	// is on) may go unanswered before the peer is declared dead, default
	// 30 s, not the whole doubling schedule (2+4+...+64 s), or a peer that
	// restarted as a pure responder costs over two minutes. Such a request
	// is retransmitted on the doubling schedule but at least every
	// DPDTimeout/RetransmitTries, so its tries spread over the timeout:
	// with the defaults it goes out at 0, 2, 6, 12, 18 and 24 s and gives
	// up at 30 s. After its last try it waits as long as the doubling
	// schedule would have, up to the timeout, so a peer is never declared
	// dead sooner than before (a 45 s timeout: 0, 2, 6, 14, 23 and 32 s,
	// dead at 45 s). Doubling alone sent it at 0, 2, 6 and 14 s only, and on a
	// path losing 10 % each way about one liveness check or rekey in 770
	// lost every copy or its answer and the SA was set up again for
	// nothing; six copies make that one in 21,000 ((1-0.9*0.9)^6).
	DPDTimeout      time.Duration
	HalfOpenTimeout time.Duration // responder SA waiting for IKE_AUTH, default 30 s
	CookieThreshold int           // half-open SAs before cookies are demanded, default 100
	FragmentSize    int           // largest IKE datagram before fragmenting, default 1280
	// connect-type auto re-initiation: at once when an established
	// IKE SA is lost, then after failed attempts RetryBase, doubling up
	// to RetryMax (see scheduleRetry).
	RetryBase   time.Duration // default 1 s
	RetryMax    time.Duration // default 5 min
	RekeyMargin float64       // fraction of a lifetime left at rekey, default 0.1 (+ jitter up to half of it)
	DeleteGrace time.Duration // replaced SAs stay installed this long, default 2 s
	DPDDisabled bool          // never send liveness checks (load generator)
	// NoInitialContact leaves INITIAL_CONTACT out of IKE_AUTH (the load
	// generator opens many IKE SAs with one identity).
	NoInitialContact bool
	// InitialContactVendorID says INITIAL_CONTACT the way Windows' IKEv2
	// does, and so Azure's gateway: a Vid-Initial-Contact vendor ID in the
	// IKE_SA_INIT request instead of the notify in IKE_AUTH. The Azure
	// emulation sets it. A peer's Vid-Initial-Contact is honoured either
	// way.
	InitialContactVendorID bool
	// VendorIDs go in every IKE_SA_INIT request and response we send (the
	// Azure emulation sends Microsoft's); nil: none.
	VendorIDs [][]byte
	// DHReuse lets one ephemeral DH key serve new exchanges for this long
	// (RFC 7296 §2.12); 0 (default) makes a fresh key for every exchange.
	DHReuse time.Duration
	// DHReuseUnderLoad lets a Manager reuse a DH key for this long only
	// while its pool of pregenerated keys is empty (RFC 7296 §2.12); 0 off.
	DHReuseUnderLoad time.Duration

	// ForceUDPEncap carries ESP in UDP on the NAT-T port even without a
	// NAT, the way strongSwan's encap=yes does: our NAT_DETECTION_SOURCE_IP
	// is made not to match, so the peer believes a NAT is on the path,
	// and both ends move to the NAT-T port and encapsulate as RFC 7296
	// §2.23 and RFC 3948 have them do behind a NAT. It needs a peer that
	// supports NAT traversal; one that sends no NAT detection payloads
	// gets plain ESP.
	ForceUDPEncap bool

	// Policies replaces the policy Config gives the named tunnels; the
	// lab's Azure emulation sets AzurePolicy() here.
	Policies map[string]Policy
}

func (c *CoreConfig) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.IKEPort == 0 {
		c.IKEPort = 500
	}
	if c.NATTPort == 0 {
		c.NATTPort = 4500
	}
	if c.RetransmitBase == 0 {
		c.RetransmitBase = 2 * time.Second
	}
	if c.RetransmitTries == 0 {
		c.RetransmitTries = 5
	}
	if c.DPDTimeout == 0 {
		c.DPDTimeout = 30 * time.Second
	}
	if c.HalfOpenTimeout == 0 {
		c.HalfOpenTimeout = 30 * time.Second
	}
	if c.CookieThreshold == 0 {
		c.CookieThreshold = 100
	}
	if c.FragmentSize == 0 {
		c.FragmentSize = 1280
	}
	if c.RetryBase == 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.RekeyMargin == 0 {
		c.RekeyMargin = 0.1
	}
	if c.DeleteGrace == 0 {
		c.DeleteGrace = 2 * time.Second
	}
}

// tunnel is one "interface TunnelN.M" with IKEv2.
type tunnel struct {
	name    string
	conf    TunnelConfig
	pol     Policy
	source  netip.Addr // ikev2 source-address (or its interface's address); invalid: route source
	outSPI  uint32     // the SPI last given to DataPlane.SetOutbound
	outSet  bool
	auto    bool
	ike     *ikeSA // current IKE SA (connecting or established)
	retryAt time.Time
	backoff time.Duration // wait after the last failed attempt (0: none failed yet)
	upSince time.Time     // when the tunnel's IKE SA was established (zero: not up)
	stats   *counters     // kept across reloads
}

// responderOnly: "ikev2 negotiation-direction responder": the tunnel
// never starts an IKE SA, even with connect-type auto.
func (t *tunnel) responderOnly() bool { return t.conf.Direction == ResponderOnly }

// initiatorOnly: "ikev2 negotiation-direction initiator": the tunnel
// refuses IKE SAs its peer starts.
func (t *tunnel) initiatorOnly() bool { return t.conf.Direction == InitiatorOnly }

// Core is the sans-IO IKEv2 engine: packets and timer ticks in; packets
// (through Transport), Child SA installs (through DataPlane) and a next
// timer out. It is not safe for concurrent use; Manager serialises calls.
type Core struct {
	opt      CoreConfig
	cfg      Config
	log      *slog.Logger
	tunnels  map[string]*tunnel
	order    []string                   // tunnel names in config order
	byPeer   map[netip.Addr]*tunnel     // the first tunnel (in order) with each peer address
	pskFirst map[string][]byte          // the first PSK for each identity (idKey)
	pskLast  map[string][]byte          // the last one (pskFor's address fallback)
	sas      map[uint64]*ikeSA          // by our SPI
	tunSAs   map[string]map[*ikeSA]bool // by tunnel name: every SA whose tun has that name (and stale ones; see sasOf)
	halfOpen map[halfOpenKey]*ikeSA     // responder SAs by peer and initiator SPI
	// halfOpenByAddr counts the cookie-proven halfOpen by the peer's
	// address (see maxHalfOpenPerAddr).
	halfOpenByAddr map[netip.Addr]int
	children       map[uint32]*childSA // by our inbound SPI
	serial         int
	timers         timerHeap // IKE SA timers, see timers.go
	dirty          []*ikeSA
	retries        map[*tunnel]bool // tunnels waiting to re-initiate
	pool           *keyPool         // pregenerated DH keys (Manager); nil: none
	reuse          map[uint16]reusedKey
	secret         [32]byte // cookie secret
	now            time.Time
	stats          *counters         // see stats.go
	invalid        invalidSPILimiter // INVALID_IKE_SPI rate limit
	// peers holds the configured peer addresses for the packet readers
	// (answerCookie), which do not take the Manager's lock.
	peers atomic.Pointer[map[netip.Addr]bool]
	// cookies bounds the COOKIEs answerCookie sends to other addresses.
	cookies struct {
		sync.Mutex
		tokenBucket
	}
}

type halfOpenKey struct {
	peer netip.AddrPort
	spiI uint64
}

// NewCore builds a Core for the tunnels of opt.Config. Call Start to
// begin initiating connect-type auto tunnels.
func NewCore(opt CoreConfig) (*Core, error) {
	opt.defaults()
	c := &Core{
		opt:            opt,
		log:            opt.Logger,
		sas:            map[uint64]*ikeSA{},
		tunSAs:         map[string]map[*ikeSA]bool{},
		halfOpen:       map[halfOpenKey]*ikeSA{},
		halfOpenByAddr: map[netip.Addr]int{},
		children:       map[uint32]*childSA{},
		retries:        map[*tunnel]bool{},
		reuse:          map[uint16]reusedKey{},
		stats:          new(counters),
	}
	if _, err := io.ReadFull(opt.Rand, c.secret[:]); err != nil {
		return nil, fmt.Errorf("ike: cookie secret: %w", err)
	}
	tunnels, order, err := c.buildTunnels(opt.Config)
	if err != nil {
		return nil, err
	}
	c.setTunnels(opt.Config, tunnels, order)
	return c, nil
}

// buildTunnels builds the tunnel table of cfg without applying it.
func (c *Core) buildTunnels(cfg Config) (map[string]*tunnel, []string, error) {
	tunnels := map[string]*tunnel{}
	var order []string
	for _, tc := range cfg.Tunnels {
		if tunnels[tc.Name] != nil {
			return nil, nil, fmt.Errorf("ike: tunnel %s configured twice", tc.Name)
		}
		pol := tc.Policy
		if p, ok := c.opt.Policies[tc.Name]; ok {
			pol = p
		}
		t := &tunnel{name: tc.Name, conf: tc, pol: pol, source: tc.Source}
		t.auto = t.conf.ConnectAuto && !t.responderOnly() && t.conf.Peer.IsValid()
		tunnels[tc.Name] = t
		order = append(order, tc.Name)
	}
	return tunnels, order, nil
}

// setTunnels switches to a tunnel table from buildTunnels. Tunnels that
// already existed keep their SAs, state and counters: every IKE SA of
// one moves to the new tunnel value (not only the current one, or a
// later reload would miss the others).
func (c *Core) setTunnels(cfg Config, tunnels map[string]*tunnel, order []string) {
	for name, t := range tunnels {
		if old := c.tunnels[name]; old != nil {
			t.ike, t.retryAt, t.backoff, t.upSince = old.ike, old.retryAt, old.backoff, old.upSince
			t.outSPI, t.outSet = old.outSPI, old.outSet
			t.stats = old.stats
			if t.ike != nil {
				t.ike.tun = t
			}
		} else {
			t.stats = new(counters)
		}
	}
	for _, sa := range c.sas {
		if sa.tun == nil {
			continue
		}
		if t := tunnels[sa.tun.name]; t != nil {
			sa.tun = t
		}
	}
	retries := map[*tunnel]bool{}
	for t := range c.retries {
		if nt := tunnels[t.name]; nt != nil && nt.auto && nt.ike == nil {
			nt.retryAt = t.retryAt
			retries[nt] = true
		}
	}
	c.cfg, c.tunnels, c.order, c.retries = cfg, tunnels, order, retries
	// Lookups by peer and by identity come from maps, not scans: on a hub
	// every setup did several scans of N tunnels and keys (N² in all).
	c.byPeer = map[netip.Addr]*tunnel{}
	for _, name := range order {
		if t := tunnels[name]; t.conf.Peer.IsValid() && c.byPeer[t.conf.Peer] == nil {
			c.byPeer[t.conf.Peer] = t
		}
	}
	c.pskFirst, c.pskLast = map[string][]byte{}, map[string][]byte{}
	for _, p := range cfg.PSKs {
		k := idKey(p.ID.wire())
		if _, ok := c.pskFirst[k]; !ok {
			c.pskFirst[k] = p.Key
		}
		c.pskLast[k] = p.Key
	}
	peers := map[netip.Addr]bool{}
	for _, t := range tunnels {
		if t.conf.Peer.IsValid() {
			peers[t.conf.Peer] = true
		}
	}
	c.peers.Store(&peers)
}

// Start initiates every connect-type auto tunnel.
func (c *Core) Start(now time.Time) {
	c.now = now
	for _, name := range c.order {
		if t := c.tunnels[name]; t.auto && t.ike == nil {
			c.initiate(now, t)
		}
	}
	c.flush()
}

// Initiate starts an IKE SA for the named tunnel unless one exists.
func (c *Core) Initiate(now time.Time, tunnelName string) error {
	c.now = now
	t := c.tunnels[tunnelName]
	if t == nil {
		return fmt.Errorf("ike: no tunnel %s", tunnelName)
	}
	if !t.conf.Peer.IsValid() {
		return fmt.Errorf("ike: %s has no peer address to initiate to", tunnelName)
	}
	if t.responderOnly() {
		return fmt.Errorf("ike: %s is responder only (ikev2 negotiation-direction responder)", tunnelName)
	}
	if t.ike == nil {
		c.initiate(now, t)
	}
	c.flush()
	return nil
}

func (c *Core) random(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.opt.Rand, b); err != nil {
		panic("ike: random source failed: " + err.Error())
	}
	return b
}

func (c *Core) newIKESPI() uint64 {
	for {
		spi := binary.BigEndian.Uint64(c.random(8))
		if spi != 0 && c.sas[spi] == nil {
			return spi
		}
	}
}

func (c *Core) newChildSPI() uint32 {
	for {
		spi := binary.BigEndian.Uint32(c.random(4))
		if spi >= 256 && c.children[spi] == nil {
			return spi
		}
	}
}

// HandlePacket processes one IKE datagram (non-ESP marker stripped) that
// arrived from the peer address from on the local address to.
func (c *Core) HandlePacket(now time.Time, pkt []byte, from, to netip.AddrPort) {
	c.now = now
	c.handlePacket(now, pkt, from, to, nil)
	c.flush()
}

// handlePacketPre is HandlePacket with the DH work of an IKE_SA_INIT
// request already done (see PrecomputeInit).
func (c *Core) handlePacketPre(now time.Time, pkt []byte, from, to netip.AddrPort, pre *initPre) {
	c.now = now
	c.handlePacket(now, pkt, from, to, pre)
	c.flush()
}

func (c *Core) handlePacket(now time.Time, pkt []byte, from, to netip.AddrPort, pre *initPre) {
	m, err := parseHeader(pkt)
	if err != nil {
		c.count(nil, statMalformed)
		c.log.Debug("ike: dropped malformed packet", "from", from, "err", err)
		return
	}
	if m.Exchange == exIKESAInit && !m.Response && m.SPIr == 0 {
		c.respondInit(now, pkt, from, to, pre)
		return
	}
	ourSPI := m.SPIi
	if m.Initiator {
		ourSPI = m.SPIr
	}
	sa := c.sas[ourSPI]
	if sa == nil || sa.state == StateDead {
		c.count(nil, statUnknownSPI)
		c.log.Debug("ike: no IKE SA for packet", "from", from, "spi", fmt.Sprintf("%016x", ourSPI), "exchange", exchangeName(m.Exchange))
		c.answerInvalidSPI(now, m, len(pkt), from, to)
		return
	}
	if m.Initiator == sa.initiator {
		return // our own role's flag: reflected or bogus
	}
	c.mark(sa)
	if m.Exchange == exIKESAInit {
		if m.Response && sa.state == StateInitSent && sa.initiator {
			c.initReply(now, sa, pkt, from, to)
		}
		return
	}
	if sa.state == StateInitSent {
		return
	}
	if m.Response {
		if sa.pending == nil || m.MsgID != sa.pending.msgID {
			return
		}
	} else if m.MsgID+1 == sa.peerMsgID && sa.lastResp != nil {
		c.resendCached(now, sa, pkt)
		return
	} else if m.MsgID != sa.peerMsgID {
		return
	}
	full, complete, err := c.openSK(sa, pkt)
	if t, ok := unsupportedCritical(err); ok && !m.Response {
		// RFC 7296 §2.5: refuse a request with a critical payload we do
		// not know (it did authenticate: the SK payload opened).
		// Kept so a retransmission gets the same answer; of a fragmented
		// request this hashes the last fragment, not the first, so its
		// retransmission goes unanswered (rare, and then only costs the
		// peer a timeout).
		m.wireHash = sha256.Sum256(pkt)
		c.reply(sa, m, &message{Notifies: []notify{{Type: nUnsupportedCritical, Data: []byte{t}}}})
		return
	}
	if err != nil && m.Response && c.peerLostSA(now, sa, pkt) {
		return
	}
	if err != nil {
		c.count(sa.tun, statMalformed)
		c.log.Debug("ike: dropped undecryptable message", "peer", from, "err", err)
		return
	}
	if !complete {
		return // more fragments to come
	}
	sa.lastHeard = now
	sa.unproven = false
	c.updatePeerAddr(now, sa, from, to)
	if full.Response {
		c.countErrorNotifies(sa.tun, full)
		req := sa.pending
		sa.pending = nil
		req.onReply(now, full)
		c.pump(now, sa)
		return
	}
	if sa.state == StateAuthSent {
		// A request before the answer to our IKE_AUTH: the peer holds
		// the SA, we do not yet. Unanswered, it is retransmitted and
		// answered once we do; an answer now would tell the peer we
		// hold an SA we may never get (see dropDuplicate).
		return
	}
	c.count(sa.tun, exchangeStat(statReceived, full.Exchange))
	c.handleRequest(now, sa, full)
}

// updatePeerAddr follows the peer to the NAT-T port (RFC 7296 §2.23) while
// the SA is set up, and once it is established to a new address or port
// only as followPeer allows (IKE and ESP move together or not at all).
func (c *Core) updatePeerAddr(now time.Time, sa *ikeSA, from, to netip.AddrPort) {
	if from == sa.remote && to.Port() == sa.local.Port() {
		return
	}
	if sa.state == StateEstablished && !c.followPeer(now, sa, from) {
		return
	}
	if to.Port() == c.opt.NATTPort {
		sa.encap = true
	}
	sa.remote = from
	if to.Addr().IsValid() && !to.Addr().IsUnspecified() {
		sa.local = to
	} else {
		sa.local = netip.AddrPortFrom(sa.local.Addr(), to.Port())
	}
}

// followPeer moves an established IKE SA whose peer is behind a NAT to
// from, where an authenticated IKE message or ESP packet of the peer came
// from: the NAT changed its mapping (a timeout, a new public address), and
// RFC 7296 §2.23 has the side not behind it send everything to the address
// of the last valid authenticated packet. IKE goes there at once. The Child
// SAs are rekeyed, as the data plane's SAs keep the address they were
// installed with: their replacements go to from, and until the rekey's
// answer ESP still goes to the old mapping. The rekeys are due at once but
// start from the timer, after the message that moved the peer is handled
// (it may be the peer's own rekey, which then replaces the SA instead).
// Only a peer behind a NAT moves, and only while we are not behind one
// (§2.23); a configured peer address only changes its port ("peer any"
// may move anywhere); a move closer than minFollowInterval to the last is
// refused (the data plane reports again while the mismatch lasts). It
// reports whether the SA is at from now.
func (c *Core) followPeer(now time.Time, sa *ikeSA, from netip.AddrPort) bool {
	if from == sa.remote {
		return true
	}
	if sa.state != StateEstablished || !sa.natRemote || sa.natLocal || !from.Addr().IsValid() || (sa.encap && from.Port() == 0) {
		return false
	}
	if t := sa.tun; t == nil || (t.conf.Peer.IsValid() && from.Addr() != t.conf.Peer) {
		return false
	}
	if !sa.movedAt.IsZero() && now.Sub(sa.movedAt) < minFollowInterval {
		return false
	}
	c.log.Info("ike: peer's NAT mapping changed; following it", "tunnel", tunName(sa), "from", sa.remote, "to", from)
	c.count(sa.tun, statPeerMoved)
	sa.remote, sa.movedAt = from, now
	for _, ch := range sa.children {
		if ch.rekeying == nil && ch.replacedBy == nil && !ch.deleting {
			ch.rekeyAt = now
		}
	}
	c.mark(sa)
	return true
}

// minFollowInterval is the least time between two moves of one IKE SA to
// a peer's new NAT mapping: a peer whose packets alternate between two
// mappings (two uplinks) costs a Child SA rekey at most this often.
const minFollowInterval = 5 * time.Second

// handleRequest dispatches a decrypted request by exchange.
func (c *Core) handleRequest(now time.Time, sa *ikeSA, m *message) {
	switch m.Exchange {
	case exIKEAuth:
		if sa.state == StateHalfOpen {
			c.respondAuth(now, sa, m)
		}
	case exCreateChildSA:
		if sa.state == StateEstablished || sa.state == StateDeleting {
			c.respondCreateChild(now, sa, m)
		}
	case exInformational:
		c.respondInformational(now, sa, m)
	default:
		c.reply(sa, m, &message{})
	}
}

// reply sends the response to request m on sa and caches it for
// retransmitted requests.
func (c *Core) reply(sa *ikeSA, m *message, r *message) {
	r.Exchange, r.Response, r.MsgID = m.Exchange, true, m.MsgID
	r.SPIi, r.SPIr, r.Initiator = sa.spiI, sa.spiR, sa.initiator
	pkts, err := c.sealSK(sa, r)
	if err != nil {
		c.log.Error("ike: cannot encode reply", "peer", sa.remote, "err", err)
		return
	}
	c.countErrorNotifies(sa.tun, r)
	sa.peerMsgID = m.MsgID + 1
	sa.lastResp, sa.lastReq = pkts, m.wireHash
	c.resend(sa, pkts)
}

// resend transmits already encoded packets of sa.
func (c *Core) resend(sa *ikeSA, pkts [][]byte) {
	sa.lastSent = c.now
	for _, p := range pkts {
		if err := c.opt.Transport.Send(p, sa.local, sa.remote); err != nil {
			c.log.Debug("ike: send failed", "peer", sa.remote, "err", err)
		}
	}
}

// request queues an exchange we start on sa. build runs when the window is
// free and returns the request message; onReply handles the answer.
func (c *Core) request(now time.Time, sa *ikeSA, build func(now time.Time) *message, onReply func(now time.Time, m *message)) {
	start := func(now time.Time) {
		m := build(now)
		if m == nil {
			return
		}
		m.MsgID = sa.nextMsgID
		m.SPIi, m.SPIr, m.Initiator = sa.spiI, sa.spiR, sa.initiator
		pkts, err := c.sealSK(sa, m)
		if err != nil {
			c.log.Error("ike: cannot encode request", "peer", sa.remote, "err", err)
			return
		}
		sa.nextMsgID++
		c.count(sa.tun, exchangeStat(statSent, m.Exchange))
		sa.pending = &request{msgID: m.MsgID, packets: pkts, sentAt: now, next: now.Add(c.opt.RetransmitBase), onReply: onReply}
		if sa.tun != nil && sa.tun.pol.DPDInterval > 0 && !c.opt.DPDDisabled {
			// Any request is a liveness check, and while it is pending no
			// DPD probe can start: without this bound a peer that dies
			// (or reboots) during a rekey is found dead only after the
			// whole retransmission schedule, about 2 minutes.
			sa.pending.giveUpAt = now.Add(c.opt.DPDTimeout)
		}
		c.resend(sa, pkts)
	}
	sa.queue = append(sa.queue, start)
	c.mark(sa)
	c.pump(now, sa)
}

// pump starts the next queued exchange when no request is outstanding.
func (c *Core) pump(now time.Time, sa *ikeSA) {
	for sa.pending == nil && len(sa.queue) > 0 && sa.state != StateDead {
		next := sa.queue[0]
		sa.queue = sa.queue[1:]
		next(now)
	}
}

// retransmitSpan is how long the doubling schedule waits from a
// request's first transmission until it gives up, the sum of its delays:
// base * (2^(tries+1) - 1).
func (c *Core) retransmitSpan() time.Duration {
	return c.retransmitDelay(c.opt.RetransmitTries+1) - c.opt.RetransmitBase
}

// retransmitDelay is the exponential backoff: base * 2^tries.
func (c *Core) retransmitDelay(tries int) time.Duration {
	return time.Duration(float64(c.opt.RetransmitBase) * math.Pow(2, float64(tries)))
}

// HandleTimer runs everything due at now: retransmissions, rekeys,
// expiries, DPD, re-initiation.
func (c *Core) HandleTimer(now time.Time) {
	c.now = now
	c.runDue(now)
	for t := range c.retries {
		if t.ike != nil || !t.auto {
			delete(c.retries, t)
			continue
		}
		if !now.Before(t.retryAt) {
			delete(c.retries, t)
			t.retryAt = time.Time{}
			c.initiate(now, t)
		}
	}
	c.flush()
}

func (c *Core) sasSnapshot() []*ikeSA {
	out := make([]*ikeSA, 0, len(c.sas))
	for _, sa := range c.sas {
		out = append(out, sa)
	}
	return out
}

func (c *Core) saTimers(now time.Time, sa *ikeSA) {
	if sa.state == StateDead {
		return
	}
	if r := sa.pending; r != nil && !now.Before(r.next) {
		bounded := !r.giveUpAt.IsZero()
		if r.tries >= c.opt.RetransmitTries || (bounded && !now.Before(r.giveUpAt)) {
			if !r.refused {
				c.log.Info("ike: peer not responding, giving up", "peer", sa.remote, "tunnel", tunName(sa))
				c.count(sa.tun, statTimeout)
			}
			sa.pending = nil
			if r.onFail != nil {
				r.onFail(now)
			} else {
				c.failSA(now, sa, "peer not responding")
			}
			return
		}
		r.tries++
		delay := c.retransmitDelay(r.tries)
		if bounded {
			// Spread the tries over the DPD timeout rather than spend
			// them in its first half; but after the last one wait as
			// long as the doubling schedule would have (up to the
			// timeout), or the spreading would declare the peer dead
			// sooner than before.
			delay = min(delay, c.opt.DPDTimeout/time.Duration(c.opt.RetransmitTries))
			if r.tries >= c.opt.RetransmitTries {
				delay = r.sentAt.Add(c.retransmitSpan()).Sub(now)
			}
		}
		r.next = now.Add(delay)
		if bounded && r.giveUpAt.Before(r.next) {
			r.next = r.giveUpAt
		}
		c.count(sa.tun, statRetransmits)
		c.resend(sa, r.packets)
	}
	// At the instant saNext schedules too: with '>' a timer firing exactly
	// then did nothing and stayed due, and the timer loop spun.
	if sa.state == StateHalfOpen && !now.Before(sa.created.Add(c.opt.HalfOpenTimeout)) {
		c.removeSA(now, sa)
		return
	}
	if !sa.deleteAt.IsZero() && !now.Before(sa.deleteAt) {
		c.removeSA(now, sa)
		return
	}
	if sa.state != StateEstablished {
		return
	}
	if !sa.expireAt.IsZero() && !now.Before(sa.expireAt) {
		c.log.Info("ike: IKE SA expired", "peer", sa.remote, "tunnel", tunName(sa))
		c.deleteIKE(now, sa)
		return
	}
	if !sa.dupCheckAt.IsZero() && !now.Before(sa.dupCheckAt) {
		sa.dupCheckAt = time.Time{}
		c.resolveDuplicate(now, sa, false)
		if sa.state != StateEstablished {
			return
		}
	}
	if !sa.rekeyAt.IsZero() && !now.Before(sa.rekeyAt) && sa.rekeying == nil && sa.replacedBy == nil {
		sa.rekeyAt = time.Time{}
		c.startIKERekey(now, sa)
	}
	if !sa.recreateAt.IsZero() && !now.Before(sa.recreateAt) {
		sa.recreateAt = time.Time{}
		c.startChildCreate(now, sa)
	}
	for _, ch := range append([]*childSA(nil), sa.children...) {
		c.childTimers(now, sa, ch)
	}
	if sa.tun != nil && sa.tun.pol.DPDInterval > 0 && !c.opt.DPDDisabled && sa.pending == nil && len(sa.queue) == 0 &&
		now.Sub(sa.lastHeard) >= sa.tun.pol.DPDInterval {
		c.startDPD(now, sa)
	}
	if iv := c.keepaliveInterval(sa); iv > 0 && now.Sub(sa.lastSent) >= iv {
		// RFC 3948 §2.3: one 0xFF byte keeps the NAT mapping open.
		sa.lastSent = now
		if ks, ok := c.opt.Transport.(NATKeepaliveSender); ok {
			if err := ks.SendNATKeepalive(sa.local, sa.remote); err != nil {
				c.log.Debug("ike: NAT keepalive", "peer", sa.remote, "err", err)
			}
		}
	}
}

// defaultNATKeepalive is the NAT-T keepalive interval when the tunnel
// sets no "ikev2 nat-traversal keepalive".
const defaultNATKeepalive = 20 * time.Second

// keepaliveInterval is how often sa sends NAT keepalives: when we are
// behind a NAT (or the tunnel forces them) on the NAT-T port; 0: never.
func (c *Core) keepaliveInterval(sa *ikeSA) time.Duration {
	if sa.state != StateEstablished || !sa.encap || sa.tun == nil || sa.replacedBy != nil {
		return 0
	}
	if !sa.natLocal && !sa.tun.conf.NATKeepaliveForce {
		return 0
	}
	if sa.tun.conf.NATKeepalive > 0 {
		return sa.tun.conf.NATKeepalive
	}
	return defaultNATKeepalive
}

// peerStillOn reports whether ch, replaced by a rekey the peer started,
// is what the peer still sends on: packets arrived on ch since the last
// look, and none on its successor. Idle tunnels show neither.
func (c *Core) peerStillOn(ch *childSA) bool {
	old, _ := c.opt.DataPlane.Counters(ch.inSPI, true)
	seen := ch.inSeen
	ch.inSeen = old.Packets
	if old.Packets == seen {
		return false
	}
	nw, _ := c.opt.DataPlane.Counters(ch.replacedBy.inSPI, true)
	return nw.Packets == 0
}

func (c *Core) childTimers(now time.Time, sa *ikeSA, ch *childSA) {
	if !ch.deleteAt.IsZero() && !now.Before(ch.deleteAt) {
		c.uninstallChild(ch)
		return
	}
	if !ch.deleting && ch.replacedBy != nil && !ch.retireAt.IsZero() && !now.Before(ch.retireAt) {
		if c.peerStillOn(ch) && now.Before(ch.expireAt) {
			// The peer has not moved to the new SA: it may still be
			// retransmitting the request whose answer it lacks.
			ch.retireAt = now.Add(orphanTimeout)
			return
		}
		c.log.Info("ike: peer rekeyed a Child SA but never deleted the old one; deleting it", "tunnel", tunName(sa))
		ch.retireAt = time.Time{}
		c.switchOutbound(ch.replacedBy)
		c.startChildDelete(now, sa, ch)
		return
	}
	if ch.deleting || ch.replacedBy != nil {
		return
	}
	if !ch.expireAt.IsZero() && !now.Before(ch.expireAt) {
		c.startChildDelete(now, sa, ch)
		return
	}
	if !ch.rekeyAt.IsZero() && !now.Before(ch.rekeyAt) && ch.rekeying == nil {
		ch.rekeyAt = time.Time{}
		c.startChildRekey(now, sa, ch)
	}
}

// NextTimer returns when HandleTimer next has work (zero: nothing pending).
func (c *Core) NextTimer() time.Time {
	c.flush()
	next := c.nextDue()
	for t := range c.retries {
		if !t.retryAt.IsZero() && (next.IsZero() || t.retryAt.Before(next)) {
			next = t.retryAt
		}
	}
	return next
}

// rekeyTime returns when to rekey an SA of lifetime lt created at now:
// before expiry by the rekey margin plus jitter, so both ends rarely start
// at once.
func (c *Core) rekeyTime(now time.Time, lt time.Duration) time.Time {
	margin := float64(lt) * c.opt.RekeyMargin
	jitter := mrand.Float64() * margin / 2
	return now.Add(lt - time.Duration(margin+jitter))
}

// rekeyRetryDelay is the longest wait before a refused or failed rekey
// is tried again. Near expiry the wait shrinks, but its upper bound not
// below rekeyRetryMin, so waits are at least half of that and a peer that
// keeps refusing in an SA's last seconds is asked at most twice a second.
const (
	rekeyRetryDelay = 10 * time.Second
	rekeyRetryMin   = time.Second
)

// rekeyRetryTime returns when to try again a rekey of an SA that expires
// at expireAt, after the peer refused it (mostly TEMPORARY_FAILURE: an
// exchange of its own was in flight) or its answer was unusable. The wait
// is random between half and all of rekeyRetryDelay, so two ends that
// refused each other do not try again in step; and it is at most a third
// of the time left, so an SA whose rekey margin is shorter than
// rekeyRetryDelay (a lifetime of a minute leaves 6 to 9 s) still gets its
// tries before it expires instead of going down and being set up anew.
// Below rekeyRetryMin the third is not cut further.
func (c *Core) rekeyRetryTime(now, expireAt time.Time) time.Time {
	wait := rekeyRetryDelay
	if !expireAt.IsZero() {
		wait = min(wait, max(expireAt.Sub(now)/3, rekeyRetryMin))
	}
	return now.Add(wait/2 + mrand.N(wait/2+1))
}

// failSA tears down an SA that failed or whose peer died and schedules
// re-initiation for connect-type auto tunnels.
func (c *Core) failSA(now time.Time, sa *ikeSA, reason string) {
	t := sa.tun
	c.removeSA(now, sa)
	if t != nil && t.ike == nil {
		c.scheduleRetry(now, t, reason)
	}
}

// stableUp is how long an IKE SA must have been up for its loss to
// count as the end of a success rather than one more failed attempt.
const stableUp = 10 * time.Second

// scheduleRetry plans t's next IKE_SA_INIT after its IKE SA failed or went
// away. When an SA that had been up a while is lost (the peer deleted it,
// restarted, or we cleared it), every second without one is lost traffic,
// so the first attempt goes at once. Attempts that then fail wait
// RetryBase, doubling up to RetryMax, so a peer that refuses or is gone
// is not hammered. The backoff starts over only after an SA stayed up for
// stableUp: a peer that deletes every new SA at once would otherwise
// have us set up SAs in a tight loop.
func (c *Core) scheduleRetry(now time.Time, t *tunnel, reason string) {
	lost := !t.upSince.IsZero() && now.Sub(t.upSince) >= stableUp
	t.upSince = time.Time{}
	if !t.auto {
		return
	}
	var wait time.Duration
	switch {
	case lost:
		t.backoff = 0
	case t.backoff == 0:
		t.backoff = c.opt.RetryBase
		wait = t.backoff
	default:
		t.backoff = min(2*t.backoff, c.opt.RetryMax)
		wait = t.backoff
	}
	t.retryAt = now.Add(wait)
	c.retries[t] = true
	c.log.Info("ike: will re-initiate", "tunnel", t.name, "in", wait, "reason", reason)
}

// removeSA deletes an IKE SA and its Child SAs locally (no message).
func (c *Core) removeSA(now time.Time, sa *ikeSA) {
	if sa.state == StateDead {
		return
	}
	sa.state = StateDead
	// The tunnel moves to its successor first, so that uninstalling the
	// children below moves the tunnel's traffic onto the successor's.
	if t := sa.tun; t != nil && t.ike == sa {
		t.ike = c.successor(sa)
	}
	for _, ch := range sa.children {
		c.uninstallChild(ch)
	}
	sa.children = nil
	delete(c.sas, sa.localSPI())
	c.leaveHalfOpen(sa)
	c.leaveIndex(sa)
}

// joinTunnel makes t sa's tunnel and indexes it (sasOf).
func (c *Core) joinTunnel(sa *ikeSA, t *tunnel) {
	sa.tun = t
	if t == nil || sa.indexed == t.name {
		return
	}
	c.leaveIndex(sa)
	sa.indexed = t.name
	set := c.tunSAs[t.name]
	if set == nil {
		set = map[*ikeSA]bool{}
		c.tunSAs[t.name] = set
	}
	set[sa] = true
}

// leaveIndex takes sa out of tunSAs.
func (c *Core) leaveIndex(sa *ikeSA) {
	if set := c.tunSAs[sa.indexed]; set != nil {
		delete(set, sa)
		if len(set) == 0 {
			delete(c.tunSAs, sa.indexed)
		}
	}
	sa.indexed = ""
}

// successor is the IKE SA that takes over sa's tunnel when sa goes: the
// SA that replaced it, or else another established SA with the same peer
// (the duplicate that the peer kept when it deleted sa).
func (c *Core) successor(sa *ikeSA) *ikeSA {
	if sa.replacedBy != nil {
		if sa.replacedBy.state == StateDead {
			return nil
		}
		return sa.replacedBy
	}
	for _, o := range c.peerSAs(sa) {
		if o.state == StateEstablished && o.replacedBy == nil {
			return o
		}
	}
	return nil
}

// uninstallChild removes both directions of a Child SA from the data plane.
func (c *Core) uninstallChild(ch *childSA) {
	if ch.installed {
		ch.installed = false
		// A direction the data plane refused was never ours: the SA
		// under its SPI may be another tunnel's.
		if !ch.inFailed {
			if err := c.opt.DataPlane.DeleteSA(ch.inSPI, true); err != nil {
				c.log.Debug("ike: data plane delete", "spi", fmt.Sprintf("%08x", ch.inSPI), "err", err)
			}
		}
		if !ch.outFailed {
			if err := c.opt.DataPlane.DeleteSA(ch.outSPI, false); err != nil {
				c.log.Debug("ike: data plane delete", "spi", fmt.Sprintf("%08x", ch.outSPI), "err", err)
			}
		}
	}
	delete(c.children, ch.inSPI)
	sa := ch.ike
	if sa == nil {
		return
	}
	for i, x := range sa.children {
		if x == ch {
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			break
		}
	}
	if sa.tun != nil && ch.outbound() {
		sa.tun.outSet = false
	}
	if sa.tun != nil && !sa.tun.outSet && sa.tun.ike != nil {
		// Traffic must not be left on a deleted SA: fall back to the
		// newest live Child SA of the tunnel's IKE SA.
		kids := sa.tun.ike.children
		for i := len(kids) - 1; i >= 0; i-- {
			if k := kids[i]; k != ch && k.installed && !k.deleting && k.replacedBy == nil {
				c.switchOutbound(k)
				break
			}
		}
	}
}

func tunName(sa *ikeSA) string {
	if sa.tun == nil {
		return ""
	}
	return sa.tun.name
}

// cookieFor computes the stateless COOKIE (RFC 7296 §2.6) for an initiator.
func (c *Core) cookieFor(nonce []byte, peer netip.Addr, spiI uint64) []byte {
	h := hmac.New(sha256.New, c.secret[:])
	h.Write(nonce)
	h.Write(peer.AsSlice())
	h.Write(be64(spiI))
	return append([]byte{0}, h.Sum(nil)[:16]...)
}

var errNoTunnel = errors.New("no configured tunnel matches the peer")
