package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// This file holds the packet filter commands: "ip access-list" at the top
// level, "ip filter" and "ip napt enable" in an interface.
//
// Forms soft-ix does not understand (dynamic lists, "option optimize",
// named ports, flags, malformed lines published IX files carry) are kept
// verbatim with a warning rather than rejected, so every real IX file
// loads; whether an interface may then run with them is the daemon's
// decision (it refuses a filter that uses such a list).

// accessListCommand is "ip access-list" at the top level (cmd_global.go);
// lines of forms soft-ix does not translate are kept.
var accessListCommand = &command[*Config]{
	words: []string{"ip", "access-list"}, quiet: true,
	args: []Arg{
		{Kind: ArgName, Help: "NAME|dynamic"},
		{Kind: ArgKeyword, Words: []string{"permit", "deny"}},
		{Kind: ArgKeyword, Help: "PROTOCOL", Words: []string{"ip", "icmp", "tcp", "udp"}},
		{Kind: ArgKeyword, Words: []string{"src"}},
		{Kind: ArgPrefix, Help: "any|A.B.C.D/M|A.B.C.D", Words: []string{"any"}, Sample: "192.168.2.0/24"},
		{Kind: ArgKeyword, Words: []string{"dest"}},
		{Kind: ArgPrefix, Help: "any|A.B.C.D/M|A.B.C.D", Words: []string{"any"}, Sample: "any"},
	},
	help: "packet filter list", section: "ip route", // IX prints access lists after the routes
	set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.accessList(l, t, neg) },
	get: func(c *Config) [][]string {
		var out [][]string
		for _, a := range c.AccessLists {
			for _, e := range a.Entries {
				out = append(out, append([]string{"ip access-list", quoteWord(a.Name)}, e.Words()...))
			}
		}
		for _, d := range c.DynamicLists {
			out = append(out, []string{"ip access-list dynamic", quoteWord(d.Name), "access", quoteWord(d.Access)})
		}
		return out
	},
}

// filterCommand is "ip filter" in an interface (cmd_interface.go).
var filterCommand = &command[*Interface]{
	words: []string{"ip", "filter"},
	args: []Arg{{Kind: ArgName, Help: "LIST"}, {Kind: ArgNumber, Help: "<1-4294967295>", Min: 1, Max: 4294967295},
		{Kind: ArgKeyword, Words: []string{"in", "out"}}, {Kind: ArgKeyword, Words: []string{"suppress-logging"}, Optional: true}},
	help: "apply an access list", set: func(p *parser, l *line, t []token, neg bool, ifc *Interface) { p.ipFilter(l, t, neg) },
	get: func(ifc *Interface) [][]string {
		var out [][]string
		for _, f := range ifc.Filters {
			out = append(out, f.Words())
		}
		return out
	},
}

// naptCommand is "ip napt" in an interface (cmd_interface.go): enable,
// hairpinning and the port forwards; its other forms are kept.
var naptCommand = &command[*Interface]{
	words: []string{"ip", "napt"}, key: "ip napt enable",
	args: []Arg{{Kind: ArgKeyword, Words: []string{"enable", "hairpinning"}}},
	help: "translate addresses to the interface's own",
	set: func(p *parser, l *line, t []token, neg bool, ifc *Interface) {
		switch {
		case len(t) == 3 && kw(t[2]) == "enable":
			ifc.NAPT, ifc.NAPTPos = !neg, p.pos(l, t[0].col)
		case len(t) > 2 && (kw(t[2]) == "static" || kw(t[2]) == "service"):
			p.naptForward(l, t, neg)
		case len(t) == 3 && kw(t[2]) == "hairpinning":
			ifc.NAPTHairpin, ifc.NAPTHairpinPos = !neg, p.pos(l, t[0].col)
		default:
			p.notEmulated(l, t, "")
		}
	},
	get: func(ifc *Interface) [][]string {
		var out [][]string
		if ifc.NAPT {
			out = append(out, []string{"ip napt enable"})
		}
		if ifc.NAPTHairpin {
			out = append(out, []string{"ip napt hairpinning"})
		}
		for _, f := range ifc.NAPTForwards {
			out = append(out, f.Words())
		}
		return out
	},
}

// accessList: ip access-list NAME permit|deny PROTO [type N] src S [sport P] dest D [dport P]
func (p *parser) accessList(l *line, t []token, neg bool) {
	const cmd = "ip access-list"
	n, ok := p.need(l, t, 2, cmd, "list name")
	if !ok {
		return
	}
	if kw(n) == "dynamic" {
		p.dynamicList(l, t, neg)
		return
	}
	if len(t) == 3 && !neg {
		p.notEmulated(l, t, cmd+" "+kw(n))
		return
	}
	if len(t) > 3 && kw(t[3]) == "option" {
		p.notEmulated(l, t, cmd+" option") // a hint to the IX's matcher, no match of its own
		return
	}
	if neg && len(t) == 3 {
		p.removeAccessList(n.text)
		return
	}
	e, why := parseACLEntry(t[3:])
	if why != "" {
		p.keepACL(l, t, why)
		return
	}
	e.Pos = p.pos(l, t[0].col)
	acl := p.cfg.AccessList(n.text)
	if neg {
		if acl != nil {
			kept := acl.Entries[:0]
			for _, o := range acl.Entries {
				if !o.sameMatch(e) {
					kept = append(kept, o)
				}
			}
			acl.Entries = kept
			if len(acl.Entries) == 0 {
				p.removeAccessList(n.text)
			}
		}
		return
	}
	if acl == nil {
		acl = &AccessList{Name: n.text}
		p.cfg.AccessLists = append(p.cfg.AccessLists, acl)
	}
	for _, o := range acl.Entries {
		if o.sameMatch(e) {
			return // IX keeps one copy of a repeated entry
		}
	}
	acl.Entries = append(acl.Entries, e)
}

// keepACL keeps an access-list line soft-ix cannot translate, with one
// warning per reason.
func (p *parser) keepACL(l *line, t []token, why string) {
	p.keepLine(l)
	key := "acl " + why
	if p.warned[key] {
		return
	}
	p.warned[key] = true
	p.warnf(l, t[0].col, "ip access-list: %s; the line is kept but inactive, and a filter using its list is not enforced (further ones are not reported)", why)
}

func (p *parser) removeAccessList(name string) {
	for i, a := range p.cfg.AccessLists {
		if a.Name == name {
			p.cfg.AccessLists = append(p.cfg.AccessLists[:i], p.cfg.AccessLists[i+1:]...)
			return
		}
	}
}

// parseACLEntry reads "permit|deny PROTO ..." or says, in words, what
// soft-ix does not understand about it.
func parseACLEntry(t []token) (*ACLEntry, string) {
	if len(t) == 0 {
		return nil, "an entry without permit or deny"
	}
	e := &ACLEntry{Src: anyPrefix, Dst: anyPrefix, ICMPType: -1}
	switch kw(t[0]) {
	case "permit":
		e.Permit = true
	case "deny":
	default:
		return nil, fmt.Sprintf("%q is not emulated", "ip access-list NAME "+kw(t[0]))
	}
	if len(t) < 2 {
		return nil, "an entry without a protocol"
	}
	switch w := kw(t[1]); w {
	case "ip":
		e.Protocol = ProtoAny
	case "icmp":
		e.Protocol = ProtoICMP
	case "tcp":
		e.Protocol = ProtoTCP
	case "udp":
		e.Protocol = ProtoUDP
	default:
		n, err := strconv.ParseUint(w, 10, 8)
		if err != nil {
			return nil, fmt.Sprintf("protocol %q is not emulated (ip, icmp, tcp, udp or a number are)", t[1].text)
		}
		e.Protocol = int(n)
	}
	ports := e.Protocol == ProtoTCP || e.Protocol == ProtoUDP
	var src, dst bool
	for i := 2; i < len(t); i++ {
		switch w := kw(t[i]); {
		case w == "src" || w == "dest":
			if i+1 >= len(t) {
				return nil, w + " without an address"
			}
			i++
			pf, ok := aclAddr(t[i].text)
			if !ok {
				return nil, fmt.Sprintf("%s %q is not an address (any, A.B.C.D or A.B.C.D/L)", w, t[i].text)
			}
			if w == "src" {
				e.Src, src = pf, true
			} else {
				e.Dst, dst = pf, true
			}
		case (w == "sport" || w == "dport") && ports:
			pm, n, why := portMatch(t[i+1:])
			if why != "" {
				return nil, w + " " + why
			}
			if w == "sport" {
				e.SrcPort = pm
			} else {
				e.DstPort = pm
			}
			i += n
		case w == "type" && e.Protocol == ProtoICMP && e.ICMPType < 0 && i+1 < len(t):
			i++
			n, err := strconv.ParseUint(t[i].text, 10, 8)
			if err != nil {
				return nil, fmt.Sprintf("icmp type %q is not a number from 0 to 255", t[i].text)
			}
			e.ICMPType = int(n)
		default:
			return nil, fmt.Sprintf("%q in an entry is not emulated", t[i].text)
		}
	}
	if !src || !dst {
		// IX documents both; what it does with one missing is not known.
		return nil, "an entry without both src and dest is not emulated"
	}
	return e, ""
}

var anyPrefix = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

// aclAddr reads "any", an IPv4 address (one host) or an IPv4 prefix; host
// bits of a prefix are ignored, as in a route match.
func aclAddr(s string) (netip.Prefix, bool) {
	if strings.EqualFold(s, "any") {
		return anyPrefix, true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return netip.PrefixFrom(a, 32), true
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil || !pf.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return pf.Masked(), true
}

// portMatch reads "any | eq N | range A B | gt N | lt N" and returns how
// many words it took.
func portMatch(t []token) (PortMatch, int, string) {
	if len(t) == 0 {
		return PortMatch{}, 0, "without a port"
	}
	port := func(i int) (uint16, bool) {
		if i >= len(t) {
			return 0, false
		}
		n, err := strconv.ParseUint(t[i].text, 10, 16)
		return uint16(n), err == nil
	}
	switch op := PortOp(kw(t[0])); op {
	case "any":
		return PortMatch{}, 1, ""
	case PortEq, PortGt, PortLt:
		n, ok := port(1)
		if !ok {
			return PortMatch{}, 0, fmt.Sprintf("%s: only numeric ports are emulated", op)
		}
		return PortMatch{Op: op, Lo: n}, 2, ""
	case PortRange:
		lo, ok1 := port(1)
		hi, ok2 := port(2)
		if !ok1 || !ok2 || lo > hi {
			return PortMatch{}, 0, "range: expected two numeric ports, low first"
		}
		return PortMatch{Op: op, Lo: lo, Hi: hi}, 3, ""
	default:
		return PortMatch{}, 0, fmt.Sprintf("%q is not emulated (any, eq, range, gt or lt are)", t[0].text)
	}
}

// sameMatch compares two entries ignoring their position.
func (e *ACLEntry) sameMatch(o *ACLEntry) bool {
	x, y := *e, *o
	x.Pos, y.Pos = Pos{}, Pos{}
	return x == y
}

// Words gives the entry as IX writes it, after "ip access-list NAME".
func (e *ACLEntry) Words() []string {
	w := []string{"deny"}
	if e.Permit {
		w[0] = "permit"
	}
	switch e.Protocol {
	case ProtoAny:
		w = append(w, "ip")
	case ProtoICMP:
		w = append(w, "icmp")
	case ProtoTCP:
		w = append(w, "tcp")
	case ProtoUDP:
		w = append(w, "udp")
	default:
		w = append(w, strconv.Itoa(e.Protocol))
	}
	if e.ICMPType >= 0 {
		w = append(w, "type", strconv.Itoa(e.ICMPType))
	}
	ports := e.Protocol == ProtoTCP || e.Protocol == ProtoUDP
	w = append(w, "src", addrWord(e.Src))
	if ports {
		w = append(w, "sport")
		w = append(w, e.SrcPort.words()...)
	}
	w = append(w, "dest", addrWord(e.Dst))
	if ports {
		w = append(w, "dport")
		w = append(w, e.DstPort.words()...)
	}
	return w
}

func addrWord(p netip.Prefix) string {
	if p.Bits() == 0 {
		return "any"
	}
	return p.String()
}

func (m PortMatch) words() []string {
	switch m.Op {
	case PortAny:
		return []string{"any"}
	case PortRange:
		return []string{"range", strconv.Itoa(int(m.Lo)), strconv.Itoa(int(m.Hi))}
	}
	return []string{string(m.Op), strconv.Itoa(int(m.Lo))}
}

// ipFilter: ip filter LIST SEQ in|out [suppress-logging]; "no ip filter
// LIST [SEQ [in|out]]" removes the matching ones.
func (p *parser) ipFilter(l *line, t []token, neg bool) {
	const cmd = "ip filter"
	ifc := p.iface
	n, ok := p.need(l, t, 2, cmd, "access list name")
	if !ok {
		return
	}
	f := &Filter{List: n.text, Pos: p.pos(l, t[0].col)}
	hasSeq, hasDir := len(t) > 3, len(t) > 4
	if hasSeq {
		s, ok := p.number(l, t[3], cmd, "sequence number", 1, 4294967295)
		if !ok {
			return
		}
		f.Seq = uint32(s)
	}
	if hasDir {
		d, ok := p.oneOf(l, t[4], cmd, "in", "out")
		if !ok {
			return
		}
		f.Out = d == "out"
	}
	if neg {
		kept := ifc.Filters[:0]
		for _, o := range ifc.Filters {
			if o.List == f.List && (!hasSeq || o.Seq == f.Seq) && (!hasDir || o.Out == f.Out) {
				continue
			}
			kept = append(kept, o)
		}
		ifc.Filters = kept
		return
	}
	if !hasDir {
		p.errf(l, eol(l), "%s: missing %s", cmd, map[bool]string{true: "direction (in or out)", false: "sequence number"}[hasSeq])
		return
	}
	if len(t) > 5 {
		if kw(t[5]) != "suppress-logging" || len(t) > 6 {
			// An option soft-ix does not know may change what the filter
			// does: kept, so the daemon refuses to run it unenforced.
			p.notEmulated(l, t, "ip filter ... "+kw(t[len(t)-1]))
			return
		}
		f.SuppressLogging = true
	}
	for i, o := range ifc.Filters {
		if o.Seq == f.Seq && o.Out == f.Out {
			ifc.Filters[i] = f // one filter per sequence number and direction
			return
		}
	}
	ifc.Filters = append(ifc.Filters, f)
}

// Words gives the filter as IX writes it.
func (f *Filter) Words() []string {
	w := []string{"ip filter", quoteWord(f.List), strconv.FormatUint(uint64(f.Seq), 10), "in"}
	if f.Out {
		w[3] = "out"
	}
	if f.SuppressLogging {
		w = append(w, "suppress-logging")
	}
	return w
}

// naptForward: ip napt static IF|A.B.C.D tcp|udp PORT | ip napt static
// IF|A.B.C.D PROTO (a number or icmp) | ip napt service NAME A.B.C.D none
// tcp|udp PORT. Other forms (an outside address, "icmp any", a port range)
// are kept, so the daemon refuses to run them unenforced.
func (p *parser) naptForward(l *line, t []token, neg bool) {
	ifc := p.iface
	f := &NAPTForward{Pos: p.pos(l, t[0].col)}
	i := 3
	if kw(t[2]) == "service" {
		if len(t) < 4 {
			p.notEmulated(l, t, "")
			return
		}
		f.Service = t[3].text
		i = 4
	}
	rest := t[i:]
	if f.Service != "" {
		// NAME INSIDE none PROTO PORT: "none" is the interface's own
		// address as the outside one.
		if len(rest) != 4 || kw(rest[1]) != "none" {
			p.notEmulated(l, t, "ip napt service ... (this form)")
			return
		}
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 2 || len(rest) > 3 {
		p.notEmulated(l, t, "ip napt "+kw(t[2])+" ... (this form)")
		return
	}
	if a, err := netip.ParseAddr(rest[0].text); err == nil && a.Is4() {
		f.Inside = a
	} else if name, kind, err := NormalizeInterfaceName(rest[0].text); err == nil && kind != KindNull {
		f.InsideIf = name
	} else {
		p.notEmulated(l, t, "ip napt "+kw(t[2])+" ... (this form)")
		return
	}
	switch w := kw(rest[1]); w {
	case "tcp", "udp":
		f.Protocol = ProtoTCP
		if w == "udp" {
			f.Protocol = ProtoUDP
		}
		if len(rest) != 3 {
			p.notEmulated(l, t, "ip napt "+kw(t[2])+" ... (this form)")
			return
		}
		n, err := strconv.ParseUint(rest[2].text, 10, 16)
		if err != nil || n == 0 {
			p.notEmulated(l, t, "ip napt "+kw(t[2])+" ... (this form)")
			return
		}
		f.Port = uint16(n)
	default:
		n, err := strconv.ParseUint(w, 10, 8)
		if w == "icmp" {
			n, err = ProtoICMP, nil
		}
		if err != nil || len(rest) != 2 || n == ProtoTCP || n == ProtoUDP {
			p.notEmulated(l, t, "ip napt "+kw(t[2])+" ... (this form)")
			return
		}
		f.Protocol = int(n)
	}
	same := func(o *NAPTForward) bool {
		return o.Service == f.Service && (f.Service != "" || o.Inside == f.Inside && o.InsideIf == f.InsideIf && o.Protocol == f.Protocol && o.Port == f.Port)
	}
	kept := ifc.NAPTForwards[:0]
	for _, o := range ifc.NAPTForwards {
		if !same(o) {
			kept = append(kept, o)
		}
	}
	ifc.NAPTForwards = kept
	if !neg {
		ifc.NAPTForwards = append(ifc.NAPTForwards, f)
	}
}

// Words gives the line as IX writes it.
func (f *NAPTForward) Words() []string {
	inside := f.InsideIf
	if inside == "" {
		inside = f.Inside.String()
	}
	w := []string{"ip napt static", inside}
	if f.Service != "" {
		w = []string{"ip napt service", quoteWord(f.Service), inside, "none"}
	}
	switch f.Protocol {
	case ProtoTCP:
		w = append(w, "tcp", strconv.Itoa(int(f.Port)))
	case ProtoUDP:
		w = append(w, "udp", strconv.Itoa(int(f.Port)))
	case ProtoICMP:
		w = append(w, "icmp")
	default:
		w = append(w, strconv.Itoa(f.Protocol))
	}
	return w
}

// dynamicList: ip access-list dynamic NAME access LIST. Other dynamic
// forms (timers, application protocols) are kept.
func (p *parser) dynamicList(l *line, t []token, neg bool) {
	if len(t) < 4 {
		p.notEmulated(l, t, "ip access-list dynamic")
		return
	}
	name := t[3].text
	if neg && len(t) == 4 {
		p.removeDynamicList(name)
		return
	}
	if len(t) != 6 || kw(t[4]) != "access" || kw(t[3]) == "timer" {
		p.notEmulated(l, t, "ip access-list dynamic ... (this form)")
		return
	}
	p.removeDynamicList(name)
	if !neg {
		p.cfg.DynamicLists = append(p.cfg.DynamicLists, &DynamicList{Name: name, Access: t[5].text, Pos: p.pos(l, t[0].col)})
	}
}

func (p *parser) removeDynamicList(name string) {
	for i, d := range p.cfg.DynamicLists {
		if d.Name == name {
			p.cfg.DynamicLists = append(p.cfg.DynamicLists[:i], p.cfg.DynamicLists[i+1:]...)
			return
		}
	}
}
