package tun

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
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
	r, why := m.staticRoute(&Route{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Interface: "Null0.0", Blackhole: true})
	if r == nil || r.Type != unix.RTN_BLACKHOLE || r.Protocol != ProtoStatic || r.Priority != 1 {
		t.Errorf("Null0.0 route = %+v (%s)", r, why)
	}
	r, _ = m.staticRoute(&Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: netip.MustParseAddr("192.0.2.1"), Distance: 5})
	if r == nil || !r.Gw.Equal(net.ParseIP("192.0.2.1")) || r.Priority != 5 || r.Dst.String() != "0.0.0.0/0" {
		t.Errorf("default via next hop = %+v", r)
	}
	m.tunnelDown["Tunnel0.0"] = true
	if r, why := m.staticRoute(&Route{Prefix: netip.MustParsePrefix("172.16.0.6/32"), Interface: "Tunnel0.0"}); r != nil || why != "tunnel down" {
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

// TestMultipath: equal static routes out of two tunnels become one ECMP
// route with both next hops; a blackhole is never merged.
func TestMultipath(t *testing.T) {
	dst := ipNet(netip.MustParsePrefix("172.16.0.0/16"))
	a := &netlink.Route{Dst: dst, LinkIndex: 7, Scope: netlink.SCOPE_LINK, Priority: 1}
	b := &netlink.Route{Dst: dst, LinkIndex: 8, Scope: netlink.SCOPE_LINK, Priority: 1}
	m := multipath(a, b)
	if m.LinkIndex != 0 || len(m.MultiPath) != 2 || m.MultiPath[0].LinkIndex != 7 || m.MultiPath[1].LinkIndex != 8 ||
		m.Scope != netlink.SCOPE_LINK || a.MultiPath != nil {
		t.Errorf("merged %+v (first %+v)", m, a)
	}
	c := &netlink.Route{Dst: dst, Gw: net.ParseIP("192.0.2.1"), Priority: 1}
	if m3 := multipath(m, c); len(m3.MultiPath) != 3 || m3.Scope != netlink.SCOPE_UNIVERSE || len(m.MultiPath) != 2 {
		t.Errorf("third next hop: %+v", m3)
	}
	hole := &netlink.Route{Dst: dst, Type: unix.RTN_BLACKHOLE, Priority: 1}
	if got := multipath(hole, a); got != hole {
		t.Errorf("blackhole merged: %+v", got)
	}
}
