package router

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/tun/nft"
)

// branchFilters is the WAN of a published-style IX branch file: IKE, NAT-T
// and ESP in, ping in, everything out, NAPT, and a tunnel filter.
const branchFilters = `ip access-list wan-in permit udp src any sport any dest any dport eq 500
ip access-list wan-in permit udp src any sport any dest any dport eq 4500
ip access-list wan-in permit 50 src any dest any
ip access-list wan-in permit icmp type 8 src any dest 203.0.113.94
ip access-list wan-in permit tcp src 198.51.100.0/24 sport gt 1023 dest any dport range 8000 8080
ip access-list wan-in deny tcp src any sport lt 0 dest any dport any
ip access-list sec-list permit ip src any dest any
ip access-list vnet-in deny tcp src any sport any dest any dport eq 23
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip napt enable
  ip napt hairpinning
  ip napt static GigaEthernet0.0 udp 500
  ip napt static GigaEthernet0.0 50
  ip napt static 192.168.2.10 tcp 8080
  ip napt service web 192.168.2.20 none tcp 80
  ip napt static 192.168.2.30 47
  ip filter sec-list 100000 out
  ip filter wan-in 10 in
  ip filter missing 5 in
  no shutdown
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip filter vnet-in 1 in
  ip filter sec-list 2 in
`

func TestFirewallTranslation(t *testing.T) {
	cfg, _, err := config.Parse("ix.conf", []byte(branchFilters))
	if err != nil {
		t.Fatal(err)
	}
	fw, refs, bad := firewall(cfg, map[string]string{"GigaEthernet0.0": "wan0"})
	if len(bad) != 0 {
		t.Fatalf("unenforced: %v", bad)
	}
	any := -1
	want := nft.Config{
		Masquerade: []string{"wan0"},
		// The router-self entries (IKE, ESP) need no rule: Linux delivers
		// what arrives for its own address locally.
		Forwards: []nft.Forward{
			{ID: "GigaEthernet0.0 ip napt static 192.168.2.10 tcp 8080", Device: "wan0", Protocol: 6, Port: 8080, To: netip.MustParseAddr("192.168.2.10"), Hairpin: netip.MustParseAddr("203.0.113.94")},
			{ID: "GigaEthernet0.0 ip napt service web 192.168.2.20 none tcp 80", Device: "wan0", Protocol: 6, Port: 80, To: netip.MustParseAddr("192.168.2.20"), Hairpin: netip.MustParseAddr("203.0.113.94")},
			{ID: "GigaEthernet0.0 ip napt static 192.168.2.30 47", Device: "wan0", Protocol: 47, To: netip.MustParseAddr("192.168.2.30"), Hairpin: netip.MustParseAddr("203.0.113.94")},
		},
		Chains: []nft.Chain{
			{Device: "wan0", DropID: "GigaEthernet0.0 in implicit deny", Rules: []nft.Rule{
				// "missing" (seq 5) matches nothing; wan-in follows in order.
				{ID: "GigaEthernet0.0 in 10 wan-in #1", Permit: true, Protocol: 17, DstPorts: &nft.PortRange{Lo: 500, Hi: 500}, ICMPType: any},
				{ID: "GigaEthernet0.0 in 10 wan-in #2", Permit: true, Protocol: 17, DstPorts: &nft.PortRange{Lo: 4500, Hi: 4500}, ICMPType: any},
				{ID: "GigaEthernet0.0 in 10 wan-in #3", Permit: true, Protocol: 50, ICMPType: any},
				{ID: "GigaEthernet0.0 in 10 wan-in #4", Permit: true, Protocol: 1, Dst: netip.MustParsePrefix("203.0.113.94/32"), ICMPType: 8},
				{ID: "GigaEthernet0.0 in 10 wan-in #5", Permit: true, Protocol: 6, Src: netip.MustParsePrefix("198.51.100.0/24"),
					SrcPorts: &nft.PortRange{Lo: 1024, Hi: 65535}, DstPorts: &nft.PortRange{Lo: 8000, Hi: 8080}, ICMPType: any},
				// #6 ("sport lt 0") can match nothing and is left out.
			}},
			{Device: "wan0", Out: true, DropID: "GigaEthernet0.0 out implicit deny", Rules: []nft.Rule{
				{ID: "GigaEthernet0.0 out 100000 sec-list #1", Permit: true, Protocol: any, ICMPType: any},
			}},
			{Device: "Tunnel0.0", DropID: "Tunnel0.0 in implicit deny", Rules: []nft.Rule{
				{ID: "Tunnel0.0 in 1 vnet-in #1", Protocol: 6, DstPorts: &nft.PortRange{Lo: 23, Hi: 23}, ICMPType: any},
				{ID: "Tunnel0.0 in 2 sec-list #1", Permit: true, Protocol: any, ICMPType: any},
			}},
		},
	}
	if !reflect.DeepEqual(fw, want) {
		t.Errorf("firewall:\n%+v\nwant\n%+v", fw, want)
	}
	if err := fw.Validate(); err != nil {
		t.Error(err)
	}
	if r := refs["GigaEthernet0.0 in 10 wan-in #4"]; r != (ruleRef{Interface: "GigaEthernet0.0", Seq: 10, List: "wan-in", Entry: 3}) {
		t.Errorf("ref = %+v", r)
	}
	if r := refs["Tunnel0.0 in implicit deny"]; r.Entry != -1 || r.Interface != "Tunnel0.0" {
		t.Errorf("drop ref = %+v", r)
	}
}

// TestFirewallReload: the router applies the rule set, replaces it on a
// filter change and removes it when the new file has none; a refused set
// refuses the reload.
func TestFirewallReload(t *testing.T) {
	fw := &fakeFirewall{}
	next, _, err := config.Parse("ix.conf", []byte(branchFilters))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := testRouter(&config.Config{Hostname: "old"})
	r.opts.Maps = map[string]string{"GigaEthernet0.0": "wan0"}
	r.fw = fw
	fw.err = errTest
	old := r.Config()
	if res := r.Reload(next); !errors.Is(res.Refused, errTest) || r.Config() != old {
		t.Fatalf("reload with a refused rule set: %+v", res)
	}
	fw.err = nil
	if res := r.Reload(next); res.Refused != nil || res.Err != nil || r.Config() != next {
		t.Fatalf("reload: %+v", res)
	}
	if len(fw.applied) != 1 || len(fw.applied[0].Chains) != 3 || fw.removed != 0 {
		t.Fatalf("applied %d, removed %d", len(fw.applied), fw.removed)
	}
	if res := r.Reload(&config.Config{Hostname: "plain"}); res.Err != nil || fw.removed != 1 {
		t.Fatalf("reload without filters: %+v, removed %d", res, fw.removed)
	}
}

type fakeFirewall struct {
	applied []nft.Config
	removed int
	err     error
	counts  map[string]nft.Counter
}

func (f *fakeFirewall) Apply(c nft.Config) error {
	if f.err != nil {
		return f.err
	}
	f.applied = append(f.applied, c)
	return nil
}
func (f *fakeFirewall) Remove() error                             { f.removed++; return nil }
func (f *fakeFirewall) Counters() (map[string]nft.Counter, error) { return f.counts, nil }

var errTest = testError("refused by the kernel")

type testError string

func (e testError) Error() string { return string(e) }

// TestShowFilterCounters: "show ip filter" lists each direction's filters
// in evaluation order with the kernel's counter of every entry and of the
// implicit deny; "show ip access-list" sums an entry over the interfaces.
func TestShowFilterCounters(t *testing.T) {
	cfg, _, err := config.Parse("ix.conf", []byte(branchFilters))
	if err != nil {
		t.Fatal(err)
	}
	_, refs, _ := firewall(cfg, map[string]string{"GigaEthernet0.0": "wan0"})
	fw := &fakeFirewall{counts: map[string]nft.Counter{
		"GigaEthernet0.0 in 10 wan-in #1":        {Packets: 3, Bytes: 300},
		"GigaEthernet0.0 in implicit deny":       {Packets: 7, Bytes: 420},
		"GigaEthernet0.0 out 100000 sec-list #1": {Packets: 5, Bytes: 500},
		"Tunnel0.0 in 2 sec-list #1":             {Packets: 2, Bytes: 200},
	}}
	r, _ := testRouter(cfg)
	r.fw, r.fwRefs = fw, refs
	dirs, lists, err := r.Filters()
	if err != nil {
		t.Fatal(err)
	}
	out := show.IPFilters(dirs)
	for _, want := range []string{
		"Interface GigaEthernet0.0, in\n  ip filter missing 5\n    (no entries: matches nothing)\n  ip filter wan-in 10\n" +
			"    permit udp src any sport any dest any dport eq 500 (3 matches, 300 bytes)\n",
		"    deny tcp src any sport lt 0 dest any dport any\n  implicit deny (7 matches, 420 bytes)\n",
		"Interface Tunnel0.0, in\n  ip filter vnet-in 1\n    deny tcp src any sport any dest any dport eq 23 (0 matches, 0 bytes)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show ip filter lacks %q:\n%s", want, out)
		}
	}
	if want := "IP access-list sec-list\n  permit ip src any dest any (7 matches, 700 bytes)\n"; !strings.Contains(show.IPAccessLists(lists), want) {
		t.Errorf("show ip access-list lacks %q:\n%s", want, show.IPAccessLists(lists))
	}
}

// TestDynamicFilterTranslation: a dynamic list applied out marks the
// sessions its access list permits, and the in-chain of the same
// interface lets those sessions back in before its own entries.
func TestDynamicFilterTranslation(t *testing.T) {
	src := `ip access-list permit-all permit ip src any dest any
ip access-list web deny tcp src any sport any dest any dport eq 25
ip access-list web permit tcp src any sport any dest any dport any
ip access-list dynamic dyn-web access web
ip access-list wan-in permit icmp src any dest any
interface GigaEthernet0.0
  ip filter dyn-web 10 out
  ip filter wan-in 1 in
`
	cfg, _, err := config.Parse("ix.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	fw, _, bad := firewall(cfg, map[string]string{"GigaEthernet0.0": "wan0"})
	if len(bad) != 0 || len(fw.Chains) != 2 {
		t.Fatalf("chains %+v, unenforced %v", fw.Chains, bad)
	}
	in, out := fw.Chains[0], fw.Chains[1]
	m := uint32(nft.DynamicMarkBase)
	if !reflect.DeepEqual(in.SessionMarks, []uint32{m}) || len(out.SessionMarks) != 0 {
		t.Errorf("session marks: in %v, out %v", in.SessionMarks, out.SessionMarks)
	}
	if len(out.Rules) != 2 || out.Rules[0].SetMark != 0 || out.Rules[1].SetMark != m || out.Rules[1].ID != "GigaEthernet0.0 out 10 web #2" {
		t.Errorf("out rules %+v", out.Rules)
	}
	if err := fw.Validate(); err != nil {
		t.Error(err)
	}
}

// TestRawESPModeKeepsFilters proves that Ethernet frames, which skip the
// host's netfilter output hooks, are never used with packet filters or
// NAPT in the file: auto falls back to the raw IP socket, packet refuses,
// and a reload that adds filters while frames are in use moves raw ESP
// to the raw IP socket first (auto) or is refused (packet).
func TestRawESPModeKeepsFilters(t *testing.T) {
	maps := map[string]string{"GigaEthernet0.0": "wan0"}
	filtered, _, err := config.Parse("ix.conf", []byte(branchFilters))
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := config.Parse("ix.conf", []byte("interface GigaEthernet0.0\n  ip address 203.0.113.94/24\n  no shutdown\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag     string
		cfg      *config.Config
		want     string
		frames   bool
		refusing bool
	}{
		{"", filtered, "socket", false, false},
		{"socket", plain, "socket", false, false},
		{"auto", plain, "auto", true, false},
		{"packet", plain, "packet", true, false},
		{"auto", filtered, "socket", false, false},
		{"packet", filtered, "", false, true},
		{"bogus", plain, "socket", false, true},
	} {
		r := New(c.cfg, Options{Maps: maps, RawESP: c.flag}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		got, err := r.rawESPMode(c.cfg)
		if got != c.want || r.frames != c.frames || (err != nil) != c.refusing {
			t.Errorf("--raw-esp %q, filters %v: mode %q, frames %v, err %v; want %q, %v, refused %v",
				c.flag, c.cfg == filtered, got, r.frames, err, c.want, c.frames, c.refusing)
		}
	}

	// Reloads: under auto, filters move raw ESP to the raw IP socket
	// before they go in and back to frames once they are out (also when
	// the kernel refuses them); under packet they are refused.
	for _, flag := range []string{"auto", "packet"} {
		r, f := testRouter(plain)
		fw := &fakeFirewall{}
		r.fw, r.opts.Maps, r.opts.RawESP = fw, maps, flag
		if _, err := r.rawESPMode(plain); err != nil || !r.frames {
			t.Fatalf("%s without filters: frames %v, err %v", flag, r.frames, err)
		}
		res := r.Reload(filtered)
		if flag == "packet" {
			if !errors.Is(res.Refused, errFramesFiltered) || r.Config() != plain || len(f.ipsec.rawModes) != 0 {
				t.Fatalf("packet: reload adding filters: refused %v, config changed %v, raw modes %v; want %v, unchanged, none",
					res.Refused, r.Config() != plain, f.ipsec.rawModes, errFramesFiltered)
			}
			continue
		}
		if res.Refused != nil || r.frames || !slices.Equal(f.ipsec.rawModes, []esp.RawESPMode{esp.RawESPSocket}) || len(fw.applied) != 1 {
			t.Fatalf("auto: reload adding filters: refused %v, frames %v, raw modes %v, rule sets %d; want nil, false, [socket], 1",
				res.Refused, r.frames, f.ipsec.rawModes, len(fw.applied))
		}
		if res := r.Reload(plain); res.Refused != nil || !r.frames || !slices.Equal(f.ipsec.rawModes, []esp.RawESPMode{esp.RawESPSocket, esp.RawESPAuto}) || fw.removed != 1 {
			t.Fatalf("auto: reload removing filters: refused %v, frames %v, raw modes %v, removed %d; want nil, true, [socket auto], 1",
				res.Refused, r.frames, f.ipsec.rawModes, fw.removed)
		}
		fw.err = errTest
		if res := r.Reload(filtered); !errors.Is(res.Refused, errTest) || !r.frames || r.Config() != plain ||
			!slices.Equal(f.ipsec.rawModes, []esp.RawESPMode{esp.RawESPSocket, esp.RawESPAuto, esp.RawESPSocket, esp.RawESPAuto}) {
			t.Fatalf("auto: refused filters: refused %v, frames %v, raw modes %v; want %v, true, back to auto", res.Refused, r.frames, f.ipsec.rawModes, errTest)
		}
	}
}
