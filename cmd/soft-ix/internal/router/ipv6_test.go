package router

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
)

// TestIPv6Outer: a file with an IPv6 peer needs the IPv6 sockets and
// sizes its tunnel for the 40-byte outer header; an IPv4-only file (or
// one whose IPv6 tunnel is shut down) does not open them.
func TestIPv6Outer(t *testing.T) {
	text := `ikev2 authentication psk id ipv6 2001:db8:2::6 key char k
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 peer 2001:db8:2::6 authentication psk id ipv6 2001:db8:2::6
`
	cfg, _, err := config.Parse("v6.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !NeedsIPv6(cfg) {
		t.Error("an IPv6 peer does not need the IPv6 sockets")
	}
	ifc := cfg.Interface("Tunnel0.0")
	prof := cfg.ProfileFor(ifc)
	v6 := espTunnelConfig(ifc, &prof, 0)
	peer4 := *ifc.Tunnel
	peer4.Peer = netip.MustParseAddr("198.51.100.6")
	ifc4 := *ifc
	ifc4.Tunnel = &peer4
	v4 := espTunnelConfig(&ifc4, &prof, 0)
	if !v6.OuterIPv6 || v4.OuterIPv6 || v4.DeviceMTU()-v6.DeviceMTU() < 20-16 || v6.DeviceMTU() >= v4.DeviceMTU() {
		t.Errorf("device MTU %d over IPv6, %d over IPv4", v6.DeviceMTU(), v4.DeviceMTU())
	}
	shut, _, err := config.Parse("v6.conf", []byte(strings.Replace(text, "  ikev2 peer", "  shutdown\n  ikev2 peer", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if NeedsIPv6(shut) {
		t.Error("a shut-down IPv6 tunnel opens the IPv6 sockets")
	}
	if u := (&ikeSockets{}); u.send(nil, netip.AddrPort{}, netip.MustParseAddrPort("[2001:db8:2::6]:500")) == nil {
		t.Error("IKE to an IPv6 peer without an IPv6 socket did not fail")
	}
}
