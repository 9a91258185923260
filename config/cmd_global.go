package config

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The top level of a configuration: its commands in the order
// "show running-config" writes its sections (see printConfig), each
// section ending with "!". Block commands print their blocks themselves.
// The top-level commands of other blocks' families sit in their files
// (ip access-list in acl.go, ip prefix-list and route-map in routemap.go).
var globalTable = &table[*Config]{
	name: BlockGlobal,
	cmds: []*command[*Config]{
		{
			words: []string{"hostname"}, args: []Arg{{Kind: ArgName, Help: "NAME"}},
			help: "name of the router", section: "hostname",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.hostname(l, t, neg) },
			get: func(c *Config) [][]string {
				if c.Hostname == "" {
					return nil
				}
				return [][]string{{"hostname", quoteWord(c.Hostname)}}
			},
		},
		{
			words: []string{"ip", "route"}, quiet: true,
			args: []Arg{
				{Kind: ArgPrefix, Help: "A.B.C.D/M|default", Words: []string{"default"}, Sample: "10.0.0.0/8"},
				{Kind: ArgInterface, Help: "INTERFACE|A.B.C.D", Sample: "Tunnel0.0"},
				{Kind: ArgKeyword, Words: []string{"dhcp"}, Optional: true}, // the router of IF's DHCP lease
				{Kind: ArgKeyword, Words: []string{"distance"}, Optional: true},
				{Kind: ArgNumber, Help: "<1-255>", Min: 1, Max: 255, With: true},
				{Kind: ArgKeyword, Words: []string{"metric"}, Optional: true},
				{Kind: ArgNumber, Help: "<1-4294967295>", Min: 1, Max: 4294967295, With: true},
				{Kind: ArgKeyword, Words: []string{"tag"}, Optional: true},
				{Kind: ArgNumber, Help: "<1-4294967295>", Min: 1, Max: 4294967295, With: true},
			},
			help: "static route", section: "ip route",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.route(l, t, neg) },
			get: func(c *Config) [][]string {
				var out [][]string
				for _, r := range c.Routes {
					out = append(out, r.words())
				}
				return out
			},
		},
		dhcpEnableCommand,
		accessListCommand,
		prefixListCommand,
		{
			words: []string{"ikev2", "authentication"},
			args: []Arg{
				{Kind: ArgKeyword, Words: []string{"psk"}},
				{Kind: ArgKeyword, Words: []string{"id"}},
				{Kind: ArgKeyword, Words: []string{"ipv4", "ipv6", "fqdn", "keyid"}},
				{Kind: ArgText, Help: "IDENTITY", Sample: "192.0.2.1"},
				{Kind: ArgKeyword, Words: []string{"key"}},
				{Kind: ArgKeyword, Words: []string{"char", "hex"}},
				{Kind: ArgKey, Help: "KEY"},
			},
			help: "pre-shared key of a peer identity", section: "ikev2 authentication",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.psk(l, t, neg) },
			get: func(c *Config) [][]string {
				var out [][]string
				for _, k := range c.PSKs {
					key := "char " + quoteWord(string(k.Key))
					if k.Hex {
						key = "hex " + hex.EncodeToString(k.Key)
					}
					out = append(out, []string{"ikev2 authentication psk", idText(k.ID), "key", key})
				}
				return out
			},
		},
		{
			words: []string{"ikev2", "default-profile"}, opens: profileTable,
			help: "IKEv2 settings of tunnels without a profile", section: "ikev2 default-profile",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.defaultProfile(l, t, neg) },
			print: func(w *printer, c *Config) {
				if c.DefaultProfile != nil {
					w.line(0, "ikev2 default-profile")
					w.profile(c.DefaultProfile)
				}
			},
		},
		{
			words: []string{"ikev2", "profile"}, args: []Arg{{Kind: ArgName, Help: "NAME"}}, opens: profileTable,
			help: "named IKEv2 profile", section: "ikev2 profile",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.profileCmd(l, t, neg) },
			print: func(w *printer, c *Config) {
				for _, pr := range c.Profiles {
					w.line(0, "ikev2 profile", quoteWord(pr.Name))
					w.profile(pr)
				}
			},
		},
		dhcpProfileCommand,
		routeMapCommand,
		{
			words: []string{"router", "bgp"}, args: []Arg{{Kind: ArgNumber, Help: "<1-4294967295>", Min: 1, Max: 4294967295}},
			opens: bgpTable, help: "BGP speaker", section: "router bgp",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.routerBGP(l, t, neg) },
			print: func(w *printer, c *Config) {
				if c.BGP != nil {
					w.bgp(c.BGP)
					w.bang()
				}
			},
		},
		{
			words: []string{"interface"}, args: []Arg{{Kind: ArgInterface, Help: "INTERFACE", Sample: "GigaEthernet0.0"}},
			opens: interfaceTable, help: "interface settings", section: "interfaces",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.interfaceCmd(l, t, neg) },
			print: func(w *printer, c *Config) {
				for _, ifc := range c.Interfaces {
					w.iface(ifc)
					w.bang()
					w.extras("interface " + ifc.Name)
				}
			},
		},
		{
			words: []string{"device"}, quiet: true, help: "physical port settings (not emulated)",
			set: func(p *parser, l *line, t []token, neg bool, c *Config) { p.notEmulated(l, t, "device") },
		},
		// What a CLI session types to leave config mode; nothing to do.
		{words: []string{"end"}, quiet: true, set: func(*parser, *line, []token, bool, *Config) {}},
		{words: []string{"exit"}, quiet: true, set: func(*parser, *line, []token, bool, *Config) {}},
	},
	unknown: func(p *parser, tb *table[*Config], l *line, t []token, neg bool, c *Config) {
		switch kw(t[0]) {
		case "ikev2":
			if _, ok := p.need(l, t, 1, "ikev2", "sub-command (authentication, default-profile or profile)"); !ok {
				return
			}
			p.unknown(l, t, 1, "ikev2: ", tb.hints("ikev2"))
		case "ip":
			if len(t) > 1 && kw(t[1]) != "router" && !topLevelPairs["ip "+kw(t[1])] && editDistance(kw(t[1]), "route") <= 1 {
				p.errf(l, t[1].col, "unknown command \"ip %s\", did you mean \"ip route\"?", t[1].text)
				return
			}
			p.notEmulated(l, t, "")
			return
		case "router":
			p.notEmulated(l, t, "")
			return
		default:
			p.unknown(l, t, 0, "", tb.hints())
		}
		if p.extra == nil {
			p.block = blockSkip // a typo: its block is skipped
		}
	},
}

// printGlobal writes the sections of the top level in table order, each
// followed by the kept commands anchored to it.
func (w *printer) printGlobal(c *Config) {
	w.extras("")
	cmds := globalTable.cmds
	for i := 0; i < len(cmds); {
		sec := cmds[i].section
		j := i
		for j < len(cmds) && cmds[j].section == sec {
			j++
		}
		if sec != "" {
			w.section(c, cmds[i:j])
			w.extras(sec)
		}
		i = j
	}
}

// section writes the commands of one section: their lines, then "!" when
// there were any, and the blocks they open.
func (w *printer) section(c *Config, cmds []*command[*Config]) {
	n := 0
	for _, cmd := range cmds {
		if cmd.get == nil {
			continue
		}
		for _, ws := range cmd.get(c) {
			w.line(0, ws...)
			n++
		}
	}
	if n > 0 {
		w.bang()
	}
	for _, cmd := range cmds {
		if cmd.print != nil {
			cmd.print(w, c)
		}
	}
}

// globalSections lists the top-level sections in print order, and tells
// whether the i-th prints anything for c (asked for a few only: it prints
// the section to find out).
func globalSections(c *Config) (names []string, printed func(i int) bool) {
	names = []string{""}
	var cmds [][]*command[*Config] // the commands of each section
	all := globalTable.cmds
	cmds = append(cmds, nil)
	for i := 0; i < len(all); {
		sec := all[i].section
		j := i
		for j < len(all) && all[j].section == sec {
			j++
		}
		switch sec {
		case "":
		case "interfaces":
			for _, ifc := range c.Interfaces {
				names, cmds = append(names, "interface "+ifc.Name), append(cmds, nil)
			}
			names, cmds = append(names, sec), append(cmds, nil)
		default:
			names, cmds = append(names, sec), append(cmds, all[i:j])
		}
		i = j
	}
	known := make([]int8, len(names)) // 0 not asked yet, 1 prints, -1 does not
	return names, func(i int) bool {
		if cmds[i] == nil {
			return true // the top, each interface, the end
		}
		if known[i] == 0 {
			w := printer{c: c}
			w.section(c, cmds[i])
			known[i] = -1
			if w.Len() > 0 {
				known[i] = 1
			}
		}
		return known[i] > 0
	}
}

func (r *Route) words() []string {
	dst := r.Prefix.String()
	if r.Prefix.Bits() == 0 && r.Prefix.Addr().Is4() {
		dst = "default"
	}
	words := []string{"ip route", dst}
	if r.NextHop.IsValid() {
		words = append(words, r.NextHop.String())
	}
	if r.Interface != "" {
		words = append(words, r.Interface)
	}
	if r.DHCP {
		words = append(words, "dhcp")
	}
	if r.Distance != 0 {
		words = append(words, "distance", fmt.Sprint(r.Distance))
	}
	if r.Metric != 0 {
		words = append(words, "metric", fmt.Sprint(r.Metric))
	}
	if r.Tag != 0 {
		words = append(words, "tag", fmt.Sprint(r.Tag))
	}
	return words
}

func (p *parser) hostname(l *line, t []token, neg bool) {
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
	p.block, p.iface = blockTable, ifc
	p.open = &openBlock{
		line: (*parser).interfaceLine,
		keep: func(p *parser, v *Verbatim) {
			v.After = p.ifAnchor
			ifc.Extra = append(ifc.Extra, v)
		},
	}
	p.topAnchor = "interface " + name
}

// defaultProfile: ikev2 default-profile opens the default profile's block.
func (p *parser) defaultProfile(l *line, t []token, neg bool) {
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
	pr := p.cfg.DefaultProfile
	openTable(p, profileTable, profileIn{pr: pr}, func(v *Verbatim) { pr.Extra = append(pr.Extra, v) })
}

// profileCmd: ikev2 profile NAME opens a named profile's block.
func (p *parser) profileCmd(l *line, t []token, neg bool) {
	p.block = blockSkip
	name, ok := p.profileName(l, t, 2, "ikev2 profile")
	if !ok {
		return
	}
	if neg {
		for i, pr := range p.cfg.Profiles {
			if pr.Name == name {
				p.cfg.Profiles = append(p.cfg.Profiles[:i], p.cfg.Profiles[i+1:]...)
				break
			}
		}
		return
	}
	pr := p.cfg.Profile(name)
	if pr == nil {
		pr = &Profile{Name: name, Pos: p.pos(l, t[0].col)}
		p.cfg.Profiles = append(p.cfg.Profiles, pr)
	}
	openTable(p, profileTable, profileIn{pr: pr}, func(v *Verbatim) { pr.Extra = append(pr.Extra, v) })
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

// routeNumber reads the value of an ip route keyword taking 1 to
// 4294967295 ("metric N", "tag N") from t[i].
func (p *parser) routeNumber(l *line, t []token, i int, name string) (uint32, bool) {
	const cmd = "ip route"
	v, ok := p.need(l, t, i, cmd+" "+name, name)
	if !ok {
		return 0, false
	}
	n, ok := p.number(l, v, cmd+" "+name, name, 1, 4294967295)
	return uint32(n), ok
}

// route: ip route PREFIX|default GATEWAY [GATEWAY] [dhcp] [[distance] N] [metric N] [tag N],
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
		case w == "metric" && r.Metric == 0:
			i++
			if r.Metric, ok = p.routeNumber(l, t, i, "metric"); !ok {
				return
			}
		case w == "tag" && r.Tag == 0:
			i++
			if r.Tag, ok = p.routeNumber(l, t, i, "tag"); !ok {
				return
			}
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
			p.errf(l, t[i].col, "%s: unexpected %q, expected dhcp, a distance, metric N or tag N", cmd, t[i].text)
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
