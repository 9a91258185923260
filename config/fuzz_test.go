package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the parser. It must never panic, and
// any text it accepts must survive a print/parse round trip unchanged, with
// printing idempotent. The seeds are the testdata files, the published IX
// configurations in testdata/wild, the wild files without indentation, and
// a line written from every command of the grammar tables.
func FuzzParse(f *testing.F) {
	for _, file := range wildFiles(f) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(deindent(src))
	}
	for _, file := range append(testdataFiles(f), wildFiles(f)...) {
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
		routeMapSrc,
		"route-map \"a b\" permit\nset community 1 2:3 internet additive\nmatch as-path 1\nroute-map \"a b\" deny 5\nno route-map \"a b\" permit 10\n",
		"ip prefix-list p seq 5 deny 10.0.0.0/8 ge 9\nip prefix-list p permit any\nno ip prefix-list p 5\n",
		"ikev2 authentication psk id keyid \"k 1\" key char \"with blank\"\n",
		aclSrc,
		dhcpServerConf,
		"ip dhcp profile \"p q\"\n  dns-server 192.0.2.1\n  frobnicate\nno ip dhcp profile \"p q\"\nip dhcp profile x\ninterface Gi1.0\n ip dhcp binding x\n no ip dhcp binding\n",
	} {
		f.Add([]byte(s))
	}
	// A line from every command of the tables, in its block.
	for _, gc := range grammarCases() {
		f.Add([]byte(gc.ctx + gc.line + "\n"))
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

// TestLineMutations applies simple edits to every line of every testdata
// file (drop it, repeat it, negate it, unindent it, truncate it) and checks
// what FuzzParse checks: no panic, and round trip for accepted text.
func TestLineMutations(t *testing.T) {
	mutations := []func(string) []string{
		func(l string) []string { return nil },
		func(l string) []string { return []string{l, l} },
		func(l string) []string { return []string{"no " + strings.TrimLeft(l, " ")} },
		func(l string) []string { return []string{strings.TrimLeft(l, " ")} },
		func(l string) []string {
			if i := strings.LastIndexByte(l, ' '); i > 0 {
				return []string{l[:i]}
			}
			return []string{l}
		},
	}
	n := 0
	for _, f := range append(testdataFiles(t), wildFiles(t)...) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		for i := range lines {
			for _, m := range mutations {
				out := append(append(append([]string(nil), lines[:i]...), m(lines[i])...), lines[i+1:]...)
				c, _, err := Parse(f, []byte(strings.Join(out, "\n")))
				if err == nil {
					checkRoundTrip(t, f, c)
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no mutation was accepted")
	}
}
