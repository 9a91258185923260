package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

const routeMapSrc = `ip prefix-list azure 10 permit 172.16.0.0/16 min 16 max 24
ip prefix-list azure 20 deny any
ip access-list lan permit ip src 192.168.2.0/24 dest any
route-map prefer permit 10
  match ip address prefix-list azure
  set local-preference 200
  set metric 5
route-map prefer deny 20
route-map backup permit 10
  match ip address access-list lan
  set as-path prepend 65050 65050
  set community 65050:100 no-export additive
  set origin igp
router bgp 65050
  neighbor 172.16.0.6 remote-as 65010
  neighbor 172.16.0.6 advertisement-interval 6
  neighbor 172.16.0.6 connect-interval 10
  router-id 10.2.2.2
  address-family ipv4 unicast
    neighbor 172.16.0.6 route-map prefer in
    neighbor 172.16.0.6 route-map backup out
    network 192.168.2.0/24
`

func u32(v uint32) *uint32 { return &v }

func TestRouteMapModel(t *testing.T) {
	c, diags := mustParse(t, "rm.conf", routeMapSrc)
	want := []RouteMap{
		{Name: "prefer", Seq: 10, MatchPrefixList: "azure", SetLocalPref: u32(200), SetMetric: u32(5)},
		{Name: "prefer", Seq: 20, Deny: true},
		{Name: "backup", Seq: 10, MatchAccessList: "lan", SetPrepend: []uint32{65050, 65050},
			SetCommunity: []string{"65050:100", "no-export"}, CommunityAdditive: true},
	}
	if len(c.RouteMaps) != len(want) {
		t.Fatalf("route-maps %+v", c.RouteMaps)
	}
	for i, rm := range c.RouteMaps {
		got := *rm
		got.Pos, got.MatchPos = Pos{}, Pos{}
		if len(got.Extra) > 0 {
			if i != 2 || got.Extra[0].Text != "set origin igp" {
				t.Errorf("entry %d kept %v", i, got.Extra)
			}
			got.Extra = nil
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("entry %d = %+v, want %+v", i, got, want[i])
		}
	}
	pl := c.PrefixList("azure")
	if len(pl) != 2 || pl[0].MinLen() != 16 || pl[0].MaxLen() != 24 || !pl[1].Any || !pl[1].Deny || pl[1].MaxLen() != 32 {
		t.Errorf("prefix-list %+v %+v", pl[0], pl[1])
	}
	acl, ok := c.AccessListSources("lan")
	if !ok || len(acl) != 1 || acl[0].Prefix != netip.MustParsePrefix("192.168.2.0/24") || acl[0].MinLen() != 24 || acl[0].MaxLen() != 24 {
		t.Errorf("access-list lan = %v %v", acl, ok)
	}
	n := c.BGP.Neighbors[0]
	if n.RouteMapIn != "prefer" || n.RouteMapOut != "backup" || n.ConnectInterval != 10*time.Second {
		t.Errorf("neighbor %+v", n)
	}
	if c.BGP.RouterID != netip.MustParseAddr("10.2.2.2") {
		t.Errorf("router-id %v", c.BGP.RouterID)
	}
	for _, d := range diags {
		if !strings.Contains(d.Msg, "not emulated") {
			t.Errorf("unexpected diagnostic %s", d)
		}
	}
	if !hasDiag(diags, `rm.conf:13:3: warning: "set origin" is not emulated`) {
		t.Errorf("no warning for set origin in %v", diags)
	}
	// GoBGP has no minimum advertisement interval: the line is kept.
	if !strings.Contains(errorText(diags), `warning: "neighbor advertisement-interval" is not emulated`) || len(c.BGP.Extra) != 1 {
		t.Errorf("advertisement-interval: kept %v, diagnostics %v", c.BGP.Extra, diags)
	}
	checkRoundTrip(t, "rm.conf", c)
	flat, _, err := Parse("flat", deindent([]byte(routeMapSrc)))
	if err != nil || !reflect.DeepEqual(clearPos(flat), clearPos(c)) {
		t.Errorf("flat form reads differently (%v):\n%s", err, Print(flat))
	}
}

func TestRouteMapPrintsCanonically(t *testing.T) {
	c, _ := mustParse(t, "rm.conf", routeMapSrc)
	out := string(Print(c))
	for _, want := range []string{
		"ip prefix-list azure 10 permit 172.16.0.0/16 min 16 max 24\nip prefix-list azure 20 deny any\n!\n",
		"route-map prefer permit 10\n  match ip address prefix-list azure\n  set local-preference 200\n  set metric 5\n!\nroute-map prefer deny 20\n!\n",
		"route-map backup permit 10\n  match ip address access-list lan\n  set as-path prepend 65050 65050\n  set community 65050:100 no-export additive\n  set origin igp\n!\n",
		// advertisement-interval is kept as written (GoBGP has none).
		"  neighbor 172.16.0.6 connect-interval 10\n  neighbor 172.16.0.6 advertisement-interval 6\n",
		"    neighbor 172.16.0.6 route-map prefer in\n    neighbor 172.16.0.6 route-map backup out\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("print lacks\n%s\nin\n%s", want, out)
		}
	}
	// Entries print grouped by name, in sequence order, wherever they stood.
	c2, _ := mustParse(t, "rm2.conf", "route-map a permit 20\nroute-map b permit 5\nroute-map a deny 10\n")
	if got := string(Print(c2)); got != "route-map a deny 10\n!\nroute-map a permit 20\n!\nroute-map b permit 5\n!\n" {
		t.Errorf("order:\n%s", got)
	}
	// "ge"/"le" and a "seq" keyword read as the IX's min/max form.
	c3, _ := mustParse(t, "pl.conf", "ip prefix-list x seq 5 permit 10.0.0.0/8 ge 16 le 24\n")
	if got := string(Print(c3)); got != "ip prefix-list x 5 permit 10.0.0.0/8 min 16 max 24\n!\n" {
		t.Errorf("prefix-list: %q", got)
	}
}

func TestRouteMapNoForms(t *testing.T) {
	c, _ := mustParse(t, "no.conf", routeMapSrc+`no route-map prefer deny 20
route-map backup permit 10
  no set as-path prepend
  no set community
no ip prefix-list azure 20 deny any
router bgp 65050
  neighbor 172.16.0.6 remote-as 65010
  no neighbor 172.16.0.6 advertisement-interval 6
  address-family ipv4 unicast
    no neighbor 172.16.0.6 route-map backup out
`)
	if len(c.RouteMap("prefer")) != 1 || len(c.PrefixList("azure")) != 1 {
		t.Errorf("route-maps %v prefix-lists %v", c.RouteMaps, c.PrefixLists)
	}
	if b := c.RouteMap("backup")[0]; b.SetPrepend != nil || b.SetCommunity != nil || b.CommunityAdditive {
		t.Errorf("backup %+v", b)
	}
	if n := c.BGP.Neighbors[0]; n.RouteMapOut != "" || n.RouteMapIn != "prefer" {
		t.Errorf("neighbor %+v", n)
	}
	checkRoundTrip(t, "no.conf", c)
}

func TestRouteMapErrors(t *testing.T) {
	base := "router bgp 65050\n  neighbor 192.0.2.1 remote-as 65010\n"
	for _, tc := range []struct{ src, want string }{
		{base + "  neighbor 192.0.2.1 route-map nope in\n", `e.conf:3:32: error: neighbor 192.0.2.1 route-map nope in: no "route-map nope" is configured`},
		{"route-map m permit 10\n  match ip address prefix-list nope\n" + base + "  neighbor 192.0.2.1 route-map m out\n", `e.conf:2:32: error: route-map m 10: match ip address prefix-list nope: no "ip prefix-list nope"`},
		{"route-map m permit 10\n  match ip address access-list nope\n" + base + "  neighbor 192.0.2.1 route-map m in\n", `e.conf:2:32: error: route-map m 10: match ip address access-list nope: no "ip access-list nope"`},
		{"route-map m permit 0\n", `e.conf:1:20: error: route-map m permit: bad sequence number "0"`},
		{"route-map m allow 10\n", `e.conf:1:13: error: route-map m: unknown keyword "allow"`},
		{"route-map m permit 10\n  set local-preference -1\n", `e.conf:2:24: error: set local-preference: bad value "-1"`},
		{"route-map m permit 10\n  set as-path prepend 0\n", `e.conf:2:23: error: set as-path prepend: bad AS number "0"`},
		{"route-map m permit 10\n  set community 65536:1\n", `e.conf:2:17: error: set community: bad community "65536:1"`},
		{"route-map m permit 10\n  sett metric 5\n", `e.conf:2:3: error: route-map m: unknown command "sett", did you mean "set"?`},
		{"ip prefix-list p permit 10.0.0.0/8 min 4\n", `e.conf:1:40: error: ip prefix-list min: bad prefix length "4"`},
		{"ip prefix-list p permit 10.0.0.0/8 max 16 min 24\n", `e.conf:1:1: error: ip prefix-list: min 24 is greater than max 16`},
		{base + "  neighbor 192.0.2.1 route-map m sideways\n", `e.conf:3:34: error: neighbor route-map m: unknown keyword "sideways"`},
		{base + "  neighbor 192.0.2.1 connect-interval 65536\n", `e.conf:3:39: error: neighbor connect-interval: bad seconds "65536"`},
		{base + "  neighbor 192.0.2.1 conect-interval 5\n", `e.conf:3:22: error: neighbor: unknown command "conect-interval", did you mean "connect-interval"?`},
	} {
		_, diags, err := Parse("e.conf", []byte(tc.src))
		if err == nil || !hasDiag(diags, tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, diags, tc.want)
		}
	}
}

// TestUnusedRouteMapMissingList: a route-map no BGP neighbor uses (one
// for policy routing, as published IX files have) may name a list that
// does not exist; IX loads the file, and so does soft-ix, with a warning.
func TestUnusedRouteMapMissingList(t *testing.T) {
	src := "route-map pbr permit 10\n  match ip address access-list nope\n  set interface GigaEthernet0.1\n" +
		"route-map pbr2 permit 10\n  match ip address prefix-list nope2\n"
	_, diags, err := Parse("w.conf", []byte(src))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	for _, want := range []string{
		`w.conf:2:32: warning: route-map pbr 10: match ip address access-list nope: no "ip access-list nope" is configured (no BGP neighbor uses`,
		`w.conf:5:32: warning: route-map pbr2 10: match ip address prefix-list nope2: no "ip prefix-list nope2" is configured (no BGP neighbor uses`,
	} {
		if !hasDiag(diags, want) {
			t.Errorf("want %s\n got %v", want, diags)
		}
	}
}

func TestRouteMapDiff(t *testing.T) {
	old, _ := mustParse(t, "a.conf", routeMapSrc)
	for _, tc := range []struct {
		from, to string
		changed  bool
	}{
		{"set local-preference 200", "set local-preference 300", true},
		{"min 16 max 24", "min 16 max 25", true},
		{"src 192.168.2.0/24", "src 192.168.3.0/24", true},
		{"set origin igp", "set origin egp", false}, // kept lines change nothing soft-ix runs
		{"route-map backup out", "route-map prefer out", true},
		{"connect-interval 10", "connect-interval 11", true},
	} {
		src := strings.Replace(routeMapSrc, tc.from, tc.to, 1)
		if src == routeMapSrc {
			t.Fatalf("%q not in the source", tc.from)
		}
		c, _ := mustParse(t, "b.conf", src)
		if ch := Diff(old, c); ch.BGPChanged != tc.changed {
			t.Errorf("%s -> %s: BGPChanged %v", tc.from, tc.to, ch.BGPChanged)
		}
	}
	same, _ := mustParse(t, "c.conf", "! moved\n"+routeMapSrc)
	if ch := Diff(old, same); !ch.Empty() {
		t.Errorf("positions only: %v", ch)
	}
}

func TestRouteMapDefaultSeqAndKeptMatch(t *testing.T) {
	c, diags := mustParse(t, "k.conf", "route-map m deny\n  match as-path 1\nroute-map m permit 20\n")
	rms := c.RouteMap("m")
	if len(rms) != 2 || rms[0].Seq != 10 || !rms[0].Deny || !rms[0].KeptMatch() || rms[1].KeptMatch() {
		t.Fatalf("entries %+v", rms)
	}
	if !hasDiag(diags, `k.conf:1:1: warning: route-map m 10: soft-ix does not evaluate its match line "match as-path 1", so this entry never matches`) {
		t.Errorf("no warning for the kept match in %v", diags)
	}
	if got := string(Print(c)); !strings.HasPrefix(got, "route-map m deny 10\n  match as-path 1\n!\n") {
		t.Errorf("print:\n%s", got)
	}
	checkRoundTrip(t, "k.conf", c)
}

// TestNoNeighborActivate: the IX exchanges IPv4 unicast with a neighbor
// unless "no neighbor A activate" says otherwise. soft-ix cannot run a
// session without it, so the line is kept and reported, not dropped.
func TestNoNeighborActivate(t *testing.T) {
	src := "router bgp 65000\n  neighbor 192.0.2.9 remote-as 65001\n  address-family ipv4 unicast\n    no neighbor 192.0.2.9 activate\n"
	c, diags := mustParse(t, "a.conf", src)
	if n := c.BGP.Neighbors[0]; n.Activate || len(c.BGP.AFExtra) != 1 {
		t.Errorf("neighbor %+v, kept %v", n, c.BGP.AFExtra)
	}
	if !strings.Contains(errorText(diags), `a.conf:4:8: warning: "no neighbor activate" is not emulated`) {
		t.Errorf("diagnostics:\n%s", errorText(diags))
	}
	if out := string(Print(c)); !strings.Contains(out, "    no neighbor 192.0.2.9 activate\n") {
		t.Errorf("the kept line is not printed:\n%s", out)
	}
}
