package bgp

// This is the only file that knows GoBGP. Moving to GoBGP v4 (or anything
// else) means rewriting it against the speaker interface in speaker.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

var ipv4Unicast = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}

// networkMED is the MED soft-ix puts on its "network" routes: the IX shows
// its advertised network with Metric 1 (seed README, advertised-routes).
const networkMED = 1

// gobgpSpeaker runs an embedded GoBGP v3 server.
type gobgpSpeaker struct {
	s *server.BgpServer

	mu       sync.Mutex
	networks map[netip.Prefix][]byte // UUIDs of the paths AddPath created
}

// newGoBGP creates the GoBGP server and its Serve loop. GoBGP v3's Serve
// never returns, not even after Stop, so each one costs a goroutine for
// the life of the process: a Server makes one and restarts it with
// start/stop (StartBgp/StopBgp) rather than making a new one per restart
// (reusedSpeaker).
func newGoBGP(log *slog.Logger) *gobgpSpeaker {
	s := server.NewBgpServer(server.LoggerOption(&slogAdapter{log: log}))
	go s.Serve()
	return &gobgpSpeaker{s: s, networks: map[netip.Prefix][]byte{}}
}

// reusedSpeaker returns a constructor for Server.newSpeaker that makes the
// GoBGP server once and hands out the same one after it was stopped.
func reusedSpeaker(log *slog.Logger) func() speaker {
	var g *gobgpSpeaker
	return func() speaker {
		if g == nil {
			g = newGoBGP(log)
		}
		return g
	}
}

func (g *gobgpSpeaker) start(ctx context.Context, c globalConf) error {
	return g.s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        c.ASN,
		RouterId:   c.RouterID.String(),
		ListenPort: c.ListenPort,
		// IPv4 only: soft-ix has IPv4 neighbors only, and GoBGP's default
		// also listens on [::], which fails on hosts without IPv6.
		ListenAddresses: []string{"0.0.0.0"},
	}})
}

// stop withdraws the networks (so GoBGP forgets their path UUIDs too),
// closes every session and the listener, and leaves the server ready for
// the next start: StopBgp, not Stop, which in v3 is StopBgp plus the gRPC
// API soft-ix does not run.
func (g *gobgpSpeaker) stop() {
	g.mu.Lock()
	ids := slices.Collect(maps.Values(g.networks))
	clear(g.networks)
	g.mu.Unlock()
	ctx := context.Background()
	for _, id := range ids {
		// Fails only when the speaker never started; nothing to withdraw then.
		_ = g.s.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast, Uuid: id})
	}
	g.s.StopBgp(ctx, &api.StopBgpRequest{})
}

func (g *gobgpSpeaker) addPeer(ctx context.Context, p peerConf) error {
	return g.s.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p)})
}

// apiPeer translates a neighbor into GoBGP's terms.
func apiPeer(p peerConf) *api.Peer {
	peer := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Addr.String(),
			PeerAsn:         p.RemoteAS,
			Description:     p.Description,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      5,
			HoldTime:          uint64(p.Hold / time.Second),
			KeepaliveInterval: uint64(p.Keepalive / time.Second),
		}},
		Transport: &api.Transport{},
		AfiSafis: []*api.AfiSafi{{
			Config: &api.AfiSafiConfig{Family: ipv4Unicast, Enabled: true},
		}},
	}
	if p.LocalAddr.IsValid() {
		peer.Transport.LocalAddress = p.LocalAddr.String()
	}
	if p.RemotePort != 0 {
		peer.Transport.RemotePort = uint32(p.RemotePort)
	}
	if p.MultihopTTL > 0 {
		peer.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.MultihopTTL)}
	}
	return peer
}

func (g *gobgpSpeaker) deletePeer(ctx context.Context, addr netip.Addr) error {
	return g.s.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()})
}

// networkPath is the path soft-ix originates for a "network" statement:
// origin IGP, MED 1; GoBGP puts the session's local address as next hop
// towards eBGP peers.
func networkPath(prefix netip.Prefix) (*api.Path, error) {
	nlri, err := anypb.New(&api.IPAddressPrefix{
		Prefix:    prefix.Masked().Addr().String(),
		PrefixLen: uint32(prefix.Bits()),
	})
	if err != nil {
		return nil, err
	}
	var attrs []*anypb.Any
	for _, m := range []proto.Message{
		&api.OriginAttribute{Origin: 0},
		&api.NextHopAttribute{NextHop: "0.0.0.0"},
		&api.MultiExitDiscAttribute{Med: networkMED},
	} {
		a, err := anypb.New(m)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	return &api.Path{Family: ipv4Unicast, Nlri: nlri, Pattrs: attrs}, nil
}

func (g *gobgpSpeaker) addNetwork(ctx context.Context, prefix netip.Prefix) error {
	path, err := networkPath(prefix)
	if err != nil {
		return err
	}
	resp, err := g.s.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.networks[prefix] = resp.Uuid
	g.mu.Unlock()
	return nil
}

func (g *gobgpSpeaker) deleteNetwork(ctx context.Context, prefix netip.Prefix) error {
	g.mu.Lock()
	id, ok := g.networks[prefix]
	delete(g.networks, prefix)
	g.mu.Unlock()
	if !ok {
		return nil
	}
	return g.s.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast, Uuid: id})
}

func (g *gobgpSpeaker) watch(ctx context.Context, onPaths func([]bestPath), onPeer func(peerEvent)) error {
	req := &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
		}},
		BatchSize: 1024,
	}
	return g.s.WatchEvent(ctx, req, func(r *api.WatchEventResponse) {
		if t := r.GetTable(); t != nil {
			bs := make([]bestPath, 0, len(t.Paths))
			for _, p := range t.Paths {
				if b, ok := toBestPath(p); ok {
					bs = append(bs, b)
				}
			}
			if len(bs) > 0 {
				onPaths(bs)
			}
			return
		}
		if pe := r.GetPeer(); pe != nil && pe.Type == api.WatchEventResponse_PeerEvent_STATE {
			st := pe.Peer.GetState()
			addr, err := netip.ParseAddr(st.GetNeighborAddress())
			if err != nil {
				return
			}
			onPeer(peerEvent{
				Addr:        addr,
				State:       sessionState(st.GetSessionState()),
				Established: st.GetSessionState() == api.PeerState_ESTABLISHED,
			})
		}
	})
}

// toBestPath decodes an IPv4 unicast path; ok is false for anything else
// (other families, End-of-RIB markers).
func toBestPath(p *api.Path) (bestPath, bool) {
	if p.GetNlri() == nil {
		return bestPath{}, false
	}
	var nlri api.IPAddressPrefix
	if err := p.Nlri.UnmarshalTo(&nlri); err != nil {
		return bestPath{}, false
	}
	addr, err := netip.ParseAddr(nlri.Prefix)
	if err != nil || !addr.Is4() || nlri.PrefixLen > 32 {
		return bestPath{}, false
	}
	b := bestPath{
		Prefix:   netip.PrefixFrom(addr, int(nlri.PrefixLen)).Masked(),
		Withdraw: p.IsWithdraw,
	}
	if a, err := netip.ParseAddr(p.NeighborIp); err == nil && !a.IsUnspecified() {
		b.Peer = a
	}
	if !b.Withdraw {
		b.NextHop = nextHopOf(p.Pattrs)
	}
	return b, true
}

// nextHopOf decodes only the next hop: the watcher sees every learned
// path, so it skips unmarshalling the attributes it does not need.
func nextHopOf(as []*anypb.Any) netip.Addr {
	for _, a := range as {
		switch {
		case a.MessageIs((*api.NextHopAttribute)(nil)):
			var nh api.NextHopAttribute
			if a.UnmarshalTo(&nh) == nil {
				addr, _ := netip.ParseAddr(nh.NextHop)
				return addr
			}
		case a.MessageIs((*api.MpReachNLRIAttribute)(nil)):
			var mp api.MpReachNLRIAttribute
			if a.UnmarshalTo(&mp) == nil && len(mp.NextHops) > 0 {
				addr, _ := netip.ParseAddr(mp.NextHops[0])
				return addr
			}
		}
	}
	return netip.Addr{}
}

// attrs are the path attributes "show ip bgp" prints.
type attrs struct {
	nextHop   netip.Addr
	med       *uint32
	localPref *uint32
	asPath    []uint32
	origin    string
}

func decodeAttrs(as []*anypb.Any) attrs {
	var out attrs
	out.origin = "?"
	for _, a := range as {
		m, err := a.UnmarshalNew()
		if err != nil {
			continue
		}
		switch v := m.(type) {
		case *api.NextHopAttribute:
			out.nextHop, _ = netip.ParseAddr(v.NextHop)
		case *api.MpReachNLRIAttribute:
			if len(v.NextHops) > 0 && !out.nextHop.IsValid() {
				out.nextHop, _ = netip.ParseAddr(v.NextHops[0])
			}
		case *api.MultiExitDiscAttribute:
			med := v.Med
			out.med = &med
		case *api.LocalPrefAttribute:
			lp := v.LocalPref
			out.localPref = &lp
		case *api.AsPathAttribute:
			for _, seg := range v.Segments {
				out.asPath = append(out.asPath, seg.Numbers...)
			}
		case *api.OriginAttribute:
			switch v.Origin {
			case 0:
				out.origin = "i"
			case 1:
				out.origin = "e"
			}
		}
	}
	return out
}

func sessionState(s api.PeerState_SessionState) string {
	if s == api.PeerState_UNKNOWN {
		return "IDLE"
	}
	return s.String()
}

func (g *gobgpSpeaker) neighbors(ctx context.Context) ([]NeighborSummary, error) {
	var out []NeighborSummary
	err := g.s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st := p.GetState()
		addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err != nil {
			return
		}
		n := NeighborSummary{
			Addr:     addr,
			Version:  4,
			RemoteAS: p.GetConf().GetPeerAsn(),
			MsgRcvd:  st.GetMessages().GetReceived().GetTotal(),
			MsgSent:  st.GetMessages().GetSent().GetTotal(),
			State:    sessionState(st.GetSessionState()),
		}
		ts := p.GetTimers().GetState()
		since := ts.GetDowntime()
		if st.GetSessionState() == api.PeerState_ESTABLISHED {
			since = ts.GetUptime()
		}
		if since != nil && since.GetSeconds() > 0 {
			n.UpDown = time.Since(since.AsTime()).Truncate(time.Second)
		}
		out = append(out, n)
	})
	return out, err
}

func (g *gobgpSpeaker) routes(ctx context.Context, neighbor netip.Addr, advertised bool) ([]Route, error) {
	tt := api.TableType_ADJ_IN
	if advertised {
		tt = api.TableType_ADJ_OUT
	}
	var out []Route
	err := g.s.ListPath(ctx, &api.ListPathRequest{
		TableType: tt,
		Name:      neighbor.String(),
		Family:    ipv4Unicast,
		SortType:  api.ListPathRequest_PREFIX,
	}, func(d *api.Destination) {
		for _, p := range d.Paths {
			b, ok := toBestPath(p)
			if !ok {
				continue
			}
			a := decodeAttrs(p.Pattrs)
			out = append(out, Route{
				Prefix:    b.Prefix,
				NextHop:   a.nextHop,
				MED:       a.med,
				LocalPref: a.localPref,
				ASPath:    a.asPath,
				Origin:    a.origin,
				Valid:     !p.Filtered,
				Best:      p.Best || advertised,
			})
		}
	})
	return out, err
}

func (g *gobgpSpeaker) globalASPaths(ctx context.Context) (int, error) {
	seen := map[string]bool{}
	err := g.s.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast}, func(d *api.Destination) {
		for _, p := range d.Paths {
			seen[fmt.Sprint(decodeAttrs(p.Pattrs).asPath)] = true
		}
	})
	return len(seen), err
}

// slogAdapter sends GoBGP's log lines to slog.
type slogAdapter struct {
	log   *slog.Logger
	mu    sync.Mutex
	level gobgplog.LogLevel
}

var _ gobgplog.Logger = (*slogAdapter)(nil)

func (l *slogAdapter) emit(level slog.Level, msg string, fields gobgplog.Fields) {
	args := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		args = append(args, k, v)
	}
	l.log.Log(context.Background(), level, "gobgp: "+msg, args...)
}

func (l *slogAdapter) Panic(msg string, f gobgplog.Fields) {
	l.emit(slog.LevelError, msg, f)
	panic(errors.New("gobgp: " + msg))
}
func (l *slogAdapter) Fatal(msg string, f gobgplog.Fields) {
	// GoBGP calls Fatal where it cannot go on (e.g. a gRPC listener we
	// never start); soft-ix must not exit from inside a library.
	l.emit(slog.LevelError, msg, f)
}
func (l *slogAdapter) Error(msg string, f gobgplog.Fields) { l.emit(slog.LevelError, msg, f) }
func (l *slogAdapter) Warn(msg string, f gobgplog.Fields) {
	if msg == "cannot set TTL (255) for TCPListener" {
		// GoBGP tries this on every listener for TTL security, which
		// soft-ix does not use; accepted sessions get their TTL per peer.
		l.emit(slog.LevelDebug, msg, f)
		return
	}
	l.emit(slog.LevelWarn, msg, f)
}
func (l *slogAdapter) Info(msg string, f gobgplog.Fields)  { l.emit(slog.LevelInfo, msg, f) }
func (l *slogAdapter) Debug(msg string, f gobgplog.Fields) { l.emit(slog.LevelDebug, msg, f) }
func (l *slogAdapter) SetLevel(level gobgplog.LogLevel) {
	l.mu.Lock()
	l.level = level
	l.mu.Unlock()
}
func (l *slogAdapter) GetLevel() gobgplog.LogLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.level == 0 {
		return gobgplog.InfoLevel
	}
	return l.level
}
