package config_test

import (
	"fmt"

	"github.com/soft-ix/soft-ix/config"
)

func ExampleParse() {
	src := `ikev2 authentication psk id ipv4 198.51.100.6 key char secret
ikev2 default-profile
  sa-proposal enc aes-cbc-256
  sa-proposal integrity sha1
  sa-proposal dh 1024-bit
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 connect-type auto
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
  no shutdown
ntp server 192.0.2.123
`
	c, diags, err := config.Parse("ix.conf", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range diags {
		fmt.Println(d)
	}
	for _, tun := range c.Tunnels() {
		p := c.ProfileFor(tun)
		fmt.Println(tun.Name, tun.Tunnel.Peer, p.Enc, p.Integrity, p.PRF, p.DH, p.Lifetime, p.ChildEnc, p.ChildIntegrity, p.ChildLifetime)
	}
	// Output:
	// ix.conf:13:1: warning: "ntp" is not emulated by soft-ix; kept but inactive (further ones are not reported)
	// Tunnel0.0 198.51.100.6 [aes-cbc-256] [sha1] [sha1] [1024-bit] 24h0m0s [aes-cbc-256] [sha2-256] 8h0m0s
}

func ExampleDiff() {
	old, _, _ := config.Parse("old.conf", []byte("interface Loopback0.0\n  ip address 10.2.2.2/32\nip route 10.0.0.0/8 Null0.0\n"))
	new, _, _ := config.Parse("new.conf", []byte("interface Loopback0.0\n  ip address 10.2.2.3/32\nip route 10.0.0.0/8 Null0.0\n"))
	fmt.Println(config.Diff(old, new))
	// Output: interfaces changed [Loopback0.0]
}
