package config

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Load reads and parses the config file at path. See Parse.
func Load(path string) (*Config, []Diagnostic, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, src)
}

// Parse reads IX configuration text: "show running-config" output with its
// "!" header lines, or a hand-written file. filename is only used in
// diagnostics. Parse validates the result (see Validate) and returns every
// warning and error; err is an ErrorList when any diagnostic is an Error, and
// the returned Config must then not be used to run anything.
//
// Syntax: one command per line. "interface NAME", "device NAME",
// "ikev2 default-profile", "ikev2 profile NAME", "router bgp ASN" and the
// "address-family" inside router bgp open blocks, as do not-emulated block
// commands ("ppp profile", "ip dhcp profile", "watch-group", ...); a block
// ends at a "!" in column 1 or at the next top-level command. Indentation is
// optional: an indented line always belongs to the open block, an
// unindented one belongs to it unless it starts a top-level command that is
// not also a command of that block (see belongsToBlock). "no CMD" undoes CMD. A line
// whose first non-blank byte is "!" is a comment.
//
// Commands soft-ix does not emulate are kept verbatim (see Verbatim) with
// one "not emulated" warning per command keyword; Print writes them back.
func Parse(filename string, src []byte) (*Config, []Diagnostic, error) {
	p := &parser{file: filename, cfg: &Config{}, warned: map[string]bool{}, kept: map[int]bool{}}
	p.run(src)
	p.finish()
	if !HasErrors(p.diags) {
		// Semantic checks only make sense on a config that parsed.
		p.diags = append(p.diags, p.cfg.Validate()...)
	}
	return p.cfg, p.diags, errorsOf(p.diags)
}

type blockKind int

const (
	blockNone blockKind = iota
	blockSkip           // a block soft-ix does not emulate: its lines are ignored
	blockInterface
	blockProfile
	blockBGP
	blockRouteMap
	blockDHCPProfile // ip dhcp profile NAME (dhcp.go)
)

type parser struct {
	file   string
	cfg    *Config
	diags  []Diagnostic
	warned map[string]bool

	block       blockKind
	blockIndent int // indentation of the line that opened the block
	iface       *Interface
	profile     *Profile
	rmap        *RouteMap
	dhcpProfile *DHCPProfile

	// Inside router bgp: an open address-family, its indentation, and
	// whether it is one soft-ix ignores (anything but ipv4 unicast), kept
	// as afExtra.
	inAF     bool
	afIndent int
	afSkip   bool
	afExtra  *Verbatim

	// Keeping what is not emulated (see keepLine): the top-level block
	// being kept, whether it absorbs unindented lines (a block opener such
	// as "ppp profile") and whether it is an interface block; where the
	// next kept line prints; the numbers of the lines kept verbatim.
	atTop       bool
	extra       *Verbatim
	skipOpener  bool
	skipIface   bool
	topAnchor   string
	ifAnchor    string
	subIndented bool // a line of the open block was indented deeper than its opener
	kept        map[int]bool
}

func (p *parser) pos(l *line, col int) Pos { return Pos{File: p.file, Line: l.num, Col: col} }

func (p *parser) errf(l *line, col int, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: p.pos(l, col), Severity: Error, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(l *line, col int, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: p.pos(l, col), Severity: Warning, Msg: fmt.Sprintf(format, args...)})
}

// notEmulated keeps a line soft-ix does not act on (see keepLine) and warns
// once per command keyword.
func (p *parser) notEmulated(l *line, t []token, what string) {
	p.keepLine(l)
	key := what
	if key == "" {
		key = commandKey(t)
	}
	if p.warned[key] {
		return
	}
	p.warned[key] = true
	p.warnf(l, t[0].col, "%q is not emulated by soft-ix; kept but inactive (further ones are not reported)", key)
}

// inactiveRef keeps a line that names an interface of a family soft-ix does
// not model (FastEthernet, BVI, Dialer, ...): IX accepts it, soft-ix cannot
// act on it. It warns once per interface.
func (p *parser) inactiveRef(l *line, t token, family string) {
	p.keepLine(l)
	key := "ref " + strings.ToLower(t.text)
	if p.warned[key] {
		return
	}
	p.warned[key] = true
	p.warnf(l, t.col, "%s is a %s interface, which soft-ix does not model: the commands that name it are kept but inactive", t.text, family)
}

// keepLine stores the line as written where Print will write it back: a
// top-level command (and the block it opens) in Config.Extra, a line of an
// emulated block in that block's Extra. Nothing IX accepts is dropped, so
// "show running-config" can be pasted back onto an IX.
func (p *parser) keepLine(l *line) {
	p.kept[l.num] = true
	v := &Verbatim{Text: trimBlank(l.raw), Pos: p.pos(l, l.toks[0].col)}
	switch {
	case p.atTop:
		_, t := splitNo(l.toks)
		v.After = p.topAnchor
		if a, ok := ixSection(t); ok {
			v.After = a
		}
		p.cfg.Extra = append(p.cfg.Extra, v)
		p.block, p.extra = blockSkip, v
		p.skipOpener, p.skipIface = opensBlock(t), kw(t[0]) == "interface"
	case p.block == blockInterface:
		v.After = p.ifAnchor
		p.iface.Extra = append(p.iface.Extra, v)
	case p.block == blockProfile:
		p.profile.Extra = append(p.profile.Extra, v)
	case p.block == blockRouteMap:
		p.rmap.Extra = append(p.rmap.Extra, v)
	case p.block == blockDHCPProfile:
		p.dhcpProfile.Extra = append(p.dhcpProfile.Extra, v)
	case p.block == blockBGP:
		b := p.cfg.BGP
		switch {
		case p.inAF && p.afSkip && p.afExtra == nil:
			b.Extra = append(b.Extra, v)
			p.afExtra = v
		case p.inAF && p.afSkip:
			p.afExtra.Sub = append(p.afExtra.Sub, v.Text)
		case p.inAF:
			b.AFExtra = append(b.AFExtra, v)
		default:
			b.Extra = append(b.Extra, v)
		}
	}
}

// firstWords returns the keywords of a line's first three tokens ("" for
// those it lacks).
func firstWords(t []token) (w, w2, w3 string) {
	w = kw(t[0])
	if len(t) > 1 {
		w2 = kw(t[1])
	}
	if len(t) > 2 {
		w3 = kw(t[2])
	}
	return w, w2, w3
}

// ixSection places the common not-emulated top-level commands where IX's
// running-config has them, relative to the sections Print writes (see
// Config.anchorKept): a hand-ordered file then prints in IX order too.
// Commands not listed stay after the section they followed in the source.
func ixSection(t []token) (string, bool) {
	w, w2, w3 := firstWords(t)
	switch w {
	case "timezone", "terminal", "username", "logging", "ntp", "syslog", "clock":
		return "hostname", true
	case "access-list", "ike", "ipsec":
		return "ip route", true
	case "proxy-dns", "route-map", "class-map", "policy-map":
		return "ikev2 profile", true
	case "ppp":
		if w2 == "profile" {
			return "ikev2 profile", true
		}
	case "telnet-server", "ssh-server", "http-server", "web-console", "device":
		return "router bgp", true
	case "watch-group", "network-monitor":
		return "interfaces", true
	case "ip", "ipv6":
		switch {
		case w2 == "ufs-cache":
			return "hostname", true
		case w2 == "access-list" || w2 == "prefix-list" || (w2 == "dhcp" && w3 == "enable"):
			return "ip route", true
		case w2 == "dhcp" && (w3 == "profile" || w3 == "client-profile" || w3 == "server-profile"):
			return "ikev2 profile", true
		}
	}
	return "", false
}

// opensBlock reports the not-emulated top-level commands that open a block
// on IX: in a file without indentation, the lines after them that do not
// start a top-level command are theirs ("ppp profile P" then
// "authentication myname ...").
func opensBlock(t []token) bool {
	w, w2, w3 := firstWords(t)
	switch w {
	case "interface", "device", "watch-group", "route-map", "class-map", "policy-map", "router", "line":
		return true
	case "ppp":
		return w2 == "profile"
	case "ip", "ipv6":
		return w2 == "router" || (w2 == "dhcp" && (w3 == "profile" || w3 == "client-profile" || w3 == "server-profile"))
	case "ikev2":
		return w2 == "extend-authentication"
	}
	return false
}

// interfaceSub reports the interface sub-commands whose first word also
// starts top-level commands ("ppp binding" / "ppp profile", "ipsec policy" /
// "ipsec autokey-map", "ikev2 binding" / "ikev2 profile"). In a file without
// indentation they stay in the interface, as they do when typed on an IX.
func interfaceSub(t []token, tunnel bool) bool {
	_, t = splitNo(t)
	w, w2, w3 := firstWords(t)
	switch w {
	case "ppp":
		return w2 != "profile"
	case "ipsec":
		return w2 == "policy"
	case "bridge":
		return w2 == "ip" || w2 == "ipv6"
	case "ip", "ipv6":
		return (w2 == "ufs-cache" && w3 == "timeout") || (w == "ipv6" && w2 == "dhcp" && (w3 == "client" || w3 == "server"))
	case "ikev2":
		// Inside a Tunnel, "ikev2 profile NAME" binds a profile (as the
		// AWS generator writes it) rather than opening one.
		return tunnel && w2 != "authentication" && w2 != "default-profile" && w2 != "extend-authentication"
	}
	return false
}

// commandKey names a command for "not emulated" warnings: its first word,
// or its first two for the families where the second word says what it is.
func commandKey(t []token) string {
	k := strings.ToLower(t[0].text)
	switch k {
	case "ip", "ipv6", "ikev2", "bgp", "router", "address-family":
		if len(t) > 1 {
			k += " " + strings.ToLower(t[1].text)
		}
	case "neighbor":
		if len(t) > 2 {
			k += " " + strings.ToLower(t[2].text)
		}
	}
	return k
}

func kw(t token) string { return strings.ToLower(t.text) }

// eol is the column just past the end of the line, where a missing argument
// is reported.
func eol(l *line) int { return len(trimRightBlank(l.raw)) + 1 }

func trimRightBlank(s string) string {
	for len(s) > 0 && isBlank(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func (p *parser) run(src []byte) {
	num := 0
	for len(src) > 0 || num == 0 {
		num++
		var raw []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			raw, src = src[:i], src[i+1:]
		} else {
			raw, src = src, nil
		}
		l, comment, closes := lexLine(num, string(raw))
		if comment {
			if closes {
				p.closeBlock()
			}
			continue
		}
		if len(l.toks) == 0 {
			continue
		}
		if p.block != blockNone && p.belongsToBlock(&l) {
			if l.indent > p.blockIndent {
				p.subIndented = true
			}
			p.sub(&l)
			continue
		}
		p.closeBlock()
		p.blockIndent = l.indent
		p.atTop = true
		p.top(&l)
		p.atTop = false
	}
}

func (p *parser) closeBlock() {
	p.block, p.iface, p.profile, p.rmap, p.inAF, p.afSkip, p.afExtra = blockNone, nil, nil, nil, false, false, nil
	p.dhcpProfile = nil
	p.extra, p.skipOpener, p.skipIface, p.ifAnchor, p.subIndented = nil, false, false, "", false
}

// belongsToBlock decides whether a line is a sub-command of the open block:
// it does when indented deeper than the line that opened the block; never
// when less indented. At the same depth (typically both unindented) it
// belongs unless it starts a top-level command, as on IX, where a block
// ends at the first command the block does not know: so an interface
// keeps "ppp binding" and "ipsec policy" even though "ppp profile" and
// "ipsec autokey-map" are top-level. A kept one-line command ("ip
// access-list ...") opens no block, so it takes no unindented lines.
func (p *parser) belongsToBlock(l *line) bool {
	switch {
	case l.indent > p.blockIndent:
		return true
	case l.indent < p.blockIndent || (p.block == blockSkip && !p.skipOpener):
		return false
	}
	// Once a block has shown indentation, an unindented line is read by
	// the words alone only when they cannot start a top-level command.
	if !p.subIndented {
		switch {
		case p.block == blockInterface && interfaceSub(l.toks, p.iface.Kind == KindTunnel):
			return true
		case p.block == blockSkip && p.skipIface && interfaceSub(l.toks, false):
			return true
		}
	}
	return !startsTopLevel(l.toks)
}

// topLevelWords start top-level commands (emulated or not); an unindented
// line starting with one closes the open block.
var topLevelWords = map[string]bool{
	"hostname": true, "interface": true, "device": true, "router": true, "ntp": true, "syslog": true,
	"logging": true, "timezone": true, "proxy-dns": true, "username": true, "telnet-server": true,
	"ssh-server": true, "http-server": true, "access-list": true, "route-map": true, "snmp-agent": true,
	"ppp": true, "ike": true, "ipsec": true, "watch-group": true, "network-monitor": true, "clock": true,
	"end": true, "dns-resolver": true, "ntp-server": true, "nat": true, "bridge": true, "ip": false,
	"ipv6": false, "ikev2": false, "svintr-config": true, "web-console": true, "auto-config": true,
	"system": true, "ppp-profile": true, "banner": true, "line": true,
}

// otherIXWords are IX commands soft-ix does not emulate that sit within two
// edits of one it does ("ipv6" of "ip"), so they are not taken for typos.
var otherIXWords = map[string]bool{
	"ipv6": true, "ike": true, "ipsec": true, "bridge-group": true, "encapsulation": true,
	"auto-connect": true, "ppp": true, "pppoe": true, "vrrp": true, "lldp": true, "qos": true,
	"speed-duplex": true, "isdn": true, "netbios": true, "arp": true, "nat": true, "mtu": true,
	"keepalive": true, "bandwidth": true, "rip": true, "ospf": true, "redistribute": true,
	"timers": true, "distance": true, "synchronization": true, "aggregate-address": true,
	"maximum-paths": true, "mobike": true, "dialer": true, "bgp": true,
}

// topLevelPairs are two-word starts of top-level commands whose first word
// also starts sub-commands.
var topLevelPairs = map[string]bool{
	"ip route": true, "ip access-list": true, "ip ufs-cache": true, "ip prefix-list": true,
	"ip host": true, "ip domain-name": true, "ip name-server": true, "ip as-path": true,
	"ip community-list": true, "ip dhcp-relay": true, "ip option": true, "ip fragment-reassembly": true,
	"ipv6 route": true, "ipv6 access-list": true, "ipv6 ufs-cache": true, "ipv6 prefix-list": true,
	"ipv6 dhcp": true, "ipv6 host": true, "ikev2 authentication": true, "ikev2 default-profile": true,
	"ikev2 profile": true, "ikev2 extend-authentication": true,
}

func startsTopLevel(t []token) bool {
	if kw(t[0]) == "no" {
		t = t[1:]
		if len(t) == 0 {
			return false
		}
	}
	w := kw(t[0])
	if topLevelWords[w] {
		return true
	}
	if len(t) > 1 {
		if topLevelPairs[w+" "+kw(t[1])] {
			return true
		}
		// "ip dhcp enable" and "ip dhcp profile NAME" are global;
		// "ip dhcp binding" belongs to an interface.
		if w == "ip" && kw(t[1]) == "dhcp" && len(t) > 2 && (kw(t[2]) == "enable" || kw(t[2]) == "profile") {
			return true
		}
	}
	return false
}

// splitNo strips a leading "no".
func splitNo(t []token) (bool, []token) {
	if len(t) > 1 && kw(t[0]) == "no" {
		return true, t[1:]
	}
	return false, t
}

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

// top handles a top-level command.
func (p *parser) top(l *line) {
	neg, t := splitNo(l.toks)
	switch kw(t[0]) {
	case "hostname":
		p.hostname(l, t, neg)
	case "interface":
		p.interfaceCmd(l, t, neg)
	case "ikev2":
		p.ikev2Global(l, t, neg)
	case "ip":
		if len(t) > 1 && kw(t[1]) == "route" {
			p.topAnchor = "ip route"
			p.route(l, t, neg)
			return
		}
		if len(t) > 1 && kw(t[1]) == "prefix-list" {
			p.topAnchor = "ip prefix-list"
			p.prefixList(l, t, neg)
			return
		}
		if len(t) > 1 && kw(t[1]) == "dhcp" && p.dhcpTop(l, t, neg) {
			return
		}
		if len(t) > 1 && kw(t[1]) == "access-list" {
			p.topAnchor = "ip route" // IX prints access lists after the routes
			p.accessList(l, t, neg)
			return
		}
		if len(t) > 1 && kw(t[1]) != "router" && !topLevelPairs["ip "+kw(t[1])] && editDistance(kw(t[1]), "route") <= 1 {
			p.errf(l, t[1].col, "unknown command \"ip %s\", did you mean \"ip route\"?", t[1].text)
			return
		}
		p.notEmulated(l, t, "")
	case "router":
		if len(t) > 1 && kw(t[1]) == "bgp" {
			p.topAnchor = "router bgp"
			p.routerBGP(l, t, neg)
			return
		}
		p.notEmulated(l, t, "")
	case "route-map":
		p.routeMapCmd(l, t, neg)
	case "device":
		p.notEmulated(l, t, "device")
	case "end", "exit":
		// What a CLI session types to leave config mode; nothing to do.
	default:
		p.unknown(l, t, 0, "", []string{"hostname", "interface", "ikev2", "router"})
		if p.extra == nil {
			p.block = blockSkip // a typo: its block is skipped
		}
	}
}

func (p *parser) hostname(l *line, t []token, neg bool) {
	p.topAnchor = "hostname"
	if neg {
		p.cfg.Hostname = ""
		return
	}
	n, ok := p.need(l, t, 1, "hostname", "name")
	if !ok || !p.done(l, t, 2, "hostname") {
		return
	}
	if n.text == "" {
		p.errf(l, n.col, "hostname: empty name")
		return
	}
	p.cfg.Hostname = n.text
}

func (p *parser) interfaceCmd(l *line, t []token, neg bool) {
	p.block = blockSkip // until the name checks out
	n, ok := p.need(l, t, 1, "interface", "interface name")
	if !ok {
		return
	}
	if fam, other := otherFamily(n.text); other {
		p.notEmulated(l, t, "interface "+fam)
		p.skipOpener, p.skipIface = true, true
		return
	}
	name, kind, err := NormalizeInterfaceName(n.text)
	if err != nil {
		p.errf(l, n.col, "interface: %v", err)
		return
	}
	if !p.done(l, t, 2, "interface") {
		return
	}
	if neg {
		for i, ifc := range p.cfg.Interfaces {
			if ifc.Name == name {
				p.cfg.Interfaces = append(p.cfg.Interfaces[:i], p.cfg.Interfaces[i+1:]...)
				break
			}
		}
		return
	}
	ifc := p.cfg.Interface(name)
	if ifc == nil {
		ifc = &Interface{Name: name, Kind: kind, Pos: p.pos(l, t[0].col)}
		if kind == KindTunnel {
			ifc.Tunnel = &Tunnel{}
		}
		p.cfg.Interfaces = append(p.cfg.Interfaces, ifc)
	}
	p.block, p.iface = blockInterface, ifc
	p.topAnchor = "interface " + name
}

func (p *parser) ikev2Global(l *line, t []token, neg bool) {
	w, ok := p.need(l, t, 1, "ikev2", "sub-command (authentication, default-profile or profile)")
	if !ok {
		return
	}
	switch kw(w) {
	case "authentication":
		p.topAnchor = "ikev2 authentication"
		p.psk(l, t, neg)
	case "default-profile":
		p.topAnchor = "ikev2 default-profile"
		if !p.done(l, t, 2, "ikev2 default-profile") {
			p.block = blockSkip
			return
		}
		if neg {
			p.cfg.DefaultProfile = nil
			p.block = blockSkip
			return
		}
		if p.cfg.DefaultProfile == nil {
			p.cfg.DefaultProfile = &Profile{Pos: p.pos(l, t[0].col)}
		}
		p.block, p.profile = blockProfile, p.cfg.DefaultProfile
	case "profile":
		p.topAnchor = "ikev2 profile"
		p.block = blockSkip
		n, ok := p.need(l, t, 2, "ikev2 profile", "profile name")
		if !ok || !p.done(l, t, 3, "ikev2 profile") {
			return
		}
		if n.text == "" {
			p.errf(l, n.col, "ikev2 profile: empty name")
			return
		}
		if neg {
			for i, pr := range p.cfg.Profiles {
				if pr.Name == n.text {
					p.cfg.Profiles = append(p.cfg.Profiles[:i], p.cfg.Profiles[i+1:]...)
					break
				}
			}
			return
		}
		pr := p.cfg.Profile(n.text)
		if pr == nil {
			pr = &Profile{Name: n.text, Pos: p.pos(l, t[0].col)}
			p.cfg.Profiles = append(p.cfg.Profiles, pr)
		}
		p.block, p.profile = blockProfile, pr
	default:
		p.unknown(l, t, 1, "ikev2: ", []string{"authentication", "default-profile", "profile"})
		if p.extra == nil {
			p.block = blockSkip
		}
	}
}

// identity parses "id TYPE VALUE" starting at t[i] ("id").
func (p *parser) identity(l *line, t []token, i int, cmd string) (Identity, bool) {
	if _, ok := p.oneOf(l, t[i], cmd, "id"); !ok {
		return Identity{}, false
	}
	tt, ok := p.need(l, t, i+1, cmd, "identity type (ipv4, ipv6, fqdn or keyid)")
	if !ok {
		return Identity{}, false
	}
	typ, ok := p.oneOf(l, tt, cmd+" id", "ipv4", "ipv6", "fqdn", "keyid")
	if !ok {
		return Identity{}, false
	}
	v, ok := p.need(l, t, i+2, cmd+" id "+typ, "identity value")
	if !ok {
		return Identity{}, false
	}
	id := Identity{Type: IDType(typ), Value: v.text}
	switch id.Type {
	case IDIPv4, IDIPv6:
		a, err := netip.ParseAddr(v.text)
		if err != nil || a.Zone() != "" || (id.Type == IDIPv4) != a.Is4() {
			p.errf(l, v.col, "%s id %s: bad address %q, expected an %s address", cmd, typ, v.text, map[IDType]string{IDIPv4: "IPv4", IDIPv6: "IPv6"}[id.Type])
			return Identity{}, false
		}
		id.Value = a.String()
	default:
		if v.text == "" {
			p.errf(l, v.col, "%s id %s: empty value", cmd, typ)
			return Identity{}, false
		}
	}
	return id, true
}

// psk: ikev2 authentication psk id TYPE VALUE key char|hex KEY
func (p *parser) psk(l *line, t []token, neg bool) {
	const cmd = "ikev2 authentication"
	w, ok := p.need(l, t, 2, cmd, "psk")
	if !ok {
		return
	}
	if _, ok := p.oneOf(l, w, cmd, "psk"); !ok {
		return
	}
	if _, ok := p.need(l, t, 3, cmd+" psk", "id"); !ok {
		return
	}
	id, ok := p.identity(l, t, 3, cmd+" psk")
	if !ok {
		return
	}
	if neg {
		for i, k := range p.cfg.PSKs {
			if k.ID == id {
				p.cfg.PSKs = append(p.cfg.PSKs[:i], p.cfg.PSKs[i+1:]...)
				break
			}
		}
		return
	}
	kt, ok := p.need(l, t, 6, cmd+" psk", "key")
	if !ok {
		return
	}
	// The words after the identity may be the key itself (a line that
	// lacks "key" or "char"): the errors about them must not echo them.
	if _, ok := p.oneOfSecret(l, kt, cmd+" psk", "key"); !ok {
		return
	}
	ft, ok := p.need(l, t, 7, cmd+" psk key", "key format (char or hex)")
	if !ok {
		return
	}
	form, ok := p.oneOfSecret(l, ft, cmd+" psk key", "char", "hex")
	if !ok {
		return
	}
	vt, ok := p.need(l, t, 8, cmd+" psk key "+form, "key")
	if !ok {
		return
	}
	if len(t) > 9 {
		// Do not echo the extra word: it is probably part of the key.
		p.errf(l, t[9].col, "%s psk key %s: the key must be one word; put it in double quotes if it contains blanks", cmd, form)
		return
	}
	k := &PSK{ID: id, Hex: form == "hex", Pos: p.pos(l, t[0].col)}
	if k.Hex {
		h := strings.TrimPrefix(strings.TrimPrefix(vt.text, "0x"), "0X")
		b, err := decodeHex(h)
		if err != nil || len(b) == 0 {
			// Never echo the key itself.
			p.errf(l, vt.col, "%s psk key hex: the key is not an even number of hex digits", cmd)
			return
		}
		k.Key = b
	} else {
		if vt.text == "" {
			p.errf(l, vt.col, "%s psk key char: empty key", cmd)
			return
		}
		k.Key = []byte(vt.text)
	}
	for i, old := range p.cfg.PSKs {
		if old.ID == id {
			p.cfg.PSKs[i] = k // a later line replaces an earlier one, as on IX
			return
		}
	}
	p.cfg.PSKs = append(p.cfg.PSKs, k)
}

func decodeHex(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd length")
	}
	b := make([]byte, len(s)/2)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(v)
	}
	return b, nil
}

// route: ip route PREFIX|default GATEWAY [GATEWAY] [dhcp] [[distance] N] [tag N],
// where a GATEWAY is an interface or a next-hop address (IX accepts a next
// hop and the interface it is reached by).
func (p *parser) route(l *line, t []token, neg bool) {
	const cmd = "ip route"
	pt, ok := p.need(l, t, 2, cmd, "destination prefix (A/L or default)")
	if !ok {
		return
	}
	pf, ok := p.prefix(l, pt, cmd, true)
	if !ok {
		return
	}
	r := &Route{Prefix: pf, Pos: p.pos(l, t[0].col)}
	if len(t) > 3 {
		if fam, other := otherFamily(t[3].text); other {
			p.inactiveRef(l, t[3], fam)
			return
		}
		if !p.routeTarget(l, t[3], r) {
			return
		}
	} else if !neg {
		p.errf(l, eol(l), "%s: missing gateway, expected an interface name or a next-hop address", cmd)
		return
	}
	for i := 4; i < len(t); i++ {
		w := kw(t[i])
		switch {
		case w == "dhcp" && !r.DHCP && r.Interface != "":
			r.DHCP = true
		case w == "distance" || (isNumber(w) && r.Distance == 0):
			if w == "distance" {
				i++
				if _, ok := p.need(l, t, i, cmd+" distance", "distance"); !ok {
					return
				}
			}
			d, ok := p.number(l, t[i], cmd+" distance", "distance", 1, 255)
			if !ok {
				return
			}
			r.Distance = int(d)
		case w == "tag" && r.Tag == 0:
			i++
			tt, ok := p.need(l, t, i, cmd+" tag", "tag")
			if !ok {
				return
			}
			n, ok := p.number(l, tt, cmd+" tag", "tag", 1, 4294967295)
			if !ok {
				return
			}
			r.Tag = uint32(n)
		case i == 4 && r.Interface == "" && !isNumber(w):
			// ip route P NEXTHOP IF
			if fam, other := otherFamily(t[i].text); other {
				p.inactiveRef(l, t[i], fam)
				return
			}
			name, ok := p.ifname(l, t[i], cmd)
			if !ok {
				return
			}
			r.Interface = name
		case i == 4 && !r.NextHop.IsValid() && !isNumber(w) && w != "dhcp":
			// ip route P IF NEXTHOP
			a, err := netip.ParseAddr(t[i].text)
			if err != nil || a.Zone() != "" || a.Is4() != r.Prefix.Addr().Is4() {
				p.errf(l, t[i].col, "%s: bad next hop %q, expected an address in the family of %s", cmd, t[i].text, r.Prefix)
				return
			}
			r.NextHop = a
		default:
			p.errf(l, t[i].col, "%s: unexpected %q, expected dhcp, a distance or tag N", cmd, t[i].text)
			return
		}
	}
	if !neg {
		if r.Tag != 0 && !p.warned["route tag"] {
			p.warned["route tag"] = true
			p.warnf(l, t[0].col, "ip route ... tag: route tags are kept but not acted on by soft-ix")
		}
	}
	if neg {
		kept := p.cfg.Routes[:0]
		for _, o := range p.cfg.Routes {
			if o.Prefix == r.Prefix && (len(t) <= 3 || o.sameTarget(r)) {
				continue
			}
			kept = append(kept, o)
		}
		p.cfg.Routes = kept
		return
	}
	for i, o := range p.cfg.Routes {
		if o.Prefix == r.Prefix && o.sameTarget(r) {
			p.cfg.Routes[i] = r
			return
		}
	}
	p.cfg.Routes = append(p.cfg.Routes, r)
}

func (r *Route) sameTarget(o *Route) bool {
	return r.Interface == o.Interface && r.NextHop == o.NextHop
}

func (p *parser) routeTarget(l *line, t token, r *Route) bool {
	if a, err := netip.ParseAddr(t.text); err == nil {
		if a.Zone() != "" || a.Is4() != r.Prefix.Addr().Is4() {
			p.errf(l, t.col, "ip route: next hop %q is not in the address family of %s", t.text, r.Prefix)
			return false
		}
		r.NextHop = a
		return true
	}
	name, _, err := NormalizeInterfaceName(t.text)
	if err != nil {
		p.errf(l, t.col, "ip route: bad gateway %q, expected an interface name (e.g. Tunnel0.0) or a next-hop address", t.text)
		return false
	}
	r.Interface = name
	return true
}

func (p *parser) routerBGP(l *line, t []token, neg bool) {
	p.block = blockSkip
	if neg {
		p.cfg.BGP = nil
		return
	}
	at, ok := p.need(l, t, 2, "router bgp", "AS number")
	if !ok {
		return
	}
	asn, ok := p.asn(l, at, "router bgp")
	if !ok || !p.done(l, t, 3, "router bgp") {
		return
	}
	if p.cfg.BGP != nil && p.cfg.BGP.ASN != asn {
		p.errf(l, at.col, "router bgp: AS %d given, but router bgp %d is already configured", asn, p.cfg.BGP.ASN)
		return
	}
	if p.cfg.BGP == nil {
		p.cfg.BGP = &BGP{ASN: asn, Pos: p.pos(l, t[0].col)}
	}
	p.block = blockBGP
}

func (p *parser) asn(l *line, t token, cmd string) (uint32, bool) {
	n, ok := p.number(l, t, cmd, "AS number", 1, 4294967295)
	return uint32(n), ok
}

// sub handles a line inside the open block.
func (p *parser) sub(l *line) {
	if len(l.toks) == 1 {
		switch kw(l.toks[0]) {
		case "end":
			p.closeBlock() // "end" leaves config mode in the IX CLI
			return
		case "exit":
			if p.block != blockBGP { // router bgp also has address-family to leave
				p.closeBlock()
				return
			}
		}
	}
	switch p.block {
	case blockSkip:
		if p.extra != nil {
			p.kept[l.num] = true
			p.extra.Sub = append(p.extra.Sub, trimBlank(l.raw))
		}
	case blockInterface:
		p.interfaceSub(l)
		if !p.kept[l.num] {
			p.ifAnchor = interfaceKey(l.toks)
		}
	case blockProfile:
		neg, t := splitNo(l.toks)
		p.profileSub(l, t, neg, p.profile, "")
	case blockBGP:
		p.bgpSub(l)
	case blockRouteMap:
		p.routeMapSub(l)
	case blockDHCPProfile:
		p.dhcpProfileSub(l)
	}
}
