package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// grammarCase is one line written from a table entry, in the block that
// takes it.
type grammarCase struct {
	block, words string // which entry
	ctx          string // the lines before it (the block's opener)
	line         string
	variant      int  // the arg varied (-1: none)
	full         bool // every argument written
}

// alternatives are the values the test writes for an argument: its
// Sample and its keywords, or its keywords and a value of its kind.
func alternatives(a Arg) []string {
	out := append([]string{}, a.Words...)
	switch {
	case a.Sample != "":
		out = append([]string{a.Sample}, out...)
	case a.Kind == ArgKeyword || a.Kind == ArgWords:
	case a.Kind == ArgName:
		out = append(out, "list-1")
	case a.Kind == ArgText:
		out = append(out, "two words")
	case a.Kind == ArgNumber:
		out = append(out, fmt.Sprint(a.Max))
	case a.Kind == ArgAddr || a.Kind == ArgIPv4:
		out = append(out, "192.0.2.1")
	case a.Kind == ArgPrefix:
		out = append(out, "10.0.0.0/8")
	case a.Kind == ArgHostPrefix:
		out = append(out, "192.168.2.1/24")
	case a.Kind == ArgInterface:
		out = append(out, "GigaEthernet0.0")
	case a.Kind == ArgKey:
		out = append(out, "secret-1")
	case a.Kind == ArgMAC:
		out = append(out, "02:00:00:00:00:50")
	}
	if len(out) == 0 {
		panic(fmt.Sprintf("no value for %+v", a))
	}
	return out
}

// lineFor writes the words of cmd and its arguments, each with its first
// alternative but the one varied; the optional groups after upto are left
// out.
func lineFor(cmd Command, upto, varied int, value string) string {
	words := append([]string{}, cmd.Words...)
	skip := false
	for i, a := range cmd.Args {
		switch {
		case a.Optional:
			skip = i > upto
		case !a.With:
			skip = false
		}
		if skip {
			continue
		}
		v := alternatives(a)[0]
		if i == varied {
			v = value
		}
		words = append(words, v)
	}
	return strings.Join(words, " ")
}

// grammarCases writes, from every entry of every table: the line with all
// its arguments, the line with only the required ones, and one line for
// each other value a keyword argument takes.
func grammarCases() []grammarCase {
	var out []grammarCase
	for _, block := range Blocks() {
		for _, cmd := range Grammar(block) {
			ctx := contextFor(block, cmd)
			if ctx == "skip" {
				continue
			}
			add := func(line string, variant int) {
				out = append(out, grammarCase{block, strings.Join(cmd.Words, " "), ctx, line, variant, false})
			}
			add(lineFor(cmd, len(cmd.Args), -1, ""), -1)
			out[len(out)-1].full = true
			add(lineFor(cmd, -1, -1, ""), -1)
			for i, a := range cmd.Args {
				for _, v := range alternatives(a)[1:] {
					add(lineFor(cmd, i, i, v), i)
				}
			}
		}
	}
	return out
}

// contextFor gives the lines that open the block a command is written in;
// "skip" for the commands that only lead into another table (neighbor A)
// or that soft-ix keeps without acting (device) or ignores (end, exit).
func contextFor(block string, cmd Command) string {
	switch block {
	case BlockGlobal:
		switch cmd.Words[0] {
		case "device", "end", "exit":
			return "skip"
		}
		return ""
	case BlockInterface:
		if cmd.Words[0] == "ikev2" || cmd.Words[0] == "tunnel" || (len(cmd.Words) > 1 && cmd.Words[1] == "tcp") {
			return "interface Tunnel0.0\n  " // adjust-mss: only tunnels clamp
		}
		return "interface GigaEthernet0.0\n  "
	case BlockProfile:
		return "ikev2 profile P\n  "
	case BlockBGP:
		if cmd.Opens == BlockNeighbor {
			return "skip"
		}
		if cmd.Words[0] == "network" {
			return "router bgp 65000\n  address-family ipv4 unicast\n    "
		}
		return "router bgp 65000\n  "
	case BlockNeighbor:
		if cmd.Words[0] == "activate" || cmd.Words[0] == "route-map" {
			return "router bgp 65000\n  address-family ipv4 unicast\n    neighbor 192.0.2.9 "
		}
		return "router bgp 65000\n  neighbor 192.0.2.9 "
	case BlockRouteMap:
		return "route-map M permit 10\n  "
	case BlockDHCPProfile:
		return "ip dhcp profile P\n  "
	}
	panic("no context for block " + block)
}

// dependent are the arguments whose other keywords need other values after
// them than the samples (sa-proposal integrity takes integrity algorithms,
// id ipv6 an IPv6 address, ...): their variants are not written alone.
var dependent = map[string]bool{
	"ikev2 authentication/2": true, "ikev2 authentication/5": true, "local-authentication/2": true, "ikev2 local-authentication/2": true,
	"ikev2 peer/4": true, "sa-proposal/0": true, "child-proposal/0": true, "ikev2 sa-proposal/0": true,
	"ikev2 child-proposal/0": true,
}

// parseOnly parses without the semantic checks (a generated line may name
// an interface or list no other line defines).
func parseOnly(src string) (*Config, []Diagnostic) {
	p := &parser{file: "g.conf", cfg: &Config{}, warned: map[string]bool{}, kept: map[int]bool{}}
	p.run([]byte(src))
	p.finish()
	return p.cfg, p.diags
}

// TestGrammarRoundTrip proves every table entry round-trips: a line
// written from its argument kinds parses without error or "not emulated"
// warning, changes what Print writes, and the printed text parses to the
// same model and prints the same text again.
func TestGrammarRoundTrip(t *testing.T) {
	n := 0
	for _, gc := range grammarCases() {
		if gc.variant >= 0 && dependent[fmt.Sprintf("%s/%d", gc.words, gc.variant)] {
			continue
		}
		n++
		src := gc.ctx + gc.line + "\n"
		c1, diags := parseOnly(src)
		for _, d := range diags {
			if d.Severity == Error || strings.Contains(d.Msg, "not emulated") {
				t.Errorf("%s %q: %s", gc.block, gc.line, d)
			}
		}
		text1 := Print(c1)
		if gc.full && gc.words != "address-family" && gc.words != "exit-address-family" {
			base, _ := parseOnly(gc.ctx)
			if bytes.Equal(Print(base), text1) {
				t.Errorf("%s %q: prints nothing of the line:\n%s", gc.block, gc.line, text1)
			}
		}
		c2, diags := parseOnly(string(text1))
		if HasErrors(diags) {
			t.Errorf("%s %q: printed text does not parse: %v\n%s", gc.block, gc.line, diags, text1)
			continue
		}
		if !reflect.DeepEqual(clearPos(c1), clearPos(c2)) {
			t.Errorf("%s %q: the model changed through Print:\n%s", gc.block, gc.line, text1)
		}
		if text2 := Print(c2); !bytes.Equal(text1, text2) {
			t.Errorf("%s %q: Print is not stable:\n%s---\n%s", gc.block, gc.line, text1, text2)
		}
	}
	if n < 100 {
		t.Errorf("only %d lines written from the tables", n)
	}
}

// TestGrammarHintsAreTableWords: a misspelt command is answered with a
// word of the block's table.
func TestGrammarHintsAreTableWords(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"interface Tunnel0.0\n  descriptoin x\n", `did you mean "description"`},
		{"interface Tunnel0.0\n  ikev2 conect-type auto\n", `did you mean "connect-type"`},
		{"ikev2 profile P\n  sa-proposl enc aes-cbc-256\n", `did you mean "sa-proposal"`},
		{"router bgp 1\n  neigbor 10.0.0.1 remote-as 2\n", `did you mean "neighbor"`},
		{"router bgp 1\n  neighbor 10.0.0.1 remote-ass 2\n", `did you mean "remote-as"`},
		{"route-map M permit 10\n  sett metric 5\n", `did you mean "set"`},
		{"hostnme r\n", `did you mean "hostname"`},
		{"ip dhcp profile lan\n  lease-tme 600\n", `did you mean "lease-time"`},
	} {
		_, diags := parseOnly(tc.src)
		if len(diags) == 0 || !strings.Contains(diags[0].Msg, tc.want) {
			t.Errorf("%q: %v, want %s", tc.src, diags, tc.want)
		}
	}
}
