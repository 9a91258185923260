package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"
)

// RouteInstaller puts learned best paths into the kernel. tun.Manager
// implements it: it resolves the next hop to the link it is reached through
// (172.16.0.6 -> Tunnel0.0) and installs device routes out of it.
type RouteInstaller interface {
	// InstallRoutes installs (or replaces) routes for prefixes that share nextHop.
	InstallRoutes(nextHop netip.Addr, prefixes []netip.Prefix) error
	// RemoveRoutes removes the routes for prefixes.
	RemoveRoutes(prefixes []netip.Prefix) error
}

// Options configure a Server.
type Options struct {
	Log       *slog.Logger   // nil: slog.Default()
	Installer RouteInstaller // nil: learned routes stay out of the kernel
	// ListenPort is the TCP port for incoming sessions: 0 means 179 (Azure
	// opens the session too, so soft-ix must accept it), -1 not to listen.
	ListenPort int
}

// Server is the embedded BGP speaker of soft-ix.
type Server struct {
	log        *slog.Logger
	inst       RouteInstaller
	listenPort int32
	peerPort   uint16 // port neighbors listen on; 0 is 179 (tests change it)
	newSpeaker func() speaker

	mu      sync.Mutex // guards sp, cur, cancel
	sp      speaker
	cur     settings
	cancel  context.CancelFunc
	running bool

	rmu     sync.Mutex // guards learned, version and gen; held while calling inst
	learned map[netip.Prefix]learnedRoute
	version uint64
	gen     uint64 // bumped by start and stop, so a stopped speaker's late events are dropped
}

// learnedRoute is a best path soft-ix has handed to the installer.
type learnedRoute struct {
	nextHop netip.Addr
	peer    netip.Addr
}

// New returns a Server that is not running yet.
func New(opts Options) *Server {
	s := &Server{
		log:        opts.Log,
		inst:       opts.Installer,
		listenPort: int32(opts.ListenPort),
		learned:    map[netip.Prefix]learnedRoute{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.listenPort == 0 {
		s.listenPort = 179
	}
	s.newSpeaker = reusedSpeaker(s.log)
	return s
}

// Start runs the speaker with c. The neighbors' local addresses must
// already be on their links (tun.Manager.Apply first).
func (s *Server) Start(c Config) error {
	set, err := s.settings(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return errors.New("bgp: already running")
	}
	return s.startLocked(set)
}

func (s *Server) settings(c Config) (settings, error) {
	set, err := settingsFrom(c, s.listenPort)
	if err != nil {
		return settings{}, err
	}
	for a, p := range set.peers {
		p.RemotePort = s.peerPort
		set.peers[a] = p
	}
	return set, nil
}

func (s *Server) startLocked(set settings) error {
	ctx := context.Background()
	sp := s.newSpeaker()
	if err := sp.start(ctx, set.global); err != nil {
		sp.stop()
		return fmt.Errorf("bgp: start AS %d router-id %s: %w", set.global.ASN, set.global.RouterID, err)
	}
	s.rmu.Lock()
	s.gen++
	gen := s.gen
	s.rmu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	onPaths := func(b []bestPath) { s.handlePaths(gen, b) }
	onPeer := func(ev peerEvent) { s.handlePeer(gen, ev) }
	if err := sp.watch(wctx, onPaths, onPeer); err != nil {
		cancel()
		sp.stop()
		return fmt.Errorf("bgp: watch best paths: %w", err)
	}
	s.sp, s.cur, s.cancel, s.running = sp, settings{global: set.global, peers: map[netip.Addr]peerConf{}}, cancel, true
	s.log.Info("bgp: started", "as", set.global.ASN, "router_id", set.global.RouterID, "listen_port", set.global.ListenPort)
	return s.applyLocked(set)
}

// applyLocked brings neighbors and networks from s.cur to set, leaving
// unchanged neighbors alone.
func (s *Server) applyLocked(set settings) error {
	ctx := context.Background()
	var errs []error
	// Route-maps go in before new neighbors, so their first routes are
	// already filtered; a change re-applies them to existing sessions.
	if !reflect.DeepEqual(set.policy, s.cur.policy) && !(set.policy.empty() && s.cur.policy.empty()) {
		if err := s.sp.setPolicy(ctx, set.policy); err != nil {
			errs = append(errs, fmt.Errorf("bgp: route-maps: %w", err))
		} else {
			s.log.Info("bgp: route-maps applied", "in", len(set.policy.in), "out", len(set.policy.out))
		}
	}
	for addr, old := range s.cur.peers {
		if p, ok := set.peers[addr]; ok && p == old {
			continue
		}
		if err := s.sp.deletePeer(ctx, addr); err != nil {
			errs = append(errs, fmt.Errorf("bgp: delete neighbor %s: %w", addr, err))
		}
		s.forgetPeer(addr)
		s.log.Info("bgp: neighbor removed", "neighbor", addr)
	}
	for addr, p := range set.peers {
		if old, ok := s.cur.peers[addr]; ok && p == old {
			continue
		}
		if err := s.sp.addPeer(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("bgp: add neighbor %s: %w", addr, err))
			delete(set.peers, addr)
			continue
		}
		s.log.Info("bgp: neighbor added", "neighbor", addr, "remote_as", p.RemoteAS,
			"local_address", p.LocalAddr, "multihop_ttl", p.MultihopTTL, "hold", p.Hold, "keepalive", p.Keepalive)
	}
	for _, n := range s.cur.networks {
		if !slices.Contains(set.networks, n) {
			if err := s.sp.deleteNetwork(ctx, n); err != nil {
				errs = append(errs, fmt.Errorf("bgp: withdraw network %s: %w", n, err))
			}
		}
	}
	var nets []netip.Prefix
	for _, n := range set.networks {
		if slices.Contains(s.cur.networks, n) {
			nets = append(nets, n)
			continue
		}
		if err := s.sp.addNetwork(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("bgp: network %s: %w", n, err))
			continue
		}
		nets = append(nets, n)
	}
	set.networks = nets
	if len(nets) > AzureMaxPrefixes {
		s.log.Warn("bgp: more networks than Azure VPN Gateway accepts from on-premises; Azure will drop the session",
			"networks", len(nets), "azure_limit", AzureMaxPrefixes)
	}
	s.cur = set
	return errors.Join(errs...)
}

// Reload applies a new configuration, starting the speaker if it is not
// running. Neighbors whose settings did not change keep their sessions; a
// new AS number or router ID restarts the speaker. (Stop is for a
// configuration without BGP.)
func (s *Server) Reload(c Config) error {
	set, err := s.settings(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return s.startLocked(set)
	}
	if set.global != s.cur.global {
		s.log.Info("bgp: AS or router-id changed, restarting", "as", set.global.ASN, "router_id", set.global.RouterID)
		s.stopLocked()
		return s.startLocked(set)
	}
	return s.applyLocked(set)
}

// Stop closes all sessions and removes every route the server installed.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if !s.running {
		return
	}
	s.cancel()
	s.sp.stop()
	s.running = false
	s.cur = settings{}
	s.rmu.Lock()
	s.gen++
	var all []netip.Prefix
	for p := range s.learned {
		all = append(all, p)
	}
	clear(s.learned)
	s.rmu.Unlock()
	s.remove(all)
	s.log.Info("bgp: stopped", "routes_removed", len(all))
}

// handlePaths turns a batch of best-path changes into kernel route changes:
// one InstallRoutes call per next hop and one RemoveRoutes call.
func (s *Server) handlePaths(gen uint64, batch []bestPath) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if gen != s.gen {
		return
	}
	// Like the IX table version, count every best-path change, the
	// router's own networks included.
	s.version += uint64(len(batch))
	before := map[netip.Prefix]*learnedRoute{}
	for _, b := range batch {
		if _, ok := before[b.Prefix]; !ok {
			if old, had := s.learned[b.Prefix]; had {
				before[b.Prefix] = &old
			} else {
				before[b.Prefix] = nil
			}
		}
		// A withdrawn best path, or one this router originates, means no
		// kernel route; so does a path without a usable next hop.
		if b.Withdraw || !b.Peer.IsValid() || !b.NextHop.IsValid() || b.NextHop.IsUnspecified() {
			delete(s.learned, b.Prefix)
			continue
		}
		s.learned[b.Prefix] = learnedRoute{nextHop: b.NextHop, peer: b.Peer}
	}
	install := map[netip.Addr][]netip.Prefix{}
	var remove []netip.Prefix
	for p, old := range before {
		now, has := s.learned[p]
		switch {
		case has && (old == nil || *old != now):
			install[now.nextHop] = append(install[now.nextHop], p)
		case !has && old != nil:
			remove = append(remove, p)
		}
	}
	if len(install) == 0 && len(remove) == 0 {
		return
	}
	s.removeLocked(remove)
	if s.inst == nil {
		return
	}
	for nh, ps := range install {
		if err := s.inst.InstallRoutes(nh, ps); err != nil {
			s.log.Warn("bgp: install routes", "next_hop", nh, "count", len(ps), "err", err)
		}
	}
}

func (s *Server) handlePeer(gen uint64, ev peerEvent) {
	s.rmu.Lock()
	current := gen == s.gen
	s.rmu.Unlock()
	if !current {
		return
	}
	s.log.Info("bgp: neighbor state", "neighbor", ev.Addr, "state", ev.State)
	if !ev.Established {
		s.forgetPeer(ev.Addr)
	}
}

// forgetPeer removes the routes learned from a neighbor whose session
// ended. GoBGP withdraws them as well; this makes sure none is left.
func (s *Server) forgetPeer(addr netip.Addr) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	var gone []netip.Prefix
	for p, l := range s.learned {
		if l.peer == addr {
			gone = append(gone, p)
			delete(s.learned, p)
		}
	}
	if len(gone) > 0 {
		s.version += uint64(len(gone))
		s.log.Info("bgp: routes of neighbor removed", "neighbor", addr, "count", len(gone))
	}
	s.removeLocked(gone)
}

func (s *Server) remove(ps []netip.Prefix) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.removeLocked(ps)
}

func (s *Server) removeLocked(ps []netip.Prefix) {
	if len(ps) == 0 || s.inst == nil {
		return
	}
	if err := s.inst.RemoveRoutes(ps); err != nil {
		s.log.Warn("bgp: remove routes", "count", len(ps), "err", err)
	}
}

// Summary is the data of "show ip bgp summary".
type Summary struct {
	RouterID      netip.Addr
	LocalAS       uint32
	ASPathEntries int // distinct AS paths in the table
	Neighbors     []NeighborSummary
}

// NeighborSummary is one line of "show ip bgp summary".
type NeighborSummary struct {
	Addr     netip.Addr
	Version  int // BGP version, 4
	RemoteAS uint32
	MsgRcvd  uint64
	MsgSent  uint64
	UpDown   time.Duration // time in the current state (Up/DownTime); 0 if never up
	State    string        // IDLE, CONNECT, ACTIVE, OPENSENT, OPENCONFIRM, ESTABLISHED

	// The rest is for "show ip bgp neighbors".
	LocalAS     uint32
	Description string
	RouterID    netip.Addr // the neighbor's BGP identifier; invalid before its first OPEN
	// HoldTime and Keepalive are in force: negotiated while the session
	// is up, else as configured (ConfHoldTime, ConfKeepalive).
	HoldTime, Keepalive         time.Duration
	ConfHoldTime, ConfKeepalive time.Duration
	Sent, Rcvd                  MessageCounts
	LocalAddr                   netip.Addr // our end of the session's TCP connection; invalid while down
	// Prefixes the neighbor sent, those its inbound route-map let in, and
	// those sent to it.
	PrefixesReceived, PrefixesAccepted, PrefixesAdvertised uint64
	Drops                                                  uint32 // times the session left Established
}

// MessageCounts counts one direction's BGP messages by type.
type MessageCounts struct {
	Open, Update, Notification, Keepalive, RouteRefresh, Total uint64
}

// RouteTable is the data of "show ip bgp neighbors A routes|advertised-routes".
type RouteTable struct {
	TableVersion uint64 // counts best-path changes (own networks included), as the IX table version does
	RouterID     netip.Addr
	LocalAS      uint32
	Routes       []Route
}

// Route is one line of a "show ip bgp neighbors" table.
type Route struct {
	Prefix    netip.Prefix
	NextHop   netip.Addr
	MED       *uint32 // Metric; nil when absent
	LocalPref *uint32 // LocPrf; nil when absent
	ASPath    []uint32
	Origin    string // "i", "e" or "?"
	Valid     bool   // "*"
	Best      bool   // ">"
}

var errNotRunning = errors.New("bgp: not running")

// Summary reports the router and its neighbors, sorted by address.
func (s *Server) Summary(ctx context.Context) (Summary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return Summary{}, errNotRunning
	}
	ns, err := s.sp.neighbors(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("bgp: list neighbors: %w", err)
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].Addr.Less(ns[j].Addr) })
	n, err := s.sp.globalASPaths(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("bgp: list table: %w", err)
	}
	return Summary{RouterID: s.cur.global.RouterID, LocalAS: s.cur.global.ASN, ASPathEntries: n, Neighbors: ns}, nil
}

// Reset is how "clear ip bgp" resets a session.
type Reset int

const (
	// ResetHard closes the session with a NOTIFICATION (Cease,
	// administrative reset); it comes up again as configured, and the
	// routes learned on it are withdrawn meanwhile.
	ResetHard Reset = iota
	// ResetSoftIn applies the inbound route-maps again to the routes the
	// neighbor sent, which are kept as received: the session stays up.
	ResetSoftIn
	// ResetSoftOut sends the neighbor its routes again, through the
	// outbound route-maps: the session stays up.
	ResetSoftOut
	// ResetSoft is ResetSoftIn and ResetSoftOut.
	ResetSoft
)

// Clear resets the session with neighbor, or with every neighbor when
// neighbor is invalid ("clear ip bgp *"), and returns how many it reset.
// A neighbor that is not configured is an error.
func (s *Server) Clear(ctx context.Context, neighbor netip.Addr, how Reset) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return 0, errNotRunning
	}
	ns, err := s.sp.neighbors(ctx)
	if err != nil {
		return 0, fmt.Errorf("bgp: list neighbors: %w", err)
	}
	n := len(ns)
	if neighbor.IsValid() {
		if !slices.ContainsFunc(ns, func(x NeighborSummary) bool { return x.Addr == neighbor }) {
			return 0, fmt.Errorf("bgp: neighbor %s is not configured", neighbor)
		}
		n = 1
	}
	if n == 0 {
		return 0, nil
	}
	if err := s.sp.reset(ctx, neighbor, how); err != nil {
		return 0, fmt.Errorf("bgp: reset: %w", err)
	}
	return n, nil
}

// NeighborRoutes lists the routes received from a neighbor.
func (s *Server) NeighborRoutes(ctx context.Context, neighbor netip.Addr) (RouteTable, error) {
	return s.table(ctx, neighbor, false)
}

// AdvertisedRoutes lists the routes sent to a neighbor. As on the IX the
// AS path is shown as in the local table, without the local AS that is
// prepended on the wire.
func (s *Server) AdvertisedRoutes(ctx context.Context, neighbor netip.Addr) (RouteTable, error) {
	return s.table(ctx, neighbor, true)
}

// Table lists every path of the local table ("show ip bgp"): what each
// neighbor sent, after its inbound route-map, and the router's own
// networks; best marks the path in use.
func (s *Server) Table(ctx context.Context) (RouteTable, error) {
	return s.table(ctx, netip.Addr{}, false)
}

func (s *Server) table(ctx context.Context, neighbor netip.Addr, advertised bool) (RouteTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return RouteTable{}, errNotRunning
	}
	if _, ok := s.cur.peers[neighbor]; !ok && neighbor.IsValid() {
		return RouteTable{}, fmt.Errorf("bgp: no neighbor %s", neighbor)
	}
	rs, err := s.sp.routes(ctx, neighbor, advertised)
	if err != nil {
		return RouteTable{}, fmt.Errorf("bgp: routes of %s: %w", neighbor, err)
	}
	if advertised {
		for i := range rs {
			if len(rs[i].ASPath) > 0 && rs[i].ASPath[0] == s.cur.global.ASN {
				rs[i].ASPath = rs[i].ASPath[1:]
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if c := rs[i].Prefix.Addr().Compare(rs[j].Prefix.Addr()); c != 0 {
			return c < 0
		}
		return rs[i].Prefix.Bits() < rs[j].Prefix.Bits()
	})
	s.rmu.Lock()
	v := s.version
	if !advertised && neighbor.IsValid() {
		// A received route is best when it is the one handed to the
		// kernel (the kernel's view is what "show ip route" shows too).
		for i := range rs {
			l, ok := s.learned[rs[i].Prefix]
			rs[i].Best = ok && l.peer == neighbor && l.nextHop == rs[i].NextHop
		}
	}
	s.rmu.Unlock()
	return RouteTable{TableVersion: v, RouterID: s.cur.global.RouterID, LocalAS: s.cur.global.ASN, Routes: rs}, nil
}

// LearnedRoutes returns how many learned routes are handed to the kernel.
func (s *Server) LearnedRoutes() int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return len(s.learned)
}
