package config

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
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
// "ikev2 default-profile", "ikev2 profile NAME", "ip dhcp profile NAME",
// "route-map", "router bgp ASN" and the "address-family" inside router bgp
// open blocks, as do not-emulated block commands ("ppp profile", "ip dhcp
// client-profile", "watch-group", ...); a block
// ends at a "!" in column 1 (unless the next command is indented deeper
// than the block's opener: a comment inside the block) or at the next
// top-level command. Indentation is
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

// CheckLine reads one line as the file parser would inside the block that
// opener opens ("" for a top-level line), and returns what it says about
// the line: errors with their columns, "not emulated" warnings. The checks
// across lines that Validate makes are left out: the line stands alone.
// The interactive session's configure mode uses it.
func CheckLine(opener, text string) []Diagnostic {
	src, num, shift := text+"\n", 1, 0
	if opener != "" {
		src, num, shift = opener+"\n  "+trimBlank(text)+"\n", 2, 2
	}
	p := &parser{file: "line", cfg: &Config{}, warned: map[string]bool{}, kept: map[int]bool{}}
	p.run([]byte(src))
	var out []Diagnostic
	for _, d := range p.diags {
		if d.Pos.Line == num {
			d.Pos.File, d.Pos.Line, d.Pos.Col = "", 1, d.Pos.Col-shift
			out = append(out, d)
		}
	}
	return out
}

type blockKind int

const (
	blockNone  blockKind = iota
	blockSkip            // a block soft-ix does not emulate: its lines are ignored
	blockTable           // an emulated block: see openBlock
)

// openBlock is the emulated block being read: how a line of it is read and
// where a line it keeps goes. The command that opens a block makes it
// (see openTable).
type openBlock struct {
	line func(p *parser, l *line)
	keep func(p *parser, v *Verbatim)
	// exit: "exit" is a line of the block rather than its end (router
	// bgp leaves its address family with it).
	exit bool
}

// openTable opens a block whose lines tb reads into x; keep stores its
// kept lines.
func openTable[T any](p *parser, tb *table[T], x T, keep func(v *Verbatim)) {
	p.block = blockTable
	p.open = &openBlock{
		line: func(p *parser, l *line) {
			neg, t := splitNo(l.toks)
			tb.run(p, l, t, neg, x)
		},
		keep: func(_ *parser, v *Verbatim) { keep(v) },
	}
}

type parser struct {
	file   string
	cfg    *Config
	diags  []Diagnostic
	warned map[string]bool

	block       blockKind
	blockIndent int        // indentation of the line that opened the block
	open        *openBlock // the emulated block being read (blockTable)
	cur         line       // the line being read
	iface       *Interface // when that is an interface block

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
	extraIndent int // indentation of extra's first sub-line
	skipOpener  bool
	skipIface   bool
	topAnchor   string
	ifAnchor    string
	subIndented bool // a line of the open block was indented deeper than its opener
	kept        map[int]bool
	bang        bool // a "!" in column 1 came since the last command (see run)
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
	case p.block == blockTable:
		p.open.keep(p, v)
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
		case w2 == "access-list" || w2 == "prefix-list":
			return "ip route", true
		case w2 == "dhcp" && (w3 == "client-profile" || w3 == "server-profile"):
			return "ip dhcp profile", true
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
	case "web-console":
		return w2 == "system" // "web-console system vpn" and its "o ..." lines
	}
	return false
}

// interfaceSub reports the interface sub-commands whose first word also
// starts top-level commands ("ppp binding" / "ppp profile", "ipsec policy" /
// "ipsec autokey-map", "ikev2 binding" / "ikev2 profile", "ip dhcp-relay
// server" / "ip dhcp-relay enable", "proxy-dns ip enable" on an interface
// and globally). In a file without
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
	case "proxy-dns", "ssh-server", "telnet-server", "http-server":
		// An IX3110's startup-config has "proxy-dns ip enable" and
		// "ssh-server ip enable" inside a LAN interface: the service
		// on that interface, as the IX console takes it there.
		return (w2 == "ip" || w2 == "ipv6") && w3 == "enable"
	case "ip", "ipv6":
		return (w2 == "ufs-cache" && w3 == "timeout") || (w == "ipv6" && w2 == "dhcp" && (w3 == "client" || w3 == "server")) ||
			(w2 == "dhcp-relay" && w3 == "server")
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
		// The line lives in the parser: the tables' set functions are
		// called through func values, which would move a local to the heap.
		var comment, closes bool
		p.cur, comment, closes = lexLine(num, string(raw))
		l := &p.cur
		if comment {
			// A "!" in column 1 ends the open block unless the next
			// command is indented deeper than the block's opener: a
			// comment written inside a block ("! the MSS for MTU
			// 1500") leaves the sub-mode open, as on IX, whose console
			// takes "!" as a comment and stays in the mode.
			p.bang = p.bang || closes
			continue
		}
		if len(l.toks) == 0 {
			continue
		}
		if p.bang {
			p.bang = false
			if p.block != blockNone && l.indent <= p.blockIndent {
				p.closeBlock()
			}
		}
		if p.block != blockNone && p.belongsToBlock(l) {
			if l.indent > p.blockIndent {
				p.subIndented = true
			}
			p.sub(l)
			continue
		}
		p.closeBlock()
		p.blockIndent = l.indent
		p.atTop = true
		p.top(l)
		p.atTop = false
	}
}

func (p *parser) closeBlock() {
	p.block, p.open, p.iface, p.inAF, p.afSkip, p.afExtra = blockNone, nil, nil, false, false, nil
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
		case p.iface != nil && interfaceSub(l.toks, p.iface.Kind == KindTunnel):
			return true
		case p.block == blockSkip && p.skipIface && interfaceSub(l.toks, false):
			return true
		}
	}
	return !startsTopLevel(l.toks)
}

// topLevelWords start top-level commands soft-ix keeps without acting
// on (the ones it emulates are the global table's, see startsTopLevel); an
// unindented line starting with one closes the open block.
var topLevelWords = map[string]bool{
	"device": true, "router": true, "ntp": true, "syslog": true,
	"logging": true, "timezone": true, "proxy-dns": true, "username": true, "telnet-server": true,
	"ssh-server": true, "http-server": true, "access-list": true, "snmp-agent": true,
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

// topLevelPairs are two-word starts of top-level commands soft-ix does
// not emulate whose first word also starts sub-commands.
var topLevelPairs = map[string]bool{
	"ip ufs-cache": true, "ip host": true, "ip domain-name": true, "ip name-server": true, "ip as-path": true,
	"ip community-list": true, "ip dhcp-relay": true, "ip option": true, "ip fragment-reassembly": true,
	"ipv6 route": true, "ipv6 access-list": true, "ipv6 ufs-cache": true, "ipv6 prefix-list": true,
	"ipv6 dhcp": true, "ipv6 host": true, "ikev2 extend-authentication": true,
}

func startsTopLevel(t []token) bool {
	if kw(t[0]) == "no" {
		t = t[1:]
		if len(t) == 0 {
			return false
		}
	}
	// The global table's commands, but "exit", which leaves the open
	// block (or address family) rather than starting a command.
	if c := globalTable.find(t); c != nil && c.words[0] != "exit" {
		return true
	}
	w := kw(t[0])
	if topLevelWords[w] {
		return true
	}
	if len(t) > 1 {
		if topLevelPairs[w+" "+kw(t[1])] {
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

// finish tidies the model once every line is read.
func (p *parser) finish() {
	c := p.cfg
	// "no" forms can leave empty lists behind; nil keeps configs comparable.
	if len(c.PSKs) == 0 {
		c.PSKs = nil
	}
	if len(c.Profiles) == 0 {
		c.Profiles = nil
	}
	if len(c.Interfaces) == 0 {
		c.Interfaces = nil
	}
	if len(c.Routes) == 0 {
		c.Routes = nil
	}
	if len(c.AccessLists) == 0 {
		c.AccessLists = nil
	}
	if len(c.DynamicLists) == 0 {
		c.DynamicLists = nil
	}
	if len(c.DHCPProfiles) == 0 {
		c.DHCPProfiles = nil
	}
	for _, pr := range c.DHCPProfiles {
		if len(pr.Fixed) == 0 {
			pr.Fixed = nil
		}
	}
	if b := c.BGP; b != nil {
		if len(b.Neighbors) == 0 {
			b.Neighbors = nil
		}
		if len(b.Extra) == 0 {
			b.Extra = nil
		}
		if len(b.AFExtra) == 0 {
			b.AFExtra = nil
		}
		if len(b.Networks) == 0 {
			b.Networks = nil
		}
	}
	c.sortPolicies()
	for _, ifc := range p.cfg.Interfaces {
		if len(ifc.Filters) == 0 {
			ifc.Filters = nil
		}
		if len(ifc.NAPTForwards) == 0 {
			ifc.NAPTForwards = nil
		}
		if t := ifc.Tunnel; t != nil && t.Override != nil && t.Override.isZero() {
			t.Override = nil
		}
		ifc.Extra = mergeKept(ifc.Extra)
		ifc.anchorKept()
	}
	c.Extra = mergeKept(c.Extra)
	c.anchorKept()
	for _, pr := range append([]*Profile{c.DefaultProfile}, c.Profiles...) {
		if pr != nil {
			pr.Extra = mergeKept(pr.Extra)
		}
	}
	if b := c.BGP; b != nil {
		b.Extra, b.AFExtra = mergeKept(b.Extra), mergeKept(b.AFExtra)
	}
	for _, rm := range c.RouteMaps {
		rm.Extra = mergeKept(rm.Extra)
	}
	for _, d := range c.DHCPProfiles {
		d.Extra = mergeKept(d.Extra)
	}
}

// mergeKept folds a block entered again into what it held, as an IX
// does: a kept line that repeats the latest line of its command (its
// words but the last; a "no" form counts as the command) is the same
// command typed twice, and goes; a kept block opened again whose latest
// entry is that block gets the flat lines it does not hold yet, by the
// same rule. Anything between that sets the command otherwise ("no X",
// another value) keeps the repeat, so the last word stays the source's.
// A block whose lines nest deeper (a policy-map's classes) stays a second
// entry, since the same line can mean different things under different
// parents there.
func mergeKept(vs []*Verbatim) []*Verbatim {
	if len(vs) < 2 {
		return vs
	}
	flat := func(sub []string) bool {
		return !slices.ContainsFunc(sub, func(l string) bool { return strings.HasPrefix(l, " ") })
	}
	out := vs[:0:0]
	latest := map[string]*Verbatim{}
	for _, v := range vs {
		k := keptKey(v.Text)
		old := latest[k]
		switch {
		case old == nil || old.Text != v.Text:
			latest[k] = v
			out = append(out, v)
		case slices.Equal(old.Sub, v.Sub):
		case flat(old.Sub) && flat(v.Sub):
			last := map[string]string{}
			for _, l := range old.Sub {
				last[keptKey(l)] = l
			}
			for _, l := range v.Sub {
				if last[keptKey(l)] != l {
					old.Sub = append(old.Sub, l)
					last[keptKey(l)] = l
				}
			}
		default:
			latest[k] = v
			out = append(out, v)
		}
	}
	return out
}

// keptKey is the command a kept line sets: its words without a leading
// "no" and without the last (the value), or its only word.
func keptKey(text string) string {
	w := strings.Fields(text)
	if len(w) > 1 && w[0] == "no" {
		w = w[1:]
	}
	if len(w) > 1 {
		w = w[:len(w)-1]
	}
	return strings.Join(w, " ")
}

// anchorKept moves each kept top-level command whose section prints
// nothing (a section emptied by "no" commands) to the last section before
// it that does, and orders the list as Print writes it, so that printing
// and parsing again gives the same config.
func (c *Config) anchorKept() {
	if len(c.Extra) == 0 {
		c.Extra = nil
		return
	}
	sections, printed := globalSections(c)
	rank := func(a string) int {
		for i, s := range sections {
			if s == a {
				return i
			}
		}
		if strings.HasPrefix(a, "interface ") {
			return len(sections) - 2 // an interface removed by "no interface": after the last one left
		}
		return 0
	}
	for _, v := range c.Extra {
		r := rank(v.After)
		for !printed(r) {
			r--
		}
		v.After = sections[r]
	}
	sort.SliceStable(c.Extra, func(i, j int) bool { return rank(c.Extra[i].After) < rank(c.Extra[j].After) })
}

// anchorKept does for the kept lines of an interface block what
// Config.anchorKept does at the top level: each follows a command that
// prints, in the order Print writes them.
func (ifc *Interface) anchorKept() {
	if len(ifc.Extra) == 0 {
		ifc.Extra = nil
		return
	}
	order := interfaceTable.keys()
	printed := map[string]bool{"": true}
	for _, l := range interfaceTable.lines(ifc, "") {
		printed[l.key] = true
	}
	// Rank 0 is the interface line itself (After "").
	rank := func(k string) int { return slices.Index(order, k) + 1 }
	for _, v := range ifc.Extra {
		r := rank(v.After)
		for r > 0 && !printed[order[r-1]] {
			r--
		}
		v.After = ""
		if r > 0 {
			v.After = order[r-1]
		}
	}
	sort.SliceStable(ifc.Extra, func(i, j int) bool { return rank(ifc.Extra[i].After) < rank(ifc.Extra[j].After) })
}

func (pr *Profile) isZero() bool {
	z := Profile{Name: pr.Name, Pos: pr.Pos}
	return equalProfiles(*pr, z)
}

// top handles a top-level command; it is kept where Print writes the
// section of the command that took it.
func (p *parser) top(l *line) {
	neg, t := splitNo(l.toks)
	c := globalTable.find(t)
	if c == nil {
		globalTable.unknown(p, globalTable, l, t, neg, p.cfg)
		return
	}
	if c.section != "" && c.section != "interfaces" {
		p.topAnchor = c.section
	}
	c.set(p, l, t, neg, p.cfg)
}

// sub handles a line inside the open block.
func (p *parser) sub(l *line) {
	if len(l.toks) == 1 {
		switch kw(l.toks[0]) {
		case "end":
			p.closeBlock() // "end" leaves config mode in the IX CLI
			return
		case "exit":
			if p.block != blockTable || !p.open.exit { // router bgp also has address-family to leave
				p.closeBlock()
				return
			}
		}
	}
	switch p.block {
	case blockSkip:
		if p.extra != nil {
			p.kept[l.num] = true
			// A line nested deeper than the block's first (a
			// policy-map's class and its set lines) keeps the extra
			// indentation, so the reprint nests it as the file did.
			text := trimBlank(l.raw)
			if len(p.extra.Sub) == 0 {
				p.extraIndent = l.indent
			} else if d := l.indent - p.extraIndent; d > 0 {
				text = strings.Repeat(" ", d) + text
			}
			p.extra.Sub = append(p.extra.Sub, text)
		}
	case blockTable:
		p.open.line(p, l)
	}
}
