package router

import (
	"net/netip"
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
