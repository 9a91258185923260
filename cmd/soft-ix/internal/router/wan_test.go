package router

import (
	"net/netip"
	"testing"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/tun/dhcp"
)

const wanDHCPConf = `interface GigaEthernet0.0
  ip address dhcp receive-default
  no shutdown
interface GigaEthernet1.0
  ip address 192.168.2.1/24
ip route 198.51.100.0/24 GigaEthernet0.0 dhcp
ip route 10.0.0.0/8 192.168.2.254
`

func mustConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("ix.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestEffectiveWithoutLease(t *testing.T) {
	cfg := mustConfig(t, wanDHCPConf)
	eff := effective(cfg, nil)
	if a := eff.Interface("GigaEthernet0.0").Address; a.IsValid() {
		t.Errorf("address without a lease: %v", a)
	}
	if len(eff.Routes) != 1 || eff.Routes[0].Prefix != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("routes without a lease: %+v (the dhcp route waits)", eff.Routes)
	}
}

func TestEffectiveWithLease(t *testing.T) {
	cfg := mustConfig(t, wanDHCPConf)
	l := dhcp.Lease{Address: netip.MustParsePrefix("203.0.113.100/24"), Router: netip.MustParseAddr("203.0.113.1")}
	eff := effective(cfg, map[string]dhcp.Lease{"GigaEthernet0.0": l})
	if a := eff.Interface("GigaEthernet0.0").Address; a != l.Address {
		t.Errorf("address %v, want the lease's", a)
	}
	got := map[netip.Prefix]netip.Addr{}
	for _, r := range eff.Routes {
		if r.DHCP {
			t.Errorf("route %v still marked dhcp", r.Prefix)
		}
		got[r.Prefix] = r.NextHop
	}
	for p, nh := range map[string]string{"198.51.100.0/24": "203.0.113.1", "0.0.0.0/0": "203.0.113.1", "10.0.0.0/8": "192.168.2.254"} {
		if got[netip.MustParsePrefix(p)] != netip.MustParseAddr(nh) {
			t.Errorf("route %s via %v, want %s (all: %v)", p, got[netip.MustParsePrefix(p)], nh, got)
		}
	}
	// The file's configuration is untouched.
	if cfg.Interface("GigaEthernet0.0").Address.IsValid() || !cfg.Routes[0].DHCP || len(cfg.Routes) != 2 {
		t.Errorf("effective changed the file's configuration")
	}
}

func TestEffectiveStaticDefaultWins(t *testing.T) {
	cfg := mustConfig(t, wanDHCPConf+"ip route default 192.168.2.254\n")
	l := dhcp.Lease{Address: netip.MustParsePrefix("203.0.113.100/24"), Router: netip.MustParseAddr("203.0.113.1")}
	eff := effective(cfg, map[string]dhcp.Lease{"GigaEthernet0.0": l})
	for _, r := range eff.Routes {
		if r.Prefix.Bits() == 0 && r.NextHop != netip.MustParseAddr("192.168.2.254") {
			t.Errorf("receive-default added %v beside the file's default route", r.NextHop)
		}
	}
}

func TestTunnelSourceFollowsLease(t *testing.T) {
	cfg := mustConfig(t, `ikev2 authentication psk id ipv4 198.51.100.6 key char k1
ikev2 authentication psk id ipv4 198.51.100.7 key char k2
interface GigaEthernet0.0
  ip address dhcp
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ikev2 source-address GigaEthernet0.0
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ikev2 source-address 192.0.2.9
  ikev2 peer 198.51.100.7 authentication psk id ipv4 198.51.100.7
`)
	if s := tunnelSource(cfg, cfg.Interface("Tunnel0.0")); s != "GigaEthernet0.0" {
		t.Errorf("Tunnel0.0 source %q", s)
	}
	if s := tunnelSource(cfg, cfg.Interface("Tunnel1.0")); s == "GigaEthernet0.0" || s == "" {
		t.Errorf("Tunnel1.0 (literal source) follows a lease: %q", s)
	}
}

func TestDHCPServersTranslation(t *testing.T) {
	cfg := mustConfig(t, `ip dhcp enable
ip dhcp profile lan
  dns-server 192.0.2.53
  fixed-assignment 192.168.2.50 02:00:00:00:00:50
ip dhcp profile other
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  ip dhcp binding lan
interface GigaEthernet2.0
  ip address 10.0.0.1/24
  ip dhcp binding other
`)
	got := dhcpServers(cfg, map[string]string{"GigaEthernet1.0": "lan0"})
	sc, ok := got["GigaEthernet1.0"]
	if len(got) != 1 || !ok {
		t.Fatalf("servers %v (GigaEthernet2.0 is not mapped)", got)
	}
	// What the profile leaves out comes from the interface.
	if sc.Link != "lan0" || sc.First != netip.MustParseAddr("192.168.2.1") || sc.Last != netip.MustParseAddr("192.168.2.254") ||
		sc.Router != netip.MustParseAddr("192.168.2.1") || sc.MaskBits != 24 || sc.Lease != config.DefaultDHCPLease ||
		sc.Fixed["02:00:00:00:00:50"] != netip.MustParseAddr("192.168.2.50") {
		t.Errorf("server config %+v", sc)
	}
	// A range reaching past the subnet is cut to it; one outside it runs
	// no server (config.Validate warns about both).
	cfg.DHCPProfile("lan").RangeFirst, cfg.DHCPProfile("lan").RangeLast = netip.MustParseAddr("192.168.2.100"), netip.MustParseAddr("192.168.200.254")
	got = dhcpServers(cfg, map[string]string{"GigaEthernet1.0": "lan0"})
	if sc := got["GigaEthernet1.0"]; sc.First != netip.MustParseAddr("192.168.2.100") || sc.Last != netip.MustParseAddr("192.168.2.254") {
		t.Errorf("range past the subnet: %v-%v", sc.First, sc.Last)
	}
	cfg.DHCPProfile("lan").RangeFirst, cfg.DHCPProfile("lan").RangeLast = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.9")
	if got := dhcpServers(cfg, map[string]string{"GigaEthernet1.0": "lan0"}); len(got) != 0 {
		t.Errorf("range outside the subnet runs a server: %v", got)
	}
	cfg.DHCPServer = false
	if got := dhcpServers(cfg, map[string]string{"GigaEthernet1.0": "lan0"}); len(got) != 0 {
		t.Errorf("servers without ip dhcp enable: %v", got)
	}
}
