package config

import (
	"net/netip"
	"slices"
)

// The "ikev2 ..." commands of a Tunnel interface, part of the interface
// block (cmd_interface.go), in the order IX prints them: alphabetical, the
// peer last. Most of them are the profile's commands as per-tunnel
// overrides (overrideCommand); sa-lifetime, dpd and source-address have
// fields of their own in Tunnel.
func tunnelCommands() []*command[*Interface] {
	cmds := []*command[*Interface]{
		{
			words: []string{"ikev2", "binding"}, args: []Arg{{Kind: ArgName, Help: "PROFILE"}},
			help: "the ikev2 profile the tunnel uses", set: (*parser).tunnelBinding,
			get: func(ifc *Interface) [][]string {
				if ifc.Tunnel == nil || ifc.Tunnel.Profile == "" {
					return nil
				}
				return [][]string{{"ikev2 binding", quoteWord(ifc.Tunnel.Profile)}}
			},
		},
		{
			// The AWS generator writes "ikev2 profile NAME"; printed as binding.
			words: []string{"ikev2", "profile"}, args: []Arg{{Kind: ArgName, Help: "PROFILE"}}, key: "ikev2 binding",
			help: "the same as ikev2 binding", set: (*parser).tunnelBinding,
		},
		{
			words: []string{"ikev2", "connect-type"}, args: []Arg{{Kind: ArgKeyword, Words: []string{"auto"}}},
			help: "negotiate without waiting for traffic", set: (*parser).connectType,
			get: tunnelLine(func(t *Tunnel) []string {
				if !t.ConnectAuto {
					return nil
				}
				return []string{"ikev2 connect-type auto"}
			}),
		},
		{
			words: []string{"ikev2", "dpd"}, keyArgs: 1,
			args: []Arg{{Kind: ArgKeyword, Words: []string{"interval"}}, {Kind: ArgNumber, Help: "<1-3600>", Min: 1, Max: 3600}},
			help: "dead peer detection", set: (*parser).tunnelDPD,
			get: tunnelLine(func(t *Tunnel) []string {
				if t.DPDInterval == 0 {
					return nil
				}
				return []string{"ikev2 dpd interval", secs(t.DPDInterval)}
			}),
		},
		{
			words: []string{"ikev2", "ipsec"}, keyArgs: 1, args: []Arg{{Kind: ArgKeyword, Words: []string{"pre-fragment"}}},
			help: "fragment before encryption", set: (*parser).preFragment,
			get: tunnelLine(func(t *Tunnel) []string {
				if !t.PreFragment {
					return nil
				}
				return []string{"ikev2 ipsec pre-fragment"}
			}),
		},
		{
			words: []string{"ikev2", "nat-traversal"}, keyArgs: 1,
			args: []Arg{{Kind: ArgKeyword, Words: []string{"keepalive"}}, {Kind: ArgNumber, Help: "<1-3600>", Min: 1, Max: 3600},
				{Kind: ArgKeyword, Words: []string{"force"}, Optional: true}},
			help: "NAT keepalives", set: (*parser).natTraversal,
			get: tunnelLine(func(t *Tunnel) []string {
				if t.NATKeepalive == 0 {
					return nil
				}
				l := []string{"ikev2 nat-traversal keepalive", secs(t.NATKeepalive)}
				if t.NATKeepaliveForce {
					l = append(l, "force")
				}
				return l
			}),
		},
		{
			words: []string{"ikev2", "negotiation-direction"}, args: []Arg{{Kind: ArgKeyword, Words: []string{"initiator", "responder", "both"}}},
			help: "who starts the negotiation", set: (*parser).negotiationDirection,
			get: tunnelLine(func(t *Tunnel) []string {
				if t.NegotiationDirection == "" {
					return nil
				}
				return []string{"ikev2 negotiation-direction", t.NegotiationDirection}
			}),
		},
		{
			words: []string{"ikev2", "outgoing-interface"},
			args: []Arg{{Kind: ArgInterface, Help: "INTERFACE", Sample: "GigaEthernet0.0"},
				{Kind: ArgAddr, Help: "NEXTHOP|auto", Words: []string{"auto"}, Optional: true, Sample: "192.0.2.1"}},
			help: "the interface (and next hop) IKE and ESP leave by", set: (*parser).outgoingInterface,
			get: tunnelLine(func(t *Tunnel) []string {
				if t.OutgoingInterface == "" {
					return nil
				}
				l := []string{"ikev2 outgoing-interface", t.OutgoingInterface}
				if t.OutgoingAuto {
					l = append(l, "auto")
				}
				if t.OutgoingNextHop.IsValid() {
					l = append(l, t.OutgoingNextHop.String())
				}
				return l
			}),
		},
		{
			words: []string{"ikev2", "sa-lifetime"}, args: []Arg{lifetimeArg},
			help: "IKE SA lifetime", set: (*parser).tunnelSALifetime,
			get: tunnelLine(func(t *Tunnel) []string {
				if t.SALifetime == 0 {
					return nil
				}
				return []string{"ikev2 sa-lifetime", secs(t.SALifetime)}
			}),
		},
		{
			words: []string{"ikev2", "source-address"}, args: []Arg{{Kind: ArgInterface, Help: "INTERFACE|A.B.C.D", Sample: "GigaEthernet0.0"}},
			help: "local IKE address", set: (*parser).tunnelSource,
			get: tunnelLine(func(t *Tunnel) []string {
				if s := sourceText(t.SourceAddress, t.SourceInterface); s != "" {
					return []string{"ikev2 source-address", s}
				}
				return nil
			}),
		},
	}
	for _, c := range profileTable.cmds {
		switch c.words[0] {
		case "sa-lifetime", "dpd", "source-address":
		default:
			cmds = append(cmds, overrideCommand(c))
		}
	}
	slices.SortStableFunc(cmds, func(a, b *command[*Interface]) int {
		if a.words[1] < b.words[1] {
			return -1
		}
		if a.words[1] > b.words[1] {
			return 1
		}
		return 0
	})
	return append(cmds, &command[*Interface]{
		words: []string{"ikev2", "peer"},
		args: append([]Arg{{Kind: ArgAddr, Help: "A.B.C.D|any", Words: []string{"any"}, Sample: "198.51.100.6"},
			{Kind: ArgKeyword, Words: []string{"authentication"}}, {Kind: ArgKeyword, Words: []string{"psk"}}},
			optionalArgs(idArgs)...),
		help: "the IKE peer", set: (*parser).tunnelPeer,
		get: tunnelLine(func(t *Tunnel) []string {
			if !t.Peer.IsValid() && !t.PeerAny {
				return nil
			}
			peer := "any"
			if t.Peer.IsValid() {
				peer = t.Peer.String()
			}
			l := []string{"ikev2 peer", peer, "authentication psk"}
			if t.PeerID != (Identity{}) {
				l = append(l, idText(t.PeerID))
			}
			return l
		}),
	})
}

// optionalArgs makes args an optional group: the command may end before
// them, and they come together.
func optionalArgs(args []Arg) []Arg {
	out := slices.Clone(args)
	out[0].Optional = true
	for i := range out[1:] {
		out[i+1].With = true
	}
	return out
}

// tunnelLine adapts a one-line printer of a Tunnel's field to an entry's get.
func tunnelLine(f func(t *Tunnel) []string) func(*Interface) [][]string {
	return func(ifc *Interface) [][]string {
		if ifc.Tunnel == nil {
			return nil
		}
		if l := f(ifc.Tunnel); l != nil {
			return [][]string{l}
		}
		return nil
	}
}

// overrideCommand makes a profile command a per-tunnel override: "ikev2 "
// before it, the values in Tunnel.Override.
func overrideCommand(c *command[profileIn]) *command[*Interface] {
	return &command[*Interface]{
		words: append([]string{"ikev2"}, c.words...), args: c.args, keyArgs: c.keyArgs,
		help: c.help + " (this tunnel)",
		set: func(p *parser, l *line, t []token, neg bool, ifc *Interface) {
			tun := ifc.Tunnel
			if tun.Override == nil {
				tun.Override = &Profile{Pos: p.pos(l, t[0].col)}
			}
			c.set(p, l, t[1:], neg, profileIn{tun.Override, "ikev2 "})
		},
		get: func(ifc *Interface) [][]string {
			if ifc.Tunnel == nil || ifc.Tunnel.Override == nil {
				return nil
			}
			var out [][]string
			for _, l := range c.get(profileIn{pr: ifc.Tunnel.Override}) {
				out = append(out, append([]string{"ikev2"}, l...))
			}
			return out
		},
	}
}

// tunnelBinding: ikev2 binding NAME, ikev2 profile NAME
func (p *parser) tunnelBinding(l *line, t []token, neg bool, ifc *Interface) {
	tun := ifc.Tunnel
	cmd := "ikev2 " + kw(t[1])
	if neg {
		tun.Profile = ""
		return
	}
	n, ok := p.need(l, t, 2, cmd, "profile name")
	if ok && n.text == "" {
		p.errf(l, n.col, "%s: empty profile name", cmd)
		return
	}
	if ok && p.done(l, t, 3, cmd) {
		tun.Profile, tun.ProfilePos = n.text, p.pos(l, n.col)
	}
}

func (p *parser) connectType(l *line, t []token, neg bool, ifc *Interface) {
	tun := ifc.Tunnel
	if neg {
		tun.ConnectAuto = false
		return
	}
	v, ok := p.need(l, t, 2, "ikev2 connect-type", "auto")
	if !ok {
		return
	}
	if _, ok := p.oneOf(l, v, "ikev2 connect-type", "auto"); ok && p.done(l, t, 3, "ikev2 connect-type") {
		tun.ConnectAuto = true
	}
}

func (p *parser) tunnelDPD(l *line, t []token, neg bool, ifc *Interface) {
	tmp := Profile{DPDInterval: ifc.Tunnel.DPDInterval}
	p.dpd(l, t[1:], neg, profileIn{&tmp, "ikev2 "})
	ifc.Tunnel.DPDInterval = tmp.DPDInterval
}

// preFragment: ikev2 ipsec pre-fragment; other "ikev2 ipsec" commands are kept.
func (p *parser) preFragment(l *line, t []token, neg bool, ifc *Interface) {
	v, ok := p.need(l, t, 2, "ikev2 ipsec", "pre-fragment")
	if !ok {
		return
	}
	if kw(v) != "pre-fragment" {
		p.notEmulated(l, t, "ikev2 ipsec "+kw(v))
		return
	}
	if p.done(l, t, 3, "ikev2 ipsec pre-fragment") {
		ifc.Tunnel.PreFragment = !neg
	}
}

// natTraversal: ikev2 nat-traversal keepalive SECONDS [force]
func (p *parser) natTraversal(l *line, t []token, neg bool, ifc *Interface) {
	const cmd = "ikev2 nat-traversal"
	tun := ifc.Tunnel
	v, ok := p.need(l, t, 2, cmd, "keepalive")
	if !ok {
		return
	}
	if _, ok := p.oneOf(l, v, cmd, "keepalive"); !ok {
		return
	}
	if neg {
		tun.NATKeepalive, tun.NATKeepaliveForce = 0, false
		return
	}
	n, ok := p.need(l, t, 3, cmd+" keepalive", "interval in seconds")
	if !ok {
		return
	}
	d, ok := p.seconds(l, n, cmd+" keepalive", 1, 3600)
	if !ok {
		return
	}
	force := false
	if len(t) > 4 {
		if _, ok := p.oneOf(l, t[4], cmd+" keepalive", "force"); !ok {
			return
		}
		force = true
	}
	if p.done(l, t, 5, cmd) {
		tun.NATKeepalive, tun.NATKeepaliveForce = d, force
	}
}

func (p *parser) negotiationDirection(l *line, t []token, neg bool, ifc *Interface) {
	tun := ifc.Tunnel
	if neg {
		tun.NegotiationDirection = ""
		return
	}
	v, ok := p.need(l, t, 2, "ikev2 negotiation-direction", "initiator, responder or both")
	if !ok {
		return
	}
	if d, ok := p.oneOf(l, v, "ikev2 negotiation-direction", "initiator", "responder", "both"); ok && p.done(l, t, 3, "ikev2 negotiation-direction") {
		tun.NegotiationDirection = d
	}
}

// outgoingInterface: ikev2 outgoing-interface IF [NEXTHOP|auto]
func (p *parser) outgoingInterface(l *line, t []token, neg bool, ifc *Interface) {
	const cmd = "ikev2 outgoing-interface"
	tun := ifc.Tunnel
	if neg {
		tun.OutgoingInterface, tun.OutgoingAuto, tun.OutgoingNextHop = "", false, netip.Addr{}
		return
	}
	n, ok := p.need(l, t, 2, cmd, "interface name")
	if !ok {
		return
	}
	if fam, other := otherFamily(n.text); other {
		p.inactiveRef(l, n, fam)
		return
	}
	name, ok := p.ifname(l, n, cmd)
	if !ok {
		return
	}
	auto, nh := false, netip.Addr{}
	if len(t) > 3 {
		if kw(t[3]) == "auto" {
			auto = true
		} else if nh, ok = p.addr(l, t[3], cmd, "next hop (or auto)"); !ok {
			return
		}
	}
	if !p.done(l, t, 4, cmd) {
		return
	}
	tun.OutgoingInterface, tun.OutgoingAuto, tun.OutgoingNextHop, tun.OutgoingPos = name, auto, nh, p.pos(l, n.col)
}

func (p *parser) tunnelSALifetime(l *line, t []token, neg bool, ifc *Interface) {
	tmp := Profile{Lifetime: ifc.Tunnel.SALifetime}
	p.saLifetime(l, t[1:], neg, profileIn{&tmp, "ikev2 "})
	ifc.Tunnel.SALifetime = tmp.Lifetime
}

// tunnelSource: ikev2 source-address IF|A
func (p *parser) tunnelSource(l *line, t []token, neg bool, ifc *Interface) {
	tun := ifc.Tunnel
	if neg {
		tun.SourceAddress, tun.SourceInterface = netip.Addr{}, ""
		return
	}
	n, ok := p.need(l, t, 2, "ikev2 source-address", "interface name or address")
	if !ok {
		return
	}
	if fam, other := otherFamily(n.text); other {
		p.inactiveRef(l, n, fam)
		return
	}
	if a, ifn, ok := p.source(l, n, "ikev2 source-address"); ok && p.done(l, t, 3, "ikev2 source-address") {
		tun.SourceAddress, tun.SourceInterface, tun.SourcePos = a, ifn, p.pos(l, n.col)
	}
}

// tunnelPeer: ikev2 peer ADDR|any authentication psk [id TYPE VALUE]
func (p *parser) tunnelPeer(l *line, t []token, neg bool, ifc *Interface) {
	tun := ifc.Tunnel
	const cmd = "ikev2 peer"
	if neg {
		tun.Peer, tun.PeerAny, tun.PeerID = netip.Addr{}, false, Identity{}
		return
	}
	at, ok := p.need(l, t, 2, cmd, "peer address or any")
	if !ok {
		return
	}
	var peer netip.Addr
	anyPeer := kw(at) == "any"
	if !anyPeer {
		a, err := netip.ParseAddr(at.text)
		if err != nil || a.Zone() != "" {
			p.errf(l, at.col, "%s: bad peer %q, expected an IPv4 or IPv6 address or any", cmd, at.text)
			return
		}
		peer = a
	}
	au, ok := p.need(l, t, 3, cmd, "authentication psk")
	if !ok {
		return
	}
	if _, ok := p.oneOf(l, au, cmd, "authentication"); !ok {
		return
	}
	ps, ok := p.need(l, t, 4, cmd+" authentication", "psk")
	if !ok {
		return
	}
	if _, ok := p.oneOf(l, ps, cmd+" authentication", "psk"); !ok {
		return
	}
	var id Identity
	if len(t) > 5 {
		if id, ok = p.identity(l, t, 5, cmd+" authentication psk"); !ok {
			return
		}
		if !p.done(l, t, 8, cmd) {
			return
		}
	}
	tun.Peer, tun.PeerAny, tun.PeerID, tun.PeerPos = peer, anyPeer, id, p.pos(l, at.col)
}
