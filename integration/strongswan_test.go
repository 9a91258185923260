package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
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
	if err := pair.IX.Up(10*time.Second, nslab.VNetNet); err != nil {
		t.Fatal(err)
	}
	if err := pair.Azure.Up(10*time.Second, nslab.LANNet); err != nil {
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

// TestStrongSwanReferenceThroughput measures TCP goodput from the LAN host
// to the VNet host through the strongSwan reference tunnel, the number
// soft-ix's data plane is compared with. It runs 3 s (more with
// SOFTIX_PERF_SECONDS, at most 60) and only checks that data flowed.
func TestStrongSwanReferenceThroughput(t *testing.T) {
	lab := nslab.NewForTest(t, "sxperf", append(strongSwanTools, "iperf3")...)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := nslab.StartStrongSwanPair(s)
	if err != nil {
		t.Fatal(err)
	}
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
	res, err := nslab.Iperf3(s.VNet, s.LAN, nslab.VNetHostAddr, perfDuration(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("strongSwan reference (kernel-libipsec, %s): %.0f Mbit/s over %.1f s, %d retransmits, sender CPU %.0f%%, receiver CPU %.0f%%",
		nslab.SeedChildProposal, res.ReceivedMbps, res.Seconds, res.Retransmits, res.SenderCPUPct, res.ReceiverCPUPct)
	if res.ReceivedBytes == 0 {
		t.Error("no data crossed the tunnel")
	}
	// The bytes went through ESP: the IX's outbound SA carried at least
	// what iperf3 received.
	sas, err := pair.IX.ListSAs()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`out\s+[0-9a-f]+,\s+(\d+) bytes`).FindStringSubmatch(sas)
	if m == nil {
		t.Fatalf("no outbound SA counters in:\n%s", sas)
	}
	if n, _ := strconv.ParseInt(m[1], 10, 64); n < res.ReceivedBytes {
		t.Errorf("outbound SA carried %d bytes, iperf3 received %d", n, res.ReceivedBytes)
	}
}

// perfDuration is how long throughput tests run: 3 s, or
// SOFTIX_PERF_SECONDS (1 to 60).
func perfDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOFTIX_PERF_SECONDS")
	if v == "" {
		return 3 * time.Second
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 60 {
		t.Fatalf("SOFTIX_PERF_SECONDS=%q: want 1 to 60", v)
	}
	return time.Duration(n) * time.Second
}

// TestStrongSwanAzureOffers runs the reference with the Azure side offering
// and accepting Azure's whole default proposal lists, once with the IX
// initiating and once with Azure initiating (Azure does both): either way
// the seed's single IX proposal must be chosen. soft-ix must behave the same
// in both roles.
func TestStrongSwanAzureOffers(t *testing.T) {
	for _, azureInitiates := range []bool{false, true} {
		name := "ix-initiates"
		if azureInitiates {
			name = "azure-initiates"
		}
		t.Run(name, func(t *testing.T) {
			lab := nslab.NewForTest(t, "sxoffer", strongSwanTools...)
			s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ix, azure := nslab.IXStrongSwanConfig(), nslab.AzureStrongSwanConfig()
			azure.IKEProposals, azure.ESPProposals = nslab.AzureIKEProposals, nslab.AzureESPProposals
			ix.Initiate, azure.Initiate = !azureInitiates, azureInitiates
			pair, err := nslab.StartStrongSwanPairWith(s, ix, azure)
			if err != nil {
				t.Fatal(err)
			}
			sas, err := pair.IX.ListSAs()
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
				"ESP:AES_CBC-256/HMAC_SHA2_256_128",
			} {
				if !strings.Contains(sas, want) {
					t.Errorf("IX-side SAs lack %q:\n%s", want, sas)
				}
			}
			wantRole := "_i*" // strongSwan marks the local SPI of the initiator
			if azureInitiates {
				wantRole = "_r*"
			}
			if !strings.Contains(sas, wantRole) {
				t.Errorf("IX side should be %s:\n%s", map[bool]string{false: "initiator", true: "responder"}[azureInitiates], sas)
			}
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
		})
	}
}
