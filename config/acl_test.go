package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const aclSrc = `ip access-list wan-in permit udp src any sport any dest any dport eq 500
ip access-list wan-in permit udp src 198.51.100.6 sport range 500 4500 dest 203.0.113.0/24 dport gt 1023
ip access-list wan-in permit icmp type 8 src any dest any
ip access-list wan-in permit 50 src any dest any
ip access-list wan-in deny tcp src any sport lt 1024 dest any dport any
ip access-list wan-in option optimize
ip access-list dynamic dyn-out access wan-in
ip access-list dynamic timer tcp-idle-timeout 7440
ip access-list odd permit ip src any dest 50
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip napt enable
  ip napt hairpinning
  ip napt static GigaEthernet0.0 udp 500
  ip napt static gi0.0 50
  ip napt service web 192.168.2.20 none tcp 80
  ip napt service ping 192.168.2.20 none icmp any
  ip napt static 192.168.2.30 udp 4500
  no ip napt static 192.168.2.30 udp 4500
  ip filter wan-in 10 in
  ip filter dyn-out 20 out suppress-logging
  ip filter wan-in 30 in
  no ip filter wan-in 30
  ipv6 filter wan-in 1 in
  no shutdown
`

func TestAccessListsAndFilters(t *testing.T) {
	c, diags, err := Parse("ix.conf", []byte(aclSrc))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if d.Severity != Warning {
			t.Errorf("diagnostic %s", d)
		}
	}
	a := c.AccessList("wan-in")
	if a == nil || len(a.Entries) != 5 {
		t.Fatalf("wan-in = %+v", a)
	}
	e := a.Entries[1]
	want := ACLEntry{Permit: true, Protocol: ProtoUDP, Src: netip.MustParsePrefix("198.51.100.6/32"), Dst: netip.MustParsePrefix("203.0.113.0/24"),
		SrcPort: PortMatch{PortRange, 500, 4500}, DstPort: PortMatch{Op: PortGt, Lo: 1023}, ICMPType: -1, Pos: Pos{"ix.conf", 2, 1}}
	if *e != want {
		t.Errorf("entry 2 = %+v\nwant %+v", *e, want)
	}
	if a.Entries[2].Protocol != ProtoICMP || a.Entries[2].ICMPType != 8 || a.Entries[3].Protocol != 50 || a.Entries[4].Permit {
		t.Errorf("entries 3-5 = %+v %+v %+v", a.Entries[2], a.Entries[3], a.Entries[4])
	}
	// Kept, not translated: the dynamic list and the malformed entry;
	// "option optimize" is kept but changes no match.
	if d := c.DynamicList("dyn-out"); d == nil || d.Access != "wan-in" || d.Pos.Line != 7 {
		t.Errorf("dynamic list = %+v", d)
	}
	if c.AccessList("odd") != nil || len(c.KeptAccessListLines("odd")) != 1 || len(c.KeptAccessListLines("dyn-out")) != 0 ||
		len(c.KeptAccessListLines("wan-in")) != 0 {
		t.Errorf("kept lines: odd %v, dyn-out %v, wan-in %v", c.KeptAccessListLines("odd"), c.KeptAccessListLines("dyn-out"), c.KeptAccessListLines("wan-in"))
	}
	wan := c.Interface("GigaEthernet0.0")
	if !wan.NAPT || wan.NAPTPos.Line != 12 || !wan.NAPTHairpin {
		t.Errorf("napt %v at %v", wan.NAPT, wan.NAPTPos)
	}
	var fwd []string
	for _, f := range wan.NAPTForwards {
		fwd = append(fwd, strings.Join(f.Words(), " "))
	}
	if want := "ip napt static GigaEthernet0.0 udp 500|ip napt static GigaEthernet0.0 50|ip napt service web 192.168.2.20 none tcp 80"; strings.Join(fwd, "|") != want {
		t.Errorf("napt forwards %q\nwant %q", strings.Join(fwd, "|"), want)
	}
	got := []Filter{}
	for _, f := range wan.Filters {
		got = append(got, *f)
	}
	wantF := []Filter{{List: "wan-in", Seq: 10, Pos: Pos{"ix.conf", 20, 3}}, {List: "dyn-out", Seq: 20, Out: true, SuppressLogging: true, Pos: Pos{"ix.conf", 21, 3}}}
	if !reflect.DeepEqual(got, wantF) {
		t.Errorf("filters = %+v\nwant %+v", got, wantF)
	}

	out := string(Print(c))
	for _, l := range []string{
		"ip access-list wan-in permit udp src 198.51.100.6/32 sport range 500 4500 dest 203.0.113.0/24 dport gt 1023\n",
		"ip access-list wan-in permit icmp type 8 src any dest any\n",
		"ip access-list wan-in deny tcp src any sport lt 1024 dest any dport any\n",
		"ip access-list dynamic dyn-out access wan-in\n",
		"  ip napt enable\n  ip napt hairpinning\n  ip napt static GigaEthernet0.0 udp 500\n  ip napt static GigaEthernet0.0 50\n  ip napt service web 192.168.2.20 none tcp 80\n  ip napt service ping 192.168.2.20 none icmp any\n  ip filter wan-in 10 in\n  ip filter dyn-out 20 out suppress-logging\n  ipv6 filter wan-in 1 in\n  no shutdown\n",
	} {
		if !strings.Contains(out, l) {
			t.Errorf("Print lacks %q:\n%s", l, out)
		}
	}
	c2, _, err := Parse("ix.conf", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if ch := Diff(c, c2); !ch.Empty() {
		t.Errorf("round trip changed: %s", ch)
	}
	if again := string(Print(c2)); again != out {
		t.Errorf("Print is not idempotent:\n%s\n---\n%s", out, again)
	}
}

func TestFilterErrorsAndUndefinedList(t *testing.T) {
	for _, bad := range []string{"ip filter", "ip filter wan-in", "ip filter wan-in 10", "ip filter wan-in 0 in", "ip filter wan-in 10 both"} {
		_, _, err := Parse("ix.conf", []byte("interface GigaEthernet0.0\n  "+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), "ix.conf:2:") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	_, diags, err := Parse("ix.conf", []byte("interface GigaEthernet0.0\n  ip filter nosuch 1 in\n"))
	if err != nil || len(diags) != 1 || !strings.Contains(diags[0].String(), `ix.conf:2:3: warning: ip filter: access list "nosuch" is not configured`) {
		t.Errorf("undefined list: %v %v", diags, err)
	}
}

// TestFilterChangeKeepsTunnels: a new filter on a tunnel is a filter
// change, not a tunnel change (no renegotiation).
func TestFilterChangeKeepsTunnels(t *testing.T) {
	base := "ikev2 authentication psk id ipv4 198.51.100.6 key char k\ninterface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6\n"
	a, _, err := Parse("a", []byte("ip access-list l permit ip src any dest any\n"+base))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Parse("b", []byte("ip access-list l permit ip src any dest any\n"+base+"  ip filter l 1 in\n"))
	if err != nil {
		t.Fatal(err)
	}
	ch := Diff(a, b)
	if !ch.FiltersChanged || len(ch.TunnelsChanged) != 0 || ch.String() != "filters changed" {
		t.Errorf("Diff = %+v", ch)
	}
	c, _, _ := Parse("c", []byte("ip access-list l deny ip src any dest any\n"+base+"  ip filter l 1 in\n"))
	if !Diff(b, c).FiltersChanged {
		t.Error("a changed entry is not a filter change")
	}
}
