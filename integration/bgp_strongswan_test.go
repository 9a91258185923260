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
	if _, err := nslab.StartStrongSwanPair(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Azure.IP("route", "replace", nslab.IXLoopbackAddr+"/32", "dev", "ipsec0"); err != nil {
		t.Fatal(err)
	}
	azure, err := nslab.StartBGP(s.Azure, nslab.BGPConfig{
		Name: "azure", RouterID: nslab.AzureBGPAddr, LocalAS: nslab.AzureASN, SourceAddr: nslab.AzureBGPAddr,
		PeerAddr: nslab.IXLoopbackAddr, PeerAS: nslab.IXASN, Multihop: 2,
		Announce: []nslab.DeviceRoute{{Prefix: nslab.VNetNet, Device: nslab.AzureVNetIf}},
		Reach:    []nslab.DeviceRoute{{Prefix: nslab.IXLoopbackAddr + "/32", Device: "ipsec0"}},
		Kernel:   true,
	})
	if err != nil {
		t.Fatal(err)
	}

	// soft-ix with the seed's BGP config; ipsec0 is its Tunnel0.0.
	p := bgtStartPeer(t, s.IX.Name, bgtSeedBGPConfig(), "Tunnel0.0=ipsec0", "GigaEthernet1.0=GigaEthernet1.0")
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

	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, s.IX.Name)
	if out, _ := s.IX.Run("ip", "addr", "show", "dev", "ipsec0"); strings.Contains(out, "169.254.0.1") {
		t.Errorf("Tunnel0.0 address left on ipsec0:\n%s", out)
	}
}
