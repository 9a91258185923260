package config

import (
	"fmt"
	"net/netip"
)

// The "router bgp ASN" block. The commands of address-family ipv4 unicast
// (section "af") print inside it; "neighbor A" is followed by the words of
// neighborTable.
var bgpTable = &table[*BGP]{
	name: BlockBGP,
	cmds: []*command[*BGP]{
		{
			words: []string{"bgp", "router-id"}, args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D"}},
			help: "BGP identifier", set: func(p *parser, l *line, t []token, neg bool, b *BGP) { p.routerID(l, t, 2, neg) },
			get: func(b *BGP) [][]string {
				if !b.RouterID.IsValid() {
					return nil
				}
				return [][]string{{"bgp router-id", b.RouterID.String()}}
			},
		},
		{
			// IX also accepts router-id directly under router bgp.
			words: []string{"router-id"}, args: []Arg{{Kind: ArgIPv4, Help: "A.B.C.D"}}, key: "bgp router-id",
			help: "the same as bgp router-id", set: func(p *parser, l *line, t []token, neg bool, b *BGP) { p.routerID(l, t, 1, neg) },
		},
		{
			words: []string{"neighbor"}, args: []Arg{{Kind: ArgAddr, Help: "A.B.C.D"}}, opens: neighborTable,
			help: "a BGP neighbor (the words after the address: see the neighbor commands)", set: (*parser).neighbor,
		},
		{
			words: []string{"address-family"}, args: []Arg{{Kind: ArgKeyword, Words: []string{"ipv4"}}, {Kind: ArgKeyword, Words: []string{"unicast"}}},
			help: "IPv4 unicast routes (other families are kept)", set: (*parser).addressFamily,
		},
		{
			words: []string{"network"}, args: []Arg{{Kind: ArgPrefix, Help: "A.B.C.D/M", Sample: "192.168.2.0/24"}}, section: "af",
			help: "announce a prefix", set: (*parser).network,
			get: func(b *BGP) [][]string {
				var out [][]string
				for _, n := range b.Networks {
					out = append(out, []string{"network", n.String()})
				}
				return out
			},
		},
		{
			words: []string{"exit-address-family"}, help: "leave the address family",
			set: func(p *parser, l *line, t []token, neg bool, b *BGP) { p.inAF, p.afSkip, p.afExtra = false, false, nil },
		},
	},
	unknown: func(p *parser, tb *table[*BGP], l *line, t []token, neg bool, b *BGP) {
		if kw(t[0]) != "bgp" {
			p.unknown(l, t, 0, "router bgp: ", tb.hints())
			return
		}
		k, ok := p.need(l, t, 1, "bgp", "router-id")
		if !ok {
			return
		}
		if editDistance(kw(k), "router-id") <= 2 {
			p.errf(l, k.col, "bgp: unknown command %q, did you mean \"router-id\"?", k.text)
			return
		}
		p.notEmulated(l, t, "")
	},
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
	p.block = blockTable
	p.open = &openBlock{line: (*parser).bgpLine, keep: (*parser).keepBGP, exit: true}
}

// keepBGP stores a kept line of router bgp: directly under it, in address
// family ipv4 unicast, or as a line of another address family's block.
func (p *parser) keepBGP(v *Verbatim) {
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

// bgpLine handles a line of router bgp: "exit" and the extent of an
// address family, then the table.
func (p *parser) bgpLine(l *line) {
	neg, t := splitNo(l.toks)
	w := kw(t[0])
	if w == "exit" && !neg {
		// "exit" leaves the address-family, or router bgp itself.
		if p.inAF {
			p.inAF, p.afSkip, p.afExtra = false, false, nil
		} else {
			p.closeBlock()
		}
		return
	}
	if p.inAF && l.indent > 0 && l.indent <= p.afIndent {
		p.inAF, p.afSkip, p.afExtra = false, false, nil
	}
	if p.inAF && p.afSkip && w != "address-family" && w != "exit-address-family" {
		p.keepLine(l)
		return
	}
	bgpTable.run(p, l, t, neg, p.cfg.BGP)
}

// addressFamily: address-family ipv4 unicast; other families are kept
// with their blocks.
func (p *parser) addressFamily(l *line, t []token, neg bool, b *BGP) {
	p.inAF, p.afIndent, p.afSkip, p.afExtra = true, l.indent, false, nil
	if len(t) == 3 && kw(t[1]) == "ipv4" && kw(t[2]) == "unicast" {
		if neg {
			b.Networks = nil
			for _, n := range b.Neighbors {
				n.Activate = false
			}
			p.inAF = false
		}
		return
	}
	p.afSkip = true
	p.notEmulated(l, t, "")
}

// network: network A/L
func (p *parser) network(l *line, t []token, neg bool, b *BGP) {
	n, ok := p.need(l, t, 1, "network", "prefix")
	if !ok {
		return
	}
	pf, ok := p.prefix(l, n, "network", false)
	if !ok || !p.done(l, t, 2, "network") {
		return
	}
	if !pf.Addr().Is4() {
		p.errf(l, n.col, "network: %s is not an IPv4 prefix (address-family ipv4 unicast)", pf)
		return
	}
	for i, o := range b.Networks {
		if o == pf {
			if neg {
				b.Networks = append(b.Networks[:i], b.Networks[i+1:]...)
			}
			return
		}
	}
	if !neg {
		b.Networks = append(b.Networks, pf)
	}
}

// routerID: [bgp] router-id A, the address at t[i].
func (p *parser) routerID(l *line, t []token, i int, neg bool) {
	b := p.cfg.BGP
	cmd := "bgp router-id"
	if i == 1 {
		cmd = "router-id"
	}
	if neg {
		b.RouterID = netip.Addr{}
		return
	}
	a, ok := p.need(l, t, i, cmd, "router ID (an IPv4 address)")
	if !ok {
		return
	}
	if id, ok := p.addr(l, a, cmd, "router ID"); ok {
		if !id.Is4() {
			p.errf(l, a.col, "%s: %q is not an IPv4 address", cmd, a.text)
			return
		}
		if p.done(l, t, i+1, cmd) {
			b.RouterID = id
		}
	}
}

// neighborTable holds what follows "neighbor A" in router bgp; an entry
// reads the whole line ("neighbor A remote-as N": the value at t[3]) and
// is called with neg only for a neighbor that exists.
var neighborTable = &table[*Neighbor]{
	name: BlockNeighbor,
	cmds: []*command[*Neighbor]{
		{
			words: []string{"remote-as"}, args: []Arg{{Kind: ArgNumber, Help: "<1-4294967295>", Min: 1, Max: 4294967295}},
			help: "the neighbor's AS", set: (*parser).remoteAS,
			get: neighborLine(func(n *Neighbor) []string {
				if n.RemoteAS == 0 {
					return nil
				}
				return []string{"remote-as", fmt.Sprint(n.RemoteAS)}
			}),
		},
		{
			words: []string{"description"}, args: []Arg{{Kind: ArgText, Help: "TEXT"}},
			help: "a note on the neighbor", set: (*parser).neighborDescription,
			get: neighborLine(func(n *Neighbor) []string {
				if n.Description == "" {
					return nil
				}
				return []string{"description", quoteText(n.Description)}
			}),
		},
		{
			words: []string{"ebgp-multihop"}, args: []Arg{{Kind: ArgNumber, Help: "<1-255>", Min: 1, Max: 255, Optional: true}},
			help: "eBGP over more than one hop", set: (*parser).ebgpMultihop,
			get: neighborLine(func(n *Neighbor) []string {
				if n.EBGPMultihop == 0 {
					return nil
				}
				return []string{"ebgp-multihop", fmt.Sprint(n.EBGPMultihop)}
			}),
		},
		{
			words: []string{"timers"},
			args: []Arg{{Kind: ArgNumber, Help: "<0-65535> (keepalive)", Min: 0, Max: 65535, Sample: "10"},
				{Kind: ArgNumber, Help: "<0-65535> (hold)", Min: 0, Max: 65535, Sample: "30"}},
			help: "keepalive and hold time", set: (*parser).neighborTimers,
			get: neighborLine(func(n *Neighbor) []string {
				if n.Keepalive == 0 && n.Hold == 0 {
					return nil
				}
				return []string{"timers", secs(n.Keepalive), secs(n.Hold)}
			}),
		},
		{
			words: []string{"update-source"}, args: []Arg{{Kind: ArgInterface, Help: "INTERFACE", Sample: "Loopback0.0"}},
			help: "the interface whose address the session uses", set: (*parser).updateSource,
			get: neighborLine(func(n *Neighbor) []string {
				if n.UpdateSource == "" {
					return nil
				}
				return []string{"update-source", n.UpdateSource}
			}),
		},
		// "neighbor A advertisement-interval N" is not in the table: GoBGP
		// has no minimum advertisement interval (it takes the value and
		// never reads it), so the line is kept, not emulated.
		{
			words: []string{"connect-interval"}, args: []Arg{{Kind: ArgNumber, Help: "<0-65535>", Min: 0, Max: 65535}},
			help: "time between connection attempts", set: (*parser).connectInterval,
			get: neighborLine(func(n *Neighbor) []string {
				if n.ConnectInterval == 0 {
					return nil
				}
				return []string{"connect-interval", secs(n.ConnectInterval)}
			}),
		},
		{
			words: []string{"activate"}, section: "af", help: "exchange IPv4 unicast routes",
			set: func(p *parser, l *line, t []token, neg bool, n *Neighbor) {
				if p.done(l, t, 3, "neighbor activate") {
					n.Activate = true
				}
			},
			get: neighborLine(func(n *Neighbor) []string {
				if !n.Activate {
					return nil
				}
				return []string{"activate"}
			}),
		},
		{
			words: []string{"route-map"}, section: "af",
			args: []Arg{{Kind: ArgName, Help: "NAME"}, {Kind: ArgKeyword, Words: []string{"in", "out"}}},
			help: "apply a route-map", set: (*parser).neighborRouteMap,
			get: func(n *Neighbor) [][]string {
				var out [][]string
				if n.RouteMapIn != "" {
					out = append(out, []string{"neighbor", n.Addr.String(), "route-map", quoteWord(n.RouteMapIn), "in"})
				}
				if n.RouteMapOut != "" {
					out = append(out, []string{"neighbor", n.Addr.String(), "route-map", quoteWord(n.RouteMapOut), "out"})
				}
				return out
			},
		},
	},
	unknown: func(p *parser, tb *table[*Neighbor], l *line, t []token, neg bool, n *Neighbor) {
		sub := kw(t[2])
		for _, c := range tb.hints() {
			if editDistance(sub, c) <= 2 {
				p.errf(l, t[2].col, "neighbor: unknown command %q, did you mean %q?", t[2].text, c)
				return
			}
		}
		p.notEmulated(l, t, "neighbor "+sub)
	},
}

// neighborLine adapts a printer of "neighbor A WORDS" to an entry's get.
func neighborLine(f func(n *Neighbor) []string) func(*Neighbor) [][]string {
	return func(n *Neighbor) [][]string {
		if l := f(n); l != nil {
			return [][]string{append([]string{"neighbor", n.Addr.String()}, l...)}
		}
		return nil
	}
}

// neighbor: neighbor A WORDS..., WORDS one of neighborTable's commands.
func (p *parser) neighbor(l *line, t []token, neg bool, b *BGP) {
	at, ok := p.need(l, t, 1, "neighbor", "neighbor address")
	if !ok {
		return
	}
	a, ok := p.addr(l, at, "neighbor", "neighbor address")
	if !ok {
		return
	}
	if _, ok := p.need(l, t, 2, "neighbor", "sub-command ("+orList(neighborTable.hints())+")"); !ok {
		return
	}
	var n *Neighbor
	for _, o := range b.Neighbors {
		if o.Addr == a {
			n = o
		}
	}
	c := neighborTable.find(t[2:])
	if c == nil {
		neighborTable.unknown(p, neighborTable, l, t, neg, n)
		return
	}
	if neg && kw(t[2]) == "activate" {
		// The IX exchanges IPv4 unicast routes with a neighbor unless
		// told not to (published files rarely write "activate"); a
		// session without it is one soft-ix's speaker cannot run, so
		// the line is kept, not emulated, rather than read as nothing.
		p.notEmulated(l, t, "no neighbor activate")
		return
	}
	if neg {
		if n != nil {
			c.set(p, l, t, neg, n)
		}
		return
	}
	if n == nil {
		n = &Neighbor{Addr: a, Pos: p.pos(l, t[0].col)}
		defer func() {
			if !n.isZero() {
				b.Neighbors = append(b.Neighbors, n)
			}
		}()
	}
	c.set(p, l, t, neg, n)
}

func (n *Neighbor) isZero() bool {
	return n.RemoteAS == 0 && n.UpdateSource == "" && n.Keepalive == 0 && n.Hold == 0 &&
		n.EBGPMultihop == 0 && n.Description == "" && !n.Activate &&
		n.ConnectInterval == 0 && n.RouteMapIn == "" && n.RouteMapOut == ""
}

// remoteAS: neighbor A remote-as N; "no" removes the neighbor.
func (p *parser) remoteAS(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor remote-as"
	if neg {
		b := p.cfg.BGP
		for i, o := range b.Neighbors {
			if o == n {
				b.Neighbors = append(b.Neighbors[:i], b.Neighbors[i+1:]...)
				break
			}
		}
		return
	}
	v, ok := p.need(l, t, 3, cmd, "AS number")
	if !ok {
		return
	}
	if asn, ok := p.asn(l, v, cmd); ok && p.done(l, t, 4, cmd) {
		n.RemoteAS = asn
	}
}

func (p *parser) neighborDescription(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor description"
	if neg {
		n.Description = ""
		return
	}
	d, ok := p.need(l, t, 3, cmd, "text")
	if !ok {
		return
	}
	if n.Description = l.restText(d); n.Description == "" {
		p.errf(l, d.col, "%s: empty text", cmd)
	}
}

func (p *parser) ebgpMultihop(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor ebgp-multihop"
	if neg {
		n.EBGPMultihop = 0
		return
	}
	ttl, ok := uint64(255), true
	if len(t) > 3 {
		if ttl, ok = p.number(l, t[3], cmd, "TTL", 1, 255); !ok {
			return
		}
	}
	if p.done(l, t, 4, cmd) {
		n.EBGPMultihop = int(ttl)
	}
}

func (p *parser) neighborTimers(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor timers"
	if neg {
		n.Keepalive, n.Hold = 0, 0
		return
	}
	kt, ok := p.need(l, t, 3, cmd, "keepalive seconds")
	if !ok {
		return
	}
	ka, ok := p.number(l, kt, cmd, "keepalive", 0, 65535)
	if !ok {
		return
	}
	ht, ok := p.need(l, t, 4, cmd, "hold time seconds")
	if !ok {
		return
	}
	hold, ok := p.number(l, ht, cmd, "hold time", 0, 65535)
	if !ok {
		return
	}
	if hold != 0 && hold < 3 {
		p.errf(l, ht.col, "%s: hold time %d, expected 0 or 3 to 65535", cmd, hold)
		return
	}
	if p.done(l, t, 5, cmd) {
		n.Keepalive, n.Hold = seconds(ka), seconds(hold)
	}
}

func (p *parser) updateSource(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor update-source"
	if neg {
		n.UpdateSource = ""
		return
	}
	v, ok := p.need(l, t, 3, cmd, "interface name")
	if !ok {
		return
	}
	if fam, other := otherFamily(v.text); other {
		p.inactiveRef(l, v, fam)
		return
	}
	if name, ok := p.ifname(l, v, cmd); ok && p.done(l, t, 4, cmd) {
		n.UpdateSource, n.UpdateSourcePos = name, p.pos(l, v.col)
	}
}

// connectInterval: neighbor A connect-interval N
func (p *parser) connectInterval(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor connect-interval"
	if neg {
		n.ConnectInterval = 0
		return
	}
	v, ok := p.need(l, t, 3, cmd, "seconds")
	if !ok {
		return
	}
	d, ok := p.seconds(l, v, cmd, 0, 65535)
	if ok && p.done(l, t, 4, cmd) {
		n.ConnectInterval = d
	}
}

// neighborRouteMap: neighbor A route-map NAME in|out; "no neighbor A
// route-map [NAME] in|out" removes it.
func (p *parser) neighborRouteMap(l *line, t []token, neg bool, n *Neighbor) {
	const cmd = "neighbor route-map"
	if neg {
		switch kw(t[len(t)-1]) {
		case "in":
			n.RouteMapIn = ""
		case "out":
			n.RouteMapOut = ""
		}
		return
	}
	nt, ok := p.need(l, t, 3, cmd, "route-map name")
	if !ok {
		return
	}
	dt, ok := p.need(l, t, 4, cmd+" "+nt.text, "direction (in or out)")
	if !ok {
		return
	}
	dir, ok := p.oneOf(l, dt, cmd+" "+nt.text, "in", "out")
	if !ok || !p.done(l, t, 5, cmd) {
		return
	}
	if dir == "in" {
		n.RouteMapIn, n.RouteMapInPos = nt.text, p.pos(l, nt.col)
	} else {
		n.RouteMapOut, n.RouteMapOutPos = nt.text, p.pos(l, nt.col)
	}
}

func (w *printer) bgp(b *BGP) {
	w.line(0, "router bgp", fmt.Sprint(b.ASN))
	for _, l := range bgpTable.lines(b, "") {
		w.line(2, l.words...)
	}
	var af []keyedLine
	for _, n := range b.Neighbors {
		for _, l := range neighborTable.lines(n, "") {
			w.line(2, l.words...)
		}
		af = append(af, neighborTable.lines(n, "af")...)
	}
	w.kept(2, b.Extra)
	af = append(af, bgpTable.lines(b, "af")...)
	if len(af) > 0 || (w.all && len(b.AFExtra) > 0) {
		w.line(2, "address-family ipv4 unicast")
		for _, l := range af {
			w.line(4, l.words...)
		}
		w.kept(4, b.AFExtra)
	}
}

func (p *parser) asn(l *line, t token, cmd string) (uint32, bool) {
	n, ok := p.number(l, t, cmd, "AS number", 1, 4294967295)
	return uint32(n), ok
}
