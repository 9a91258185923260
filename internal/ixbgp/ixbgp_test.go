package ixbgp

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/config"
)

var (
	mp = netip.MustParsePrefix
	ma = netip.MustParseAddr
)

// seedConfig is ../../config/testdata/ix-bgp.conf as the parser loads it.
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

// seedWant is what the speaker is told for the seed: the loopback's
// address as source and TTL 255 (see loopbackMultihopTTL), timers left to
// bgp's defaults.
var seedWant = bgp.Config{
	ASN: 65050, RouterID: ma("10.2.2.2"),
	Neighbors: []bgp.Neighbor{{Addr: ma("172.16.0.6"), RemoteAS: 65010, LocalAddr: ma("10.2.2.2"), MultihopTTL: 255}},
	Networks:  []netip.Prefix{mp("192.168.2.0/24")},
	RouteMaps: map[string]bgp.RouteMap{},
}

func TestSeed(t *testing.T) {
	got, err := Config(seedConfig())
	if err != nil || !reflect.DeepEqual(got, seedWant) {
		t.Errorf("Config = %+v, %v\nwant %+v", got, err, seedWant)
	}
	// The seed's own file gives the same.
	cfg, _, err := config.Load("../../config/testdata/ix-bgp.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Config(cfg); err != nil || !reflect.DeepEqual(got, seedWant) {
		t.Errorf("from the file: %+v, %v", got, err)
	}
}

func TestNeighborVariants(t *testing.T) {
	cfg := seedConfig()
	n := cfg.BGP.Neighbors[0]
	first := func() bgp.Neighbor {
		t.Helper()
		c, err := Config(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c.Neighbors[0]
	}
	n.UpdateSource = ""
	n.Keepalive, n.Hold = 10*time.Second, 30*time.Second
	if p := first(); p.MultihopTTL != 0 || p.LocalAddr.IsValid() || p.Keepalive != 10*time.Second || p.Hold != 30*time.Second {
		t.Errorf("directly connected neighbor: %+v", p)
	}
	n.EBGPMultihop = 2
	if got := first().MultihopTTL; got != 2 {
		t.Errorf("ebgp-multihop 2: TTL %d", got)
	}
	n.EBGPMultihop, n.RemoteAS, n.UpdateSource = 0, 65050, "Loopback0.0"
	if got := first().MultihopTTL; got != 0 {
		t.Errorf("iBGP neighbor got multihop TTL %d", got)
	}
	n.UpdateSource = "Loopback9.0"
	if _, err := Config(cfg); err == nil || !strings.Contains(err.Error(), "Loopback9.0") {
		t.Errorf("unknown update-source: err = %v", err)
	}
	// config only warns about an update-source without an address, so
	// the speaker must still start.
	cfg.Interfaces = append(cfg.Interfaces, &config.Interface{Name: "Loopback8.0", Kind: config.KindLoopback})
	n.UpdateSource = "Loopback8.0"
	if p := first(); p.LocalAddr.IsValid() {
		t.Errorf("update-source without address: %+v", p)
	}
	// IPv6 neighbors are left out (config warns), the rest still start.
	cfg.BGP.Neighbors = append(cfg.BGP.Neighbors, &config.Neighbor{Addr: ma("2001:db8::1"), RemoteAS: 65010, RouteMapIn: "v6"})
	if c, err := Config(cfg); err != nil || len(c.Neighbors) != 1 || len(c.RouteMaps) != 0 {
		t.Errorf("with an IPv6 neighbor: %v, %+v", err, c)
	}
	n.RemoteAS = 0
	if _, err := Config(cfg); err == nil || !strings.Contains(err.Error(), "no remote-as") {
		t.Errorf("no remote-as: %v", err)
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
	cfg.BGP.RouterID = ma("192.0.2.1")
	if id, _ := RouterID(cfg); id != ma("192.0.2.1") {
		t.Errorf("explicit: %s", id)
	}
	if _, err := RouterID(&config.Config{BGP: &config.BGP{ASN: 1}}); err == nil {
		t.Error("no address: want error")
	}
}

// The route-map lines of an IX file, as the speaker gets them.
func TestRouteMaps(t *testing.T) {
	cfg, _, err := config.Parse("ix.conf", []byte(`ip prefix-list lan 10 permit 192.168.2.0/24
ip prefix-list lan 20 permit 10.0.0.0/8 min 16 max 24
ip prefix-list lan 30 deny any
ip access-list azure permit ip src 172.16.0.0/16 dest any
route-map pri1 permit 10
  match ip address access-list azure
  set local-preference 200
  set metric 5
route-map pri1 deny 20
route-map pri2 permit 10
  match ip address prefix-list lan
  set as-path prepend 65050 65050 65001
  set community 65050:1 local-as additive
route-map pri2 deny 20
  match community 1
route-map unused permit 10
router bgp 65050
  neighbor 169.254.0.2 remote-as 31898
  neighbor 169.254.0.2 connect-interval 10
  neighbor 169.254.0.2 advertisement-interval 6
  neighbor 169.254.0.6 remote-as 31898
  address-family ipv4 unicast
    neighbor 169.254.0.2 route-map pri1 in
    neighbor 169.254.0.6 route-map pri2 out
interface Tunnel0.0
  ip address 169.254.0.1/30
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n0, n1 := c.Neighbors[0], c.Neighbors[1]
	if n0.RouteMapIn != "pri1" || n0.RouteMapOut != "" || n0.ConnectRetry != 10*time.Second ||
		n1.RouteMapOut != "pri2" || n1.ConnectRetry != 0 {
		t.Errorf("neighbors %+v %+v", n0, n1)
	}
	if len(c.RouteMaps) != 2 {
		t.Errorf("route-maps %v (only those in use)", c.RouteMaps)
	}
	pri1 := c.RouteMaps["pri1"].Entries
	if len(pri1) != 2 || pri1[0].MatchAll || !slices.Equal(pri1[0].Match, []bgp.PrefixRange{{Prefix: mp("172.16.0.0/16"), MinLen: 16, MaxLen: 16}}) ||
		*pri1[0].LocalPref != 200 || *pri1[0].MED != 5 || !pri1[1].Deny || !pri1[1].MatchAll {
		t.Errorf("pri1 %+v", pri1)
	}
	pri2 := c.RouteMaps["pri2"].Entries[0]
	if !slices.Equal(pri2.Match, []bgp.PrefixRange{{Prefix: mp("192.168.2.0/24"), MinLen: 24, MaxLen: 24}, {Prefix: mp("10.0.0.0/8"), MinLen: 16, MaxLen: 24}}) ||
		!slices.Equal(pri2.Prepend, []uint32{65050, 65050, 65001}) || !slices.Equal(pri2.Communities, []string{"65050:1", "local-as"}) || !pri2.CommunityAdditive {
		t.Errorf("pri2 %+v", pri2)
	}
	// A match soft-ix does not evaluate: the entry never matches (an
	// empty Match), rather than denying everything.
	if e := c.RouteMaps["pri2"].Entries[1]; e.MatchAll || e.Match == nil || len(e.Match) != 0 || !e.Deny {
		t.Errorf("pri2 20 %+v", e)
	}
}
