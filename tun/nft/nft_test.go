package nft

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
)

func TestValidate(t *testing.T) {
	ok := Config{Chains: []Chain{{Device: "wan0", DropID: "d", Rules: []Rule{
		{ID: "a", Permit: true, Protocol: 17, DstPorts: &PortRange{500, 500}, ICMPType: -1},
		{ID: "b", Protocol: 1, ICMPType: 8},
	}}}, Masquerade: []string{"wan0"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"two chains":   {Chains: []Chain{{Device: "wan0"}, {Device: "wan0"}}},
		"long name":    {Chains: []Chain{{Device: "a-name-longer-than-15"}}},
		"same ID":      {Chains: []Chain{{Device: "wan0", DropID: "x", Rules: []Rule{{ID: "x", ICMPType: -1}}}}},
		"ports on ip":  {Chains: []Chain{{Device: "wan0", Rules: []Rule{{Protocol: -1, DstPorts: &PortRange{1, 2}, ICMPType: -1}}}}},
		"type on tcp":  {Chains: []Chain{{Device: "wan0", Rules: []Rule{{Protocol: 6, ICMPType: 3}}}}},
		"IPv6":         {Chains: []Chain{{Device: "wan0", Rules: []Rule{{Protocol: -1, Src: netip.MustParsePrefix("2001:db8::/32"), ICMPType: -1}}}}},
		"no masq name": {Masquerade: []string{""}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRuleExprs checks the compiled matches: what loads where, and that a
// permit returns (so the out-filter still runs) while a deny drops.
func TestRuleExprs(t *testing.T) {
	e := ruleExprs(Rule{Permit: true, Protocol: 6, Src: netip.MustParsePrefix("198.51.100.0/24"),
		DstPorts: &PortRange{1024, 65535}, ICMPType: -1})
	var got []string
	for _, x := range e {
		switch v := x.(type) {
		case *expr.Payload:
			got = append(got, "load", fmt.Sprint(v.Offset))
		case *expr.Bitwise:
			got = append(got, "mask")
		case *expr.Cmp:
			got = append(got, "cmp")
		case *expr.Range:
			got = append(got, "range")
		case *expr.Counter:
			got = append(got, "counter")
		case *expr.Verdict:
			got = append(got, map[expr.VerdictKind]string{expr.VerdictReturn: "return", expr.VerdictDrop: "drop"}[v.Kind])
		}
	}
	// protocol at 9, saddr at 12 masked, dport at 2 of the transport header.
	want := "load 9 cmp load 12 mask cmp load 2 range counter return"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("exprs %s\nwant  %s", s, want)
	}
	deny := ruleExprs(Rule{Protocol: -1, ICMPType: -1})
	if len(deny) != 2 || deny[1].(*expr.Verdict).Kind != expr.VerdictDrop {
		t.Errorf("deny ip any any = %#v", deny)
	}
	if m := net4Mask(20); m[0] != 255 || m[1] != 255 || m[2] != 0xf0 || m[3] != 0 {
		t.Errorf("mask /20 = %v", m)
	}
}
