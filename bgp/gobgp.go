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

// defaultConnectRetry is the connect retry without "connect-interval": 5 s
// so that a session returns soon after its tunnel does.
const defaultConnectRetry = 5 * time.Second

// networkMED is the MED soft-ix puts on its "network" routes: the IX shows
// its advertised network with Metric 1 (seed README, advertised-routes).
const networkMED = 1

// gobgpSpeaker runs an embedded GoBGP v3 server.
type gobgpSpeaker struct {
	s *server.BgpServer

	mu       sync.Mutex
	networks map[netip.Prefix][]byte // UUIDs of the paths AddPath created
	policy   *gobgpPolicy            // what setPolicy installed; nil: nothing
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
	g.endSessions(ctx, time.Second)
	g.s.StopBgp(ctx, &api.StopBgpRequest{})
}

// endSessions deletes the established peers and waits, at most bound,
// until their sessions' goroutines are done. StopBgp clears GoBGP's global
// configuration right after asking each session to stop, while an
// established session's receive loop may still read it for an UPDATE in
// flight: a data race in GoBGP v3.37.0, which the race detector found in
// bgp's loopback tests. GoBGP sends a peer's IDLE event for a deleted
// established peer only once its session has ended.
func (g *gobgpSpeaker) endSessions(ctx context.Context, bound time.Duration) {
	pending := map[string]bool{}
	g.s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			pending[p.GetConf().GetNeighborAddress()] = true
		}
	})
	if len(pending) == 0 {
		return
	}
	peers := slices.Collect(maps.Keys(pending))
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var mu sync.Mutex
	ended := make(chan struct{})
	err := g.s.WatchEvent(wctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		pe := r.GetPeer()
		// The event of a deleted peer comes with type UNKNOWN (GoBGP
		// v3.37.0 sets none); INIT lists the peers as they were.
		if pe == nil || pe.Type == api.WatchEventResponse_PeerEvent_INIT || pe.Type == api.WatchEventResponse_PeerEvent_END_OF_INIT ||
			pe.Peer.GetState().GetSessionState() != api.PeerState_IDLE {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if a := pe.Peer.GetState().GetNeighborAddress(); pending[a] {
			delete(pending, a)
			if len(pending) == 0 {
				close(ended)
			}
		}
	})
	if err != nil {
		return
	}
	for _, a := range peers {
		_ = g.s.DeletePeer(ctx, &api.DeletePeerRequest{Address: a})
	}
	select {
	case <-ended:
	case <-wctx.Done():
	}
}

func (g *gobgpSpeaker) addPeer(ctx context.Context, p peerConf) error {
	return g.s.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p)})
}

// apiPeer translates a neighbor into GoBGP's terms.
// idleHoldAfterReset is the seconds a neighbor waits after "clear ip bgp"
// before it connects again (0 would mean GoBGP's default of 30): as long
// as GoBGP waits after it receives a Cease (its holdtimeIdle), so that a
// GoBGP at the other end, which refuses connections meanwhile, is ready
// when we connect. With 1 s two GoBGPs that both connect missed each
// other for 15 s and more: each connected while the other still waited.
const idleHoldAfterReset = 5

func apiPeer(p peerConf) *api.Peer {
	retry := p.ConnectRetry
	if retry <= 0 {
		retry = defaultConnectRetry
	}
	peer := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Addr.String(),
			PeerAsn:         p.RemoteAS,
			Description:     p.Description,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(retry / time.Second),
			HoldTime:          uint64(p.Hold / time.Second),
			KeepaliveInterval: uint64(p.Keepalive / time.Second),
			// After "clear ip bgp" the session is opened again within
			// seconds, as a router does, not after GoBGP's default 30 s.
			IdleHoldTimeAfterReset: idleHoldAfterReset,
		}},
		Transport: &api.Transport{},
		AfiSafis: []*api.AfiSafi{{
			Config: &api.AfiSafiConfig{Family: ipv4Unicast, Enabled: true},
		}},
	}
	if p.MaxPrefixes > 0 {
		peer.AfiSafis[0].PrefixLimits = &api.PrefixLimit{Family: ipv4Unicast, MaxPrefixes: p.MaxPrefixes}
	}
	peer.Transport.PassiveMode = p.Passive
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

// gobgpPolicy is a policy in GoBGP's terms: defined sets, and the policies
// of the global import and export assignments. GoBGP keeps per-neighbor
// assignments for route-server clients only, so each neighbor's route-map
// becomes a policy of the global assignment whose statements all carry a
// neighbor set of that one neighbor: on import GoBGP matches it against
// the neighbor a route came from, on export against the one it goes to.
type gobgpPolicy struct {
	sets            []*api.DefinedSet
	import_, export []*api.Policy
}

const policyNamePrefix = "soft-ix-"

// apiPolicy translates a policy. Neighbors without a route-map match no
// statement and fall to the default action, accept; a neighbor with one
// ends in a statement that rejects what no entry matched, as the IX drops
// it.
func apiPolicy(p policy) *gobgpPolicy {
	g := &gobgpPolicy{}
	seen := map[string]bool{}
	addSet := func(ds *api.DefinedSet) {
		if !seen[ds.Name] {
			seen[ds.Name] = true
			g.sets = append(g.sets, ds)
		}
	}
	build := func(dir string, m map[netip.Addr]string) []*api.Policy {
		addrs := make([]netip.Addr, 0, len(m))
		for a := range m {
			addrs = append(addrs, a)
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		var out []*api.Policy
		for _, a := range addrs {
			name := m[a]
			rm := p.maps[name]
			nset := policyNamePrefix + "neighbor-" + a.String()
			addSet(&api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: nset, List: []string{netip.PrefixFrom(a, a.BitLen()).String()}})
			neighbor := func() *api.Conditions {
				return &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: nset}}
			}
			pol := &api.Policy{Name: fmt.Sprintf("%s%s-%s-%s", policyNamePrefix, dir, a, name)}
			for _, e := range rm.Entries {
				cond := neighbor()
				if !e.MatchAll {
					if len(e.Match) == 0 {
						continue // a list that permits nothing: the entry never matches
					}
					pset := fmt.Sprintf("%sroute-map-%s-%d", policyNamePrefix, name, e.Seq)
					ds := &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: pset}
					for _, r := range e.Match {
						ds.Prefixes = append(ds.Prefixes, &api.Prefix{IpPrefix: r.Prefix.String(), MaskLengthMin: uint32(r.MinLen), MaskLengthMax: uint32(r.MaxLen)})
					}
					addSet(ds)
					cond.PrefixSet = &api.MatchSet{Type: api.MatchSet_ANY, Name: pset}
				}
				pol.Statements = append(pol.Statements, entryStatements(fmt.Sprintf("%s-%d", pol.Name, e.Seq), e, cond)...)
			}
			pol.Statements = append(pol.Statements, &api.Statement{
				Name: pol.Name + "-no-match", Conditions: neighbor(),
				Actions: &api.Actions{RouteAction: api.RouteAction_REJECT},
			})
			out = append(out, pol)
		}
		return out
	}
	g.import_ = build("in", p.in)
	g.export = build("out", p.out)
	return g
}

// entryStatements are the statements of one route-map entry under cond.
// GoBGP prepends one AS number (repeated) per statement, so a prepend of
// several different ones takes a statement per run of equal numbers, the
// rightmost run first; all but the last pass the route on (no route
// action) to the next, which carries the same conditions.
func entryStatements(name string, e RouteMapEntry, cond *api.Conditions) []*api.Statement {
	if e.Deny {
		return []*api.Statement{{Name: name, Conditions: cond, Actions: &api.Actions{RouteAction: api.RouteAction_REJECT}}}
	}
	type run struct{ asn, n uint32 }
	var runs []run
	for _, a := range e.Prepend {
		if len(runs) > 0 && runs[len(runs)-1].asn == a && runs[len(runs)-1].n < 255 {
			runs[len(runs)-1].n++
			continue
		}
		runs = append(runs, run{a, 1})
	}
	var out []*api.Statement
	for i := len(runs) - 1; i >= 1; i-- {
		out = append(out, &api.Statement{
			Name: fmt.Sprintf("%s-prepend-%d", name, i), Conditions: cond,
			Actions: &api.Actions{AsPrepend: &api.AsPrependAction{Asn: runs[i].asn, Repeat: runs[i].n}},
		})
	}
	act := &api.Actions{RouteAction: api.RouteAction_ACCEPT}
	if len(runs) > 0 {
		act.AsPrepend = &api.AsPrependAction{Asn: runs[0].asn, Repeat: runs[0].n}
	}
	if e.LocalPref != nil {
		act.LocalPref = &api.LocalPrefAction{Value: *e.LocalPref}
	}
	if e.MED != nil {
		act.Med = &api.MedAction{Type: api.MedAction_REPLACE, Value: int64(*e.MED)}
	}
	switch {
	case e.CommunityNone:
		act.Community = &api.CommunityAction{Type: api.CommunityAction_REPLACE} // an empty replace removes them
	case len(e.Communities) > 0:
		cs := make([]string, len(e.Communities))
		for i, c := range e.Communities {
			cs[i] = c
			if c == "local-as" {
				cs[i] = "no-export-subconfed" // the same community (0xFFFFFF03) by GoBGP's name
			}
		}
		t := api.CommunityAction_REPLACE
		if e.CommunityAdditive {
			t = api.CommunityAction_ADD
		}
		act.Community = &api.CommunityAction{Type: t, Communities: cs}
	}
	return append(out, &api.Statement{Name: name, Conditions: cond, Actions: act})
}

// setPolicy replaces what the previous call installed. The global
// assignments are set, never deleted: GoBGP reads a missing default
// action as reject, which would drop every route of every neighbor. So
// they are first set to no policies (accept), the old policies and sets
// are deleted (a policy in use cannot be), the new ones added, and the
// assignments set to them, default accept. Every established session is
// then soft-reset both ways, so routes already received and sent are
// evaluated again (GoBGP keeps Adj-RIB-In, so the neighbor need not
// resend).
func (g *gobgpSpeaker) setPolicy(ctx context.Context, p policy) error {
	g.mu.Lock()
	old := g.policy
	g.policy = nil
	g.mu.Unlock()
	if old != nil {
		if err := g.assign(ctx, nil, nil); err != nil {
			return err
		}
		for _, pol := range append(slices.Clone(old.import_), old.export...) {
			if err := g.s.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: pol.Name}, All: true}); err != nil {
				return fmt.Errorf("delete policy %s: %w", pol.Name, err)
			}
		}
		for _, ds := range old.sets {
			if err := g.s.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: ds.DefinedType, Name: ds.Name}, All: true}); err != nil {
				return fmt.Errorf("delete set %s: %w", ds.Name, err)
			}
		}
	}
	gp := apiPolicy(p)
	for _, ds := range gp.sets {
		if err := g.s.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: ds}); err != nil {
			return fmt.Errorf("set %s: %w", ds.Name, err)
		}
	}
	for _, pol := range append(slices.Clone(gp.import_), gp.export...) {
		if err := g.s.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol}); err != nil {
			return fmt.Errorf("policy %s: %w", pol.Name, err)
		}
	}
	if err := g.assign(ctx, gp.import_, gp.export); err != nil {
		return err
	}
	g.mu.Lock()
	g.policy = gp
	g.mu.Unlock()
	var established []string
	err := g.s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			established = append(established, p.GetConf().GetNeighborAddress())
		}
	})
	for _, a := range established {
		err = errors.Join(err, g.s.ResetPeer(ctx, &api.ResetPeerRequest{Address: a, Soft: true, Direction: api.ResetPeerRequest_BOTH}))
	}
	return err
}

// assign sets the global import and export assignments to the policies
// (by name), with accept as the default action.
func (g *gobgpSpeaker) assign(ctx context.Context, import_, export []*api.Policy) error {
	for _, a := range []struct {
		dir  api.PolicyDirection
		pols []*api.Policy
	}{{api.PolicyDirection_IMPORT, import_}, {api.PolicyDirection_EXPORT, export}} {
		refs := make([]*api.Policy, len(a.pols))
		for i, pol := range a.pols {
			refs[i] = &api.Policy{Name: pol.Name}
		}
		if err := g.s.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: a.dir, Policies: refs, DefaultAction: api.RouteAction_ACCEPT,
		}}); err != nil {
			return fmt.Errorf("%v assignment: %w", a.dir, err)
		}
	}
	return nil
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
	err := g.s.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		st := p.GetState()
		addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err != nil {
			return
		}
		up := st.GetSessionState() == api.PeerState_ESTABLISHED
		n := NeighborSummary{
			Addr:     addr,
			Version:  4,
			RemoteAS: p.GetConf().GetPeerAsn(),
			MsgRcvd:  st.GetMessages().GetReceived().GetTotal(),
			MsgSent:  st.GetMessages().GetSent().GetTotal(),
			State:    sessionState(st.GetSessionState()),

			LocalAS:     st.GetLocalAsn(),
			Description: p.GetConf().GetDescription(),
			Sent:        messageCounts(st.GetMessages().GetSent()),
			Rcvd:        messageCounts(st.GetMessages().GetReceived()),
			Drops:       st.GetFlops(),
		}
		if n.LocalAS == 0 {
			n.LocalAS = p.GetConf().GetLocalAsn()
		}
		n.RouterID, _ = netip.ParseAddr(st.GetRouterId())
		if n.RouterID.IsUnspecified() {
			n.RouterID = netip.Addr{}
		}
		tc, ts := p.GetTimers().GetConfig(), p.GetTimers().GetState()
		n.ConfHoldTime = time.Duration(tc.GetHoldTime()) * time.Second
		n.ConfKeepalive = time.Duration(tc.GetKeepaliveInterval()) * time.Second
		n.HoldTime, n.Keepalive = n.ConfHoldTime, n.ConfKeepalive
		if up && ts.GetNegotiatedHoldTime() > 0 {
			n.HoldTime = time.Duration(ts.GetNegotiatedHoldTime()) * time.Second
			if k := ts.GetKeepaliveInterval(); k > 0 {
				n.Keepalive = time.Duration(k) * time.Second
			}
		}
		if up {
			// GoBGP's API has the connection's local address (the
			// configured one otherwise) but only configured ports.
			n.LocalAddr, _ = netip.ParseAddr(p.GetTransport().GetLocalAddress())
		}
		for _, af := range p.GetAfiSafis() {
			as := af.GetState()
			n.PrefixesReceived += as.GetReceived()
			n.PrefixesAccepted += as.GetAccepted()
			n.PrefixesAdvertised += as.GetAdvertised()
		}
		since := ts.GetDowntime()
		if up {
			since = ts.GetUptime()
		}
		if since != nil && since.GetSeconds() > 0 {
			n.UpDown = time.Since(since.AsTime()).Truncate(time.Second)
		}
		out = append(out, n)
	})
	return out, err
}

// messageCounts copies GoBGP's count of one direction's messages.
func messageCounts(m *api.Message) MessageCounts {
	return MessageCounts{Open: m.GetOpen(), Update: m.GetUpdate(), Notification: m.GetNotification(),
		Keepalive: m.GetKeepalive(), RouteRefresh: m.GetRefresh(), Total: m.GetTotal()}
}

// reset is ResetPeer: a hard reset sends Cease (administrative reset) and
// lets the session come back after the peer's idle hold time; a soft one
// re-runs the policies over GoBGP's Adj-RIB-In and Adj-RIB-Out, which
// keep every path as received, so no ROUTE-REFRESH is needed.
func (g *gobgpSpeaker) reset(ctx context.Context, addr netip.Addr, how Reset) error {
	r := &api.ResetPeerRequest{Communication: "clear ip bgp"} // Address "": every neighbor
	if addr.IsValid() {
		r.Address = addr.String()
	}
	switch how {
	case ResetSoftIn:
		r.Soft, r.Direction = true, api.ResetPeerRequest_IN
	case ResetSoftOut:
		r.Soft, r.Direction = true, api.ResetPeerRequest_OUT
	case ResetSoft:
		r.Soft, r.Direction = true, api.ResetPeerRequest_BOTH
	}
	return g.s.ResetPeer(ctx, r)
}

// routes lists what was received from a neighbor as the local table holds
// it, after its inbound route-map (GoBGP's Adj-RIB-In has the attributes
// as received, so a local-preference set on import would not show), or
// what is sent to it, after its outbound route-map (Adj-RIB-Out). An
// invalid neighbor lists the whole local table.
func (g *gobgpSpeaker) routes(ctx context.Context, neighbor netip.Addr, advertised bool) ([]Route, error) {
	req := &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast, SortType: api.ListPathRequest_PREFIX}
	if advertised {
		req.TableType, req.Name = api.TableType_ADJ_OUT, neighbor.String()
	}
	var out []Route
	err := g.s.ListPath(ctx, req, func(d *api.Destination) {
		for _, p := range d.Paths {
			b, ok := toBestPath(p)
			if !ok || (!advertised && neighbor.IsValid() && b.Peer != neighbor) {
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
