package config

import (
	"net/netip"
	"strings"
	"testing"
)

// IPv6 outer addresses: an IX file with an IPv6 WAN (the IPv6 address on
// the GigaEthernet as IX writes it, "ipv6 enable" and "ipv6 address ...",
// left to the host) and an IPv6 IKE peer loads; what soft-ix cannot run
// is refused with file:line:col.

const ipv6WAN = `ikev2 authentication psk id ipv6 2001:db8:2::6 key char k
interface GigaEthernet0.0
  no ip address
  ipv6 enable
  ipv6 address 2001:db8:1::94/64
  no shutdown
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 source-address %s
  ikev2 peer %s authentication psk id ipv6 2001:db8:2::6
`

func TestIPv6OuterPeer(t *testing.T) {
	src := strings.Replace(strings.Replace(ipv6WAN, "%s", "2001:db8:1::94", 1), "%s", "2001:db8:2::6", 1)
	c, _, err := Parse("v6.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tun := c.Interface("Tunnel0.0").Tunnel
	if tun.Peer != netip.MustParseAddr("2001:db8:2::6") || tun.SourceAddress != netip.MustParseAddr("2001:db8:1::94") {
		t.Fatalf("peer %v source %v", tun.Peer, tun.SourceAddress)
	}
	if c.PSKFor(tun.Peer, tun.PeerID) == nil {
		t.Fatal("no key for the IPv6 peer")
	}
	// The source by interface name: its IPv6 address is the host's.
	src = strings.Replace(strings.Replace(ipv6WAN, "%s", "GigaEthernet0.0", 1), "%s", "2001:db8:2::6", 1)
	if _, _, err := Parse("v6.conf", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

func TestIPv6OuterRefused(t *testing.T) {
	for _, c := range []struct {
		source, peer, want string
	}{
		{"2001:db8:1::94", "fe80::6", "v6.conf:12:14: error: ikev2 peer fe80::6: soft-ix supports IPv6 outer addresses only when they are global unicast"},
		{"fe80::94", "2001:db8:2::6", "v6.conf:11:24: error: ikev2 source-address fe80::94: soft-ix supports IPv6 outer addresses only when they are global unicast"},
		{"203.0.113.94", "2001:db8:2::6", "v6.conf:11:24: error: ikev2 source-address 203.0.113.94 and ikev2 peer 2001:db8:2::6 are of different address families"},
		{"2001:db8:1::94", "198.51.100.6", "v6.conf:11:24: error: ikev2 source-address 2001:db8:1::94 and ikev2 peer 198.51.100.6 are of different address families"},
	} {
		src := strings.Replace(strings.Replace(ipv6WAN, "%s", c.source, 1), "%s", c.peer, 1)
		src = strings.Replace(src, "psk id ipv6 2001:db8:2::6\n", "psk\n", 1)
		src += "ikev2 authentication psk id ipv4 198.51.100.6 key char k\nikev2 authentication psk id ipv6 fe80::6 key char k\n"
		_, _, err := Parse("v6.conf", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("source %s peer %s: err = %v\nwant %s...", c.source, c.peer, err, c.want)
		}
	}
}
