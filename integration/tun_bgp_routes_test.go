package integration

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun"
)

// BGP routes through a real TUN device: device routes without gateway,
// withdrawn while the tunnel is down, a 10,000-route batch, pending routes
// for an unreachable next hop.
func TestTunBGPRoutesThroughTUN(t *testing.T) {
	nslab.Require(t, "go")
	ns := bgtNS(t, "tunbgp")
	bgtRun(t, "ip", "-n", ns, "tuntap", "add", "dev", "Tunnel0.0", "mode", "tun")
	mp := netip.MustParsePrefix
	cfg := &config.Config{
		Interfaces: []*config.Interface{
			{Name: "Tunnel0.0", Kind: config.KindTunnel, Address: mp("169.254.0.1/30"),
				Tunnel: &config.Tunnel{Mode: "ipsec-ikev2", Peer: netip.MustParseAddr("198.51.100.6")}},
			{Name: "Loopback0.0", Kind: config.KindLoopback, Address: mp("10.2.2.2/32")},
		},
		Routes: []*config.Route{{Prefix: mp("172.16.0.6/32"), Interface: "Tunnel0.0"}},
	}
	p := bgtStartPeer(t, ns, cfg)
	bgp := int(tun.ProtoBGP)

	if err := p.do("install 172.16.0.6 172.16.0.0/16", nil); err != nil {
		t.Fatal(err)
	}
	r := bgtFindRoute(bgtRoutes(t, ns, bgp), "172.16.0.0/16")
	if r == nil || r.Dev != "Tunnel0.0" || r.Gateway != "" || r.Metric != tun.BGPMetric {
		t.Fatalf("want a device route out of Tunnel0.0 without gateway, got %+v", r)
	}

	var took string
	if err := p.do("install 172.16.0.6 10000", &took); err != nil {
		t.Fatal(err)
	}
	t.Logf("InstallRoutes of 10,000 prefixes: %s", took)
	if n := bgtCountRoutes(t, ns, bgp); n != 10001 {
		t.Fatalf("%d bgp routes, want 10001", n)
	}

	if err := p.do("tunnel Tunnel0.0 down", nil); err != nil {
		t.Fatal(err)
	}
	if n := bgtCountRoutes(t, ns, bgp); n != 0 {
		t.Errorf("tunnel down: %d bgp routes left", n)
	}
	if err := p.do("tunnel Tunnel0.0 up", nil); err != nil {
		t.Fatal(err)
	}
	if n := bgtCountRoutes(t, ns, bgp); n != 10001 {
		t.Errorf("tunnel up: %d bgp routes, want 10001", n)
	}

	if err := p.do("remove 10000", &took); err != nil {
		t.Fatal(err)
	}
	t.Logf("RemoveRoutes of 10,000 prefixes: %s", took)
	if n := bgtCountRoutes(t, ns, bgp); n != 1 {
		t.Errorf("after remove: %d bgp routes, want 1", n)
	}

	// An unreachable next hop leaves the route pending, not an error.
	if err := p.do("install 192.0.2.1 203.0.113.0/24", nil); err != nil {
		t.Errorf("unreachable next hop: %v", err)
	}
	if bgtFindRoute(bgtRoutes(t, ns, bgp), "203.0.113.0/24") != nil {
		t.Error("route via an unreachable next hop was installed")
	}

	// A route out of the tunnel that covers the tunnel's own IKE peer
	// would carry the tunnel into itself: refused; the rest still go in.
	err := p.do("install 172.16.0.6 198.51.100.0/24 0.0.0.0/0 172.17.0.0/16", nil)
	if err == nil || !strings.Contains(err.Error(), "would route that tunnel into itself") {
		t.Errorf("install with routes covering the IKE peer: err %v, want the refusal", err)
	}
	rs := bgtRoutes(t, ns, bgp)
	for _, dst := range []string{"198.51.100.0/24", "default"} {
		if bgtFindRoute(rs, dst) != nil {
			t.Errorf("route %s covers the IKE peer 198.51.100.6 and was installed out of Tunnel0.0", dst)
		}
	}
	if bgtFindRoute(rs, "172.17.0.0/16") == nil {
		t.Error("172.17.0.0/16, installed in the same batch, is missing")
	}
	// A reload that moves the peer into an installed route takes it out.
	cfg.Interfaces[0].Tunnel.Peer = netip.MustParseAddr("172.17.0.9")
	if err := p.do("reload "+bgtWriteConfig(t, cfg), nil); err != nil {
		t.Fatalf("reload with the peer moved: %v", err)
	}
	if bgtFindRoute(bgtRoutes(t, ns, bgp), "172.17.0.0/16") != nil {
		t.Error("172.17.0.0/16 covers the reloaded peer 172.17.0.9 and stayed installed out of Tunnel0.0")
	}

	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ns)
}
