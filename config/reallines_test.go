package config

import (
	"net/netip"
	"strings"
	"testing"
)

// realLinesBase is a tunnel the snippets below can refer to.
const realLinesBase = `ikev2 authentication psk id ipv4 192.0.2.1 key char k
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 peer 192.0.2.1 authentication psk id ipv4 192.0.2.1
`

func TestRealIXRouteForms(t *testing.T) {
	c, diags := mustParse(t, "r.conf", realLinesBase+`ip route 0.0.0.0/0 GigaEthernet0.0 dhcp
ip route 10.1.0.0/16 192.0.2.254 GigaEthernet0.0
ip route 10.2.0.0/16 Tunnel0.0 20
ip route 10.3.0.0/16 Tunnel0.0 distance 30 tag 7
`)
	want := []Route{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Interface: "GigaEthernet0.0", DHCP: true},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Interface: "GigaEthernet0.0", NextHop: netip.MustParseAddr("192.0.2.254")},
		{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Interface: "Tunnel0.0", Distance: 20},
		{Prefix: netip.MustParsePrefix("10.3.0.0/16"), Interface: "Tunnel0.0", Distance: 30, Tag: 7},
	}
	if len(c.Routes) != len(want) {
		t.Fatalf("routes %+v", c.Routes)
	}
	for i, r := range c.Routes {
		r.Pos = Pos{}
		if *r != want[i] {
			t.Errorf("route %d = %+v, want %+v", i, *r, want[i])
		}
	}
	for _, w := range []string{"r.conf:10:1: warning: ip route ... tag"} {
		if !hasDiag(diags, w) {
			t.Errorf("no %q in %v", w, diags)
		}
	}
	// The dhcp form is acted on (the daemon follows the lease's router).
	if hasDiag(diags, "r.conf:7:1: warning: ip route ... dhcp") {
		t.Errorf("ip route ... dhcp still warned as not acted on: %v", diags)
	}
	checkRoundTrip(t, "r.conf", c)
	for _, bad := range []string{
		"ip route 10.0.0.0/8 Tunnel0.0 300\n",               // distance out of range
		"ip route 10.0.0.0/8 Tunnel0.0 frobnicate\n",        // unknown word
		"ip route 10.0.0.0/8 192.0.2.1 Tunel0.0\n",          // not an interface
		"ip route 10.0.0.0/8 Tunnel0.0 tag 0\n",             // tag out of range
		"ip route 10.0.0.0/8 Tunnel0.0 dhcp dhcp\n",         // twice
		"ip route 10.0.0.0/8 GigaEthernet0.0 2001:db8::1\n", // next hop of the other family
	} {
		if _, _, err := Parse("bad.conf", []byte(realLinesBase+bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func hasDiag(diags []Diagnostic, prefix string) bool {
	for _, d := range diags {
		if strings.HasPrefix(d.String(), prefix) {
			return true
		}
	}
	return false
}

// TestUnmodeledInterfaceReferences: routes and references to interface
// families soft-ix does not model load, are kept verbatim and inactive, and
// check says so once per interface.
func TestUnmodeledInterfaceReferences(t *testing.T) {
	src := realLinesBase + `  ikev2 source-address Dialer1
  ikev2 outgoing-interface USB-Ether0.0
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ip unnumbered FastEthernet1/0.0
  ikev2 outgoing-interface GigaEthernet0.0 192.0.2.254
ip route 10.0.0.0/8 Fastether0/0.1
ip route 10.9.0.0/16 Dialer1
ip route 10.8.0.0/16 192.0.2.254 BVI1
router bgp 65001
  neighbor 10.255.0.1 remote-as 65002
  neighbor 10.255.0.1 update-source BVI1
`
	c, diags := mustParse(t, "u.conf", src)
	if len(c.Routes) != 0 {
		t.Errorf("routes into unmodelled interfaces are active: %+v", c.Routes)
	}
	refs := 0
	for _, d := range diags {
		if strings.Contains(d.Msg, "which soft-ix does not model") {
			refs++
		}
	}
	if refs != 5 { // Dialer1, USB-Ether0.0, FastEthernet1/0.0, Fastether0/0.1 and BVI1 (named twice), once each
		t.Errorf("%d reference warnings, want one per interface:\n%v", refs, diags)
	}
	// The next hop is acted on (a host route to the peer, see tun), so
	// nothing is said about it.
	if hasDiag(diags, "u.conf:12:") {
		t.Errorf("a diagnostic on the outgoing next hop: %v", diags)
	}
	if tun := c.Interface("Tunnel1.0").Tunnel; tun.OutgoingNextHop != netip.MustParseAddr("192.0.2.254") {
		t.Errorf("outgoing next hop %v", tun.OutgoingNextHop)
	}
	out := string(Print(c))
	for _, l := range []string{"  ikev2 source-address Dialer1\n", "  ip unnumbered FastEthernet1/0.0\n", "ip route 10.0.0.0/8 Fastether0/0.1\n",
		"  neighbor 10.255.0.1 update-source BVI1\n", "  ikev2 outgoing-interface GigaEthernet0.0 192.0.2.254\n"} {
		if !strings.Contains(out, l) {
			t.Errorf("reprint lacks %q:\n%s", l, out)
		}
	}
	checkRoundTrip(t, "u.conf", c)
}

// TestFlatInterfaceBlocks: without indentation an interface keeps "ppp
// binding", "ipsec policy" and what follows them, as on IX.
func TestFlatInterfaceBlocks(t *testing.T) {
	c, _ := mustParse(t, "f.conf", `ppp profile isp
authentication myname user@example.jp
interface GigaEthernet0.1
encapsulation pppoe
ppp binding isp
ip address ipcp
ip tcp adjust-mss auto
no shutdown
interface Tunnel0.0
tunnel mode ipsec
ipsec policy tunnel map out
ip tcp adjust-mss 1300
ppp profile other
ip route default GigaEthernet0.1
`)
	g := c.Interface("GigaEthernet0.1")
	// adjust-mss is kept too (soft-ix clamps only in tunnels), in the block.
	if g.AdjustMSS != 0 || len(g.Extra) != 4 || g.Extra[3].Text != "ip tcp adjust-mss auto" {
		t.Errorf("GigaEthernet0.1 = %+v", g)
	}
	if tu := c.Interface("Tunnel0.0"); tu.AdjustMSS != 1300 || len(tu.Extra) != 1 {
		t.Errorf("Tunnel0.0 = %+v", tu)
	}
	if len(c.Extra) != 2 || len(c.Extra[0].Sub) != 1 || c.Extra[1].Text != "ppp profile other" {
		t.Errorf("top-level kept lines = %+v", c.Extra)
	}
	out := string(Print(c))
	if strings.Contains(out, "no ip address") {
		t.Errorf("a PPPoE WAN printed as \"no ip address\":\n%s", out)
	}
	checkRoundTrip(t, "f.conf", c)
}

func TestRouterIDUnderRouterBGP(t *testing.T) {
	c, diags := mustParse(t, "b.conf", "router bgp 65001\n  router-id 10.2.2.2\n  neighbor 10.0.0.1 remote-as 65002\n")
	if c.BGP.RouterID != netip.MustParseAddr("10.2.2.2") || len(diags) != 0 {
		t.Errorf("router-id %v, diags %v", c.BGP.RouterID, diags)
	}
	if _, _, err := Parse("b.conf", []byte("router bgp 65001\n  router-id 2001:db8::1\n")); err == nil {
		t.Error("IPv6 router-id accepted")
	}
}

// TestNoIPAddressAsIXPrintsIt: IX's running-config says "no ip address"
// for a Loopback or Null interface without one (the published
// shigehiro-ix2025 files), and so does the reprint, so no line of such a
// file vanishes.
func TestNoIPAddressAsIXPrintsIt(t *testing.T) {
	src := "interface Loopback0.0\n  no ip address\n!\ninterface Null0.0\n  no ip address\n!\n"
	c, _ := mustParse(t, "n.conf", src)
	if out := string(Print(c)); out != src {
		t.Errorf("reprint:\n%s\nwant:\n%s", out, src)
	}
	checkRoundTrip(t, "n.conf", c)
}

// TestCommentInsideBlock: a "!" comment written inside a block, as
// published files have ("! the MSS for MTU 1500" before "ip tcp
// adjust-mss"), leaves the block open for the indented lines after it;
// a "!" followed by an unindented line still ends the block.
func TestCommentInsideBlock(t *testing.T) {
	c, _ := mustParse(t, "c.conf", `interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.21.1/30
! the MSS below suits an MTU of 1500
  ip tcp adjust-mss 1350
  no shutdown
!
interface GigaEthernet0.0
ip address 192.0.2.1/24
!
ip route default GigaEthernet0.0
`)
	tu := c.Interface("Tunnel0.0")
	if tu.AdjustMSS != 1350 || tu.Shutdown {
		t.Errorf("Tunnel0.0 lost its lines after the comment: %+v", tu)
	}
	if len(c.Extra) != 0 {
		t.Errorf("lines moved to the top level: %+v", c.Extra)
	}
	if len(c.Routes) != 1 {
		t.Errorf("the route after the flat block: %+v", c.Routes)
	}
}

// TestIPAddressKeywordForms: IX's keyword forms of "ip address" ("ipcp"
// on PPP, "map-e" on a MAP-E tunnel, and any other) are kept, not errors;
// a near miss of "dhcp" is a typo.
func TestIPAddressKeywordForms(t *testing.T) {
	c, diags := mustParse(t, "k.conf", "interface Tunnel1.0\n  tunnel mode map-e ocn\n  ip address map-e\n!\ninterface GigaEthernet0.1\n  ip address ipcp\n")
	if !hasDiag(diags, `k.conf:3:3: warning: "ip address map-e" is not emulated`) || !hasDiag(diags, `k.conf:6:3: warning: "ip address ipcp" is not emulated`) {
		t.Errorf("diagnostics %v", diags)
	}
	if out := string(Print(c)); !strings.Contains(out, "  ip address map-e\n") || !strings.Contains(out, "  ip address ipcp\n") {
		t.Errorf("not printed back:\n%s", out)
	}
	_, diags, err := Parse("e.conf", []byte("interface GigaEthernet0.0\n  ip address dchp\n"))
	if err == nil || !hasDiag(diags, `e.conf:2:14: error: ip address: unknown form "dchp", did you mean "dhcp"?`) {
		t.Errorf("typo: %v", diags)
	}
}

// TestRouteMetric: "metric N" on a static route, as an IX2215's running
// config prints it for a backup default route, in both gateway forms.
func TestRouteMetric(t *testing.T) {
	c, _ := mustParse(t, "m.conf", "ip route default GigaEthernet1.1\nip route default 10.0.0.2 GigaEthernet0.0 metric 200\nip route default GigaEthernet1.0 metric 200 tag 7\n")
	if len(c.Routes) != 3 || c.Routes[0].Metric != 0 || c.Routes[1].Metric != 200 || c.Routes[1].NextHop != netip.MustParseAddr("10.0.0.2") ||
		c.Routes[2].Metric != 200 || c.Routes[2].Interface != "GigaEthernet1.0" || c.Routes[2].Tag != 7 {
		t.Fatalf("routes %+v %+v %+v", c.Routes[0], c.Routes[1], c.Routes[2])
	}
	if out := string(Print(c)); !strings.Contains(out, "ip route default 10.0.0.2 GigaEthernet0.0 metric 200\n") {
		t.Errorf("printed:\n%s", out)
	}
	checkRoundTrip(t, "m.conf", c)
	_, diags, err := Parse("e.conf", []byte("ip route default GigaEthernet1.0 metric 0\n"))
	if err == nil || !hasDiag(diags, `e.conf:1:41: error: ip route metric: bad metric "0"`) {
		t.Errorf("metric 0: %v", diags)
	}
}

// TestReenteredBlocksKeepOneCopy: a generator that writes one section per
// upstream enters the same interface blocks again and repeats its kept
// lines (a RubyKaigi NOC script's output). An IX holds each such command
// once, so show running-config prints it once; a kept top-level block
// entered again gets the lines it lacks; a kept block with nested lines
// entered again stays a second entry (the same line can mean different
// things under different parents).
func TestReenteredBlocksKeepOneCopy(t *testing.T) {
	block := `interface Tunnel11.0
  tunnel mode ether-ip ipv6
  tunnel destination 2001:db8:1::1
  bridge-group 11
  no shutdown
!
ipv6 route 2001:db8:1::/64 fe80::a%GigaEthernet0.0
ppp profile p
  authentication myname a@example.jp
!
policy-map q
  class c1
    set dscp 10
!
`
	src := block + block + `ppp profile p
  authentication password a@example.jp secret
!
policy-map q
  class c2
    set dscp 10
!
`
	c, _ := mustParse(t, "re.conf", src)
	out := string(Print(c))
	for _, l := range []string{"tunnel destination 2001:db8:1::1", "bridge-group 11", "ipv6 route 2001:db8:1::/64 fe80::a%GigaEthernet0.0",
		"authentication myname a@example.jp", "authentication password a@example.jp secret", "ppp profile p"} {
		if n := strings.Count(out, l); n != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", l, n, out)
		}
	}
	if n := strings.Count(out, "policy-map q"); n != 2 {
		t.Errorf("policy-map q printed %d times, want its two different entries:\n%s", n, out)
	}
	// A repeat after the command was set otherwise ("no X", another
	// value) is kept: the source's last word stands.
	c3, _ := mustParse(t, "re3.conf", `ntp server 192.0.2.9
no ntp server 192.0.2.9
ntp server 192.0.2.9
interface Tunnel11.0
  tunnel mode ether-ip ipv6
  tunnel source 2001:db8::1
  tunnel source 2001:db8::2
  tunnel source 2001:db8::1
  bridge-group 11
  no bridge-group
  bridge-group 11
!
`)
	out3 := string(Print(c3))
	for l, n := range map[string]int{"\nntp server 192.0.2.9": 2, "no ntp server": 1, "tunnel source 2001:db8::1": 2, "tunnel source 2001:db8::2": 1,
		"  bridge-group 11": 2, "no bridge-group": 1} {
		if got := strings.Count("\n"+out3, l); got != n {
			t.Errorf("%q printed %d times, want %d:\n%s", l, got, n, out3)
		}
	}
	// Printing and parsing again gives the same configuration.
	c2, _ := mustParse(t, "re2.conf", out)
	if out2 := string(Print(c2)); out2 != out {
		t.Errorf("printed again differs:\n%s\nfirst:\n%s", out2, out)
	}
}

// TestAdjustMSSOutsideTunnels: soft-ix clamps the MSS only in tunnels
// (package esp); on a GigaEthernet the line is kept and reported as not
// emulated rather than read into a field nothing uses.
func TestAdjustMSSOutsideTunnels(t *testing.T) {
	src := "interface GigaEthernet0.0\n  ip address 192.0.2.2/24\n  ip tcp adjust-mss auto\n  no shutdown\n"
	c, diags := mustParse(t, "m.conf", src)
	g := c.Interface("GigaEthernet0.0")
	if g.AdjustMSS != 0 || len(g.Extra) != 1 || len(c.Inactive()) != 1 {
		t.Errorf("GigaEthernet0.0: AdjustMSS %d, kept %v", g.AdjustMSS, g.Extra)
	}
	if !strings.Contains(errorText(diags), `m.conf:3:3: warning: "ip tcp adjust-mss (outside a Tunnel interface)" is not emulated`) {
		t.Errorf("diagnostics:\n%s", errorText(diags))
	}
	if out := string(Print(c)); !strings.Contains(out, "  ip tcp adjust-mss auto\n") {
		t.Errorf("the kept line is not printed:\n%s", out)
	}
}
