package config

import (
	"os"
	"testing"
)

// FuzzParse feeds arbitrary text to the parser. It must never panic, and
// any text it accepts must survive a print/parse round trip unchanged, with
// printing idempotent.
func FuzzParse(f *testing.F) {
	for _, file := range testdataFiles(f) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"hostname \"a b\"\n",
		"ikev2 profile \"x y\"\n  sa-proposal enc aes-gcm-256 3des\ninterface tu0.0\n ikev2 binding \"x y\"\n",
		"interface Tunnel0.0\n description \" padded \"\n  !indented comment\n no shutdown\n",
		"router bgp 1\n neighbor 10.0.0.1 remote-as 2\n address-family ipv6 unicast\n  network 2001:db8::/32\n exit-address-family\n neighbor 10.0.0.1 ebgp-multihop\n",
		"ip route default 192.0.2.1\nno ip route default\nip route ::/0 Tunnel0.0\n",
		"ikev2 authentication psk id keyid \"k 1\" key char \"with blank\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, diags, err := Parse("fuzz.conf", src)
		if c == nil {
			t.Fatal("nil config")
		}
		if (err != nil) != HasErrors(diags) {
			t.Fatalf("err %v disagrees with diagnostics %v", err, diags)
		}
		for _, d := range diags {
			_ = d.String()
		}
		if err != nil {
			return
		}
		checkRoundTrip(t, "fuzz.conf", c)
		_ = Diff(c, c)
		for _, tun := range c.Tunnels() {
			_ = c.ProfileFor(tun)
		}
	})
}
