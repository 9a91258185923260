package integration

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun"
)

// tunLabConfig has loopbacks, a tunnel and one route of each kind.
func tunLabConfig() *config.Config {
	mp := netip.MustParsePrefix
	return &config.Config{
		Interfaces: []*config.Interface{
			{Name: "GigaEthernet1.0", Kind: config.KindGigaEthernet, Address: mp("192.168.2.1/24")},
			{Name: "Tunnel0.0", Kind: config.KindTunnel, Address: mp("169.254.0.1/30"), MTU: 1400, Tunnel: &config.Tunnel{}},
			{Name: "Loopback0.0", Kind: config.KindLoopback, Address: mp("10.2.2.2/32")},
			{Name: "Loopback1.0", Kind: config.KindLoopback, Address: mp("10.3.3.3/32")},
		},
		Routes: []*config.Route{
			{Prefix: mp("172.16.0.6/32"), Interface: "Tunnel0.0"},
			{Prefix: mp("172.16.0.0/16"), Interface: "Tunnel0.0", Distance: 10},
			{Prefix: mp("10.99.0.0/16"), Interface: "Null0.0"},
			{Prefix: mp("0.0.0.0/0"), NextHop: netip.MustParseAddr("192.168.2.254"), Distance: 5},
		},
	}
}

func nsSysctl(t *testing.T, ns string) string {
	return strings.TrimSpace(bgtRun(t, "ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward"))
}

func TestTunApplyTunnelStateAndCleanup(t *testing.T) {
	nslab.Require(t, "go")
	ns := bgtNS(t, "tun")
	// The tunnel's TUN device is esp's; here a persistent tun stands in.
	bgtRun(t, "ip", "-n", ns, "tuntap", "add", "dev", "Tunnel0.0", "mode", "tun")
	bgtRun(t, "ip", "-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
	bgtRun(t, "ip", "-n", ns, "link", "set", "lan0p", "up")
	bgtRun(t, "ip", "-n", ns, "addr", "add", "192.168.2.1/24", "dev", "lan0")
	bgtRun(t, "ip", "-n", ns, "link", "set", "lan0", "up")
	bgtRun(t, "ip", "-n", ns, "route", "add", "10.50.0.0/16", "dev", "lan0") // not soft-ix's
	if v := nsSysctl(t, ns); v != "0" {
		t.Fatalf("newNetns left ip_forward %s, want 0", v)
	}

	p := bgtStartPeer(t, ns, tunLabConfig(), "GigaEthernet1.0=lan0")

	// Loopbacks: dummy links named like the IX interface, marked, up.
	for name, addr := range map[string]string{"Loopback0.0": "10.2.2.2/32", "Loopback1.0": "10.3.3.3/32"} {
		out := bgtRun(t, "ip", "-n", ns, "-d", "addr", "show", "dev", name)
		if !strings.Contains(out, "alias "+tun.LinkAlias) || !strings.Contains(out, addr) || !(strings.Contains(out, "dummy") || strings.Contains(out, "tun type tun")) || !strings.Contains(out, "UP") {
			t.Errorf("%s:\n%s", name, out)
		}
	}
	out := bgtRun(t, "ip", "-n", ns, "addr", "show", "dev", "Tunnel0.0")
	if !strings.Contains(out, "169.254.0.1/30") || !strings.Contains(out, "mtu 1400") || !strings.Contains(out, "UP") {
		t.Errorf("Tunnel0.0:\n%s", out)
	}
	if v := nsSysctl(t, ns); v != "1" {
		t.Errorf("ip_forward = %s after Apply", v)
	}

	static := bgtRoutes(t, ns, int(tun.ProtoStatic))
	check := func(dst, dev, gw, typ string, metric int) {
		t.Helper()
		r := bgtFindRoute(static, dst)
		if r == nil {
			t.Errorf("no static route %s in %v", dst, static)
			return
		}
		if r.Dev != dev || r.Gateway != gw || r.Metric != metric || (typ != "" && r.Type != typ) {
			t.Errorf("route %s = %+v", dst, *r)
		}
	}
	check("172.16.0.6", "Tunnel0.0", "", "", 1)
	check("172.16.0.0/16", "Tunnel0.0", "", "", 10)
	check("10.99.0.0/16", "", "", "blackhole", 1)
	check("default", "lan0", "192.168.2.254", "", 5)

	// show ip route data names links as the IX does.
	var ris []tun.RouteInfo
	if err := p.do("kernel", &ris); err != nil {
		t.Fatal(err)
	}
	srcs := map[string]string{}
	for _, ri := range ris {
		via := ri.Interface
		if ri.Blackhole {
			via = "blackhole"
		}
		srcs[ri.Prefix.String()+" "+via] = ri.Source
	}
	for k, want := range map[string]string{
		"192.168.2.0/24 GigaEthernet1.0": tun.SourceConnected,
		"172.16.0.6/32 Tunnel0.0":        tun.SourceStatic,
		"10.99.0.0/16 blackhole":         tun.SourceStatic,
		"10.50.0.0/16 GigaEthernet1.0":   tun.SourceKernel,
	} {
		if srcs[k] != want {
			t.Errorf("show ip route %q: source %q, want %q (all: %v)", k, srcs[k], want, srcs)
		}
	}

	// Tunnel down: its routes leave the kernel; up: they come back.
	if err := p.do("tunnel Tunnel0.0 down", nil); err != nil {
		t.Fatal(err)
	}
	static = bgtRoutes(t, ns, int(tun.ProtoStatic))
	if bgtFindRoute(static, "172.16.0.6") != nil || bgtFindRoute(static, "172.16.0.0/16") != nil || bgtFindRoute(static, "10.99.0.0/16") == nil {
		t.Errorf("tunnel down: %v", static)
	}
	if err := p.do("tunnel Tunnel0.0 up", nil); err != nil {
		t.Fatal(err)
	}
	static = bgtRoutes(t, ns, int(tun.ProtoStatic))
	check("172.16.0.6", "Tunnel0.0", "", "", 1)

	// Reload without Loopback1.0 and the Null0.0 route removes just those.
	cfg := tunLabConfig()
	cfg.Interfaces = cfg.Interfaces[:3]
	cfg.Routes = append(cfg.Routes[:2], cfg.Routes[3])
	if err := p.do("reload "+bgtWriteConfig(t, cfg), nil); err != nil {
		t.Fatal(err)
	}
	if bgtLinkExists(ns, "Loopback1.0") || !bgtLinkExists(ns, "Loopback0.0") {
		t.Error("reload: Loopback1.0 should be gone and Loopback0.0 kept")
	}
	static = bgtRoutes(t, ns, int(tun.ProtoStatic))
	if bgtFindRoute(static, "10.99.0.0/16") != nil || len(static) != 3 {
		t.Errorf("after reload: %v", static)
	}

	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ns)
	if v := nsSysctl(t, ns); v != "0" {
		t.Errorf("ip_forward = %s after stop, want restored 0", v)
	}
	if !bgtLinkExists(ns, "Tunnel0.0") || !bgtLinkExists(ns, "lan0") {
		t.Error("links soft-ix does not own were removed")
	}
	if bgtFindRoute(bgtRoutes(t, ns, 0), "10.50.0.0/16") == nil {
		t.Error("a route soft-ix did not add was removed")
	}
	if out := bgtRun(t, "ip", "-n", ns, "addr", "show", "dev", "Tunnel0.0"); strings.Contains(out, "169.254.0.1") {
		t.Errorf("tunnel address left behind:\n%s", out)
	}
}

// After a crash, the next start removes what the crashed run left.
func TestTunStaleCleanupAfterCrash(t *testing.T) {
	nslab.Require(t, "go")
	ns := bgtNS(t, "crash")
	bgtRun(t, "ip", "-n", ns, "tuntap", "add", "dev", "Tunnel0.0", "mode", "tun")
	p := bgtStartPeer(t, ns, tunLabConfig())
	if len(bgtRoutes(t, ns, int(tun.ProtoStatic))) == 0 || !bgtLinkExists(ns, "Loopback0.0") {
		t.Fatal("nothing installed")
	}
	p.kill()
	if !bgtLinkExists(ns, "Loopback0.0") {
		t.Fatal("kill -9 cleaned up; the test needs a crash that leaves state")
	}
	p2 := bgtStartPeer(t, ns, &config.Config{})
	assertNothingOfSoftIX(t, ns)
	if err := p2.stop(); err != nil {
		t.Fatal(err)
	}
}

func assertNothingOfSoftIX(t *testing.T, ns string) {
	t.Helper()
	for _, proto := range []int{int(tun.ProtoStatic), int(tun.ProtoBGP)} {
		if rs := bgtRoutes(t, ns, proto); len(rs) != 0 {
			t.Errorf("routes of protocol %d left: %v", proto, rs)
		}
	}
	out, _ := exec.Command("ip", "-n", ns, "-d", "link", "show").CombinedOutput()
	if strings.Contains(string(out), "alias "+tun.LinkAlias) {
		t.Errorf("soft-ix links left:\n%s", out)
	}
}

// Mapped (GigaEthernet) links get their configured address only when asked,
// and lose it again at stop; the link itself is never removed.
func TestTunMappedAddresses(t *testing.T) {
	nslab.Require(t, "go")
	ns := bgtNS(t, "mapped")
	bgtRun(t, "ip", "-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
	cfg := &config.Config{Interfaces: []*config.Interface{
		{Name: "GigaEthernet1.0", Kind: config.KindGigaEthernet, Address: netip.MustParsePrefix("192.168.2.1/24")},
	}}
	p := bgtStartPeer(t, ns, cfg, "GigaEthernet1.0=lan0")
	if out := bgtRun(t, "ip", "-n", ns, "addr", "show", "dev", "lan0"); strings.Contains(out, "192.168.2.1") {
		t.Errorf("address added without -mapped-addrs:\n%s", out)
	}
	p.stop()

	p = bgtStartPeer(t, ns, cfg, "GigaEthernet1.0=lan0", "-mapped-addrs")
	if out := bgtRun(t, "ip", "-n", ns, "addr", "show", "dev", "lan0"); !strings.Contains(out, "192.168.2.1/24") {
		t.Errorf("address missing with -mapped-addrs:\n%s", out)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	out := bgtRun(t, "ip", "-n", ns, "addr", "show", "dev", "lan0")
	if strings.Contains(out, "192.168.2.1") {
		t.Errorf("address left after stop:\n%s", out)
	}
}

// "ikev2 outgoing-interface IF NEXTHOP" puts a host route to the tunnel's
// peer by IF through NEXTHOP, and "ip route P NEXTHOP IF" binds its next
// hop to the interface; both leave at stop.
func TestTunOutgoingInterfaceAndNextHopInterface(t *testing.T) {
	nslab.Require(t, "go")
	ns := bgtNS(t, "outif")
	bgtRun(t, "ip", "-n", ns, "tuntap", "add", "dev", "Tunnel0.0", "mode", "tun")
	for _, l := range []string{"wan0", "wan1"} {
		bgtRun(t, "ip", "-n", ns, "link", "add", l, "type", "veth", "peer", "name", l+"p")
		bgtRun(t, "ip", "-n", ns, "link", "set", l+"p", "up")
	}
	bgtRun(t, "ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", "wan0")
	bgtRun(t, "ip", "-n", ns, "addr", "add", "203.0.113.1/24", "dev", "wan1")
	bgtRun(t, "ip", "-n", ns, "link", "set", "wan0", "up")
	bgtRun(t, "ip", "-n", ns, "link", "set", "wan1", "up")
	// Without the interface the kernel would take this more specific way
	// to the next hop 203.0.113.253.
	bgtRun(t, "ip", "-n", ns, "route", "add", "203.0.113.253/32", "dev", "wan0")
	mp, ma := netip.MustParsePrefix, netip.MustParseAddr
	cfg := &config.Config{
		Interfaces: []*config.Interface{
			{Name: "GigaEthernet0.0", Kind: config.KindGigaEthernet, Address: mp("192.0.2.1/24")},
			{Name: "GigaEthernet1.0", Kind: config.KindGigaEthernet, Address: mp("203.0.113.1/24")},
			{Name: "Tunnel0.0", Kind: config.KindTunnel, Address: mp("169.254.0.1/30"), Tunnel: &config.Tunnel{
				Mode: "ipsec-ikev2", Peer: ma("198.51.100.6"), OutgoingInterface: "GigaEthernet1.0", OutgoingNextHop: ma("203.0.113.254"),
			}},
		},
		Routes: []*config.Route{
			{Prefix: mp("0.0.0.0/0"), NextHop: ma("192.0.2.254")},
			{Prefix: mp("10.60.0.0/16"), NextHop: ma("203.0.113.253"), Interface: "GigaEthernet1.0"},
		},
	}
	p := bgtStartPeer(t, ns, cfg, "GigaEthernet0.0=wan0", "GigaEthernet1.0=wan1")
	static := bgtRoutes(t, ns, int(tun.ProtoStatic))
	for dst, want := range map[string][2]string{
		"198.51.100.6": {"wan1", "203.0.113.254"}, // not by the default route's wan0
		"10.60.0.0/16": {"wan1", "203.0.113.253"},
		"default":      {"wan0", "192.0.2.254"},
	} {
		r := bgtFindRoute(static, dst)
		if r == nil || r.Dev != want[0] || r.Gateway != want[1] {
			t.Errorf("route %s = %+v, want dev %s via %s (all: %v)", dst, r, want[0], want[1], static)
		}
	}
	// What the kernel picks for IKE to the peer.
	if out := bgtRun(t, "ip", "-n", ns, "route", "get", "198.51.100.6"); !strings.Contains(out, "via 203.0.113.254 dev wan1") {
		t.Errorf("route get 198.51.100.6: %s", out)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ns)
}
