package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The "interface NAME" block, in the order IX prints it. The ikev2
// commands of a Tunnel interface are in cmd_tunnel.go; ip filter and the ip
// napt forwards in acl.go; ip dhcp binding in dhcp.go.
var interfaceTable = &table[*Interface]{
	name: BlockInterface,
	cmds: slices.Concat([]*command[*Interface]{
		{
			words: []string{"description"}, args: []Arg{{Kind: ArgText, Help: "TEXT"}},
			help: "a note on the interface", set: (*parser).description,
			get: func(ifc *Interface) [][]string {
				if ifc.Description == "" {
					return nil
				}
				return [][]string{{"description", quoteText(ifc.Description)}}
			},
		},
		{
			words: []string{"tunnel", "mode"}, args: []Arg{{Kind: ArgKeyword, Words: []string{"ipsec-ikev2"}}},
			help: "tunnel protocol (Tunnel interfaces)", set: (*parser).tunnelMode,
			get: tunnelLine(func(t *Tunnel) []string {
				if t.Mode == "" {
					return nil
				}
				return []string{"tunnel mode", t.Mode}
			}),
		},
		{
			words: []string{"ip", "address"},
			args: []Arg{{Kind: ArgHostPrefix, Help: "A.B.C.D/M|dhcp", Words: []string{"dhcp"}},
				{Kind: ArgKeyword, Words: []string{"receive-default"}, Optional: true}},
			help: "the interface's address", set: (*parser).ipAddress,
			get: func(ifc *Interface) [][]string {
				switch {
				case ifc.DHCP && ifc.DHCPReceiveDefault:
					return [][]string{{"ip address dhcp receive-default"}}
				case ifc.DHCP:
					return [][]string{{"ip address dhcp"}}
				case ifc.Address.IsValid():
					return [][]string{{"ip address", ifc.Address.String()}}
				case ifc.Unnumbered == "" && ifc.Kind != KindTunnel && !ifc.keptAddress():
					// As IX prints it, Loopback0.0 and Null0.0 too; not
					// for a PPPoE WAN ("ip address ipcp", kept verbatim),
					// where its own address command stands.
					return [][]string{{"no ip address"}}
				}
				return nil
			},
		},
		{
			words: []string{"ip", "unnumbered"}, key: "ip address", args: []Arg{{Kind: ArgInterface, Help: "INTERFACE", Sample: "Loopback0.0"}},
			help: "borrow another interface's address", set: (*parser).ipUnnumbered,
			get: func(ifc *Interface) [][]string {
				if ifc.Unnumbered == "" || ifc.DHCP || ifc.Address.IsValid() {
					return nil
				}
				return [][]string{{"ip unnumbered", ifc.Unnumbered}}
			},
		},
		{
			words: []string{"ip", "mtu"}, args: []Arg{{Kind: ArgNumber, Help: "<68-1500>", Min: 68, Max: 1500}},
			help: "IP MTU", set: (*parser).ipMTU,
			get: func(ifc *Interface) [][]string {
				if ifc.MTU == 0 {
					return nil
				}
				return [][]string{{"ip mtu", fmt.Sprint(ifc.MTU)}}
			},
		},
		{
			words: []string{"ip", "tcp"}, key: "ip tcp adjust-mss",
			args: []Arg{{Kind: ArgKeyword, Words: []string{"adjust-mss"}}, {Kind: ArgNumber, Help: "<536-1460>|auto", Words: []string{"auto"}, Min: 536, Max: 1460}},
			help: "clamp the TCP MSS (Tunnel interfaces)", set: (*parser).adjustMSS,
			get: func(ifc *Interface) [][]string {
				switch {
				case ifc.AdjustMSS == MSSAuto:
					return [][]string{{"ip tcp adjust-mss auto"}}
				case ifc.AdjustMSS != 0:
					return [][]string{{"ip tcp adjust-mss", fmt.Sprint(ifc.AdjustMSS)}}
				}
				return nil
			},
		},
		naptCommand,
		filterCommand,
		dhcpBindingCommand,
	}, tunnelCommands(), []*command[*Interface]{
		{
			words: []string{"shutdown"}, help: "take the interface down", set: (*parser).shutdown,
			get: func(ifc *Interface) [][]string {
				switch {
				case ifc.Shutdown:
					return [][]string{{"shutdown"}}
				case ifc.Kind == KindGigaEthernet || ifc.Kind == KindTunnel:
					return [][]string{{"no shutdown"}}
				}
				return nil
			},
		},
	}),
	unknown: func(p *parser, tb *table[*Interface], l *line, t []token, neg bool, ifc *Interface) {
		switch kw(t[0]) {
		case "ip":
			w, ok := p.need(l, t, 1, "ip", "sub-command")
			if !ok {
				return
			}
			if editDistance(kw(w), "address") <= 2 || editDistance(kw(w), "unnumbered") <= 2 {
				p.errf(l, w.col, "ip: unknown command %q, expected address, unnumbered, mtu or tcp adjust-mss", w.text)
				return
			}
			p.notEmulated(l, t, "")
		case "tunnel":
			if w, ok := p.need(l, t, 1, "tunnel", "mode"); ok {
				p.notEmulated(l, t, "tunnel "+kw(w))
			}
		case "ikev2":
			if _, ok := p.need(l, t, 1, "ikev2", "sub-command"); ok {
				p.unknown(l, t, 1, "interface "+ifc.Name+": ikev2: ", tb.hints("ikev2"))
			}
		default:
			p.unknown(l, t, 0, "interface "+ifc.Name+": ", tb.hints())
		}
	},
}

// interfaceLine handles a line of an interface block and notes, for the
// lines kept after it, which command it was.
func (p *parser) interfaceLine(l *line) {
	ifc := p.iface
	neg, t := splitNo(l.toks)
	if w := kw(t[0]); (w == "tunnel" || w == "ikev2") && ifc.Kind != KindTunnel {
		p.errf(l, t[0].col, "interface %s: %q commands apply only to Tunnel interfaces", ifc.Name, w)
		return
	}
	c := interfaceTable.run(p, l, t, neg, ifc)
	if !p.kept[l.num] {
		p.ifAnchor = ""
		if c != nil {
			p.ifAnchor = c.keyOfTokens(t)
		}
	}
}

func (p *parser) description(l *line, t []token, neg bool, ifc *Interface) {
	if neg {
		ifc.Description = ""
		return
	}
	if d, ok := p.need(l, t, 1, "description", "text"); ok {
		ifc.Description = l.restText(d)
		if ifc.Description == "" {
			p.errf(l, d.col, "description: empty text")
		}
	}
}

func (p *parser) shutdown(l *line, t []token, neg bool, ifc *Interface) {
	if p.done(l, t, 1, "shutdown") {
		ifc.Shutdown = !neg
	}
}

// tunnelMode: tunnel mode MODE...
func (p *parser) tunnelMode(l *line, t []token, neg bool, ifc *Interface) {
	if neg {
		ifc.Tunnel.Mode = ""
		return
	}
	m, ok := p.need(l, t, 2, "tunnel mode", "mode (ipsec-ikev2)")
	if !ok {
		return
	}
	var words []string
	for _, x := range t[2:] {
		if x.quoted {
			p.errf(l, x.col, "tunnel mode: unexpected quoted word, expected a mode such as ipsec-ikev2")
			return
		}
		words = append(words, kw(x))
	}
	mode := strings.Join(words, " ")
	if mode != "ipsec-ikev2" {
		if editDistance(mode, "ipsec-ikev2") <= 2 {
			p.errf(l, m.col, "tunnel mode: unknown mode %q, did you mean \"ipsec-ikev2\"?", m.text)
			return
		}
		p.warnf(l, m.col, "tunnel mode %q is not emulated by soft-ix (only ipsec-ikev2); %s stays down", mode, ifc.Name)
	}
	ifc.Tunnel.Mode, ifc.Tunnel.ModePos = mode, p.pos(l, m.col)
}

// ipAddress: ip address A/L | dhcp [receive-default]; "secondary"
// addresses and the other keyword forms IX has ("ipcp" on PPP, "map-e"
// on a MAP-E tunnel, ...) are kept; a keyword within two edits of "dhcp"
// is taken for a typo.
func (p *parser) ipAddress(l *line, t []token, neg bool, ifc *Interface) {
	if neg {
		ifc.Address, ifc.DHCP, ifc.DHCPReceiveDefault = netip.Prefix{}, false, false
		return
	}
	a, ok := p.need(l, t, 2, "ip address", "address (A/L or dhcp)")
	if !ok {
		return
	}
	switch kw(a) {
	case "dhcp":
		recv := false
		if len(t) > 3 {
			if _, ok := p.oneOf(l, t[3], "ip address dhcp", "receive-default"); !ok {
				return
			}
			recv = true
		}
		if !p.done(l, t, 4, "ip address dhcp") {
			return
		}
		ifc.Address, ifc.Unnumbered = netip.Prefix{}, ""
		ifc.DHCP, ifc.DHCPReceiveDefault = true, recv
	default:
		if isKeyword(a) {
			if editDistance(kw(a), "dhcp") <= 2 && kw(a) != "ipcp" {
				p.errf(l, a.col, "ip address: unknown form %q, did you mean \"dhcp\"?", a.text)
				return
			}
			p.notEmulated(l, t, "ip address "+kw(a))
			return
		}
		pf, err := netip.ParsePrefix(a.text)
		if err != nil || pf.Addr().Zone() != "" {
			p.errf(l, a.col, "ip address: bad address %q, expected ADDRESS/LENGTH (e.g. 169.254.0.1/30) or dhcp", a.text)
			return
		}
		if len(t) > 3 && kw(t[3]) == "secondary" {
			p.notEmulated(l, t, "ip address secondary")
			return
		}
		if !p.done(l, t, 3, "ip address") {
			return
		}
		if pf.Addr().Is4() && pf.Bits() < 31 {
			if pf.Addr() == pf.Masked().Addr() {
				p.errf(l, a.col, "ip address: %s is the network address of its subnet, expected a host address", pf)
				return
			}
			if pf.Addr() == lastAddr(pf) {
				p.errf(l, a.col, "ip address: %s is the broadcast address of its subnet, expected a host address", pf)
				return
			}
		}
		ifc.Address, ifc.DHCP, ifc.DHCPReceiveDefault, ifc.Unnumbered = pf, false, false, ""
	}
}

// ipUnnumbered: ip unnumbered IF
func (p *parser) ipUnnumbered(l *line, t []token, neg bool, ifc *Interface) {
	if neg {
		ifc.Unnumbered = ""
		return
	}
	n, ok := p.need(l, t, 2, "ip unnumbered", "interface name")
	if !ok {
		return
	}
	if fam, other := otherFamily(n.text); other {
		p.inactiveRef(l, n, fam)
		return
	}
	name, ok := p.ifname(l, n, "ip unnumbered")
	if !ok || !p.done(l, t, 3, "ip unnumbered") {
		return
	}
	ifc.Unnumbered, ifc.UnnumberedPos = name, p.pos(l, n.col)
	ifc.Address, ifc.DHCP, ifc.DHCPReceiveDefault = netip.Prefix{}, false, false
}

func (p *parser) ipMTU(l *line, t []token, neg bool, ifc *Interface) {
	if neg {
		ifc.MTU = 0
		return
	}
	n, ok := p.need(l, t, 2, "ip mtu", "MTU")
	if !ok {
		return
	}
	if v, ok := p.number(l, n, "ip mtu", "MTU", 68, 1500); ok && p.done(l, t, 3, "ip mtu") {
		ifc.MTU = int(v)
	}
}

// adjustMSS: ip tcp adjust-mss auto|N on a Tunnel interface; on other
// interfaces, and other "ip tcp" commands, are kept.
func (p *parser) adjustMSS(l *line, t []token, neg bool, ifc *Interface) {
	a, ok := p.need(l, t, 2, "ip tcp", "adjust-mss")
	if !ok {
		return
	}
	if kw(a) != "adjust-mss" {
		p.notEmulated(l, t, "ip tcp "+kw(a))
		return
	}
	if ifc.Kind != KindTunnel {
		// soft-ix clamps the MSS in package esp, which only tunnel
		// traffic passes; a GigaEthernet's (a PPPoE WAN's, mostly)
		// forwarded TCP is never clamped.
		p.notEmulated(l, t, "ip tcp adjust-mss (outside a Tunnel interface)")
		return
	}
	if neg {
		ifc.AdjustMSS = 0
		return
	}
	v, ok := p.need(l, t, 3, "ip tcp adjust-mss", "auto or an MSS value")
	if !ok {
		return
	}
	if kw(v) == "auto" {
		if p.done(l, t, 4, "ip tcp adjust-mss") {
			ifc.AdjustMSS = MSSAuto
		}
		return
	}
	n, ok := p.number(l, v, "ip tcp adjust-mss", "MSS (or auto)", 536, 1460)
	if ok && p.done(l, t, 4, "ip tcp adjust-mss") {
		ifc.AdjustMSS = int(n)
	}
}

// keptAddress reports a kept line that gives the interface its address
// ("ip address ipcp" on a PPPoE WAN, an unnumbered reference soft-ix does
// not model).
func (ifc *Interface) keptAddress() bool {
	for _, v := range ifc.Extra {
		t := textTokens(v.Text)
		if len(t) > 1 && kw(t[0]) == "ip" && (kw(t[1]) == "address" || kw(t[1]) == "unnumbered") {
			return true
		}
	}
	return false
}

// lastAddr is the highest address of an IPv4 prefix.
func lastAddr(pf netip.Prefix) netip.Addr {
	b := pf.Masked().Addr().As4()
	host := uint32(1)<<(32-pf.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// isKeyword reports a word that names a form rather than giving a value:
// it starts with a letter and holds no ':' (an IPv6 address such as
// fe80::1 starts with one too) or '/'.
func isKeyword(t token) bool {
	c := t.text[0] | 0x20
	return !t.quoted && c >= 'a' && c <= 'z' && !strings.ContainsAny(t.text, ":/")
}
