package bgp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

var (
	mp = netip.MustParsePrefix
	ma = netip.MustParseAddr
)

// seedConfig is ../shared/seed/ix-bgp.conf as the parser would load it.
func seedConfig() *config.Config {
	return &config.Config{
		Interfaces: []*config.Interface{
			{Name: "Tunnel0.0", Kind: config.KindTunnel, Address: mp("169.254.0.1/30")},
			{Name: "Loopback0.0", Kind: config.KindLoopback, Address: mp("10.2.2.2/32")},
		},
		Routes: []*config.Route{{Prefix: mp("172.16.0.6/32"), Interface: "Tunnel0.0"}},
		BGP: &config.BGP{
			ASN: 65050,
			Neighbors: []*config.Neighbor{{
				Addr: ma("172.16.0.6"), RemoteAS: 65010, UpdateSource: "Loopback0.0",
			}},
			Networks: []netip.Prefix{mp("192.168.2.0/24")},
		},
	}
}

func TestSettingsFromSeed(t *testing.T) {
	set, err := settingsFrom(seedConfig(), 179)
	if err != nil {
		t.Fatal(err)
	}
	if want := (globalConf{ASN: 65050, RouterID: ma("10.2.2.2"), ListenPort: 179}); set.global != want {
		t.Errorf("global = %+v, want %+v", set.global, want)
	}
	want := peerConf{
		Addr: ma("172.16.0.6"), RemoteAS: 65010, LocalAddr: ma("10.2.2.2"),
		Keepalive: 60 * time.Second, Hold: 180 * time.Second, MultihopTTL: 255,
	}
	if got := set.peers[ma("172.16.0.6")]; got != want {
		t.Errorf("peer = %+v, want %+v", got, want)
	}
	if !slices.Equal(set.networks, []netip.Prefix{mp("192.168.2.0/24")}) {
		t.Errorf("networks = %v", set.networks)
	}
}

func TestSettingsNeighborVariants(t *testing.T) {
	cfg := seedConfig()
	n := cfg.BGP.Neighbors[0]
	n.UpdateSource = ""
	n.Keepalive, n.Hold = 10*time.Second, 30*time.Second
	set, err := settingsFrom(cfg, 179)
	if err != nil {
		t.Fatal(err)
	}
	p := set.peers[n.Addr]
	if p.MultihopTTL != 0 || p.LocalAddr.IsValid() || p.Keepalive != 10*time.Second || p.Hold != 30*time.Second {
		t.Errorf("directly connected neighbor: %+v", p)
	}
	n.EBGPMultihop = 2
	set, _ = settingsFrom(cfg, 179)
	if got := set.peers[n.Addr].MultihopTTL; got != 2 {
		t.Errorf("ebgp-multihop 2: TTL %d", got)
	}
	n.EBGPMultihop, n.RemoteAS, n.UpdateSource = 0, 65050, "Loopback0.0"
	set, _ = settingsFrom(cfg, 179)
	if got := set.peers[n.Addr].MultihopTTL; got != 0 {
		t.Errorf("iBGP neighbor got multihop TTL %d", got)
	}
	n.UpdateSource = "Loopback9.0"
	if _, err := settingsFrom(cfg, 179); err == nil || !strings.Contains(err.Error(), "Loopback9.0") {
		t.Errorf("unknown update-source: err = %v", err)
	}
}

func TestRouterID(t *testing.T) {
	cfg := &config.Config{Interfaces: []*config.Interface{
		{Name: "GigaEthernet0.0", Kind: config.KindGigaEthernet, Address: mp("203.0.113.94/24")},
		{Name: "GigaEthernet1.0", Kind: config.KindGigaEthernet, Address: mp("192.168.2.1/24")},
	}, BGP: &config.BGP{ASN: 65050}}
	if id, _ := RouterID(cfg); id != ma("203.0.113.94") {
		t.Errorf("highest interface address: %s", id)
	}
	cfg.Interfaces = append(cfg.Interfaces,
		&config.Interface{Name: "Loopback0.0", Kind: config.KindLoopback, Address: mp("10.2.2.2/32")},
		&config.Interface{Name: "Loopback1.0", Kind: config.KindLoopback, Address: mp("10.1.1.1/32")})
	if id, _ := RouterID(cfg); id != ma("10.2.2.2") {
		t.Errorf("highest loopback: %s", id)
	}
	cfg.BGP.RouterID = ma("1.1.1.1")
	if id, _ := RouterID(cfg); id != ma("1.1.1.1") {
		t.Errorf("explicit: %s", id)
	}
	if _, err := RouterID(&config.Config{BGP: &config.BGP{ASN: 1}}); err == nil {
		t.Error("no address: want error")
	}
}

func TestAPIPeer(t *testing.T) {
	p := apiPeer(peerConf{
		Addr: ma("172.16.0.6"), RemoteAS: 65010, LocalAddr: ma("10.2.2.2"),
		Keepalive: 60 * time.Second, Hold: 180 * time.Second, MultihopTTL: 255,
	})
	if p.Conf.NeighborAddress != "172.16.0.6" || p.Conf.PeerAsn != 65010 {
		t.Errorf("conf = %v", p.Conf)
	}
	if p.Transport.LocalAddress != "10.2.2.2" || p.Transport.PassiveMode {
		t.Errorf("transport = %v (must be active, from 10.2.2.2)", p.Transport)
	}
	if p.Timers.Config.HoldTime != 180 || p.Timers.Config.KeepaliveInterval != 60 {
		t.Errorf("timers = %v", p.Timers.Config)
	}
	if !p.EbgpMultihop.GetEnabled() || p.EbgpMultihop.MultihopTtl != 255 {
		t.Errorf("multihop = %v", p.EbgpMultihop)
	}
	if len(p.AfiSafis) != 1 || p.AfiSafis[0].Config.Family.Afi != ipv4Unicast.Afi || !p.AfiSafis[0].Config.Enabled {
		t.Errorf("afi-safis = %v", p.AfiSafis)
	}
	if apiPeer(peerConf{Addr: ma("192.0.2.1"), RemoteAS: 1}).EbgpMultihop != nil {
		t.Error("multihop set without TTL")
	}
}

func TestNetworkPath(t *testing.T) {
	p, err := networkPath(mp("192.168.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := toBestPath(p)
	if !ok || b.Prefix != mp("192.168.2.0/24") || b.Peer.IsValid() {
		t.Errorf("decoded %+v ok=%v", b, ok)
	}
	a := decodeAttrs(p.Pattrs)
	if a.origin != "i" || a.med == nil || *a.med != 1 || a.nextHop != ma("0.0.0.0") {
		t.Errorf("attrs origin %q med %v next hop %s", a.origin, a.med, a.nextHop)
	}
}

// fakeInstaller records the kernel routes the server asks for.
type fakeInstaller struct {
	mu     sync.Mutex
	routes map[netip.Prefix]netip.Addr
	calls  []string
}

func (f *fakeInstaller) InstallRoutes(nh netip.Addr, ps []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range ps {
		f.routes[p] = nh
	}
	f.calls = append(f.calls, fmt.Sprintf("install %s %d", nh, len(ps)))
	return nil
}

func (f *fakeInstaller) RemoveRoutes(ps []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range ps {
		delete(f.routes, p)
	}
	f.calls = append(f.calls, fmt.Sprintf("remove %d", len(ps)))
	return nil
}

func (f *fakeInstaller) snapshot() map[netip.Prefix]netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps(f.routes)
}

func maps(m map[netip.Prefix]netip.Addr) map[netip.Prefix]netip.Addr {
	out := map[netip.Prefix]netip.Addr{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fakeSpeaker records what the server configures and lets tests inject events.
type fakeSpeaker struct {
	mu       sync.Mutex
	started  globalConf
	stopped  bool
	peers    map[netip.Addr]peerConf
	networks map[netip.Prefix]bool
	log      []string
	onPaths  func([]bestPath)
	onPeer   func(peerEvent)
}

func newFakeSpeaker() *fakeSpeaker {
	return &fakeSpeaker{peers: map[netip.Addr]peerConf{}, networks: map[netip.Prefix]bool{}}
}

func (f *fakeSpeaker) start(_ context.Context, g globalConf) error { f.started = g; return nil }
func (f *fakeSpeaker) stop()                                       { f.stopped = true }
func (f *fakeSpeaker) addPeer(_ context.Context, p peerConf) error {
	f.peers[p.Addr] = p
	f.log = append(f.log, "add "+p.Addr.String())
	return nil
}
func (f *fakeSpeaker) deletePeer(_ context.Context, a netip.Addr) error {
	delete(f.peers, a)
	f.log = append(f.log, "delete "+a.String())
	return nil
}
func (f *fakeSpeaker) addNetwork(_ context.Context, p netip.Prefix) error {
	f.networks[p] = true
	return nil
}
func (f *fakeSpeaker) deleteNetwork(_ context.Context, p netip.Prefix) error {
	delete(f.networks, p)
	return nil
}
func (f *fakeSpeaker) watch(_ context.Context, onPaths func([]bestPath), onPeer func(peerEvent)) error {
	f.onPaths, f.onPeer = onPaths, onPeer
	return nil
}
func (f *fakeSpeaker) neighbors(context.Context) ([]NeighborSummary, error) { return nil, nil }
func (f *fakeSpeaker) routes(context.Context, netip.Addr, bool) ([]Route, error) {
	return []Route{{Prefix: mp("192.168.2.0/24"), ASPath: []uint32{65050}}}, nil
}
func (f *fakeSpeaker) globalASPaths(context.Context) (int, error) { return 0, nil }

func newTestServer(t *testing.T) (*Server, *fakeInstaller, *[]*fakeSpeaker) {
	inst := &fakeInstaller{routes: map[netip.Prefix]netip.Addr{}}
	s := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Installer: inst})
	var speakers []*fakeSpeaker
	s.newSpeaker = func() speaker {
		f := newFakeSpeaker()
		speakers = append(speakers, f)
		return f
	}
	return s, inst, &speakers
}

func TestBestPathsToKernel(t *testing.T) {
	s, inst, sps := newTestServer(t)
	if err := s.Start(seedConfig()); err != nil {
		t.Fatal(err)
	}
	sp := (*sps)[0]
	azure, other := ma("172.16.0.6"), ma("172.16.0.7")
	var batch []bestPath
	for i := range 3 {
		batch = append(batch, bestPath{Prefix: mp(fmt.Sprintf("10.%d.0.0/16", i)), NextHop: azure, Peer: azure})
	}
	batch = append(batch,
		bestPath{Prefix: mp("172.16.0.0/16"), NextHop: azure, Peer: azure},
		bestPath{Prefix: mp("10.9.0.0/16"), NextHop: other, Peer: other},
		bestPath{Prefix: mp("192.168.2.0/24"), NextHop: ma("0.0.0.0")}, // our own network
	)
	sp.onPaths(batch)
	got := inst.snapshot()
	if len(got) != 5 || got[mp("172.16.0.0/16")] != azure || got[mp("10.9.0.0/16")] != other {
		t.Fatalf("after learn: %v", got)
	}
	if n := len(inst.calls); n != 2 {
		t.Errorf("want one install call per next hop, got %v", inst.calls)
	}

	// Best path moves to another next hop, then is withdrawn.
	sp.onPaths([]bestPath{{Prefix: mp("10.0.0.0/16"), NextHop: other, Peer: other}})
	if got := inst.snapshot()[mp("10.0.0.0/16")]; got != other {
		t.Errorf("replaced: next hop %s", got)
	}
	sp.onPaths([]bestPath{{Prefix: mp("10.0.0.0/16"), NextHop: other, Peer: other, Withdraw: true}})
	if _, ok := inst.snapshot()[mp("10.0.0.0/16")]; ok {
		t.Error("withdrawn route still installed")
	}
	// The same path again changes nothing.
	n := len(inst.calls)
	sp.onPaths([]bestPath{{Prefix: mp("172.16.0.0/16"), NextHop: azure, Peer: azure}})
	if len(inst.calls) != n {
		t.Errorf("unchanged path caused %v", inst.calls[n:])
	}

	// Session to 172.16.0.6 drops: its routes go, the other peer's stay.
	sp.onPeer(peerEvent{Addr: azure, State: "ACTIVE"})
	got = inst.snapshot()
	if len(got) != 1 || got[mp("10.9.0.0/16")] != other {
		t.Errorf("after session drop: %v", got)
	}
	if s.LearnedRoutes() != 1 {
		t.Errorf("learned = %d", s.LearnedRoutes())
	}

	s.Stop()
	if got := inst.snapshot(); len(got) != 0 {
		t.Errorf("after stop: %v", got)
	}
	// Late events of the stopped speaker are ignored.
	sp.onPaths([]bestPath{{Prefix: mp("172.16.0.0/16"), NextHop: azure, Peer: azure}})
	if got := inst.snapshot(); len(got) != 0 {
		t.Errorf("late event installed %v", got)
	}
}

func TestReloadKeepsUnchangedNeighbors(t *testing.T) {
	s, _, sps := newTestServer(t)
	cfg := seedConfig()
	cfg.BGP.Neighbors = append(cfg.BGP.Neighbors, &config.Neighbor{Addr: ma("172.16.0.7"), RemoteAS: 65010, UpdateSource: "Loopback0.0"})
	if err := s.Start(cfg); err != nil {
		t.Fatal(err)
	}
	sp := (*sps)[0]
	sp.log = nil

	next := seedConfig()
	next.BGP.Neighbors = append(next.BGP.Neighbors, &config.Neighbor{Addr: ma("172.16.0.7"), RemoteAS: 65011, UpdateSource: "Loopback0.0"})
	next.BGP.Networks = []netip.Prefix{mp("192.168.3.0/24")}
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if len(*sps) != 1 {
		t.Fatalf("reload restarted the speaker")
	}
	if want := []string{"delete 172.16.0.7", "add 172.16.0.7"}; !slices.Equal(sp.log, want) {
		t.Errorf("reload did %v, want %v", sp.log, want)
	}
	if !sp.networks[mp("192.168.3.0/24")] || sp.networks[mp("192.168.2.0/24")] {
		t.Errorf("networks after reload: %v", sp.networks)
	}

	next.BGP.ASN = 65051
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if len(*sps) != 2 || !sp.stopped || (*sps)[1].started.ASN != 65051 {
		t.Errorf("new AS did not restart the speaker")
	}
	if err := s.Reload(&config.Config{}); err != nil || !(*sps)[1].stopped {
		t.Errorf("config without router bgp: err %v, stopped %v", err, (*sps)[1].stopped)
	}
}

func TestAdvertisedHidesLocalAS(t *testing.T) {
	s, _, _ := newTestServer(t)
	if err := s.Start(seedConfig()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	tb, err := s.AdvertisedRoutes(context.Background(), ma("172.16.0.6"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Routes) != 1 || len(tb.Routes[0].ASPath) != 0 || tb.LocalAS != 65050 || tb.RouterID != ma("10.2.2.2") {
		t.Errorf("advertised = %+v", tb)
	}
	if _, err := s.NeighborRoutes(context.Background(), ma("192.0.2.1")); err == nil {
		t.Error("unknown neighbor: want error")
	}
}

// TestGoBGPInProcess runs two embedded GoBGP speakers over loopback TCP on
// unprivileged ports: soft-ix's Server and a plain speaker standing in for
// Azure. It checks the real translation end to end without root.
func TestGoBGPInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two BGP speakers")
	}
	// Both sides bind 127.0.0.1 with distinct ports; GoBGP dials the peer
	// on port 179, so this test can only check that both start and that
	// the show data is well formed before a session exists.
	inst := &fakeInstaller{routes: map[netip.Prefix]netip.Addr{}}
	s := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Installer: inst, ListenPort: -1})
	cfg := seedConfig()
	if err := s.Start(cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx := context.Background()
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.RouterID != ma("10.2.2.2") || sum.LocalAS != 65050 || len(sum.Neighbors) != 1 {
		t.Fatalf("summary = %+v", sum)
	}
	nb := sum.Neighbors[0]
	if nb.Addr != ma("172.16.0.6") || nb.RemoteAS != 65010 || nb.Version != 4 || nb.State == "ESTABLISHED" {
		t.Errorf("neighbor = %+v", nb)
	}
	if sum.ASPathEntries != 1 {
		t.Errorf("AS path entries = %d, want 1 (the local network's empty path)", sum.ASPathEntries)
	}
	if _, err := s.NeighborRoutes(ctx, ma("172.16.0.6")); err != nil {
		t.Errorf("routes: %v", err)
	}
	// Reload with an extra network and the same neighbor keeps the peer.
	cfg.BGP.Networks = append(cfg.BGP.Networks, mp("192.168.1.0/24"))
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for p := range inst.snapshot() {
		prefixes = append(prefixes, p.String())
	}
	sort.Strings(prefixes)
	if len(prefixes) != 0 {
		t.Errorf("local networks reached the installer: %v", prefixes)
	}
}
