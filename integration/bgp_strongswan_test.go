package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun"
)

// TestBGPThroughStrongSwanTunnel runs soft-ix's bgp+tun as the IX's BGP
// speaker over a real IPsec tunnel: the strongSwan reference pair of
// nslab carries it (its TUN device ipsec0 plays Tunnel0.0, mapped), BIRD is
// Azure's speaker at 172.16.0.6 AS 65010. The LAN host's ping to the VNet
// host then runs on the routes BGP installed on both sides.
func TestBGPThroughStrongSwanTunnel(t *testing.T) {
	lab := nslab.NewForTest(t, "bgtsx", "charon-systemd", "swanctl", "ping", "bird", "birdc", "go")
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := nslab.StartStrongSwanPair(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Azure.IP("route", "replace", nslab.IXLoopbackAddr+"/32", "dev", "ipsec0"); err != nil {
		t.Fatal(err)
	}
	// Azure's speaker. Not nslab.BGPConfig: after an error BIRD waits 60 s
	// by default before it talks again, which only slows the outage test.
	azure, err := nslab.StartBIRD(s.Azure, "azure", `
log "`+nslab.BIRDLogFile(lab, "azure")+`" all;
router id 172.16.0.6;
protocol device { scan time 2; }
protocol static announce { ipv4; route 172.16.0.0/16 via "vnet"; }
protocol static reach { ipv4; route 10.2.2.2/32 via "ipsec0"; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp peer {
  local 172.16.0.6 as 65010;
  neighbor 10.2.2.2 as 65050;
  multihop 2;
  hold time 30;
  connect retry time 2;
  error wait time 1, 5;
  ipv4 { import all; export where proto = "announce"; };
}
`)
	if err != nil {
		t.Fatal(err)
	}

	// soft-ix with the seed's BGP config; ipsec0 is its Tunnel0.0.
	// Short timers so that the outage below drops the session quickly.
	cfg := bgtSeedBGPConfig()
	cfg.BGP.Neighbors[0].Keepalive, cfg.BGP.Neighbors[0].Hold = time.Second, 3*time.Second
	p := bgtStartPeer(t, s.IX.Name, cfg, "Tunnel0.0=ipsec0", "GigaEthernet1.0=GigaEthernet1.0")
	bgtWaitEstablished(t, p, 60*time.Second)
	if err := azure.WaitEstablished("peer", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var r *bgtRoute
	bgtWaitFor(t, 20*time.Second, "172.16.0.0/16 in the IX kernel", func() bool {
		r = bgtFindRoute(bgtRoutes(t, s.IX.Name, int(tun.ProtoBGP)), nslab.VNetNet)
		return r != nil
	})
	if r.Dev != "ipsec0" || r.Gateway != "" {
		t.Errorf("want a device route out of the tunnel without gateway, got %+v", *r)
	}
	out, err := azure.Birdc("show", "route", "protocol", "peer", "all")
	if err != nil || !strings.Contains(out, nslab.LANNet) || !strings.Contains(out, "BGP.as_path: 65050") ||
		!strings.Contains(out, "BGP.next_hop: 10.2.2.2") || !strings.Contains(out, "BGP.med: 1") {
		t.Errorf("Azure's BIRD did not get 192.168.2.0/24 as the IX sends it (%v):\n%s", err, out)
	}
	if err := nslab.WaitFor(15*time.Second, "ping 192.168.2.10 -> 172.16.1.4 over BGP routes", func() error {
		return s.LAN.Ping(nslab.VNetHostAddr, "", 1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.IX.Ping(nslab.VNetHostAddr, nslab.IXLANAddr, 3); err != nil {
		t.Errorf("ping 172.16.1.4 source 192.168.2.1: %v", err)
	}

	// The tunnel is torn down (ike would report it to tun as here): the
	// session drops, the routes go; re-established, both come back.
	if _, err := pair.IX.Swanctl("--terminate", "--ike", "ix"); err != nil {
		t.Fatal(err)
	}
	if err := p.do("tunnel Tunnel0.0 down", nil); err != nil {
		t.Fatal(err)
	}
	bgtWaitFor(t, 15*time.Second, "session to drop", func() bool {
		sum, err := bgtSummary(p)
		return err == nil && sum.Neighbors[0].State != "ESTABLISHED"
	})
	if rs := bgtRoutes(t, s.IX.Name, int(tun.ProtoBGP)); len(rs) != 0 {
		t.Errorf("bgp routes left while the tunnel is down: %v", rs)
	}
	start := time.Now()
	if err := pair.IX.Initiate(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, side := range []*nslab.StrongSwan{pair.IX, pair.Azure} {
		if err := side.FixRouting(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.do("tunnel Tunnel0.0 up", nil); err != nil {
		t.Fatal(err)
	}
	bgtWaitEstablished(t, p, 60*time.Second)
	bgtWaitFor(t, 20*time.Second, "172.16.0.0/16 back in the IX kernel", func() bool {
		return bgtFindRoute(bgtRoutes(t, s.IX.Name, int(tun.ProtoBGP)), nslab.VNetNet) != nil
	})
	if err := nslab.WaitFor(15*time.Second, "ping after the tunnel came back", func() error {
		return s.LAN.Ping(nslab.VNetHostAddr, "", 1)
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("tunnel, session, routes and ping back %s after re-initiating", time.Since(start).Round(time.Millisecond))

	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, s.IX.Name)
	if out, _ := s.IX.Run("ip", "addr", "show", "dev", "ipsec0"); strings.Contains(out, "169.254.0.1") {
		t.Errorf("Tunnel0.0 address left on ipsec0:\n%s", out)
	}
}
