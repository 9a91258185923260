package config

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// clearPos zeroes every Pos in a config so configs parsed from different
// text compare equal.
func clearPos(c *Config) *Config {
	clearPosValue(reflect.ValueOf(c))
	return c
}

var posType = reflect.TypeOf(Pos{})

func clearPosValue(v reflect.Value) {
	walkConfig(v, func(v reflect.Value) bool {
		if v.Type() != posType {
			return false
		}
		v.Set(reflect.Zero(posType))
		return true
	})
}

// walkConfig calls f on every struct reachable from v through pointers,
// slices and exported fields; where f returns true, it does not look
// inside.
func walkConfig(v reflect.Value, f func(reflect.Value) bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkConfig(v.Elem(), f)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkConfig(v.Index(i), f)
		}
	case reflect.Struct:
		if f(v) {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkConfig(v.Field(i), f)
			}
		}
	}
}

func mustParse(t *testing.T, name, src string) (*Config, []Diagnostic) {
	t.Helper()
	c, diags, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return c, diags
}

func TestSeedConfigsLoadClean(t *testing.T) {
	for _, f := range []string{"testdata/ix-static.conf", "testdata/ix-bgp.conf"} {
		c, diags, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range diags {
			t.Errorf("%s: unexpected diagnostic %s", f, d)
		}
		if len(c.Tunnels()) != 1 || c.Tunnels()[0].Name != "Tunnel0.0" {
			t.Errorf("%s: tunnels = %v", f, c.Tunnels())
		}
	}
}

func TestSeedBGPModel(t *testing.T) {
	c, _, err := Load("testdata/ix-bgp.conf")
	if err != nil {
		t.Fatal(err)
	}
	tun := c.Interface("tunnel0.0")
	if tun == nil || tun.Tunnel == nil {
		t.Fatal("no Tunnel0.0")
	}
	tt := tun.Tunnel
	peer := netip.MustParseAddr("40.115.212.91")
	if tt.Peer != peer || !tt.ConnectAuto || !tt.PreFragment || tt.Mode != "ipsec-ikev2" ||
		tt.PeerID != (Identity{IDIPv4, "40.115.212.91"}) || tun.AdjustMSS != MSSAuto ||
		tun.Address != netip.MustParsePrefix("169.254.0.1/30") || tun.Shutdown {
		t.Errorf("Tunnel0.0 = %+v / %+v", tun, tt)
	}
	k := c.PSKFor(peer, tt.PeerID)
	if k == nil || string(k.Key) != "P@ssw0rd1234" || k.Hex {
		t.Errorf("PSKFor = %+v", k)
	}
	if c.PSKFor(peer, Identity{}) != k {
		t.Error("PSKFor by address does not find the key")
	}
	if c.PSKFor(netip.MustParseAddr("192.0.2.1"), Identity{}) != nil {
		t.Error("PSKFor found a key for an unknown peer")
	}
	b := c.BGP
	if b == nil || b.ASN != 65050 || len(b.Neighbors) != 1 || len(b.Networks) != 1 ||
		b.Networks[0] != netip.MustParsePrefix("192.168.2.0/24") {
		t.Fatalf("BGP = %+v", b)
	}
	n := b.Neighbors[0]
	if n.Addr != netip.MustParseAddr("172.16.0.6") || n.RemoteAS != 65010 || n.UpdateSource != "Loopback0.0" {
		t.Errorf("neighbor = %+v", n)
	}
	if len(c.Routes) != 1 || c.Routes[0].Interface != "Tunnel0.0" || c.Routes[0].Prefix != netip.MustParsePrefix("172.16.0.6/32") {
		t.Errorf("routes = %+v", c.Routes)
	}
	pr := c.ProfileFor(tun)
	want := Profile{
		Enc: []EncAlg{EncAESCBC256}, Integrity: []IntegAlg{IntegSHA1}, PRF: []PRFAlg{PRFSHA1},
		DH: []DHGroup{DH1024}, Lifetime: DefaultSALifetime,
		ChildEnc: []EncAlg{EncAESCBC256}, ChildIntegrity: []IntegAlg{IntegSHA256},
		ChildLifetime: time.Hour, LocalAuth: "psk", IPsecMode: "tunnel",
	}
	if !equalProfiles(pr, want) {
		t.Errorf("ProfileFor = %+v\nwant %+v", pr, want)
	}
}

func TestFullIX2215(t *testing.T) {
	c, diags, err := Load("testdata/ix2215-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range diags {
		if d.Severity != Warning || !strings.Contains(d.Msg, "not emulated") {
			t.Errorf("unexpected diagnostic %s", d)
		}
		if seen[d.Msg] {
			t.Errorf("warned twice: %s", d)
		}
		seen[d.Msg] = true
	}
	for _, kw := range []string{"ntp", "syslog", "logging", "timezone", "proxy-dns", "ip ufs-cache", "access-list", "username", "telnet-server", "http-server", "device", "watch-group", "interface BRI"} {
		if !seen[`"`+kw+`" is not emulated by soft-ix; kept but inactive (further ones are not reported)`] {
			t.Errorf("no not-emulated warning for %q", kw)
		}
	}
	// So is the DHCP server (see dhcp_test.go).
	if pr := c.DHCPProfile("lan"); !c.DHCPServer || pr == nil || pr.LeaseTime != 24*time.Hour || c.Interface("GigaEthernet1.0").DHCPBinding != "lan" {
		t.Errorf("DHCP server %v, profile %+v", c.DHCPServer, pr)
	}
	// Access lists and filters are emulated now (see acl_test.go).
	if wan := c.Interface("GigaEthernet0.0"); !wan.NAPT || len(wan.Filters) == 0 || wan.Filters[0].List != "wan-in" {
		t.Errorf("GigaEthernet0.0 filters %+v, napt %v", wan.Filters, wan.NAPT)
	}
	if a := c.AccessList("wan-in"); a == nil || len(a.Entries) != 4 || a.Entries[2].Protocol != 50 || a.Entries[3].Permit {
		t.Errorf("wan-in = %+v", a)
	}
	if c.Hostname != "IX-BRANCH01" {
		t.Errorf("hostname %q", c.Hostname)
	}
	var names []string
	for _, ifc := range c.Interfaces {
		names = append(names, ifc.Name)
	}
	if got := strings.Join(names, " "); got != "GigaEthernet0.0 GigaEthernet1.0 GigaEthernet2:1.0 GigaEthernet2.0 Loopback0.0 Null0.0 Tunnel0.0 Tunnel1.0" {
		t.Errorf("interfaces %s", got)
	}
	if ge := c.Interface("GigaEthernet0.0"); !ge.DHCP || !ge.DHCPReceiveDefault || ge.Description != "WAN to ISP" {
		t.Errorf("GigaEthernet0.0 = %+v", ge)
	}
	if d := c.Interface("gi1.0").Description; d != "Office LAN" {
		t.Errorf("quoted description = %q", d)
	}
	t1 := c.Interface("Tunnel1.0")
	pr := c.ProfileFor(t1)
	if pr.Name != "azure-gcm" || pr.Lifetime != time.Hour || pr.DPDInterval != 30*time.Second ||
		pr.ChildPFS != DH2048 || pr.SourceInterface != "GigaEthernet0.0" || pr.Enc[0] != EncAESGCM256 ||
		pr.DH[0] != DHECP256 || pr.ChildLifetime != DefaultChildLifetime || pr.LocalID != (Identity{IDFQDN, "branch01.example.net"}) {
		t.Errorf("ProfileFor(Tunnel1.0) = %+v", pr)
	}
	p0 := c.ProfileFor(c.Interface("Tunnel0.0"))
	if p0.ChildPFS != "" || p0.Lifetime != 8*time.Hour || len(p0.DH) != 2 || p0.DPDInterval != 45*time.Second ||
		!reflect.DeepEqual(p0.PRF, []PRFAlg{PRFSHA256, PRFSHA1}) {
		t.Errorf("ProfileFor(Tunnel0.0) = %+v", p0)
	}
	k := c.PSKFor(netip.Addr{}, Identity{IDFQDN, "Branch01.Example.Net"})
	if k == nil || !k.Hex || len(k.Key) != 16 || k.Key[0] != 0x0a {
		t.Errorf("hex PSK = %+v", k)
	}
	if len(c.Routes) != 4 || c.Routes[0].Distance != 200 || c.Routes[2].NextHop != netip.MustParseAddr("192.168.2.254") {
		t.Errorf("routes = %+v", c.Routes)
	}
	n := c.BGP.Neighbors[0]
	if n.Keepalive != time.Minute || n.Hold != 3*time.Minute || n.EBGPMultihop != 2 || !n.Activate || n.Description != "Azure VPN gateway" {
		t.Errorf("neighbor = %+v", n)
	}
}

func testdataFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) < 3 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	return files
}

// checkRoundTrip asserts that printing c and parsing the text gives c back,
// and that printing again gives the same text.
func checkRoundTrip(t testing.TB, name string, c *Config) {
	out := Print(c)
	c2, _, err := Parse(name+" (printed)", out)
	if err != nil {
		t.Fatalf("%s: printed config does not parse: %v\n%s", name, err, out)
	}
	if !reflect.DeepEqual(clearPos(c2), clearPos(c)) {
		t.Fatalf("%s: round trip changed the config\nprinted:\n%s", name, out)
	}
	if out2 := Print(c2); !bytes.Equal(out, out2) {
		t.Fatalf("%s: Print is not idempotent:\n%s\n---\n%s", name, out, out2)
	}
}

func TestPrintRoundTrip(t *testing.T) {
	for _, f := range testdataFiles(t) {
		c, _, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, f, c)
	}
}

func TestPrintSeedMatchesIXLayout(t *testing.T) {
	c, _, _ := Load("testdata/ix-static.conf")
	want := `ip route 172.16.0.0/16 Tunnel0.0
!
ikev2 authentication psk id ipv4 20.210.237.6 key char P@ssw0rd1234
!
ikev2 default-profile
  child-lifetime 3600
  child-proposal enc aes-cbc-256
  child-proposal integrity sha2-256
  sa-proposal enc aes-cbc-256
  sa-proposal integrity sha1
  sa-proposal dh 1024-bit
!
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 connect-type auto
  ikev2 ipsec pre-fragment
  ikev2 peer 20.210.237.6 authentication psk id ipv4 20.210.237.6
  no shutdown
!
`
	if got := string(Print(c)); got != want {
		t.Errorf("Print =\n%s\nwant\n%s", got, want)
	}
}

func TestUnindentedAndNoForms(t *testing.T) {
	src := `hostname r1
ikev2 authentication psk id ipv4 192.0.2.1 key char k1
ikev2 authentication psk id ipv4 192.0.2.9 key char gone
no ikev2 authentication psk id ipv4 192.0.2.9
ikev2 default-profile
dpd interval 10
source-address GigaEthernet0.1
child-pfs 1536-bit
sa-proposal enc aes-cbc-256
interface Tunnel1.0
tunnel mode ipsec-ikev2
ip address 10.0.0.1/30
ip tcp adjust-mss auto
ikev2 connect-type auto
ikev2 outgoing-interface GigaEthernet0.1
ikev2 peer 192.0.2.1 authentication psk id ipv4 192.0.2.1
ikev2 ipsec pre-fragment
no ikev2 ipsec pre-fragment
no shutdown
ip route 10.0.0.0/16 Tunnel1.0
ip route 10.1.0.0/16 Tunnel1.0
no ip route 10.1.0.0/16
router bgp 65001
neighbor 10.0.0.2 remote-as 31898
neighbor 10.0.0.2 timers 10 30
address-family ipv4 unicast
network 192.168.100.0/24
network 192.168.101.0/24
no network 192.168.101.0/24
`
	c, diags := mustParse(t, "flat.conf", src)
	if len(diags) != 0 {
		t.Errorf("diags: %v", diags)
	}
	if c.DefaultProfile == nil || c.DefaultProfile.DPDInterval != 10*time.Second || c.DefaultProfile.SourceInterface != "GigaEthernet0.1" || c.DefaultProfile.ChildPFS != DH1536 {
		t.Errorf("default profile = %+v", c.DefaultProfile)
	}
	tun := c.Interface("Tunnel1.0")
	if tun == nil || tun.Tunnel.PreFragment || tun.Tunnel.OutgoingInterface != "GigaEthernet0.1" || tun.Shutdown {
		t.Errorf("tunnel = %+v", tun)
	}
	if len(c.PSKs) != 1 || len(c.Routes) != 1 || len(c.BGP.Networks) != 1 || c.BGP.Neighbors[0].Hold != 30*time.Second {
		t.Errorf("psks %d routes %d bgp %+v", len(c.PSKs), len(c.Routes), c.BGP)
	}
	checkRoundTrip(t, "flat.conf", c)
}

func TestInterfaceNames(t *testing.T) {
	for in, want := range map[string]string{
		"GigaEthernet0.0": "GigaEthernet0.0", "gigaethernet2:1.0": "GigaEthernet2:1.0", "Gi0.1": "GigaEthernet0.1",
		"lo0.0": "Loopback0.0", "TUNNEL10.0": "Tunnel10.0", "Tu01.00": "Tunnel1.0", "Null0.0": "Null0.0",
	} {
		got, _, err := NormalizeInterfaceName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeInterfaceName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G0.0", "Tunnel0", "Tunnel0:1.0", "Null1.0", "Loopback.0", "Ethernet0.0", "Tunnel-1.0", "Tunnel0.0.0", "GigaEthernet0:.0"} {
		if got, _, err := NormalizeInterfaceName(bad); err == nil {
			t.Errorf("NormalizeInterfaceName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestWarnings(t *testing.T) {
	src := `interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ikev2 peer 192.0.2.1 authentication psk
  no shutdown
!
ikev2 authentication psk id ipv4 192.0.2.1 key char k
router bgp 65515
  neighbor 169.254.0.2 remote-as 65515
ntp server 192.0.2.5
ntp server 192.0.2.6
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ip unnumbered Loopback0.0
  ip tcp adjust-mss auto
  ikev2 connect-type auto
  ikev2 peer 192.0.2.1 authentication psk
interface Loopback0.0
  ip address 10.0.0.1/32
`
	_, diags := mustParse(t, "w.conf", src)
	want := []string{
		`w.conf:10:1: warning: "ntp" is not emulated`,
		`w.conf:1:1: warning: interface Tunnel0.0 has no "ip tcp adjust-mss"`,
		`w.conf:17:14: warning: interface Tunnel1.0 has the same ikev2 peer and identity as Tunnel0.0`,
		`w.conf:8:1: warning: router bgp 65515: Azure reserves AS 65515`,
		`w.conf:9:3: warning: neighbor 169.254.0.2 remote-as 65515 is the local AS`,
	}
	if len(diags) != len(want) {
		t.Errorf("got %d diagnostics, want %d: %v", len(diags), len(want), diags)
	}
	for i, w := range want {
		if i < len(diags) && !strings.HasPrefix(diags[i].String(), w) {
			t.Errorf("diag %d = %s\nwant prefix %s", i, diags[i], w)
		}
	}
}

func TestPSKNeverInMessages(t *testing.T) {
	src := "ikev2 authentication psk id ipv4 192.0.2.1 key hex 0a1bzz\nikev2 authentication psk id ipv4 192.0.2.1 key char SeCrEt extra\n"
	_, diags, err := Parse("k.conf", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	for _, d := range diags {
		if strings.Contains(d.Msg, "0a1bzz") || strings.Contains(d.Msg, "SeCrEt") {
			t.Errorf("key leaked: %s", d)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, _, err := Load(filepath.Join(t.TempDir(), "none.conf")); err == nil || !os.IsNotExist(errorsUnwrap(err)) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func errorsUnwrap(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestAllTestdataLoadWithNotEmulatedWarningsOnly(t *testing.T) {
	for _, f := range testdataFiles(t) {
		_, diags, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, d := range diags {
			if d.Severity != Warning || !strings.Contains(d.Msg, "not emulated") {
				t.Errorf("%s: unexpected diagnostic %s", f, d)
			}
		}
	}
}

func TestAWSGeneratedExitBlocks(t *testing.T) {
	c, _, err := Load("testdata/ix-aws-generated.conf")
	if err != nil {
		t.Fatal(err)
	}
	tun := c.Interface("Tunnel50.0")
	if tun.Tunnel.Profile != "aws" || !tun.Tunnel.OutgoingAuto || tun.Tunnel.SourceInterface != "GigaEthernet2:1.1" || tun.MTU != 1390 || tun.AdjustMSS != 1342 {
		t.Errorf("Tunnel50.0 = %+v %+v", tun, tun.Tunnel)
	}
	if n := c.BGP.Neighbors[0]; n.Description != "Tunnel50.0 vpn-0123456789abcdef0:0" || n.Hold != 30*time.Second {
		t.Errorf("neighbor %+v", n)
	}
	if pr := c.ProfileFor(tun); pr.ChildPFS != DH1024 || pr.DPDInterval != 10*time.Second || pr.Lifetime != 8*time.Hour {
		t.Errorf("profile %+v", pr)
	}
}

func TestNearMissesOfRealIXCommandsAreNotTypos(t *testing.T) {
	src := `ipv6 ufs-cache enable
ike nat-traversal
interface GigaEthernet0.0
  ipv6 enable
  ip address 192.0.2.2/24
  ipv6 tcp adjust-mss auto
  encapsulation ppp
  no shutdown
router bgp 65001
  timers bgp 10 30
  neighbor 192.0.2.1 remote-as 65002
`
	_, diags := mustParse(t, "near.conf", src)
	for _, d := range diags {
		if d.Severity != Warning || !strings.Contains(d.Msg, "not emulated") {
			t.Errorf("unexpected diagnostic %s", d)
		}
	}
}

func TestUniformlyIndentedFile(t *testing.T) {
	raw, err := os.ReadFile("testdata/ix-bgp.conf")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mustParse(t, "a.conf", string(raw))
	indented := "    " + strings.ReplaceAll(strings.TrimRight(string(raw), "\n"), "\n", "\n    ") + "\n"
	got, diags := mustParse(t, "b.conf", indented)
	if len(diags) != 0 {
		t.Errorf("diags %v", diags)
	}
	if !reflect.DeepEqual(clearPos(got), clearPos(want)) {
		t.Errorf("indenting the whole file changed the config:\n%s\nwant\n%s", Print(got), Print(want))
	}
}

// TestRecursiveRouteWarning: a static route into a tunnel that covers the
// tunnel's own peer is warned about unless a longer route or a connected
// network keeps the peer outside the tunnel.
func TestRecursiveRouteWarning(t *testing.T) {
	base := `ikev2 authentication psk id ipv4 198.51.100.6 key char k
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  no shutdown
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
  no shutdown
`
	for _, tc := range []struct {
		name, routes string
		warn         bool
	}{
		{"vnet only", "ip route 172.16.0.0/16 Tunnel0.0\n", false},
		{"default into the tunnel", "ip route default Tunnel0.0\n", true},
		{"peer's /24 into the tunnel", "ip route 198.51.100.0/24 Tunnel0.0\n", true},
		{"default with a host route via the WAN", "ip route default Tunnel0.0\nip route 198.51.100.6/32 203.0.113.1\n", false},
		{"default with a host route out of GigaEthernet0.0", "ip route default Tunnel0.0\nip route 198.51.100.6/32 GigaEthernet0.0\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := mustParse(t, "r.conf", base+tc.routes)
			got := false
			for _, d := range diags {
				if strings.Contains(d.Msg, "routed into the tunnel itself") {
					got = true
					if !strings.HasPrefix(d.String(), "r.conf:11:1: warning: ip route ") {
						t.Errorf("warning at the wrong place: %s", d)
					}
				}
			}
			if got != tc.warn {
				t.Errorf("warned %v, want %v: %v", got, tc.warn, diags)
			}
		})
	}
}
