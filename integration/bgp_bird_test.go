package integration

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun"
)

// bgtSeedBGPConfig is ../shared/seed/ix-bgp.conf mapped to the lab, plus
// the LAN interface the IX has (GigaEthernet1.0 192.168.2.1/24).
func bgtSeedBGPConfig() *config.Config {
	mp := netip.MustParsePrefix
	return &config.Config{
		Interfaces: []*config.Interface{
			{Name: "GigaEthernet1.0", Kind: config.KindGigaEthernet, Address: mp("192.168.2.1/24")},
			{Name: "Tunnel0.0", Kind: config.KindTunnel, Address: mp("169.254.0.1/30"), Tunnel: &config.Tunnel{}},
			{Name: "Loopback0.0", Kind: config.KindLoopback, Address: mp("10.2.2.2/32")},
		},
		Routes: []*config.Route{{Prefix: mp("172.16.0.6/32"), Interface: "Tunnel0.0"}},
		BGP: &config.BGP{
			ASN: 65050,
			Neighbors: []*config.Neighbor{{
				Addr: netip.MustParseAddr("172.16.0.6"), RemoteAS: 65010, UpdateSource: "Loopback0.0",
			}},
			Networks: []netip.Prefix{mp("192.168.2.0/24")},
		},
	}
}

// bgtAzureBird is the Azure side: AS 65010 speaking from 172.16.0.6 to
// 10.2.2.2 (multihop, as Azure's gateway does), announcing the VNet
// 172.16.0.0/16 and, when enabled, the extra static protocol.
func bgtAzureBird(extra, ixOpts string) string {
	return `
router id 172.16.0.6;
protocol device {}
protocol static vnet { ipv4; route 172.16.0.0/16 blackhole; }
protocol static onprem { ipv4; route 10.2.2.2/32 via "az0"; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
` + extra + `
protocol bgp ix {
` + ixOpts + `
  local 172.16.0.6 as 65010;
  neighbor 10.2.2.2 as 65050;
  multihop;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 5;
  hold time 180;
  keepalive time 60;
  ipv4 { import all; export where source = RTS_STATIC && proto != "onprem"; };
}
`
}

// bgtLab builds the two namespaces: "ix" with soft-ix, "az" with BIRD,
// joined by a veth whose soft-ix end is named Tunnel0.0 and stands in for
// the IPsec tunnel.
func bgtLab(t *testing.T, birdExtra, birdIXOpts string) (ix, az string, b *bgtBird) {
	ix, az = bgtNS(t, "ix"), bgtNS(t, "az")
	bgtRun(t, "ip", "-n", ix, "link", "add", "Tunnel0.0", "type", "veth", "peer", "name", "az0", "netns", az)
	bgtRun(t, "ip", "-n", ix, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
	bgtRun(t, "ip", "-n", ix, "addr", "add", "192.168.2.1/24", "dev", "lan0")
	bgtRun(t, "ip", "-n", ix, "link", "set", "lan0", "up")
	bgtRun(t, "ip", "-n", ix, "link", "set", "lan0p", "up")
	bgtRun(t, "ip", "-n", az, "addr", "add", "169.254.0.2/30", "dev", "az0")
	bgtRun(t, "ip", "-n", az, "addr", "add", "172.16.0.6/32", "dev", "az0")
	bgtRun(t, "ip", "-n", az, "link", "set", "az0", "up")
	bgtRun(t, "ip", "-n", az, "route", "add", "10.2.2.2/32", "dev", "az0")
	// The VM behind Azure: 172.16.1.4.
	bgtRun(t, "ip", "-n", az, "link", "add", "vnet0", "type", "veth", "peer", "name", "vnet0p")
	bgtRun(t, "ip", "-n", az, "addr", "add", "172.16.1.4/24", "dev", "vnet0")
	bgtRun(t, "ip", "-n", az, "link", "set", "vnet0", "up")
	bgtRun(t, "ip", "-n", az, "link", "set", "vnet0p", "up")
	b = bgtStartBird(t, az, bgtAzureBird(birdExtra, birdIXOpts))
	return ix, az, b
}

func bgtWaitEstablished(t *testing.T, p *bgtPeer, timeout time.Duration) bgp.Summary {
	t.Helper()
	var sum bgp.Summary
	bgtWaitFor(t, timeout, "session to 172.16.0.6 ESTABLISHED", func() bool {
		if err := p.do("summary", &sum); err != nil {
			t.Fatal(err)
		}
		return len(sum.Neighbors) == 1 && sum.Neighbors[0].State == "ESTABLISHED"
	})
	return sum
}

func TestBGPSeedSessionWithBIRD(t *testing.T) {
	nslab.Require(t, "go", "bird", "birdc", "ping")
	ix, az, b := bgtLab(t, "", "")
	p := bgtStartPeer(t, ix, bgtSeedBGPConfig(), "GigaEthernet1.0=lan0")

	start := time.Now()
	sum := bgtWaitEstablished(t, p, 60*time.Second)
	t.Logf("session established after %s", time.Since(start).Round(time.Millisecond))
	if sum.RouterID != netip.MustParseAddr("10.2.2.2") || sum.LocalAS != 65050 || sum.Neighbors[0].RemoteAS != 65010 {
		t.Errorf("summary = %+v", sum)
	}

	// 172.16.0.0/16 learned and in the kernel out of the tunnel.
	var r *bgtRoute
	bgtWaitFor(t, 10*time.Second, "172.16.0.0/16 in the kernel", func() bool {
		r = bgtFindRoute(bgtRoutes(t, ix, int(tun.ProtoBGP)), "172.16.0.0/16")
		return r != nil
	})
	if r.Dev != "Tunnel0.0" || r.Metric != tun.BGPMetric {
		t.Errorf("kernel route = %+v", *r)
	}
	t.Logf("kernel: %+v", *r)
	var rt bgp.RouteTable
	if err := p.do("routes 172.16.0.6", &rt); err != nil {
		t.Fatal(err)
	}
	if rt.TableVersion != 2 {
		t.Errorf("table version %d, want 2 as on the IX (own network + 172.16.0.0/16)", rt.TableVersion)
	}
	if len(rt.Routes) != 1 || rt.Routes[0].Prefix.String() != "172.16.0.0/16" || rt.Routes[0].NextHop.String() != "172.16.0.6" ||
		fmt.Sprint(rt.Routes[0].ASPath) != "[65010]" || rt.Routes[0].Origin != "i" {
		t.Errorf("neighbor routes = %+v", rt)
	}

	// 192.168.2.0/24 advertised: next hop 10.2.2.2, MED 1, as the IX shows it.
	if err := p.do("advertised 172.16.0.6", &rt); err != nil {
		t.Fatal(err)
	}
	if len(rt.Routes) != 1 || rt.Routes[0].Prefix.String() != "192.168.2.0/24" || rt.Routes[0].NextHop.String() != "10.2.2.2" ||
		rt.Routes[0].MED == nil || *rt.Routes[0].MED != 1 || len(rt.Routes[0].ASPath) != 0 {
		t.Errorf("advertised routes = %+v", rt)
	}
	var out string
	bgtWaitFor(t, 10*time.Second, "BIRD to have 192.168.2.0/24", func() bool {
		out = b.query("show", "route", "for", "192.168.2.0/24", "all")
		return strings.Contains(out, "192.168.2.0/24")
	})
	t.Logf("birdc show route for 192.168.2.0/24 all:\n%s", out)
	for _, want := range []string{"BGP.as_path: 65050", "BGP.next_hop: 10.2.2.2", "BGP.med: 1", "BGP.origin: IGP"} {
		if !strings.Contains(out, want) {
			t.Errorf("birdc show route lacks %q:\n%s", want, out)
		}
	}

	// Traffic from the LAN address reaches the VNet and back.
	if out, err := exec.Command("ip", "netns", "exec", ix, "ping", "-c", "1", "-W", "2", "-I", "192.168.2.1", "172.16.1.4").CombinedOutput(); err != nil {
		t.Errorf("ping 172.16.1.4 from 192.168.2.1: %v\n%s", err, out)
	}
	if sum, err := bgtSummary(p); err != nil || sum.ASPathEntries != 2 {
		t.Errorf("AS-PATH entries = %d (%v), want 2 as on the IX", sum.ASPathEntries, err)
	}

	// Tunnel down: its routes leave the kernel; up: they come back.
	if err := p.do("tunnel Tunnel0.0 down", nil); err != nil {
		t.Fatal(err)
	}
	if bgtFindRoute(bgtRoutes(t, ix, 0), "172.16.0.0/16") != nil || bgtFindRoute(bgtRoutes(t, ix, 0), "172.16.0.6") != nil {
		t.Error("routes out of a down tunnel stayed")
	}
	if err := p.do("tunnel Tunnel0.0 up", nil); err != nil {
		t.Fatal(err)
	}
	if r := bgtFindRoute(bgtRoutes(t, ix, int(tun.ProtoBGP)), "172.16.0.0/16"); r == nil || r.Dev != "Tunnel0.0" {
		t.Errorf("bgp route after tunnel up: %v", r)
	}

	// Session drop removes the learned routes; they come back with it.
	b.c(t, "disable", "ix")
	bgtWaitFor(t, 10*time.Second, "routes removed after session drop", func() bool {
		return len(bgtRoutes(t, ix, int(tun.ProtoBGP))) == 0
	})
	b.c(t, "enable", "ix")
	bgtWaitEstablished(t, p, 60*time.Second)
	bgtWaitFor(t, 10*time.Second, "172.16.0.0/16 back", func() bool {
		return bgtFindRoute(bgtRoutes(t, ix, int(tun.ProtoBGP)), "172.16.0.0/16") != nil
	})

	// Reload with an extra network leaves the session up.
	var before bgp.Summary
	p.do("summary", &before)
	cfg := bgtSeedBGPConfig()
	cfg.BGP.Networks = append(cfg.BGP.Networks, netip.MustParsePrefix("192.168.1.0/24"))
	if err := p.do("reload "+bgtWriteConfig(t, cfg), nil); err != nil {
		t.Fatal(err)
	}
	bgtWaitFor(t, 10*time.Second, "BIRD to learn 192.168.1.0/24", func() bool {
		return strings.Contains(b.query("show", "route", "for", "192.168.1.0/24"), "192.168.1.0/24")
	})
	after, _ := bgtSummary(p)
	if after.Neighbors[0].State != "ESTABLISHED" || after.Neighbors[0].MsgRcvd < before.Neighbors[0].MsgRcvd {
		t.Errorf("reload reset the session: before %+v after %+v", before.Neighbors[0], after.Neighbors[0])
	}

	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ix)
	if bgtLinkExists(ix, "Loopback0.0") || !bgtLinkExists(ix, "Tunnel0.0") {
		t.Error("after stop: Loopback0.0 must be gone, Tunnel0.0 (not soft-ix's) kept")
	}
	_ = az
}

func bgtSummary(p *bgtPeer) (bgp.Summary, error) {
	var s bgp.Summary
	err := p.do("summary", &s)
	return s, err
}

// Azure opens the session itself too: soft-ix must accept it. BIRD starts
// with its session disabled so soft-ix's first attempts are refused, then
// BIRD connects first (connect delay 1 s; soft-ix retries every 5-10 s).
func TestBGPAcceptsIncomingSession(t *testing.T) {
	nslab.Require(t, "go", "bird", "birdc", "ss")
	ix, _, b := bgtLab(t, "", "disabled;")
	p := bgtStartPeer(t, ix, bgtSeedBGPConfig(), "GigaEthernet1.0=lan0")
	time.Sleep(2 * time.Second)
	b.c(t, "enable", "ix")
	bgtWaitEstablished(t, p, 30*time.Second)
	out := bgtRun(t, "ip", "netns", "exec", ix, "ss", "-tnH", "state", "established")
	t.Logf("ss in soft-ix namespace: %s", out)
	if !strings.Contains(out, "10.2.2.2:179") {
		t.Errorf("session is not the one BIRD opened to 10.2.2.2:179:\n%s", out)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ix)
}

// A tunnel outage longer than the hold time drops the session and its
// routes; when the tunnel is back, session and routes recover. Short
// timers (keepalive 1, hold 3) keep the test quick.
func TestBGPRecoversAfterTunnelOutage(t *testing.T) {
	nslab.Require(t, "go", "bird", "birdc")
	ix, _, b := bgtLab(t, "", "")
	cfg := bgtSeedBGPConfig()
	cfg.BGP.Neighbors[0].Keepalive, cfg.BGP.Neighbors[0].Hold = time.Second, 3*time.Second
	p := bgtStartPeer(t, ix, cfg, "GigaEthernet1.0=lan0")
	bgtWaitEstablished(t, p, 60*time.Second)
	bgtWaitFor(t, 10*time.Second, "172.16.0.0/16 in the kernel", func() bool {
		return bgtFindRoute(bgtRoutes(t, ix, int(tun.ProtoBGP)), "172.16.0.0/16") != nil
	})

	// The tunnel goes down (as esp/ike would report it).
	if err := p.do("tunnel Tunnel0.0 down", nil); err != nil {
		t.Fatal(err)
	}
	bgtWaitFor(t, 15*time.Second, "session to drop after the hold time", func() bool {
		s, err := bgtSummary(p)
		return err == nil && s.Neighbors[0].State != "ESTABLISHED"
	})
	var learned int
	if err := p.do("learned", &learned); err != nil || learned != 0 {
		t.Errorf("learned routes after the drop: %d (%v)", learned, err)
	}
	if rs := bgtRoutes(t, ix, int(tun.ProtoBGP)); len(rs) != 0 {
		t.Errorf("bgp routes left after the drop: %v", rs)
	}
	bgtWaitFor(t, 15*time.Second, "BIRD to withdraw 192.168.2.0/24", func() bool {
		return !strings.Contains(b.query("show", "route", "for", "192.168.2.0/24"), "192.168.2.0/24")
	})

	// Tunnel back: session and routes recover.
	start := time.Now()
	if err := p.do("tunnel Tunnel0.0 up", nil); err != nil {
		t.Fatal(err)
	}
	bgtWaitEstablished(t, p, 60*time.Second)
	bgtWaitFor(t, 10*time.Second, "172.16.0.0/16 back in the kernel", func() bool {
		r := bgtFindRoute(bgtRoutes(t, ix, int(tun.ProtoBGP)), "172.16.0.0/16")
		return r != nil && r.Dev == "Tunnel0.0"
	})
	t.Logf("session and routes back %s after the tunnel", time.Since(start).Round(time.Millisecond))
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ix)
}
