package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// strongSwanTools are the commands the strongSwan reference needs.
var strongSwanTools = []string{"charon-systemd", "swanctl", "ping"}

// TestStrongSwanReferenceTunnel is the reference later tests measure
// soft-ix against: strongSwan on both sides (standing in for the IX and for
// Azure's gateway) with the seed's parameters, static routes as in
// ix-static.conf, and a ping from the LAN host 192.168.2.10 to the VNet host
// 172.16.1.4 answered through the tunnel.
func TestStrongSwanReferenceTunnel(t *testing.T) {
	lab := nslab.NewForTest(t, "sxref", strongSwanTools...)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Without a tunnel the LAN cannot reach the VNet: the internet router
	// has no route for either private network.
	if err := s.LAN.Ping(nslab.VNetHostAddr, "", 1); err == nil {
		t.Fatal("ping 192.168.2.10 -> 172.16.1.4 answered before any tunnel exists")
	}

	pair, err := nslab.StartStrongSwanPair(s)
	if err != nil {
		t.Fatal(err)
	}
	// ix-static.conf: ip route 172.16.0.0/16 Tunnel0.0; Azure routes the
	// local network gateway's prefix into the connection.
	if err := pair.IX.RouteVia(nslab.VNetNet); err != nil {
		t.Fatal(err)
	}
	if err := pair.Azure.RouteVia(nslab.LANNet); err != nil {
		t.Fatal(err)
	}

	if err := nslab.WaitFor(15*time.Second, "ping 192.168.2.10 -> 172.16.1.4", func() error {
		return s.LAN.Ping(nslab.VNetHostAddr, "", 1)
	}); err != nil {
		t.Fatal(err)
	}
	// The IX itself reaches the VNet from its LAN address, as in the
	// how-to's `ping 172.16.1.4 source 192.168.2.1`.
	if err := s.IX.Ping(nslab.VNetHostAddr, nslab.IXLANAddr, 3); err != nil {
		t.Fatal(err)
	}

	sas, err := pair.IX.ListSAs()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("IX-side strongSwan SAs:\n%s", sas)
	for _, want := range []string{
		"ESTABLISHED", "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
		"INSTALLED", "ESP:AES_CBC-256/HMAC_SHA2_256_128",
		"203.0.113.94", "198.51.100.6", "0.0.0.0/0",
	} {
		if !strings.Contains(sas, want) {
			t.Errorf("IX-side SAs lack %q", want)
		}
	}
	// Traffic really went through ESP: both directions counted packets.
	if !strings.Contains(sas, "packets") {
		t.Errorf("IX-side SAs show no packet counters")
	}
}

// TestBIRDThroughStrongSwanTunnel proves the BGP-through-tunnel topology of
// ix-bgp.conf with reference implementations: BIRD as the IX (AS 65050,
// Loopback0.0 10.2.2.2) and as Azure's BGP speaker (AS 65010, 172.16.0.6),
// eBGP multihop over the strongSwan reference tunnel. Only the host routes
// to the BGP peers are static; the LAN <-> VNet ping uses BGP-learned routes.
func TestBIRDThroughStrongSwanTunnel(t *testing.T) {
	lab := nslab.NewForTest(t, "sxbgp", append(strongSwanTools, "bird", "birdc")...)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nslab.StartStrongSwanPair(s); err != nil {
		t.Fatal(err)
	}
	birds, err := nslab.StartBIRDPair(s, "ipsec0", "ipsec0")
	if err != nil {
		t.Fatal(err)
	}

	// Each side installs the other's prefix into the kernel, next hop the
	// peer's BGP address out of the tunnel.
	for _, want := range []struct {
		ns              *nslab.Namespace
		prefix, nextHop string
	}{
		{s.IX, nslab.VNetNet, nslab.AzureBGPAddr},
		{s.Azure, nslab.LANNet, nslab.IXLoopbackAddr},
	} {
		if err := nslab.WaitFor(20*time.Second, "BGP route "+want.prefix+" in "+want.ns.Role, func() error {
			out, err := want.ns.Run("ip", "route", "show", want.prefix)
			if err != nil {
				return err
			}
			if !strings.Contains(out, "dev ipsec0 proto bird") {
				return fmt.Errorf("kernel route is %q", strings.TrimSpace(out))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		bird           *nslab.BIRD
		prefix, asPath string
	}{
		{birds.IX, nslab.VNetNet, "65010"},
		{birds.Azure, nslab.LANNet, "65050"},
	} {
		out, err := c.bird.Birdc("show", "route", "protocol", "peer", "all")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, c.prefix) || !strings.Contains(out, "BGP.as_path: "+c.asPath) {
			t.Errorf("bird %s: want %s with AS path %s, got:\n%s", c.bird.Name, c.prefix, c.asPath, out)
		}
	}

	if err := nslab.WaitFor(15*time.Second, "ping 192.168.2.10 -> 172.16.1.4 over BGP routes", func() error {
		return s.LAN.Ping(nslab.VNetHostAddr, "", 1)
	}); err != nil {
		t.Fatal(err)
	}
}
