package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Reading the arguments of a command: the helpers the tables' set
// functions share, each reporting a bad or missing argument at its column
// with the command's name.

// need returns t[i], or reports "what" missing at the end of the line.
func (p *parser) need(l *line, t []token, i int, cmd, what string) (token, bool) {
	if i < len(t) {
		return t[i], true
	}
	p.errf(l, eol(l), "%s: missing %s", cmd, what)
	return token{}, false
}

// done reports any tokens after the n a command takes.
func (p *parser) done(l *line, t []token, n int, cmd string) bool {
	if len(t) > n {
		p.errf(l, t[n].col, "%s: unexpected %q at end of command", cmd, t[n].text)
		return false
	}
	return true
}

// oneOf checks a keyword against the accepted ones.
func (p *parser) oneOf(l *line, t token, cmd string, accepted ...string) (string, bool) {
	w := kw(t)
	for _, a := range accepted {
		if w == a {
			return a, true
		}
	}
	p.errf(l, t.col, "%s: unknown keyword %q, expected %s", cmd, t.text, orList(accepted))
	return "", false
}

// oneOfSecret is oneOf for a word that may be a secret: its error names
// the accepted keywords but not the word found.
func (p *parser) oneOfSecret(l *line, t token, cmd string, accepted ...string) (string, bool) {
	w := kw(t)
	for _, a := range accepted {
		if w == a {
			return a, true
		}
	}
	p.errf(l, t.col, "%s: expected %s here (the word found is not shown: it may be the key)", cmd, orList(accepted))
	return "", false
}

func orList(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " or " + s[1]
	}
	return "one of " + strings.Join(s, ", ")
}

// number parses a decimal integer in [min, max].
func (p *parser) number(l *line, t token, cmd, what string, min, max uint64) (uint64, bool) {
	n, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil || n < min || n > max {
		p.errf(l, t.col, "%s: bad %s %q, expected a number from %d to %d", cmd, what, t.text, min, max)
		return 0, false
	}
	return n, true
}

func (p *parser) seconds(l *line, t token, cmd string, min, max uint64) (time.Duration, bool) {
	n, ok := p.number(l, t, cmd, "seconds", min, max)
	return time.Duration(n) * time.Second, ok
}

func (p *parser) addr(l *line, t token, cmd, what string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(t.text)
	if err != nil || a.Zone() != "" {
		p.errf(l, t.col, "%s: bad %s %q, expected an IPv4 or IPv6 address", cmd, what, t.text)
		return netip.Addr{}, false
	}
	return a, true
}

// profileName reads the NAME that ends a profile's opener ("ikev2 profile
// NAME", "ip dhcp profile NAME") at t[i].
func (p *parser) profileName(l *line, t []token, i int, cmd string) (string, bool) {
	n, ok := p.need(l, t, i, cmd, "profile name")
	if !ok || !p.done(l, t, i+1, cmd) {
		return "", false
	}
	if n.text == "" {
		p.errf(l, n.col, "%s: empty name", cmd)
		return "", false
	}
	return n.text, true
}

// ipv4 is addr for an argument that only an IPv4 address fits.
func (p *parser) ipv4(l *line, t token, cmd, what string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(t.text)
	if err != nil || !a.Is4() {
		p.errf(l, t.col, "%s: bad %s %q, expected an IPv4 address", cmd, what, t.text)
		return netip.Addr{}, false
	}
	return a, true
}

// prefix parses A/L (or "default") as a network: host bits must be zero.
func (p *parser) prefix(l *line, t token, cmd string, allowDefault bool) (netip.Prefix, bool) {
	if allowDefault && kw(t) == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	pf, err := netip.ParsePrefix(t.text)
	if err != nil {
		p.errf(l, t.col, "%s: bad prefix %q, expected ADDRESS/LENGTH%s", cmd, t.text, map[bool]string{true: " or default", false: ""}[allowDefault])
		return netip.Prefix{}, false
	}
	if pf.Masked() != pf {
		p.errf(l, t.col, "%s: prefix %q has host bits set, expected %s", cmd, t.text, pf.Masked())
		return netip.Prefix{}, false
	}
	return pf, true
}

// ifname parses an interface name into its canonical spelling.
func (p *parser) ifname(l *line, t token, cmd string) (string, bool) {
	name, _, err := NormalizeInterfaceName(t.text)
	if err != nil {
		p.errf(l, t.col, "%s: %v", cmd, err)
		return "", false
	}
	return name, true
}

// unknown reports a command the parser does not know in a context: an error
// when it is within two edits of a command soft-ix emulates there (a typo),
// otherwise a "not emulated" warning.
func (p *parser) unknown(l *line, t []token, word int, ctx string, emulated []string) {
	w := kw(t[word])
	if otherIXWords[w] || topLevelWords[w] {
		p.notEmulated(l, t, "")
		return
	}
	best, bestD := "", 3
	for _, e := range emulated {
		if d := editDistance(w, e); d < bestD {
			best, bestD = e, d
		}
	}
	if best != "" && len(w) > 2 {
		p.errf(l, t[word].col, "%sunknown command %q, did you mean %q?", ctx, t[word].text, best)
		return
	}
	p.notEmulated(l, t, "")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
