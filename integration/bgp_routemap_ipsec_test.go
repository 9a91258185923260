package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// The two-tunnel route-map test over real tunnels: the seed scenario plus
// a second cloud headend, so the IX has two IKEv2/ESP tunnels, one to each
// headend, as in Oracle's IX template. Each headend is a soft-ix daemon
// for the tunnel and BIRD 2 for BGP on the tunnel's inside address.
//
//	IX  Tunnel0.0 169.254.0.1/30 -- ESP -- "azure" 198.51.100.6 Tunnel0.0 169.254.0.2 (+ the VNet host 172.16.1.4)
//	IX  Tunnel1.0 169.254.0.5/30 -- ESP -- "cloud2" 192.0.2.6   Tunnel0.0 169.254.0.6
//
// Both headends announce 172.16.0.0/16. The IX's route-maps prefer
// Tunnel1.0 (local-preference 200 against 150, and the LAN prepended
// twice towards Tunnel0.0's headend); when Tunnel1.0's headend goes away,
// the IX fails over to Tunnel0.0 and the LAN reaches the VNet through it;
// when the headend returns, so does the preferred path.

const rmipsecCloud2Addr = "192.0.2.6"

func rmipsecIXConfig() string {
	return fmt.Sprintf(`hostname rm-ix
ikev2 authentication psk id ipv4 %[1]s key char %[3]s
ikev2 authentication psk id ipv4 %[2]s key char %[3]s
!
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  no shutdown
!
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  no shutdown
!
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ikev2 connect-type auto
  ikev2 peer %[1]s authentication psk id ipv4 %[1]s
  no shutdown
!
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.5/30
  ikev2 connect-type auto
  ikev2 peer %[2]s authentication psk id ipv4 %[2]s
  no shutdown
!
`+rmapPolicy, nslab.AzurePublicAddr, rmipsecCloud2Addr, nslab.SeedPSK)
}

// rmipsecHeadend is a cloud headend's tunnel to the IX, as soft-ix config.
func rmipsecHeadend(wan, inside string) string {
	return fmt.Sprintf(`hostname headend
ikev2 authentication psk id ipv4 203.0.113.94 key char %[3]s
!
interface GigaEthernet0.0
  ip address %[1]s/24
  no shutdown
!
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address %[2]s/30
  ikev2 negotiation-direction responder
  ikev2 peer 203.0.113.94 authentication psk id ipv4 203.0.113.94
  no shutdown
!
ip route 192.168.2.0/24 Tunnel0.0
`, wan, inside, nslab.SeedPSK)
}

// rmipsecBIRD is a headend's BGP speaker on its tunnel's inside address.
func rmipsecBIRD(lab *nslab.Lab, name, routerID, local, ix string) string {
	return fmt.Sprintf(`log "%s" all;
router id %s;
protocol device {}
protocol static vnet { ipv4; route 172.16.0.0/16 blackhole; }
protocol bgp ix {
  local %s as 65010;
  neighbor %s as 65050;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  hold time 3;
  keepalive time 1;
  ipv4 { import all; export where proto = "vnet"; };
}
`, nslab.BIRDLogFile(lab, name), routerID, local, ix)
}

func TestBGPRouteMapsTwoIPsecTunnels(t *testing.T) {
	lab := nslab.NewForTest(t, "rmipsec", "bird", "birdc", "ping")
	softIXBinary(t)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{NoAzureBGPAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	// The second headend, on another public network behind the internet
	// router.
	cloud2, err := lab.Namespace("cloud2")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(s.Internet, "cloud2", "192.0.2.1/24", cloud2, "wan", rmipsecCloud2Addr+"/24"); err != nil {
		t.Fatal(err)
	}
	if err := cloud2.IP("route", "add", "default", "via", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	wanMap := map[string]string{"GigaEthernet0.0": "wan"}
	if _, err := nslab.StartSoftIXDaemon(s.Azure, nslab.SoftIXOptions{Name: "headend1", Config: rmipsecHeadend(nslab.AzurePublicAddr, "169.254.0.2"), Map: wanMap}); err != nil {
		t.Fatal(err)
	}
	h2, err := nslab.StartSoftIXDaemon(cloud2, nslab.SoftIXOptions{Name: "headend2", Config: rmipsecHeadend(rmipsecCloud2Addr, "169.254.0.6"), Map: wanMap})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := nslab.StartBIRD(s.Azure, "headend1", rmipsecBIRD(lab, "headend1", nslab.AzurePublicAddr, "169.254.0.2", "169.254.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := nslab.StartBIRD(cloud2, "headend2", rmipsecBIRD(lab, "headend2", rmipsecCloud2Addr, "169.254.0.6", "169.254.0.5"))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{Name: "ix", Config: rmipsecIXConfig(), Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	show := func(args ...string) string {
		out, err := ix.Command(args...)
		if err != nil {
			t.Fatalf("soft-ix %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	vnetVia := func(dev string) func() error {
		return func() error {
			out, err := s.IX.Run("ip", "-4", "route", "show", "172.16.0.0/16")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "dev "+dev) {
				return fmt.Errorf("172.16.0.0/16: %q", strings.TrimSpace(out))
			}
			return nil
		}
	}
	start := time.Now()
	if err := b1.WaitEstablished("ix", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b2.WaitEstablished("ix", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("both tunnels and sessions up after %s", time.Since(start).Round(time.Millisecond))

	// The IX: local-preference puts Tunnel1.0's path first.
	if err := nslab.WaitFor(15*time.Second, "172.16.0.0/16 out of Tunnel1.0", vnetVia("Tunnel1.0")); err != nil {
		t.Fatal(err)
	}
	var table string
	err = nslab.WaitFor(10*time.Second, "both paths in show ip bgp", func() error {
		table = show("show", "ip", "bgp")
		if strings.Count(table, "172.16.0.0/16") != 2 {
			return fmt.Errorf("%s", table)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("show ip bgp:\n%s", table)
	for _, want := range []string{"169.254.0.6", "169.254.0.2"} {
		line := ""
		for _, l := range strings.Split(table, "\n") {
			if strings.Contains(l, "172.16.0.0/16") && strings.Contains(l, want) {
				line = l
			}
		}
		best, lp := want == "169.254.0.6", map[string]string{"169.254.0.6": " 200 ", "169.254.0.2": " 150 "}[want]
		if strings.HasPrefix(line, "*>") != best || !strings.Contains(line, lp) {
			t.Errorf("path via %s: %q, want best=%v and LocPrf%s", want, line, best, lp)
		}
	}

	// The headends: the LAN arrives prepended at Tunnel0.0's.
	for _, c := range []struct {
		b    *nslab.BIRD
		path string
	}{{b1, "BGP.as_path: 65050 65050 65050\n"}, {b2, "BGP.as_path: 65050\n"}} {
		err := nslab.WaitFor(10*time.Second, c.b.Name+" to learn 192.168.2.0/24", func() error {
			out, err := c.b.Birdc("show", "route", "for", "192.168.2.0/24", "all")
			if err != nil || !strings.Contains(out, c.path) {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}

	// Tunnel1.0's headend goes away: the IX fails over to Tunnel0.0 and
	// the LAN reaches the VNet through it.
	start = time.Now()
	if err := h2.Proc.Stop(); err != nil {
		t.Logf("headend2 stop: %v", err)
	}
	if err := nslab.WaitFor(20*time.Second, "172.16.0.0/16 out of Tunnel0.0", vnetVia("Tunnel0.0")); err != nil {
		t.Fatal(err)
	}
	t.Logf("failed over to Tunnel0.0 %s after the headend stopped", time.Since(start).Round(time.Millisecond))
	if err := s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
		t.Errorf("LAN to VNet through Tunnel0.0: %v", err)
	}
	if out := show("show", "ip", "bgp"); strings.Count(out, "172.16.0.0/16") != 1 {
		t.Errorf("show ip bgp after failover:\n%s", out)
	}

	// The headend returns: tunnel, session and the preferred path too.
	if _, err := nslab.StartSoftIXDaemon(cloud2, nslab.SoftIXOptions{Name: "headend2b", Config: rmipsecHeadend(rmipsecCloud2Addr, "169.254.0.6"), Map: wanMap}); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(60*time.Second, "172.16.0.0/16 back out of Tunnel1.0", vnetVia("Tunnel1.0")); err != nil {
		t.Fatal(err)
	}
}
