package tun

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/config"
)

func testManager() *Manager {
	return &Manager{
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		mapping:    map[string]string{"GigaEthernet0.0": "eth0"},
		tunnelDown: map[string]bool{},
	}
}

func TestStaticRouteWithoutLinks(t *testing.T) {
	m := testManager()
	r, why := m.staticRoute(&config.Route{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Interface: "Null0.0"})
	if r == nil || r.Type != unix.RTN_BLACKHOLE || r.Protocol != ProtoStatic || r.Priority != 1 {
		t.Errorf("Null0.0 route = %+v (%s)", r, why)
	}
	r, _ = m.staticRoute(&config.Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: netip.MustParseAddr("192.0.2.1"), Distance: 5})
	if r == nil || !r.Gw.Equal(net.ParseIP("192.0.2.1")) || r.Priority != 5 || r.Dst.String() != "0.0.0.0/0" {
		t.Errorf("default via next hop = %+v", r)
	}
	m.tunnelDown["Tunnel0.0"] = true
	if r, why := m.staticRoute(&config.Route{Prefix: netip.MustParsePrefix("172.16.0.6/32"), Interface: "Tunnel0.0"}); r != nil || why != "tunnel down" {
		t.Errorf("route into a down tunnel: %+v %q", r, why)
	}
}

func TestNames(t *testing.T) {
	m := testManager()
	if m.LinkName("GigaEthernet0.0") != "eth0" || m.LinkName("Tunnel0.0") != "Tunnel0.0" {
		t.Error("LinkName")
	}
	if m.ixName("eth0") != "GigaEthernet0.0" || m.ixName("lo") != "lo" {
		t.Error("ixName")
	}
}

func TestPrefixConversion(t *testing.T) {
	for _, s := range []string{"10.2.2.2/32", "192.168.2.0/24", "0.0.0.0/0"} {
		p := netip.MustParsePrefix(s)
		if got := prefixOf(ipNet(p)); got != p {
			t.Errorf("%s -> %s", p, got)
		}
	}
}

func TestOutgoingRoutes(t *testing.T) {
	ma := netip.MustParseAddr
	tunnel := func(name string, tt config.Tunnel) *config.Interface {
		return &config.Interface{Name: name, Kind: config.KindTunnel, Tunnel: &tt}
	}
	cfg := &config.Config{Interfaces: []*config.Interface{
		tunnel("Tunnel0.0", config.Tunnel{Mode: "ipsec-ikev2", Peer: ma("198.51.100.6"), OutgoingInterface: "GigaEthernet1.0", OutgoingNextHop: ma("203.0.113.254")}),
		tunnel("Tunnel1.0", config.Tunnel{Mode: "ipsec-ikev2", Peer: ma("198.51.100.7"), OutgoingInterface: "GigaEthernet1.0", OutgoingAuto: true}),
		tunnel("Tunnel2.0", config.Tunnel{Mode: "ipsec-ikev2", PeerAny: true, OutgoingInterface: "GigaEthernet1.0", OutgoingNextHop: ma("203.0.113.254")}),
	}}
	rs := outgoingRoutes(cfg)
	if len(rs) != 1 || rs[0].Prefix != netip.MustParsePrefix("198.51.100.6/32") || rs[0].NextHop != ma("203.0.113.254") || rs[0].Interface != "GigaEthernet1.0" {
		t.Errorf("outgoingRoutes = %+v, want only Tunnel0.0's peer by GigaEthernet1.0", rs)
	}
}
