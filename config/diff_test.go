package config

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

func load(t *testing.T, src string) *Config {
	t.Helper()
	c, _ := mustParse(t, "d.conf", src)
	return c
}

func TestDiff(t *testing.T) {
	raw, err := os.ReadFile("testdata/ix-bgp.conf")
	if err != nil {
		t.Fatal(err)
	}
	base := string(raw)
	old := load(t, base)

	if ch := Diff(old, load(t, "! a comment moves every line\n"+base)); !ch.Empty() {
		t.Errorf("moved lines: %+v", ch)
	}

	cases := []struct {
		name string
		from string
		to   string
		want Changes
	}{
		{"psk key", "key char P@ssw0rd1234", "key char other", Changes{TunnelsChanged: []string{"Tunnel0.0"}}},
		{"default profile", "child-lifetime 3600", "child-lifetime 7200", Changes{TunnelsChanged: []string{"Tunnel0.0"}}},
		{"tunnel block", "  ikev2 ipsec pre-fragment\n", "", Changes{TunnelsChanged: []string{"Tunnel0.0"}}},
		{"bgp", "network 192.168.2.0/24", "network 192.168.3.0/24", Changes{BGPChanged: true}},
		{"loopback", "10.2.2.2/32", "10.2.2.3/32", Changes{InterfacesChanged: []string{"Loopback0.0"}}},
		{"route", "ip route 172.16.0.6/32 Tunnel0.0", "ip route 172.16.0.6/32 Tunnel0.0 distance 5",
			Changes{RoutesAdded: []*Route{{Prefix: netip.MustParsePrefix("172.16.0.6/32"), Interface: "Tunnel0.0", Distance: 5}},
				RoutesRemoved: []*Route{{Prefix: netip.MustParsePrefix("172.16.0.6/32"), Interface: "Tunnel0.0"}}}},
		// A metric ranks a backup route (tun installs only the lowest):
		// a reload that changes only the metric must reach the kernel.
		{"route metric", "ip route 172.16.0.6/32 Tunnel0.0", "ip route 172.16.0.6/32 Tunnel0.0 metric 5",
			Changes{RoutesAdded: []*Route{{Prefix: netip.MustParsePrefix("172.16.0.6/32"), Interface: "Tunnel0.0", Metric: 5}},
				RoutesRemoved: []*Route{{Prefix: netip.MustParsePrefix("172.16.0.6/32"), Interface: "Tunnel0.0"}}}},
		{"hostname", "router bgp 65050", "hostname x\nrouter bgp 65050", Changes{HostnameChanged: true}},
		{"tunnel added", "interface Loopback0.0", "interface Tunnel1.0\n tunnel mode ipsec-ikev2\n ip tcp adjust-mss auto\n ikev2 peer 40.115.212.91 authentication psk\ninterface Loopback0.0",
			Changes{TunnelsAdded: []string{"Tunnel1.0"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.from) {
				t.Fatalf("base lacks %q", tc.from)
			}
			ch := Diff(old, load(t, strings.Replace(base, tc.from, tc.to, 1)))
			clearRoutes := func(rs []*Route) {
				for _, r := range rs {
					r.Pos = Pos{}
				}
			}
			clearRoutes(ch.RoutesAdded)
			clearRoutes(ch.RoutesRemoved)
			// The operator's summary names the changed lines; what it
			// says is TestDiffCommandsHideSecrets's business.
			if len(ch.Commands) == 0 {
				t.Error("Diff lists no changed command")
			}
			ch.Commands = nil
			if !reflect.DeepEqual(ch, tc.want) {
				t.Errorf("Diff = %+v\nwant %+v", ch, tc.want)
			}
			// The reverse diff mirrors it.
			back := Diff(load(t, strings.Replace(base, tc.from, tc.to, 1)), old)
			if len(back.TunnelsAdded) != len(ch.TunnelsRemoved) || len(back.TunnelsRemoved) != len(ch.TunnelsAdded) ||
				len(back.RoutesAdded) != len(ch.RoutesRemoved) || back.BGPChanged != ch.BGPChanged {
				t.Errorf("reverse Diff = %+v", back)
			}
		})
	}
	if s := Diff(old, old).String(); s != "no changes" {
		t.Errorf("String() = %q", s)
	}
	if ch := Diff(nil, old); ch.String() != "tunnels added [Tunnel0.0]; interfaces added [Loopback0.0]; routes +1 -0; bgp changed" {
		t.Errorf("String() = %q", ch.String())
	}
	if ch := Diff(nil, old); len(ch.TunnelsAdded) != 1 || len(ch.InterfacesAdded) != 1 || !ch.BGPChanged || len(ch.RoutesAdded) != 1 {
		t.Errorf("Diff(nil, c) = %+v", ch)
	}
}

func TestProfileForOverrides(t *testing.T) {
	c := load(t, `ikev2 authentication psk id keyid peer1 key char k
ikev2 default-profile
  sa-proposal enc aes-cbc-128
  sa-lifetime 3600
ikev2 profile p
  sa-proposal integrity sha2-512
  child-pfs 3072-bit
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip tcp adjust-mss auto
  ikev2 peer any authentication psk id keyid peer1
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ip tcp adjust-mss auto
  ikev2 binding p
  ikev2 sa-proposal dh 256-bit-ecp curve25519
  ikev2 child-pfs off
  ikev2 child-lifetime 600 kilobytes 102400000
  ikev2 sa-lifetime 900
  ikev2 peer any authentication psk id keyid peer1
`)
	p0 := c.ProfileFor(c.Interface("Tunnel0.0"))
	if p0.Enc[0] != EncAESCBC128 || p0.Lifetime.Seconds() != 3600 || p0.Integrity[0] != IntegSHA256 || p0.PRF[0] != PRFSHA256 || p0.DH[0] != DH2048 {
		t.Errorf("Tunnel0.0 profile %+v", p0)
	}
	p1 := c.ProfileFor(c.Interface("Tunnel1.0"))
	// Named profile: no inheritance from the default-profile.
	if p1.Name != "p" || p1.Enc[0] != EncAESCBC256 || p1.Integrity[0] != IntegSHA512 || p1.PRF[0] != PRFSHA512 ||
		!reflect.DeepEqual(p1.DH, []DHGroup{DHECP256, DHCurve25519}) || p1.ChildPFS != "" ||
		p1.ChildLifetime.Seconds() != 600 || p1.ChildLifetimeKB != 102400000 || p1.Lifetime.Seconds() != 900 {
		t.Errorf("Tunnel1.0 profile %+v", p1)
	}
	if DH2048.Group() != 14 || DHCurve25519.Group() != 31 || !EncAESGCM128.AEAD() || EncAESCBC192.KeyBits() != 192 {
		t.Error("algorithm helpers")
	}
	// ProfileFor must not alias the config's slices.
	p1.DH[0] = DH1024
	if c.Interface("Tunnel1.0").Tunnel.Override.DH[0] != DHECP256 {
		t.Error("ProfileFor aliases the config")
	}
	checkRoundTrip(t, "overrides", c)
}

// Rewriting a key from "char" to "hex" with the same bytes renegotiates
// nothing.
func TestDiffPSKSpelling(t *testing.T) {
	parse := func(src string) *Config {
		c, _, err := Parse("ix.conf", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tail := "interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss auto\n" +
		"  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6\n"
	a := parse("ikev2 authentication psk id ipv4 198.51.100.6 key char ABC\n" + tail)
	b := parse("ikev2 authentication psk id ipv4 198.51.100.6 key hex 414243\n" + tail)
	if ch := Diff(a, b); len(ch.TunnelsChanged) != 0 {
		t.Errorf("same key, other spelling: %v", ch)
	}
	c := parse("ikev2 authentication psk id ipv4 198.51.100.6 key char ABD\n" + tail)
	if ch := Diff(a, c); len(ch.TunnelsChanged) != 1 {
		t.Errorf("changed key: %v", ch)
	}
}

// The AUTH a tunnel sends is made with the key of its own identity
// ("local-authentication id") when the file has one: a new key there
// must renegotiate the tunnel as a new key for the peer does.
func TestDiffOwnKey(t *testing.T) {
	src := func(own string) string {
		return "ikev2 authentication psk id keyid peer key char PEERKEY\n" +
			"ikev2 authentication psk id keyid me key char " + own + "\n" +
			"ikev2 default-profile\n  local-authentication psk id keyid me\n" +
			"interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss auto\n" +
			"  ikev2 peer 198.51.100.6 authentication psk id keyid peer\n"
	}
	a := load(t, src("OWNKEY"))
	if ch := Diff(a, load(t, src("OWNKEY"))); !ch.Empty() {
		t.Errorf("same file: %+v", ch)
	}
	if ch := Diff(a, load(t, src("NEWKEY"))); !reflect.DeepEqual(ch.TunnelsChanged, []string{"Tunnel0.0"}) {
		t.Errorf("own key changed: TunnelsChanged = %v", ch.TunnelsChanged)
	}
}

// The tunnel is sized for the MTU of the interface it leaves by
// (OuterMTU): a new "ip mtu" there changes the tunnel too.
func TestDiffOuterMTU(t *testing.T) {
	src := func(mtu string) string {
		return "ikev2 authentication psk id ipv4 198.51.100.6 key char k\n" +
			"interface GigaEthernet0.0\n  ip address 192.0.2.2/24\n" + mtu + "  no shutdown\n" +
			"interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss auto\n" +
			"  ikev2 source-address GigaEthernet0.0\n  ikev2 peer 198.51.100.6 authentication psk\n"
	}
	a, b := load(t, src("")), load(t, src("  ip mtu 1454\n"))
	if a.OuterMTU(a.Interface("Tunnel0.0")) != 0 || b.OuterMTU(b.Interface("Tunnel0.0")) != 1454 {
		t.Fatalf("OuterMTU = %d, %d", a.OuterMTU(a.Interface("Tunnel0.0")), b.OuterMTU(b.Interface("Tunnel0.0")))
	}
	ch := Diff(a, b)
	if !reflect.DeepEqual(ch.TunnelsChanged, []string{"Tunnel0.0"}) || !reflect.DeepEqual(ch.InterfacesChanged, []string{"GigaEthernet0.0"}) {
		t.Errorf("Diff = %+v", ch)
	}
}

// A route that becomes "dhcp" (through the lease's router) is another
// route for the kernel, though its prefix and interface stay.
func TestDiffRouteDHCP(t *testing.T) {
	head := "interface GigaEthernet0.0\n  ip address dhcp\n"
	a := load(t, head+"ip route 10.0.0.0/8 GigaEthernet0.0\n")
	b := load(t, head+"ip route 10.0.0.0/8 GigaEthernet0.0 dhcp\n")
	ch := Diff(a, b)
	if len(ch.RoutesAdded) != 1 || !ch.RoutesAdded[0].DHCP || len(ch.RoutesRemoved) != 1 || ch.Empty() {
		t.Errorf("Diff = %+v", ch)
	}
}

// The reload summary (Commands) is logged on SIGHUP: it must never carry
// a PSK, nor the secrets of lines soft-ix keeps without acting on.
func TestDiffCommandsHideSecrets(t *testing.T) {
	old := load(t, "ikev2 authentication psk id ipv4 198.51.100.6 key char OldSecret1\nip route 192.0.2.0/24 Null0.0\n")
	new := load(t, "ikev2 authentication psk id ipv4 198.51.100.6 key hex 4e6577536563726574\n"+
		"ikev2 authentication psk id ipv4 198.51.100.7 key char AddedSecret\nip route 192.0.2.0/24 Null0.0\n")
	sum := strings.Join(Diff(old, new).Commands, "\n")
	for _, secret := range []string{"OldSecret1", "4e6577536563726574", "NewSecret", "AddedSecret"} {
		if strings.Contains(sum, secret) {
			t.Errorf("summary shows the key %q:\n%s", secret, sum)
		}
	}
	for _, want := range []string{"+ ikev2 authentication psk id ipv4 198.51.100.7 key char ********",
		"~ ikev2 authentication psk id ipv4 198.51.100.6: key changed"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if string(old.PSKs[0].Key) != "OldSecret1" {
		t.Error("masking changed the running config")
	}

	inactive := load(t, "ike policy p1 peer 198.51.100.1 key IkeSecret1 prop\nppp profile isp\n  authentication password user@example.jp PppSecret1\n")
	sum = strings.Join(Diff(nil, inactive).Commands, "\n")
	for _, secret := range []string{"IkeSecret1", "PppSecret1"} {
		if strings.Contains(sum, secret) {
			t.Errorf("the secret %q is shown:\n%s", secret, sum)
		}
	}
}
