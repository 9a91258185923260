package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file holds the BGP policy commands as the IX writes them: the
// "route-map NAME permit|deny SEQ" blocks and the "ip prefix-list" lines
// they match on. Model, parser and printer sit side by side so that what is
// read and what is written cannot drift apart.

// RouteMap is one "route-map NAME permit|deny SEQ" entry and its block.
// Entries of one name are evaluated in Seq order: the first whose match
// lines all hold decides (permit: the set lines apply and the route
// passes; deny: the route is dropped); a route no entry matches is
// dropped, as on the IX.
type RouteMap struct {
	Name string
	Deny bool
	Seq  int // 1..65535

	// match ip address prefix-list NAME / match ip address access-list NAME
	// ("" when absent). An entry without match lines matches every route.
	MatchPrefixList string
	MatchAccessList string

	SetLocalPref *uint32  // set local-preference N
	SetMetric    *uint32  // set metric N (the MED)
	SetPrepend   []uint32 // set as-path prepend ASN...
	// set community VALUE... [additive] | none: values in canonical form
	// ("65000:100", "no-export"); CommunityNone removes all communities.
	SetCommunity      []string
	CommunityAdditive bool
	CommunityNone     bool

	// Extra are the lines of the block soft-ix keeps without acting on
	// (match as-path, set origin, ...), printed at its end.
	Extra []*Verbatim

	Pos      Pos
	MatchPos Pos // the match line, for diagnostics about what it names
}

// KeptMatch reports a match line soft-ix keeps without evaluating it
// ("match as-path", "match community", ...). Such an entry never matches
// in soft-ix: applying its set lines, or its deny, to every route would
// be worse than skipping it (config.Validate warns).
func (rm *RouteMap) KeptMatch() bool {
	for _, v := range rm.Extra {
		if t := textTokens(v.Text); kw(t[0]) == "match" {
			return true
		}
	}
	return false
}

// PrefixList is one "ip prefix-list NAME [SEQ] permit|deny PREFIX|any
// [min N] [max N]" line. A route matches it when its prefix lies within
// Prefix and its length is in [Min, Max] (both Prefix.Bits() when not
// given, so the bare form matches exactly that prefix; "any" matches every
// route). The lines of one name are read in order, the first match decides.
type PrefixList struct {
	Name   string
	Seq    int // 0: not given
	Deny   bool
	Prefix netip.Prefix // 0.0.0.0/0 for any
	Any    bool
	Min    int // min N (ge N); 0: not given
	Max    int // max N (le N); 0: not given
	Pos    Pos
}

// RouteMap returns the entries named name, in the order they apply.
func (c *Config) RouteMap(name string) []*RouteMap {
	var out []*RouteMap
	for _, rm := range c.RouteMaps {
		if rm.Name == name {
			out = append(out, rm)
		}
	}
	return out
}

// PrefixList returns the lines of the prefix list named name, in order.
func (c *Config) PrefixList(name string) []*PrefixList {
	var out []*PrefixList
	for _, pl := range c.PrefixLists {
		if pl.Name == name {
			out = append(out, pl)
		}
	}
	return out
}

// MinLen and MaxLen are the prefix lengths the line matches.
func (pl *PrefixList) MinLen() int {
	switch {
	case pl.Any:
		return 0
	case pl.Min != 0:
		return pl.Min
	}
	return pl.Prefix.Bits()
}

// MaxLen: see MinLen.
func (pl *PrefixList) MaxLen() int {
	switch {
	case pl.Any:
		return pl.Prefix.Addr().BitLen()
	case pl.Max != 0:
		return pl.Max
	case pl.Min != 0:
		return pl.Prefix.Addr().BitLen() // min alone: up to host routes, as ge alone does
	}
	return pl.Prefix.Bits()
}

// defaultRouteMapSeq is the sequence number of "route-map NAME permit|deny"
// written without one (10, as on other routers that take this syntax).
const defaultRouteMapSeq = 10

// routeMapCmd: [no] route-map NAME permit|deny [SEQ] opens an entry's block.
func (p *parser) routeMapCmd(l *line, t []token, neg bool) {
	const cmd = "route-map"
	p.block = blockSkip // until the line checks out
	n, ok := p.need(l, t, 1, cmd, "route-map name")
	if !ok {
		return
	}
	if neg && len(t) == 2 {
		p.cfg.RouteMaps = slices.DeleteFunc(p.cfg.RouteMaps, func(rm *RouteMap) bool { return rm.Name == n.text })
		return
	}
	at, ok := p.need(l, t, 2, cmd+" "+n.text, "permit or deny")
	if !ok {
		return
	}
	action, ok := p.oneOf(l, at, cmd+" "+n.text, "permit", "deny")
	if !ok {
		return
	}
	seq := uint64(defaultRouteMapSeq)
	if len(t) > 3 {
		if seq, ok = p.number(l, t[3], cmd+" "+n.text+" "+action, "sequence number", 1, 65535); !ok {
			return
		}
	}
	if !p.done(l, t, 4, cmd) {
		return
	}
	i := slices.IndexFunc(p.cfg.RouteMaps, func(rm *RouteMap) bool { return rm.Name == n.text && rm.Seq == int(seq) })
	if neg {
		if i >= 0 {
			p.cfg.RouteMaps = slices.Delete(p.cfg.RouteMaps, i, i+1)
		}
		return
	}
	var rm *RouteMap
	if i >= 0 {
		rm = p.cfg.RouteMaps[i] // entering an entry again adds to it, as on the IX
	} else {
		rm = &RouteMap{Name: n.text, Seq: int(seq), Pos: p.pos(l, t[0].col)}
		p.cfg.RouteMaps = append(p.cfg.RouteMaps, rm)
	}
	rm.Deny = action == "deny"
	openTable(p, routeMapTable, rm, func(v *Verbatim) { rm.Extra = append(rm.Extra, v) })
}

// prefixListCommand is "ip prefix-list" at the top level (cmd_global.go).
var prefixListCommand = &command[*Config]{
	words: []string{"ip", "prefix-list"}, quiet: true,
	args: []Arg{
		{Kind: ArgName, Help: "NAME"},
		{Kind: ArgKeyword, Words: []string{"seq"}, Optional: true},
		{Kind: ArgNumber, Help: "<1-4294967294>", Min: 1, Max: 4294967294, With: true},
		{Kind: ArgKeyword, Words: []string{"permit", "deny"}},
		{Kind: ArgPrefix, Help: "A.B.C.D/M|any", Words: []string{"any"}, Sample: "10.0.0.0/8"},
		{Kind: ArgKeyword, Words: []string{"min"}, Optional: true},
		{Kind: ArgNumber, Help: "<0-32>", Min: 0, Max: 32, Sample: "16", With: true},
		{Kind: ArgKeyword, Words: []string{"max"}, Optional: true},
		{Kind: ArgNumber, Help: "<0-32>", Min: 0, Max: 32, Sample: "24", With: true},
	},
	help: "prefix list for route-maps", section: "ip prefix-list",
	set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.prefixList(l, t, neg) },
	get: func(c *Config) [][]string {
		var out [][]string
		for _, pl := range c.PrefixLists {
			out = append(out, pl.words())
		}
		return out
	},
}

// routeMapCommand is "route-map NAME permit|deny SEQ" at the top level
// (cmd_global.go); it opens the block routeMapTable reads.
var routeMapCommand = &command[*Config]{
	words: []string{"route-map"},
	args: []Arg{{Kind: ArgName, Help: "NAME"}, {Kind: ArgKeyword, Words: []string{"permit", "deny"}},
		{Kind: ArgNumber, Help: "<1-65535>", Min: 1, Max: 65535, Optional: true}},
	help: "BGP route policy entry", section: "route-map", opens: routeMapTable,
	set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.routeMapCmd(l, t, neg) },
	print: func(w *printer, c *Config) {
		for _, rm := range c.RouteMaps {
			w.routeMap(rm)
		}
	},
}

// routeMapTable is the block of a route-map entry.
var routeMapTable = &table[*RouteMap]{
	name: BlockRouteMap,
	cmds: []*command[*RouteMap]{
		{
			words: []string{"match", "ip"},
			args: []Arg{{Kind: ArgKeyword, Words: []string{"address"}}, {Kind: ArgKeyword, Words: []string{"prefix-list", "access-list"}},
				{Kind: ArgName, Help: "NAME"}},
			help: "match routes by a prefix list or access list", set: (*parser).routeMapMatch,
			get: func(rm *RouteMap) [][]string {
				var out [][]string
				if rm.MatchPrefixList != "" {
					out = append(out, []string{"match ip address prefix-list", quoteWord(rm.MatchPrefixList)})
				}
				if rm.MatchAccessList != "" {
					out = append(out, []string{"match ip address access-list", quoteWord(rm.MatchAccessList)})
				}
				return out
			},
		},
		{
			words: []string{"set", "local-preference"}, args: []Arg{{Kind: ArgNumber, Help: "<0-4294967295>", Min: 0, Max: 4294967295}},
			help: "set LOCAL_PREF", set: (*parser).routeMapNumber,
			get: func(rm *RouteMap) [][]string {
				if rm.SetLocalPref == nil {
					return nil
				}
				return [][]string{{"set local-preference", fmt.Sprint(*rm.SetLocalPref)}}
			},
		},
		{
			words: []string{"set", "metric"}, args: []Arg{{Kind: ArgNumber, Help: "<0-4294967295>", Min: 0, Max: 4294967295}},
			help: "set the MED", set: (*parser).routeMapNumber,
			get: func(rm *RouteMap) [][]string {
				if rm.SetMetric == nil {
					return nil
				}
				return [][]string{{"set metric", fmt.Sprint(*rm.SetMetric)}}
			},
		},
		{
			words: []string{"set", "as-path"},
			args:  []Arg{{Kind: ArgKeyword, Words: []string{"prepend"}}, {Kind: ArgNumber, Help: "ASN...", Min: 1, Max: 4294967295}},
			help:  "prepend AS numbers", set: (*parser).routeMapPrepend,
			get: func(rm *RouteMap) [][]string {
				if len(rm.SetPrepend) == 0 {
					return nil
				}
				words := []string{"set as-path prepend"}
				for _, a := range rm.SetPrepend {
					words = append(words, fmt.Sprint(a))
				}
				return [][]string{words}
			},
		},
		{
			words: []string{"set", "community"},
			args: []Arg{{Kind: ArgWords, Help: "AA:NN...", Words: wellKnownCommunities, Sample: "65000:100"},
				{Kind: ArgKeyword, Words: []string{"additive"}, Optional: true}},
			help: "set communities", set: (*parser).routeMapCommunity,
			get: func(rm *RouteMap) [][]string {
				switch {
				case rm.CommunityNone:
					return [][]string{{"set community none"}}
				case len(rm.SetCommunity) > 0:
					words := append([]string{"set community"}, rm.SetCommunity...)
					if rm.CommunityAdditive {
						words = append(words, "additive")
					}
					return [][]string{words}
				}
				return nil
			},
		},
		{
			// Printed by the entry above.
			words: []string{"set", "community", "none"}, key: "set community",
			help: "remove all communities", set: (*parser).routeMapCommunity,
		},
	},
	unknown: func(p *parser, tb *table[*RouteMap], l *line, t []token, neg bool, rm *RouteMap) {
		w := kw(t[0])
		if w != "match" && w != "set" {
			p.unknown(l, t, 0, "route-map "+rm.Name+": ", tb.hints())
			return
		}
		if len(t) < 2 {
			p.errf(l, eol(l), "%s: missing what to %s", w, w)
			return
		}
		p.notEmulated(l, t, w+" "+kw(t[1]))
	},
}

// routeMapNumber: set local-preference N, set metric N
func (p *parser) routeMapNumber(l *line, t []token, neg bool, rm *RouteMap) {
	cmd := "set " + kw(t[1])
	dst := &rm.SetLocalPref
	if cmd == "set metric" {
		dst = &rm.SetMetric
	}
	if neg {
		*dst = nil
		return
	}
	v, ok := p.need(l, t, 2, cmd, "value")
	if !ok {
		return
	}
	n, ok := p.number(l, v, cmd, "value", 0, 4294967295)
	if !ok || !p.done(l, t, 3, cmd) {
		return
	}
	u := uint32(n)
	*dst = &u
}

// routeMapPrepend: set as-path prepend ASN...; other "set as-path" forms are kept.
func (p *parser) routeMapPrepend(l *line, t []token, neg bool, rm *RouteMap) {
	if len(t) < 3 || kw(t[2]) != "prepend" {
		p.notEmulated(l, t, "set as-path "+strings.ToLower(textAt(t, 2)))
		return
	}
	const cmd = "set as-path prepend"
	if neg {
		rm.SetPrepend = nil
		return
	}
	if _, ok := p.need(l, t, 3, cmd, "AS number"); !ok {
		return
	}
	var asns []uint32
	for _, a := range t[3:] {
		n, ok := p.asn(l, a, cmd)
		if !ok {
			return
		}
		asns = append(asns, n)
	}
	rm.SetPrepend = asns
}

func textAt(t []token, i int) string {
	if i < len(t) {
		return t[i].text
	}
	return ""
}

// routeMapMatch: match ip address prefix-list NAME | access-list NAME | NAME.
func (p *parser) routeMapMatch(l *line, t []token, neg bool, rm *RouteMap) {
	if len(t) < 3 || kw(t[2]) != "address" {
		p.notEmulated(l, t, "match ip "+strings.ToLower(textAt(t, 2)))
		return
	}
	const cmd = "match ip address"
	i, list := 3, "access-list"
	if len(t) > 3 && (kw(t[3]) == "prefix-list" || kw(t[3]) == "access-list") {
		i, list = 4, kw(t[3])
	}
	if neg {
		if list == "prefix-list" {
			rm.MatchPrefixList = ""
		} else {
			rm.MatchAccessList = ""
		}
		return
	}
	n, ok := p.need(l, t, i, cmd+" "+list, list+" name")
	if !ok || !p.done(l, t, i+1, cmd+" "+list) {
		return
	}
	if list == "prefix-list" {
		rm.MatchPrefixList = n.text
	} else {
		rm.MatchAccessList = n.text
	}
	rm.MatchPos = p.pos(l, n.col)
}

// wellKnownCommunities are the community names set community accepts.
var wellKnownCommunities = []string{"internet", "no-export", "no-advertise", "local-as"}

// routeMapCommunity: set community VALUE... [additive] | set community none.
func (p *parser) routeMapCommunity(l *line, t []token, neg bool, rm *RouteMap) {
	const cmd = "set community"
	if neg {
		rm.SetCommunity, rm.CommunityAdditive, rm.CommunityNone = nil, false, false
		return
	}
	if _, ok := p.need(l, t, 2, cmd, "community (AA:NN, a number, internet, no-export, no-advertise, local-as or none)"); !ok {
		return
	}
	if kw(t[2]) == "none" {
		if p.done(l, t, 3, cmd+" none") {
			rm.SetCommunity, rm.CommunityAdditive, rm.CommunityNone = nil, false, true
		}
		return
	}
	var vals []string
	additive := false
	for i, v := range t[2:] {
		w := kw(v)
		if w == "additive" && i == len(t)-3 && i > 0 {
			additive = true
			break
		}
		c, ok := community(w)
		if !ok {
			p.errf(l, v.col, "%s: bad community %q, expected AA:NN, a number, %s", cmd, v.text, orList(append(wellKnownCommunities, "additive at the end")))
			return
		}
		vals = append(vals, c)
	}
	rm.SetCommunity, rm.CommunityAdditive, rm.CommunityNone = vals, additive, false
}

// community checks one community and returns it in canonical form: AA:NN
// with both halves 0..65535, a 32-bit number written as AA:NN, or a
// well-known name.
func community(w string) (string, bool) {
	if slices.Contains(wellKnownCommunities, w) {
		return w, true
	}
	if hi, lo, ok := strings.Cut(w, ":"); ok {
		a, err1 := strconv.ParseUint(hi, 10, 16)
		b, err2 := strconv.ParseUint(lo, 10, 16)
		return fmt.Sprintf("%d:%d", a, b), err1 == nil && err2 == nil
	}
	n, err := strconv.ParseUint(w, 10, 32)
	return fmt.Sprintf("%d:%d", n>>16, n&0xffff), err == nil
}

// prefixList: [no] ip prefix-list NAME [seq] [N] permit|deny PREFIX|any
// [min|ge N] [max|le N]. "ge" and "le" are read as min and max.
func (p *parser) prefixList(l *line, t []token, neg bool) {
	const cmd = "ip prefix-list"
	n, ok := p.need(l, t, 2, cmd, "prefix-list name")
	if !ok {
		return
	}
	if neg && len(t) == 3 {
		p.cfg.PrefixLists = slices.DeleteFunc(p.cfg.PrefixLists, func(pl *PrefixList) bool { return pl.Name == n.text })
		return
	}
	pl := &PrefixList{Name: n.text, Pos: p.pos(l, t[0].col)}
	i := 3
	seq := i < len(t) && kw(t[i]) == "seq"
	if seq {
		i++
	}
	if i < len(t) && (seq || isDigits(t[i].text)) {
		s, ok := p.number(l, t[i], cmd+" "+n.text, "sequence number", 1, 4294967294)
		if !ok {
			return
		}
		pl.Seq = int(s)
		i++
	}
	at, ok := p.need(l, t, i, cmd+" "+n.text, "permit or deny")
	if !ok {
		return
	}
	action, ok := p.oneOf(l, at, cmd+" "+n.text, "permit", "deny")
	if !ok {
		return
	}
	pl.Deny = action == "deny"
	i++
	pt, ok := p.need(l, t, i, cmd+" "+n.text+" "+action, "prefix (A/L or any)")
	if !ok {
		return
	}
	if kw(pt) == "any" {
		pl.Any, pl.Prefix = true, netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	} else if pl.Prefix, ok = p.prefix(l, pt, cmd, false); !ok {
		return
	} else if !pl.Prefix.Addr().Is4() {
		p.errf(l, pt.col, "%s: %s is not an IPv4 prefix (ipv6 prefix-list takes IPv6 ones)", cmd, pl.Prefix)
		return
	}
	for i++; i < len(t); i++ {
		w := kw(t[i])
		dst := &pl.Min
		switch w {
		case "min", "ge":
		case "max", "le":
			dst = &pl.Max
		default:
			p.errf(l, t[i].col, "%s: unexpected %q, expected min N or max N", cmd, t[i].text)
			return
		}
		if pl.Any || *dst != 0 {
			p.errf(l, t[i].col, "%s: %q not expected here", cmd, t[i].text)
			return
		}
		i++
		v, ok := p.need(l, t, i, cmd+" "+w, "prefix length")
		if !ok {
			return
		}
		m, ok := p.number(l, v, cmd+" "+w, "prefix length", uint64(pl.Prefix.Bits()), 32)
		if !ok {
			return
		}
		*dst = int(m)
	}
	if pl.Min != 0 && pl.Max != 0 && pl.Min > pl.Max {
		p.errf(l, t[0].col, "%s: min %d is greater than max %d", cmd, pl.Min, pl.Max)
		return
	}
	same := func(o *PrefixList) bool {
		if pl.Seq != 0 || o.Seq != 0 {
			return o.Name == pl.Name && o.Seq == pl.Seq
		}
		return o.Name == pl.Name && o.Deny == pl.Deny && o.Prefix == pl.Prefix && o.Any == pl.Any && o.Min == pl.Min && o.Max == pl.Max
	}
	j := slices.IndexFunc(p.cfg.PrefixLists, same)
	switch {
	case neg && j >= 0:
		p.cfg.PrefixLists = slices.Delete(p.cfg.PrefixLists, j, j+1)
	case neg:
	case j >= 0:
		p.cfg.PrefixLists[j] = pl // a later line with the same sequence number replaces it
	default:
		p.cfg.PrefixLists = append(p.cfg.PrefixLists, pl)
	}
}

// sortPolicies orders route-map entries as they apply (by name in the order
// names first appear, then by sequence number) and prefix-list lines by
// name the same way, numbered lines by sequence number: the order Print
// writes them in.
func (c *Config) sortPolicies() {
	rank := map[string]int{}
	for _, rm := range c.RouteMaps {
		if _, ok := rank[rm.Name]; !ok {
			rank[rm.Name] = len(rank)
		}
	}
	slices.SortStableFunc(c.RouteMaps, func(a, b *RouteMap) int {
		if d := rank[a.Name] - rank[b.Name]; d != 0 {
			return d
		}
		return a.Seq - b.Seq
	})
	clear(rank)
	for _, pl := range c.PrefixLists {
		if _, ok := rank[pl.Name]; !ok {
			rank[pl.Name] = len(rank)
		}
	}
	slices.SortStableFunc(c.PrefixLists, func(a, b *PrefixList) int {
		if d := rank[a.Name] - rank[b.Name]; d != 0 {
			return d
		}
		if a.Seq != 0 && b.Seq != 0 {
			return a.Seq - b.Seq
		}
		return 0
	})
	for _, rm := range c.RouteMaps {
		if len(rm.Extra) == 0 {
			rm.Extra = nil
		}
	}
	if len(c.RouteMaps) == 0 {
		c.RouteMaps = nil
	}
	if len(c.PrefixLists) == 0 {
		c.PrefixLists = nil
	}
}

func (pl *PrefixList) words() []string {
	words := []string{"ip prefix-list", quoteWord(pl.Name)}
	if pl.Seq != 0 {
		words = append(words, fmt.Sprint(pl.Seq))
	}
	words = append(words, map[bool]string{false: "permit", true: "deny"}[pl.Deny])
	if pl.Any {
		words = append(words, "any")
	} else {
		words = append(words, pl.Prefix.String())
	}
	if pl.Min != 0 {
		words = append(words, "min", fmt.Sprint(pl.Min))
	}
	if pl.Max != 0 {
		words = append(words, "max", fmt.Sprint(pl.Max))
	}
	return words
}

func (w *printer) routeMap(rm *RouteMap) {
	w.line(0, "route-map", quoteWord(rm.Name), map[bool]string{false: "permit", true: "deny"}[rm.Deny], fmt.Sprint(rm.Seq))
	for _, l := range routeMapTable.lines(rm, "") {
		w.line(2, l.words...)
	}
	w.kept(2, rm.Extra)
	w.bang()
}

// AccessListSources reads the "ip access-list NAME permit|deny PROTO src
// SRC ..." lines of name as prefix-list lines on their source: that is
// what a route-map's "match ip address access-list NAME" compares a
// route's prefix with. SRC is "any", A/L or a host address; lines whose
// source does not parse are left out. ok is false when no line has that
// name. The typed entries (AccessLists) and the forms soft-ix keeps as
// lines (Extra) are read together, in file order, since the first match
// decides.
func (c *Config) AccessListSources(name string) (lines []*PrefixList, ok bool) {
	if a := c.AccessList(name); a != nil {
		ok = true
		for _, e := range a.Entries {
			pl := &PrefixList{Name: name, Deny: !e.Permit, Prefix: e.Src.Masked(), Pos: e.Pos}
			pl.Any = e.Src.Bits() == 0
			lines = append(lines, pl)
		}
	}
	defer func() {
		slices.SortStableFunc(lines, func(a, b *PrefixList) int { return a.Pos.Line - b.Pos.Line })
	}()
	for _, v := range c.Extra {
		t := textTokens(v.Text)
		if len(t) < 4 || kw(t[0]) != "ip" || kw(t[1]) != "access-list" || t[2].text != name {
			continue
		}
		ok = true
		w := kw(t[3])
		if w != "permit" && w != "deny" {
			continue
		}
		for i := 4; i+1 < len(t); i++ {
			if kw(t[i]) != "src" {
				continue
			}
			pl := &PrefixList{Name: name, Deny: w == "deny", Pos: v.Pos}
			src := t[i+1].text
			if kw(t[i+1]) == "any" {
				pl.Any, pl.Prefix = true, netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			} else if pf, err := netip.ParsePrefix(src); err == nil && pf.Addr().Is4() {
				pl.Prefix = pf.Masked()
			} else if a, err := netip.ParseAddr(src); err == nil && a.Is4() {
				pl.Prefix = netip.PrefixFrom(a, 32)
			} else {
				break
			}
			lines = append(lines, pl)
			break
		}
	}
	return lines, ok
}

// routeMaps checks what route-maps and neighbors refer to: every name
// must be configured. An IX would take the reference and match nothing,
// which on a BGP session silently drops every route; soft-ix refuses the
// file instead where a BGP neighbor uses the route-map, since the name
// is almost always a typo. A route-map no neighbor uses (one for policy
// routing, which soft-ix keeps without running) only gets a warning:
// nothing soft-ix runs depends on it, and IX loads such files.
func (v *validator) routeMaps() {
	c := v.c
	usedByBGP := map[string]bool{}
	if c.BGP != nil {
		for _, n := range c.BGP.Neighbors {
			usedByBGP[n.RouteMapIn], usedByBGP[n.RouteMapOut] = true, true
		}
	}
	for _, rm := range c.RouteMaps {
		report, unused := v.errf, ""
		if !usedByBGP[rm.Name] {
			report, unused = v.warnf, " (no BGP neighbor uses the route-map, so soft-ix runs nothing that depends on it)"
		}
		if rm.MatchPrefixList != "" && len(c.PrefixList(rm.MatchPrefixList)) == 0 {
			report(rm.MatchPos, "route-map %s %d: match ip address prefix-list %s: no \"ip prefix-list %s\" is configured%s", rm.Name, rm.Seq, rm.MatchPrefixList, rm.MatchPrefixList, unused)
		}
		if rm.MatchAccessList != "" {
			if _, ok := c.AccessListSources(rm.MatchAccessList); !ok {
				report(rm.MatchPos, "route-map %s %d: match ip address access-list %s: no \"ip access-list %s\" is configured%s", rm.Name, rm.Seq, rm.MatchAccessList, rm.MatchAccessList, unused)
			}
		}
		if rm.KeptMatch() {
			v.warnf(rm.Pos, "route-map %s %d: soft-ix does not evaluate its match line %q, so this entry never matches", rm.Name, rm.Seq, firstMatch(rm))
		}
		if rm.MatchPrefixList != "" && rm.MatchAccessList != "" {
			v.warnf(rm.MatchPos, "route-map %s %d: soft-ix matches the prefix-list only, not also the access-list", rm.Name, rm.Seq)
		}
		lines := c.PrefixList(rm.MatchPrefixList)
		if rm.MatchPrefixList == "" {
			lines, _ = c.AccessListSources(rm.MatchAccessList)
		}
		for i, l := range lines {
			if l.Deny && slices.ContainsFunc(lines[i+1:], func(o *PrefixList) bool { return !o.Deny }) {
				v.warnf(l.Pos, "%s: soft-ix's BGP applies the permit lines of a list a route-map matches; this deny line before them is not applied", l.Name)
				break
			}
		}
		if rm.Deny && (rm.SetLocalPref != nil || rm.SetMetric != nil || len(rm.SetPrepend) > 0 || len(rm.SetCommunity) > 0 || rm.CommunityNone) {
			v.warnf(rm.Pos, "route-map %s deny %d: set lines of a deny entry have no effect", rm.Name, rm.Seq)
		}
	}
	if c.BGP == nil {
		return
	}
	for _, n := range c.BGP.Neighbors {
		for _, r := range []struct {
			name, dir string
			pos       Pos
		}{{n.RouteMapIn, "in", n.RouteMapInPos}, {n.RouteMapOut, "out", n.RouteMapOutPos}} {
			if r.name != "" && len(c.RouteMap(r.name)) == 0 {
				v.errf(r.pos, "neighbor %s route-map %s %s: no \"route-map %s\" is configured", n.Addr, r.name, r.dir, r.name)
			}
		}
	}
}

func firstMatch(rm *RouteMap) string {
	for _, v := range rm.Extra {
		if t := textTokens(v.Text); kw(t[0]) == "match" {
			return v.Text
		}
	}
	return ""
}
