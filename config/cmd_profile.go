package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The block of "ikev2 default-profile" and "ikev2 profile NAME". A Tunnel
// interface takes the same commands with an "ikev2 " prefix as per-tunnel
// overrides (see cmd_tunnel.go), so an entry reads its line from the
// command word on.

// profileIn is what a profile command sets: the profile, and the prefix
// its messages carry ("ikev2 " inside a Tunnel interface).
type profileIn struct {
	pr     *Profile
	prefix string
}

// Lifetime bounds, in seconds, for sa-lifetime and child-lifetime.
const (
	minLifetime = 60
	maxLifetime = 604800
)

var (
	encArg   = Arg{Kind: ArgWords, Help: "ALGORITHM...", Words: encAlgs}
	integArg = Arg{Kind: ArgWords, Help: "ALGORITHM...", Words: integAlgs}
	dhArg    = Arg{Kind: ArgWords, Help: "GROUP...", Words: dhGroups}
	idArgs   = []Arg{
		{Kind: ArgKeyword, Words: []string{"id"}},
		{Kind: ArgKeyword, Words: []string{"ipv4", "ipv6", "fqdn", "keyid"}},
		{Kind: ArgText, Help: "IDENTITY", Sample: "192.0.2.1"},
	}
	lifetimeArg = Arg{Kind: ArgNumber, Help: "<60-604800>", Min: minLifetime, Max: maxLifetime}
)

var profileTable = &table[profileIn]{
	name: BlockProfile,
	cmds: []*command[profileIn]{
		{
			words: []string{"child-lifetime"},
			args: []Arg{lifetimeArg, {Kind: ArgKeyword, Words: []string{"kilobytes"}, Optional: true},
				{Kind: ArgNumber, Help: "<1-4294967295>", Min: 1, Max: 4294967295, With: true}},
			help: "Child SA lifetime", set: (*parser).childLifetime,
			get: func(x profileIn) [][]string {
				if x.pr.ChildLifetime == 0 {
					return nil
				}
				l := []string{"child-lifetime", secs(x.pr.ChildLifetime)}
				if x.pr.ChildLifetimeKB != 0 {
					l = append(l, "kilobytes", fmt.Sprint(x.pr.ChildLifetimeKB))
				}
				return [][]string{l}
			},
		},
		{
			words: []string{"child-pfs"}, args: []Arg{{Kind: ArgKeyword, Help: "GROUP|off", Words: append(slices.Clone(dhGroups), "off")}},
			help: "Diffie-Hellman group of Child SA rekeys", set: (*parser).childPFS,
			get: func(x profileIn) [][]string {
				if x.pr.ChildPFS == "" {
					return nil
				}
				return [][]string{{"child-pfs", string(x.pr.ChildPFS)}}
			},
		},
		{
			words: []string{"child-proposal"}, keyArgs: 1,
			args: []Arg{{Kind: ArgKeyword, Words: []string{"enc", "integrity"}}, encArg},
			help: "Child SA algorithms", set: (*parser).proposal,
			get: func(x profileIn) [][]string {
				var out [][]string
				if len(x.pr.ChildEnc) > 0 {
					out = append(out, []string{"child-proposal enc", join(x.pr.ChildEnc)})
				}
				if len(x.pr.ChildIntegrity) > 0 {
					out = append(out, []string{"child-proposal integrity", join(x.pr.ChildIntegrity)})
				}
				return out
			},
		},
		{
			words: []string{"dpd"}, keyArgs: 1,
			args: []Arg{{Kind: ArgKeyword, Words: []string{"interval"}}, {Kind: ArgNumber, Help: "<1-3600>", Min: 1, Max: 3600}},
			help: "dead peer detection", set: (*parser).dpd,
			get: func(x profileIn) [][]string {
				if x.pr.DPDInterval == 0 {
					return nil
				}
				return [][]string{{"dpd interval", secs(x.pr.DPDInterval)}}
			},
		},
		{
			words: []string{"local-authentication"},
			args:  append([]Arg{{Kind: ArgKeyword, Words: []string{"psk"}}}, optionalArgs(idArgs)...),
			help:  "own authentication and identity", set: (*parser).localAuth,
			get: func(x profileIn) [][]string {
				pr := x.pr
				if pr.LocalAuth == "" && pr.LocalID == (Identity{}) {
					return nil
				}
				l := []string{"local-authentication"}
				if pr.LocalAuth != "" {
					l = append(l, pr.LocalAuth)
				}
				if pr.LocalID != (Identity{}) {
					l = append(l, idText(pr.LocalID))
				}
				return [][]string{l}
			},
		},
		{
			words: []string{"sa-lifetime"}, args: []Arg{lifetimeArg},
			help: "IKE SA lifetime", set: (*parser).saLifetime,
			get: func(x profileIn) [][]string {
				if x.pr.Lifetime == 0 {
					return nil
				}
				return [][]string{{"sa-lifetime", secs(x.pr.Lifetime)}}
			},
		},
		{
			words: []string{"sa-proposal"}, keyArgs: 1,
			// The order of the words is the order IX prints the lines in.
			args: []Arg{{Kind: ArgKeyword, Words: []string{"enc", "integrity", "dh", "prf"}}, encArg},
			help: "IKE SA algorithms", set: (*parser).proposal,
			get: func(x profileIn) [][]string {
				pr := x.pr
				var out [][]string
				if len(pr.Enc) > 0 {
					out = append(out, []string{"sa-proposal enc", join(pr.Enc)})
				}
				if len(pr.Integrity) > 0 {
					out = append(out, []string{"sa-proposal integrity", join(pr.Integrity)})
				}
				if len(pr.DH) > 0 {
					out = append(out, []string{"sa-proposal dh", join(pr.DH)})
				}
				if len(pr.PRF) > 0 {
					out = append(out, []string{"sa-proposal prf", join(pr.PRF)})
				}
				return out
			},
		},
		{
			words: []string{"source-address"}, args: []Arg{{Kind: ArgInterface, Help: "INTERFACE|A.B.C.D", Sample: "GigaEthernet0.0"}},
			help: "local IKE address", set: (*parser).profileSource,
			get: func(x profileIn) [][]string {
				if s := sourceText(x.pr.SourceAddress, x.pr.SourceInterface); s != "" {
					return [][]string{{"source-address", s}}
				}
				return nil
			},
		},
		{
			words: []string{"ipsec-mode"}, args: []Arg{{Kind: ArgKeyword, Words: []string{"tunnel", "transport"}}},
			help: "IPsec encapsulation", set: (*parser).ipsecMode,
			get: func(x profileIn) [][]string {
				if x.pr.IPsecMode == "" {
					return nil
				}
				return [][]string{{"ipsec-mode", x.pr.IPsecMode}}
			},
		},
	},
	unknown: func(p *parser, tb *table[profileIn], l *line, t []token, neg bool, x profileIn) {
		ctx := "ikev2 default-profile: "
		if x.pr.Name != "" {
			ctx = "ikev2 profile " + x.pr.Name + ": "
		}
		p.unknown(l, t, 0, ctx, tb.hints())
	},
}

func sourceText(a netip.Addr, ifname string) string {
	if a.IsValid() {
		return a.String()
	}
	return ifname
}

// proposal: sa-proposal enc|integrity|prf|dh ALG... and child-proposal
// enc|integrity ALG...
func (p *parser) proposal(l *line, t []token, neg bool, x profileIn) {
	pr, w := x.pr, kw(t[0])
	cmd := x.prefix + w
	what := []string{"enc", "integrity"}
	if w == "sa-proposal" {
		what = []string{"enc", "integrity", "prf", "dh"}
	}
	k, ok := p.need(l, t, 1, cmd, orList(what))
	if !ok {
		return
	}
	sel, ok := p.oneOf(l, k, cmd, what...)
	if !ok {
		return
	}
	cmd += " " + sel
	vals := t[2:]
	if neg {
		vals = nil
	} else if len(vals) == 0 {
		p.errf(l, eol(l), "%s: missing algorithm", cmd)
		return
	}
	names, ok := p.algorithms(l, vals, cmd, sel)
	if !ok {
		return
	}
	child := w == "child-proposal"
	switch {
	case sel == "enc" && !child:
		pr.Enc = convert[EncAlg](names)
	case sel == "enc":
		pr.ChildEnc = convert[EncAlg](names)
	case sel == "integrity" && !child:
		pr.Integrity = convert[IntegAlg](names)
	case sel == "integrity":
		pr.ChildIntegrity = convert[IntegAlg](names)
	case sel == "prf":
		pr.PRF = convert[PRFAlg](names)
	case sel == "dh":
		pr.DH = convert[DHGroup](names)
	}
}

func (p *parser) saLifetime(l *line, t []token, neg bool, x profileIn) {
	cmd := x.prefix + "sa-lifetime"
	if neg {
		x.pr.Lifetime = 0
		return
	}
	n, ok := p.need(l, t, 1, cmd, "seconds")
	if !ok {
		return
	}
	if d, ok := p.seconds(l, n, cmd, minLifetime, maxLifetime); ok && p.done(l, t, 2, cmd) {
		x.pr.Lifetime = d
	}
}

// childLifetime: child-lifetime SECONDS [kilobytes N]
func (p *parser) childLifetime(l *line, t []token, neg bool, x profileIn) {
	pr, cmd := x.pr, x.prefix+"child-lifetime"
	if neg {
		pr.ChildLifetime, pr.ChildLifetimeKB = 0, 0
		return
	}
	n, ok := p.need(l, t, 1, cmd, "seconds")
	if !ok {
		return
	}
	d, ok := p.seconds(l, n, cmd, minLifetime, maxLifetime)
	if !ok {
		return
	}
	var kb uint64
	if len(t) > 2 {
		if _, ok := p.oneOf(l, t[2], cmd, "kilobytes"); !ok {
			return
		}
		kt, ok := p.need(l, t, 3, cmd+" kilobytes", "kilobytes")
		if !ok {
			return
		}
		if kb, ok = p.number(l, kt, cmd+" kilobytes", "kilobytes", 1, 4294967295); !ok {
			return
		}
	}
	if p.done(l, t, 4, cmd) {
		pr.ChildLifetime, pr.ChildLifetimeKB = d, kb
	}
}

// childPFS: child-pfs GROUP|off
func (p *parser) childPFS(l *line, t []token, neg bool, x profileIn) {
	pr, cmd := x.pr, x.prefix+"child-pfs"
	if neg {
		pr.ChildPFS = ""
		return
	}
	g, ok := p.need(l, t, 1, cmd, "DH group or off")
	if !ok || !p.done(l, t, 2, cmd) {
		return
	}
	if kw(g) == "off" {
		// In a profile block "off" is the default, stored as "" so
		// every reader sees "no PFS"; as a per-tunnel override it
		// must stay explicit to cancel the profile's group.
		pr.ChildPFS = ""
		if x.prefix != "" {
			pr.ChildPFS = PFSOff
		}
		return
	}
	if names, ok := p.algorithms(l, t[1:2], cmd, "dh"); ok {
		pr.ChildPFS = DHGroup(names[0])
	}
}

// dpd: dpd interval SECONDS
func (p *parser) dpd(l *line, t []token, neg bool, x profileIn) {
	cmd := x.prefix + "dpd"
	k, ok := p.need(l, t, 1, cmd, "interval")
	if !ok {
		return
	}
	if _, ok := p.oneOf(l, k, cmd, "interval"); !ok {
		return
	}
	if neg {
		x.pr.DPDInterval = 0
		return
	}
	n, ok := p.need(l, t, 2, cmd+" interval", "seconds")
	if !ok {
		return
	}
	if d, ok := p.seconds(l, n, cmd+" interval", 1, 3600); ok && p.done(l, t, 3, cmd+" interval") {
		x.pr.DPDInterval = d
	}
}

// localAuth: local-authentication [psk] [id TYPE VALUE]
func (p *parser) localAuth(l *line, t []token, neg bool, x profileIn) {
	pr, cmd := x.pr, x.prefix+"local-authentication"
	if neg {
		pr.LocalAuth, pr.LocalID = "", Identity{}
		return
	}
	i, auth := 1, ""
	if i < len(t) && kw(t[i]) == "psk" {
		auth = "psk"
		i++
	}
	var id Identity
	if i < len(t) {
		var ok bool
		if id, ok = p.identity(l, t, i, cmd); !ok {
			return
		}
		i += 3
	}
	if auth == "" && id == (Identity{}) {
		p.errf(l, eol(l), "%s: missing psk or id TYPE VALUE", cmd)
		return
	}
	if p.done(l, t, i, cmd) {
		pr.LocalAuth, pr.LocalID = auth, id
	}
}

// ipsecMode: ipsec-mode tunnel|transport
func (p *parser) ipsecMode(l *line, t []token, neg bool, x profileIn) {
	cmd := x.prefix + "ipsec-mode"
	if neg {
		x.pr.IPsecMode = ""
		return
	}
	m, ok := p.need(l, t, 1, cmd, "tunnel or transport")
	if !ok {
		return
	}
	if v, ok := p.oneOf(l, m, cmd, "tunnel", "transport"); ok && p.done(l, t, 2, cmd) {
		x.pr.IPsecMode = v
	}
}

// profileSource: source-address IF|A
func (p *parser) profileSource(l *line, t []token, neg bool, x profileIn) {
	pr, cmd := x.pr, x.prefix+"source-address"
	if neg {
		pr.SourceAddress, pr.SourceInterface = netip.Addr{}, ""
		return
	}
	n, ok := p.need(l, t, 1, cmd, "interface name or address")
	if !ok {
		return
	}
	if fam, other := otherFamily(n.text); other {
		p.inactiveRef(l, n, fam)
		return
	}
	if a, ifn, ok := p.source(l, n, cmd); ok && p.done(l, t, 2, cmd) {
		pr.SourceAddress, pr.SourceInterface = a, ifn
	}
}

// source parses "source-address IF|A".
func (p *parser) source(l *line, t token, cmd string) (netip.Addr, string, bool) {
	if a, err := netip.ParseAddr(t.text); err == nil && a.Zone() == "" {
		return a, "", true
	}
	name, _, err := NormalizeInterfaceName(t.text)
	if err != nil {
		p.errf(l, t.col, "%s: bad source %q, expected an interface name or an address", cmd, t.text)
		return netip.Addr{}, "", false
	}
	return netip.Addr{}, name, true
}

func convert[T ~string](s []string) []T {
	if len(s) == 0 {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = T(v)
	}
	return out
}

// algorithms checks algorithm keywords of one kind (enc, integrity, prf,
// dh) and returns their canonical IX spellings.
func (p *parser) algorithms(l *line, vals []token, cmd, kind string) ([]string, bool) {
	var accepted []string
	switch kind {
	case "enc":
		accepted = encAlgs
	case "integrity", "prf":
		accepted = integAlgs
	case "dh":
		accepted = dhGroups
	}
	var out []string
	for _, v := range vals {
		w := kw(v)
		if a, ok := encAliases[w]; ok && kind == "enc" {
			w = string(a)
		}
		if g, ok := dhAliases[w]; ok && kind == "dh" {
			w = string(g)
		}
		found := false
		for _, a := range accepted {
			if w == a {
				found = true
			}
		}
		if !found {
			if why, ok := unsupportedAlgs[w]; ok {
				p.errf(l, v.col, "%s: %s; expected %s", cmd, why, orList(accepted))
			} else {
				p.errf(l, v.col, "%s: unknown algorithm %q, expected %s", cmd, v.text, orList(accepted))
			}
			return nil, false
		}
		for _, o := range out {
			if o == w {
				p.errf(l, v.col, "%s: %q listed twice", cmd, v.text)
				return nil, false
			}
		}
		out = append(out, w)
	}
	return out, true
}

func join[T ~string](s []T) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	return strings.Join(parts, " ")
}
