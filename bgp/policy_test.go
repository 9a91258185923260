package bgp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// policyConfig is what internal/ixbgp makes of a two-tunnel IX file
// (its test checks that): pri1 on what 169.254.0.2 sends, pri2 on what
// 169.254.0.6 is sent.
func policyConfig() Config {
	return Config{
		ASN: 65050, RouterID: ma("169.254.0.1"),
		Neighbors: []Neighbor{
			{Addr: ma("169.254.0.2"), RemoteAS: 31898, ConnectRetry: 10 * time.Second, RouteMapIn: "pri1"},
			{Addr: ma("169.254.0.6"), RemoteAS: 31898, RouteMapOut: "pri2"},
		},
		RouteMaps: map[string]RouteMap{
			"pri1": {Entries: []RouteMapEntry{
				{Seq: 10, Match: []PrefixRange{{mp("172.16.0.0/16"), 16, 16}}, LocalPref: ptr(uint32(200)), MED: ptr(uint32(5))},
				{Seq: 20, Deny: true, MatchAll: true},
			}},
			"pri2": {Entries: []RouteMapEntry{{
				Seq: 10, Match: []PrefixRange{{mp("192.168.2.0/24"), 24, 24}, {mp("10.0.0.0/8"), 16, 24}},
				Prepend: []uint32{65050, 65050, 65001}, Communities: []string{"65050:1", "local-as"}, CommunityAdditive: true,
			}}},
			"unused": {Entries: []RouteMapEntry{{Seq: 10, MatchAll: true}}},
		},
	}
}

func TestSettingsTimersAndPolicy(t *testing.T) {
	set, err := settingsFrom(policyConfig(), 179)
	if err != nil {
		t.Fatal(err)
	}
	if c := apiPeer(set.peers[ma("169.254.0.2")]).Timers.Config; c.ConnectRetry != 10 {
		t.Errorf("timers %v", c)
	}
	if c := apiPeer(set.peers[ma("169.254.0.6")]).Timers.Config; c.ConnectRetry != 5 {
		t.Errorf("default timers %v", c)
	}
	// Only the route-maps in use go to the speaker.
	if p := set.policy; len(p.maps) != 2 || p.in[ma("169.254.0.2")] != "pri1" || p.out[ma("169.254.0.6")] != "pri2" || len(p.in) != 1 || len(p.out) != 1 {
		t.Errorf("policy %+v", p)
	}
}

func TestAPIPolicy(t *testing.T) {
	set, err := settingsFrom(policyConfig(), 179)
	if err != nil {
		t.Fatal(err)
	}
	g := apiPolicy(set.policy)
	var sets []string
	for _, ds := range g.sets {
		sets = append(sets, ds.Name)
	}
	if !slices.Equal(sets, []string{"soft-ix-neighbor-169.254.0.2", "soft-ix-route-map-pri1-10", "soft-ix-neighbor-169.254.0.6", "soft-ix-route-map-pri2-10"}) {
		t.Errorf("sets %v", sets)
	}
	if p := g.sets[3].Prefixes; len(p) != 2 || p[1].IpPrefix != "10.0.0.0/8" || p[1].MaskLengthMin != 16 || p[1].MaskLengthMax != 24 {
		t.Errorf("prefix set %v", p)
	}
	if len(g.import_) != 1 || len(g.export) != 1 {
		t.Fatalf("import %v export %v", g.import_, g.export)
	}
	in := g.import_[0].Statements
	if len(in) != 3 {
		t.Fatalf("import statements %v", in)
	}
	// permit 10: neighbor and prefix set, local-preference and MED, accept.
	if c, a := in[0].Conditions, in[0].Actions; c.NeighborSet.Name != "soft-ix-neighbor-169.254.0.2" || c.PrefixSet.Name != "soft-ix-route-map-pri1-10" ||
		a.RouteAction != api.RouteAction_ACCEPT || a.LocalPref.Value != 200 || a.Med.Value != 5 || a.Med.Type != api.MedAction_REPLACE {
		t.Errorf("pri1 10: %v", in[0])
	}
	// deny 20 matches everything of the neighbor; then the implicit deny.
	if in[1].Conditions.PrefixSet != nil || in[1].Actions.RouteAction != api.RouteAction_REJECT ||
		in[2].Conditions.PrefixSet != nil || in[2].Actions.RouteAction != api.RouteAction_REJECT || !strings.HasSuffix(in[2].Name, "-no-match") {
		t.Errorf("pri1 20 / end: %v %v", in[1], in[2])
	}
	// prepend 65050 65050 65001: 65001 first, passing the route on; then
	// 65050 twice with the rest of the entry.
	out := g.export[0].Statements
	if len(out) != 3 || out[0].Actions.RouteAction != api.RouteAction_NONE || out[0].Actions.AsPrepend.Asn != 65001 || out[0].Actions.AsPrepend.Repeat != 1 ||
		out[1].Actions.RouteAction != api.RouteAction_ACCEPT || out[1].Actions.AsPrepend.Asn != 65050 || out[1].Actions.AsPrepend.Repeat != 2 {
		t.Errorf("pri2: %v", out)
	}
	if c := out[1].Actions.Community; c.Type != api.CommunityAction_ADD || !slices.Equal(c.Communities, []string{"65050:1", "no-export-subconfed"}) {
		t.Errorf("community %v", c)
	}
	// GoBGP takes all of it.
	s := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ListenPort: -1})
	cfg := policyConfig()
	if err := s.Start(cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// A reload that changes a route-map replaces the policy in place.
	cfg.RouteMaps["pri1"].Entries[0].LocalPref = nil
	cfg.Neighbors[1].RouteMapOut = ""
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
}

// TestRouteMapsOverLoopback: soft-ix's Server with two neighbors that both
// send 172.16.0.0/16, as the two tunnels of the OCI template do. The
// route-maps choose the path (local-preference on import), shape what each
// neighbor is sent (prepend, MED, a prefix-list), show in the tables, are
// re-applied on reload without dropping sessions, and the other path takes
// over when the preferred neighbor goes away.
func TestRouteMapsOverLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three BGP speakers")
	}
	ixPort, deadPort := freePort(t), freePort(t)
	inst := &fakeInstaller{routes: map[netip.Prefix]netip.Addr{}}
	rm := func(e RouteMapEntry) RouteMap { e.Seq = 10; return RouteMap{Entries: []RouteMapEntry{e}} }
	nb := func(addr string, as uint32, in, out string) Neighbor {
		return Neighbor{Addr: ma(addr), RemoteAS: as, LocalAddr: ma("127.0.0.1"), MultihopTTL: 255,
			Keepalive: time.Second, Hold: 3 * time.Second, RouteMapIn: in, RouteMapOut: out}
	}
	cfg := Config{
		ASN: 65050, RouterID: ma("127.0.0.1"),
		Neighbors: []Neighbor{nb("127.0.0.2", 65010, "via-2", "to-2"), nb("127.0.0.3", 65020, "via-3", "to-3")},
		Networks:  []netip.Prefix{mp("192.168.2.0/24"), mp("192.168.3.0/24")},
		RouteMaps: map[string]RouteMap{
			"via-2": rm(RouteMapEntry{MatchAll: true, LocalPref: ptr(uint32(100))}),
			"via-3": rm(RouteMapEntry{MatchAll: true, LocalPref: ptr(uint32(200))}),
			"to-2":  rm(RouteMapEntry{MatchAll: true, Prepend: []uint32{65050, 65050}}),
			"to-3":  rm(RouteMapEntry{Match: []PrefixRange{{mp("192.168.2.0/24"), 24, 24}}, MED: ptr(uint32(7))}),
		},
	}
	ix := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Installer: inst, ListenPort: ixPort})
	ix.peerPort = uint16(deadPort) // the neighbors connect to it
	if err := ix.Start(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ix.Stop)
	az2, _ := loopbackSpeaker(t, 65010, 65050, "127.0.0.2", "127.0.0.1", -1, ixPort, "172.16.0.0/16", nil)
	az3, _ := loopbackSpeaker(t, 65020, 65050, "127.0.0.3", "127.0.0.1", -1, ixPort, "172.16.0.0/16", nil)
	ctx := context.Background()
	deadline := time.Now().Add(45 * time.Second)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if time.Now().After(deadline) {
				sum, _ := ix.Summary(ctx)
				t.Fatalf("%s: kernel %v, summary %+v", what, inst.snapshot(), sum)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	routes := func(s *Server, n string) []Route {
		rt, _ := s.NeighborRoutes(ctx, ma(n))
		return rt.Routes
	}
	// Both paths arrive; local-preference 200 makes 127.0.0.3 the best,
	// where the lower router ID alone would have chosen 127.0.0.2.
	waitFor("both paths", func() bool { return len(routes(ix, "127.0.0.2")) == 1 && len(routes(ix, "127.0.0.3")) == 1 })
	waitFor("best via 127.0.0.3", func() bool { return inst.snapshot()[mp("172.16.0.0/16")] == ma("127.0.0.3") })
	r2, r3 := routes(ix, "127.0.0.2")[0], routes(ix, "127.0.0.3")[0]
	if r3.LocalPref == nil || *r3.LocalPref != 200 || !r3.Best || r2.LocalPref == nil || *r2.LocalPref != 100 || r2.Best {
		t.Errorf("received: via .2 %+v, via .3 %+v", r2, r3)
	}
	// What was sent: to .2 both networks, prepended twice; to .3 only the
	// prefix-list's network, with MED 7 and no prepending.
	// "show ip bgp": both paths with their LocPrf, and the own networks.
	all, err := ix.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lp []string
	for _, r := range all.Routes {
		s := r.Prefix.String()
		if r.LocalPref != nil {
			s += fmt.Sprintf(" via %s lp %d best %v", r.NextHop, *r.LocalPref, r.Best)
		}
		lp = append(lp, s)
	}
	if want := []string{"172.16.0.0/16 via 127.0.0.2 lp 100 best false", "172.16.0.0/16 via 127.0.0.3 lp 200 best true", "192.168.2.0/24", "192.168.3.0/24"}; !slices.Equal(slices.Sorted(slices.Values(lp)), want) {
		t.Errorf("table %v, want %v", lp, want)
	}

	// What was sent: to .2 everything (the networks and, as transit, the
	// path from .3), prepended twice; to .3 only the prefix-list's
	// network, with MED 7 and no prepending.
	lans := func(s *Server) []Route {
		return slices.DeleteFunc(routes(s, "127.0.0.1"), func(r Route) bool { return !mp("192.168.0.0/16").Contains(r.Prefix.Addr()) })
	}
	waitFor("routes at the neighbors", func() bool { return len(lans(az2)) == 2 && len(lans(az3)) == 1 })
	for _, r := range routes(az2, "127.0.0.1") {
		if !slices.Equal(r.ASPath[:3], []uint32{65050, 65050, 65050}) {
			t.Errorf(".2 received %+v, want AS path 65050 65050 65050 ...", r)
		}
	}
	if rs := routes(az3, "127.0.0.1"); len(rs) != 1 || rs[0].Prefix != mp("192.168.2.0/24") || !slices.Equal(rs[0].ASPath, []uint32{65050}) || rs[0].MED == nil || *rs[0].MED != 7 {
		t.Errorf(".3 received %+v", rs)
	}
	adv, err := ix.AdvertisedRoutes(ctx, ma("127.0.0.2"))
	if err != nil || len(adv.Routes) != 3 || !slices.Equal(adv.Routes[1].ASPath, []uint32{65050, 65050}) {
		t.Errorf("advertised to .2: %+v %v", adv, err)
	}

	// Reload: .3's local-preference drops below .2's; the sessions stay
	// and the best path moves.
	sum, _ := ix.Summary(ctx)
	cfg.RouteMaps["via-3"] = rm(RouteMapEntry{MatchAll: true, LocalPref: ptr(uint32(50))})
	if err := ix.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	waitFor("best via 127.0.0.2 after reload", func() bool { return inst.snapshot()[mp("172.16.0.0/16")] == ma("127.0.0.2") })
	after, _ := ix.Summary(ctx)
	for i, n := range after.Neighbors {
		if n.State != "ESTABLISHED" || n.MsgRcvd < sum.Neighbors[i].MsgRcvd {
			t.Errorf("reload reset %s: %+v", n.Addr, n)
		}
	}

	// Reload with the export route-maps gone, then with none at all:
	// what they filtered flows again, and nothing else is lost.
	deadline = time.Now().Add(30 * time.Second)
	for _, drop := range []string{"out", "all"} {
		next := cfg
		next.Neighbors = slices.Clone(cfg.Neighbors)
		for i := range next.Neighbors {
			next.Neighbors[i].RouteMapOut = ""
			if drop == "all" {
				next.Neighbors[i].RouteMapIn = ""
			}
		}
		if err := ix.Reload(next); err != nil {
			t.Fatal(err)
		}
		waitFor("192.168.3.0/24 at .3 with the route-maps "+drop+" removed", func() bool { return len(lans(az3)) == 2 })
		waitFor("172.16.0.0/16 still in the kernel ("+drop+")", func() bool { return len(routes(ix, "127.0.0.2")) == 1 && len(routes(ix, "127.0.0.3")) == 1 })
		if drop == "all" {
			if r := routes(ix, "127.0.0.3")[0]; r.LocalPref != nil && *r.LocalPref != 100 {
				t.Errorf("local-preference left after the route-maps went: %+v", r)
			}
		}
	}

	// The preferred neighbor goes away: the other path takes over.
	az2.Stop()
	waitFor("failover to 127.0.0.3", func() bool { return inst.snapshot()[mp("172.16.0.0/16")] == ma("127.0.0.3") })
}

func ptr[T any](v T) *T { return &v }
