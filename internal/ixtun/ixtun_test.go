package ixtun

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/tun"
)

var (
	ma = netip.MustParseAddr
	mp = netip.MustParsePrefix
)

// TestLinksAndRoutes: every interface becomes a link of its kind with its
// address, MTU and admin state; an IKEv2 tunnel carries its peer; a route
// to Null0.0 discards.
func TestLinksAndRoutes(t *testing.T) {
	src := `ikev2 authentication psk id ipv4 198.51.100.6 key char k
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip mtu 1400
  no shutdown
interface Loopback0.0
  ip address 10.2.2.2/32
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.21.1/30
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
  no shutdown
interface Null0.0
ip route 10.99.0.0/16 Null0.0
ip route 172.16.0.0/16 Tunnel0.0 5
ip route default 203.0.113.1
`
	cfg, _, err := config.Parse("ix.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := Config(cfg)
	want := tun.Config{
		Links: []tun.Link{
			{Name: "GigaEthernet0.0", Kind: tun.LinkMapped, Address: mp("203.0.113.94/24"), MTU: 1400},
			{Name: "Loopback0.0", Kind: tun.LinkLoopback, Address: mp("10.2.2.2/32")},
			{Name: "Tunnel0.0", Kind: tun.LinkTunnel, Address: mp("169.254.21.1/30"), Peer: ma("198.51.100.6")},
			{Name: "Null0.0", Kind: tun.LinkOther},
		},
		Routes: []tun.Route{
			{Prefix: mp("10.99.0.0/16"), Interface: "Null0.0", Blackhole: true},
			{Prefix: mp("172.16.0.0/16"), Interface: "Tunnel0.0", Distance: 5},
			{Prefix: mp("0.0.0.0/0"), NextHop: ma("203.0.113.1")},
		},
	}
	for i := range got.Links {
		got.Links[i].Shutdown = false // the IX default differs by kind; not the point here
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config =\n%+v\nwant\n%+v", got, want)
	}
}

func TestPeerRoutes(t *testing.T) {
	tunnel := func(name string, tt config.Tunnel) *config.Interface {
		return &config.Interface{Name: name, Kind: config.KindTunnel, Tunnel: &tt}
	}
	cfg := &config.Config{Interfaces: []*config.Interface{
		tunnel("Tunnel0.0", config.Tunnel{Mode: "ipsec-ikev2", Peer: ma("198.51.100.6"), OutgoingInterface: "GigaEthernet1.0", OutgoingNextHop: ma("203.0.113.254")}),
		tunnel("Tunnel1.0", config.Tunnel{Mode: "ipsec-ikev2", Peer: ma("198.51.100.7"), OutgoingInterface: "GigaEthernet1.0", OutgoingAuto: true}),
		tunnel("Tunnel2.0", config.Tunnel{Mode: "ipsec-ikev2", PeerAny: true, OutgoingInterface: "GigaEthernet1.0", OutgoingNextHop: ma("203.0.113.254")}),
	}}
	rs := Config(cfg).PeerRoutes
	if len(rs) != 1 || rs[0].Prefix != mp("198.51.100.6/32") || rs[0].NextHop != ma("203.0.113.254") || rs[0].Interface != "GigaEthernet1.0" {
		t.Errorf("PeerRoutes = %+v, want only Tunnel0.0's peer by GigaEthernet1.0", rs)
	}
}

// TestUnnumberedTunnel: a tunnel with "ip unnumbered IF" gets IF's
// address as a host prefix, so what the router sends into it leaves from
// that address; without an address on IF (a DHCP WAN before its lease) it
// gets none.
func TestUnnumberedTunnel(t *testing.T) {
	src := `ikev2 authentication psk id ipv4 198.51.100.6 key char k
interface GigaEthernet0.0
  ip address dhcp
interface GigaEthernet1.0
  ip address 192.168.1.1/24
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip unnumbered GigaEthernet1.0
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ip unnumbered GigaEthernet0.0
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
`
	cfg, _, err := config.Parse("ix.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]netip.Prefix{}
	for _, l := range Config(cfg).Links {
		links[l.Name] = l.Address
	}
	if links["Tunnel0.0"] != mp("192.168.1.1/32") || links["GigaEthernet1.0"] != mp("192.168.1.1/24") {
		t.Errorf("Tunnel0.0 %v, GigaEthernet1.0 %v", links["Tunnel0.0"], links["GigaEthernet1.0"])
	}
	if links["Tunnel1.0"].IsValid() {
		t.Errorf("Tunnel1.0, unnumbered to a WAN without a lease: %v", links["Tunnel1.0"])
	}
}
