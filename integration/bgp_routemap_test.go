package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun"
)

// rmapIXConfig is the BGP half of a two-tunnel template such as Oracle's
// IX one (config/testdata/wild/oci-ikev2-template-bgp.conf): one neighbor
// per tunnel, both in the cloud's AS, and route-maps that prefer
// Tunnel1.0 both ways: local-preference on what comes in, AS-path
// prepending on what goes out of the other tunnel. Without them both
// sides would pick the Tunnel0.0 path (lower neighbor address), so the
// test sees the route-maps at work.
const rmapIXConfig = `interface Tunnel0.0
  ip address 169.254.0.1/30
interface Tunnel1.0
  ip address 169.254.0.5/30
` + rmapPolicy

// rmapPolicy is the IX's side of both route-map tests: a neighbor per
// tunnel; local-preference prefers Tunnel1.0's routes, and what goes out
// through Tunnel0.0 is prepended, so the far side prefers Tunnel1.0 too.
const rmapPolicy = `route-map tun0-in permit 10
  set local-preference 150
route-map tun0-out permit 10
  set as-path prepend 65050 65050
route-map tun1-in permit 10
  set local-preference 200
router bgp 65050
  neighbor 169.254.0.2 remote-as 65010
  neighbor 169.254.0.2 timers 1 3
  neighbor 169.254.0.2 connect-interval 1
  neighbor 169.254.0.6 remote-as 65010
  neighbor 169.254.0.6 timers 1 3
  neighbor 169.254.0.6 connect-interval 1
  address-family ipv4 unicast
    neighbor 169.254.0.2 route-map tun0-in in
    neighbor 169.254.0.2 route-map tun0-out out
    neighbor 169.254.0.6 route-map tun1-in in
    network 192.168.2.0/24
`

// rmapCloudBird is the far side: one BGP session per tunnel, both
// announcing the VNet 172.16.0.0/16, with short timers.
const rmapCloudBird = `
router id 172.16.0.6;
protocol device {}
protocol static vnet { ipv4; route 172.16.0.0/16 blackhole; }
template bgp tix {
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  hold time 3;
  keepalive time 1;
  ipv4 { import all; export where source = RTS_STATIC; };
}
protocol bgp ix0 from tix { local 169.254.0.2 as 65010; neighbor 169.254.0.1 as 65050; }
protocol bgp ix1 from tix { local 169.254.0.6 as 65010; neighbor 169.254.0.5 as 65050; }
`

// TestBGPRouteMapsTwoTunnelsWithBIRD: two tunnels (veths named like the
// TUN devices, as in the other BGP tests), two neighbors on their inside
// addresses, BIRD 2 as the cloud. The route-maps choose Tunnel1.0 on both
// sides; when that tunnel goes down the traffic fails over to Tunnel0.0,
// and comes back when it returns.
func TestBGPRouteMapsTwoTunnelsWithBIRD(t *testing.T) {
	nslab.Require(t, "go", "bird", "birdc")
	cfg, _, err := config.Parse("two-tunnels.conf", []byte(rmapIXConfig))
	if err != nil {
		t.Fatal(err)
	}
	ix, az := bgtNS(t, "rmix"), bgtNS(t, "rmaz")
	for i, addr := range []string{"169.254.0.2/30", "169.254.0.6/30"} {
		n := []string{"0", "1"}[i]
		bgtRun(t, "ip", "-n", ix, "link", "add", "Tunnel"+n+".0", "type", "veth", "peer", "name", "az"+n, "netns", az)
		bgtRun(t, "ip", "-n", az, "addr", "add", addr, "dev", "az"+n)
		bgtRun(t, "ip", "-n", az, "link", "set", "az"+n, "up")
	}
	b := bgtStartBird(t, az, rmapCloudBird)
	p := bgtStartPeer(t, ix, cfg)

	established := func(n int) func() bool {
		return func() bool {
			s, err := bgtSummary(p)
			up := 0
			for _, nb := range s.Neighbors {
				if nb.State == "ESTABLISHED" {
					up++
				}
			}
			return err == nil && up == n
		}
	}
	vnetVia := func(dev string) func() bool {
		return func() bool {
			r := bgtFindRoute(bgtRoutes(t, ix, int(tun.ProtoBGP)), "172.16.0.0/16")
			return r != nil && r.Dev == dev
		}
	}
	// birdBest is the protocol of BIRD's best route to the LAN ("ix1").
	birdBest := func() string {
		for _, l := range strings.Split(b.query("show", "route", "for", "192.168.2.0/24"), "\n") {
			if i := strings.Index(l, "[ix"); i >= 0 && strings.Contains(l, " * ") {
				return l[i+1 : i+4]
			}
		}
		return ""
	}
	bgtWaitFor(t, 60*time.Second, "both sessions ESTABLISHED", established(2))

	// soft-ix: local-preference 200 makes Tunnel1.0's path the best.
	bgtWaitFor(t, 15*time.Second, "172.16.0.0/16 out of Tunnel1.0", vnetVia("Tunnel1.0"))
	// The two sessions come up apart, so the route over Tunnel1.0 can
	// be installed before the one over Tunnel0.0 has arrived.
	var rt0, rt1 bgp.RouteTable
	bgtWaitFor(t, 15*time.Second, "a route received over each tunnel", func() bool {
		if err := p.do("routes 169.254.0.2", &rt0); err != nil {
			t.Fatal(err)
		}
		if err := p.do("routes 169.254.0.6", &rt1); err != nil {
			t.Fatal(err)
		}
		return len(rt0.Routes) > 0 && len(rt1.Routes) > 0
	})
	if len(rt0.Routes) != 1 || rt0.Routes[0].LocalPref == nil || *rt0.Routes[0].LocalPref != 150 || rt0.Routes[0].Best ||
		len(rt1.Routes) != 1 || rt1.Routes[0].LocalPref == nil || *rt1.Routes[0].LocalPref != 200 || !rt1.Routes[0].Best {
		t.Errorf("received via Tunnel0.0 %+v, via Tunnel1.0 %+v", rt0.Routes, rt1.Routes)
	}

	// BIRD: the LAN comes prepended over Tunnel0.0, so Tunnel1.0 wins.
	bgtWaitFor(t, 15*time.Second, "BIRD to prefer ix1", func() bool { return birdBest() == "ix1" })
	out := b.query("show", "route", "for", "192.168.2.0/24", "all")
	t.Logf("birdc show route for 192.168.2.0/24 all:\n%s", out)
	if !strings.Contains(out, "BGP.as_path: 65050 65050 65050") {
		t.Errorf("no prepended path over Tunnel0.0:\n%s", out)
	}
	var adv bgp.RouteTable
	if err := p.do("advertised 169.254.0.2", &adv); err != nil || len(adv.Routes) == 0 {
		t.Fatalf("advertised: %+v %v", adv, err)
	}
	t.Logf("advertised to 169.254.0.2: %+v", adv.Routes)

	// Tunnel1.0 goes down (the IPsec side reports it, the path is gone):
	// both sides fail over to Tunnel0.0.
	start := time.Now()
	if err := p.do("tunnel Tunnel1.0 down", nil); err != nil {
		t.Fatal(err)
	}
	bgtRun(t, "ip", "-n", az, "link", "set", "az1", "down")
	bgtWaitFor(t, 15*time.Second, "172.16.0.0/16 out of Tunnel0.0", vnetVia("Tunnel0.0"))
	t.Logf("soft-ix failed over to Tunnel0.0 after %s", time.Since(start).Round(time.Millisecond))
	bgtWaitFor(t, 15*time.Second, "BIRD to fail over to ix0", func() bool { return birdBest() == "ix0" })

	// Tunnel1.0 back: the preferred path returns on both sides.
	bgtRun(t, "ip", "-n", az, "link", "set", "az1", "up")
	if err := p.do("tunnel Tunnel1.0 up", nil); err != nil {
		t.Fatal(err)
	}
	bgtWaitFor(t, 60*time.Second, "both sessions ESTABLISHED again", established(2))
	bgtWaitFor(t, 15*time.Second, "172.16.0.0/16 back out of Tunnel1.0", vnetVia("Tunnel1.0"))
	bgtWaitFor(t, 15*time.Second, "BIRD back on ix1", func() bool { return birdBest() == "ix1" })

	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ix)
}
