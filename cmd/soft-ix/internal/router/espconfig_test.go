package router

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
)

func TestESPTunnelConfig(t *testing.T) {
	ifc := &config.Interface{
		Name: "Tunnel0.0", Kind: config.KindTunnel, AdjustMSS: config.MSSAuto,
		Address: netip.MustParsePrefix("169.254.0.1/30"),
		Tunnel:  &config.Tunnel{PreFragment: true},
	}
	// The seed's child proposal: esp-aes 256 with sha2-256.
	prof := &config.Profile{ChildEnc: []config.EncAlg{config.EncAESCBC256}, ChildIntegrity: []config.IntegAlg{config.IntegSHA256}}
	tc := espTunnelConfig(ifc, prof, 0)
	if tc.Name != "Tunnel0.0" || !tc.PreFragment || tc.AdjustMSS != esp.MSSAuto || tc.ICMPSource != netip.MustParseAddr("169.254.0.1") {
		t.Fatalf("%+v", tc)
	}
	if tc.DeviceMTU() != 1422 {
		t.Fatalf("MTU %d, want 1422", tc.DeviceMTU())
	}
	// Several proposals: the MTU fits the worst.
	prof.ChildEnc = []config.EncAlg{config.EncAESGCM256, config.EncAESCBC256}
	prof.ChildIntegrity = []config.IntegAlg{config.IntegSHA256, config.IntegSHA512}
	if m := espTunnelConfig(ifc, prof, 0).DeviceMTU(); m != 1406 {
		t.Fatalf("MTU %d, want 1406", m)
	}
	// ip mtu wins.
	ifc.MTU = 1350
	if m := espTunnelConfig(ifc, nil, 1500).DeviceMTU(); m != 1350 {
		t.Fatalf("MTU %d", m)
	}
}

// TestTunnelESPConfigOuterMTU: a WAN with "ip mtu 1454" (PPPoE-sized)
// that the tunnel leaves by sizes the tunnel for 1454-byte ESP packets,
// as the IX's pre-fragment does; with no interface named, 1500.
func TestTunnelESPConfigOuterMTU(t *testing.T) {
	src := "ikev2 authentication psk id ipv4 198.51.100.6 key char k\n" +
		"interface GigaEthernet0.0\n  ip address 192.0.2.2/24\n  ip mtu 1454\n  no shutdown\n" +
		"interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss auto\n" +
		"  ikev2 ipsec pre-fragment\n  ikev2 outgoing-interface GigaEthernet0.0\n" +
		"  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6\n  no shutdown\n"
	for _, tc := range []struct {
		name, from, to string
		outer          int
	}{
		{"outgoing-interface", "", "", 1454},
		{"source-address IF", "ikev2 outgoing-interface GigaEthernet0.0", "ikev2 source-address GigaEthernet0.0", 1454},
		{"source-address A", "ikev2 outgoing-interface GigaEthernet0.0", "ikev2 source-address 192.0.2.2", 1454},
		{"none named", "ikev2 outgoing-interface GigaEthernet0.0", "", 0},
	} {
		cfg, _, err := config.Parse("t.conf", []byte(strings.Replace(src, tc.from, tc.to, 1)))
		if err != nil {
			t.Fatal(err)
		}
		ec := tunnelESPConfig(cfg, cfg.Interface("Tunnel0.0"))
		if ec.OuterMTU != tc.outer || !ec.PreFragment {
			t.Errorf("%s: OuterMTU %d, want %d", tc.name, ec.OuterMTU, tc.outer)
		}
		if want := (esp.TunnelConfig{OuterMTU: tc.outer}).WithWorstSuite([]esp.Suite{espSuite(config.EncAESCBC256, config.IntegSHA256)}).DeviceMTU(); ec.DeviceMTU() != want {
			t.Errorf("%s: device MTU %d, want %d", tc.name, ec.DeviceMTU(), want)
		}
	}
}
