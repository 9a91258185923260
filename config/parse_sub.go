package config

import (
	"net/netip"
	"sort"
	"strings"
)

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
		ifc.anchorKept()
	}
	c.anchorKept()
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
	sections := []string{"", "hostname", "ip route", "ip prefix-list", "ikev2 authentication", "ikev2 default-profile", "ikev2 profile", "route-map", "router bgp"}
	printed := []bool{true, c.Hostname != "", len(c.Routes)+len(c.AccessLists)+len(c.DynamicLists) > 0, len(c.PrefixLists) > 0, len(c.PSKs) > 0, c.DefaultProfile != nil, len(c.Profiles) > 0, len(c.RouteMaps) > 0, c.BGP != nil}
	for _, ifc := range c.Interfaces {
		sections = append(sections, "interface "+ifc.Name)
		printed = append(printed, true)
	}
	sections, printed = append(sections, "interfaces"), append(printed, true)
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
		for !printed[r] {
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
	printed := map[string]bool{"": true}
	for _, l := range ifaceLines(ifc) {
		printed[l.key] = true
	}
	rank := func(k string) int {
		for i, o := range interfaceOrder {
			if o == k {
				return i
			}
		}
		return 0
	}
	for _, v := range ifc.Extra {
		r := rank(v.After)
		for !printed[interfaceOrder[r]] {
			r--
		}
		v.After = interfaceOrder[r]
	}
	sort.SliceStable(ifc.Extra, func(i, j int) bool { return rank(ifc.Extra[i].After) < rank(ifc.Extra[j].After) })
}

func (pr *Profile) isZero() bool {
	z := Profile{Name: pr.Name, Pos: pr.Pos}
	return equalProfiles(*pr, z)
}

var interfaceCommands = []string{"description", "ip", "shutdown", "tunnel", "ikev2"}

func (p *parser) interfaceSub(l *line) {
	ifc := p.iface
	neg, t := splitNo(l.toks)
	ctx := "interface " + ifc.Name + ": "
	switch kw(t[0]) {
	case "description":
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
	case "shutdown":
		if p.done(l, t, 1, "shutdown") {
			ifc.Shutdown = !neg
		}
	case "ip":
		p.interfaceIP(l, t, neg)
	case "tunnel":
		if ifc.Kind != KindTunnel {
			p.errf(l, t[0].col, "%s\"tunnel\" commands apply only to Tunnel interfaces", ctx)
			return
		}
		w, ok := p.need(l, t, 1, "tunnel", "mode")
		if !ok {
			return
		}
		if kw(w) != "mode" {
			p.notEmulated(l, t, "tunnel "+kw(w))
			return
		}
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
		ifc.Tunnel.Mode = mode
	case "ikev2":
		if ifc.Kind != KindTunnel {
			p.errf(l, t[0].col, "%s\"ikev2\" commands apply only to Tunnel interfaces", ctx)
			return
		}
		p.tunnelIKEv2(l, t, neg)
	default:
		p.unknown(l, t, 0, ctx, interfaceCommands)
	}
}

func (p *parser) interfaceIP(l *line, t []token, neg bool) {
	ifc := p.iface
	w, ok := p.need(l, t, 1, "ip", "sub-command")
	if !ok {
		return
	}
	switch kw(w) {
	case "address":
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
		case "ipcp":
			p.notEmulated(l, t, "ip address ipcp")
		default:
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
	case "unnumbered":
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
	case "mtu":
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
	case "filter":
		p.ipFilter(l, t, neg)
	case "napt":
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
	case "dhcp":
		p.interfaceDHCP(l, t, neg)
	case "tcp":
		a, ok := p.need(l, t, 2, "ip tcp", "adjust-mss")
		if !ok {
			return
		}
		if kw(a) != "adjust-mss" {
			p.notEmulated(l, t, "ip tcp "+kw(a))
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
	default:
		if editDistance(kw(w), "address") <= 2 || editDistance(kw(w), "unnumbered") <= 2 {
			p.errf(l, w.col, "ip: unknown command %q, expected address, unnumbered, mtu or tcp adjust-mss", w.text)
			return
		}
		p.notEmulated(l, t, "")
	}
}

// profileCommands are the sub-commands of ikev2 default-profile / profile.
var profileCommands = []string{"sa-proposal", "sa-lifetime", "child-proposal", "child-pfs", "child-lifetime", "dpd", "local-authentication", "ipsec-mode", "source-address"}

var tunnelIKEv2Commands = append([]string{"connect-type", "ipsec", "peer", "binding", "profile", "outgoing-interface", "negotiation-direction", "nat-traversal"}, profileCommands...)

// tunnelIKEv2 handles "ikev2 ..." inside a Tunnel interface; t[0] is "ikev2".
func (p *parser) tunnelIKEv2(l *line, t []token, neg bool) {
	tun := p.iface.Tunnel
	w, ok := p.need(l, t, 1, "ikev2", "sub-command")
	if !ok {
		return
	}
	switch kw(w) {
	case "connect-type":
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
	case "ipsec":
		v, ok := p.need(l, t, 2, "ikev2 ipsec", "pre-fragment")
		if !ok {
			return
		}
		if kw(v) != "pre-fragment" {
			p.notEmulated(l, t, "ikev2 ipsec "+kw(v))
			return
		}
		if p.done(l, t, 3, "ikev2 ipsec pre-fragment") {
			tun.PreFragment = !neg
		}
	case "peer":
		p.tunnelPeer(l, t, neg)
	case "peer-fqdn-ipv4", "peer-fqdn-ipv6":
		p.notEmulated(l, t, "")
	case "binding", "profile":
		cmd := "ikev2 " + kw(w)
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
	case "outgoing-interface":
		const cmd = "ikev2 outgoing-interface"
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
		if nh.IsValid() && !p.warned[cmd+" nexthop"] {
			p.warned[cmd+" nexthop"] = true
			p.warnf(l, t[3].col, "%s %s %s: the next hop is kept but not acted on; soft-ix sends IKE and ESP by the kernel's routing table", cmd, name, nh)
		}
	case "source-address":
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
	case "negotiation-direction":
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
	case "nat-traversal":
		const cmd = "ikev2 nat-traversal"
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
	case "sa-lifetime":
		if neg {
			tun.SALifetime = 0
			return
		}
		n, ok := p.need(l, t, 2, "ikev2 sa-lifetime", "seconds")
		if !ok {
			return
		}
		if d, ok := p.seconds(l, n, "ikev2 sa-lifetime", minLifetime, maxLifetime); ok && p.done(l, t, 3, "ikev2 sa-lifetime") {
			tun.SALifetime = d
		}
	case "dpd":
		var tmp Profile
		tmp.DPDInterval = tun.DPDInterval
		p.profileSub(l, t[1:], neg, &tmp, "ikev2 ")
		tun.DPDInterval = tmp.DPDInterval
	default:
		for _, c := range profileCommands {
			if kw(w) == c {
				if tun.Override == nil {
					tun.Override = &Profile{Pos: p.pos(l, t[0].col)}
				}
				p.profileSub(l, t[1:], neg, tun.Override, "ikev2 ")
				return
			}
		}
		p.unknown(l, t, 1, "interface "+p.iface.Name+": ikev2: ", tunnelIKEv2Commands)
	}
}

// tunnelPeer: ikev2 peer ADDR|any authentication psk [id TYPE VALUE]
func (p *parser) tunnelPeer(l *line, t []token, neg bool) {
	tun := p.iface.Tunnel
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

// Lifetime bounds, in seconds, for sa-lifetime and child-lifetime.
const (
	minLifetime = 60
	maxLifetime = 604800
)

// profileSub handles one profile command on pr; t[0] is the command word.
// prefix is "ikev2 " for the per-tunnel forms, for messages.
func (p *parser) profileSub(l *line, t []token, neg bool, pr *Profile, prefix string) {
	w := kw(t[0])
	cmd := prefix + w
	switch w {
	case "sa-proposal", "child-proposal":
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
	case "sa-lifetime":
		if neg {
			pr.Lifetime = 0
			return
		}
		n, ok := p.need(l, t, 1, cmd, "seconds")
		if !ok {
			return
		}
		if d, ok := p.seconds(l, n, cmd, minLifetime, maxLifetime); ok && p.done(l, t, 2, cmd) {
			pr.Lifetime = d
		}
	case "child-lifetime":
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
	case "child-pfs":
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
			if prefix != "" {
				pr.ChildPFS = PFSOff
			}
			return
		}
		if names, ok := p.algorithms(l, t[1:2], cmd, "dh"); ok {
			pr.ChildPFS = DHGroup(names[0])
		}
	case "dpd":
		k, ok := p.need(l, t, 1, cmd, "interval")
		if !ok {
			return
		}
		if _, ok := p.oneOf(l, k, cmd, "interval"); !ok {
			return
		}
		if neg {
			pr.DPDInterval = 0
			return
		}
		n, ok := p.need(l, t, 2, cmd+" interval", "seconds")
		if !ok {
			return
		}
		if d, ok := p.seconds(l, n, cmd+" interval", 1, 3600); ok && p.done(l, t, 3, cmd+" interval") {
			pr.DPDInterval = d
		}
	case "local-authentication":
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
	case "ipsec-mode":
		if neg {
			pr.IPsecMode = ""
			return
		}
		m, ok := p.need(l, t, 1, cmd, "tunnel or transport")
		if !ok {
			return
		}
		if v, ok := p.oneOf(l, m, cmd, "tunnel", "transport"); ok && p.done(l, t, 2, cmd) {
			pr.IPsecMode = v
		}
	case "source-address":
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
	default:
		ctx := "ikev2 default-profile: "
		if pr.Name != "" {
			ctx = "ikev2 profile " + pr.Name + ": "
		}
		p.unknown(l, t, 0, ctx, profileCommands)
	}
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

var bgpCommands = []string{"bgp", "router-id", "neighbor", "network", "address-family", "exit-address-family"}

func (p *parser) bgpSub(l *line) {
	b := p.cfg.BGP
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
	switch w {
	case "address-family":
		p.inAF, p.afIndent, p.afSkip, p.afExtra = true, l.indent, false, nil
		if len(t) >= 3 && kw(t[1]) == "ipv4" && kw(t[2]) == "unicast" && len(t) == 3 {
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
		return
	case "exit-address-family":
		p.inAF, p.afSkip, p.afExtra = false, false, nil
		return
	}
	if p.inAF && p.afSkip {
		p.keepLine(l)
		return
	}
	switch w {
	case "router-id":
		// IX also accepts router-id directly under router bgp.
		p.routerID(l, t, 1, neg)
	case "bgp":
		k, ok := p.need(l, t, 1, "bgp", "router-id")
		if !ok {
			return
		}
		if kw(k) != "router-id" {
			if editDistance(kw(k), "router-id") <= 2 {
				p.errf(l, k.col, "bgp: unknown command %q, did you mean \"router-id\"?", k.text)
				return
			}
			p.notEmulated(l, t, "")
			return
		}
		p.routerID(l, t, 2, neg)
	case "network":
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
	case "neighbor":
		p.neighbor(l, t, neg)
	default:
		p.unknown(l, t, 0, "router bgp: ", bgpCommands)
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

var neighborCommands = []string{"remote-as", "update-source", "timers", "ebgp-multihop", "description", "activate",
	"route-map", "advertisement-interval", "connect-interval"}

func (p *parser) neighbor(l *line, t []token, neg bool) {
	b := p.cfg.BGP
	at, ok := p.need(l, t, 1, "neighbor", "neighbor address")
	if !ok {
		return
	}
	a, ok := p.addr(l, at, "neighbor", "neighbor address")
	if !ok {
		return
	}
	k, ok := p.need(l, t, 2, "neighbor", "sub-command ("+orList(neighborCommands)+")")
	if !ok {
		return
	}
	sub := kw(k)
	known := false
	for _, c := range neighborCommands {
		known = known || c == sub
	}
	if !known {
		for _, c := range neighborCommands {
			if editDistance(sub, c) <= 2 {
				p.errf(l, k.col, "neighbor: unknown command %q, did you mean %q?", k.text, c)
				return
			}
		}
		p.notEmulated(l, t, "neighbor "+sub)
		return
	}
	var n *Neighbor
	idx := -1
	for i, o := range b.Neighbors {
		if o.Addr == a {
			n, idx = o, i
		}
	}
	cmd := "neighbor " + sub
	if neg {
		if n == nil {
			return
		}
		switch sub {
		case "remote-as":
			b.Neighbors = append(b.Neighbors[:idx], b.Neighbors[idx+1:]...)
		case "update-source":
			n.UpdateSource = ""
		case "timers":
			n.Keepalive, n.Hold = 0, 0
		case "ebgp-multihop":
			n.EBGPMultihop = 0
		case "description":
			n.Description = ""
		case "activate":
			n.Activate = false
		case "advertisement-interval":
			n.AdvertisementInterval = 0
		case "connect-interval":
			n.ConnectInterval = 0
		case "route-map":
			// no neighbor A route-map [NAME] in|out
			switch kw(t[len(t)-1]) {
			case "in":
				n.RouteMapIn = ""
			case "out":
				n.RouteMapOut = ""
			}
		}
		return
	}
	if n == nil {
		n = &Neighbor{Addr: a, Pos: p.pos(l, t[0].col)}
		defer func() {
			if n.isZero() {
				return
			}
			b.Neighbors = append(b.Neighbors, n)
		}()
	}
	switch sub {
	case "remote-as":
		v, ok := p.need(l, t, 3, cmd, "AS number")
		if !ok {
			return
		}
		if asn, ok := p.asn(l, v, cmd); ok && p.done(l, t, 4, cmd) {
			n.RemoteAS = asn
		}
	case "update-source":
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
	case "timers":
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
	case "ebgp-multihop":
		ttl := uint64(255)
		if len(t) > 3 {
			if ttl, ok = p.number(l, t[3], cmd, "TTL", 1, 255); !ok {
				return
			}
		}
		if p.done(l, t, 4, cmd) {
			n.EBGPMultihop = int(ttl)
		}
	case "description":
		d, ok := p.need(l, t, 3, cmd, "text")
		if !ok {
			return
		}
		if n.Description = l.restText(d); n.Description == "" {
			p.errf(l, d.col, "%s: empty text", cmd)
		}
	case "activate":
		if p.done(l, t, 3, cmd) {
			n.Activate = true
		}
	case "advertisement-interval", "connect-interval":
		v, ok := p.need(l, t, 3, cmd, "seconds")
		if !ok {
			return
		}
		max := uint64(600) // advertisement-interval: 0..600 s as on other BGP speakers
		if sub == "connect-interval" {
			max = 65535
		}
		d, ok := p.seconds(l, v, cmd, 0, max)
		if !ok || !p.done(l, t, 4, cmd) {
			return
		}
		if sub == "connect-interval" {
			n.ConnectInterval = d
		} else {
			n.AdvertisementInterval = d
		}
	case "route-map":
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
}

func (n *Neighbor) isZero() bool {
	return n.RemoteAS == 0 && n.UpdateSource == "" && n.Keepalive == 0 && n.Hold == 0 &&
		n.EBGPMultihop == 0 && n.Description == "" && !n.Activate && n.AdvertisementInterval == 0 &&
		n.ConnectInterval == 0 && n.RouteMapIn == "" && n.RouteMapOut == ""
}

// lastAddr is the highest address of an IPv4 prefix.
func lastAddr(pf netip.Prefix) netip.Addr {
	b := pf.Masked().Addr().As4()
	host := uint32(1)<<(32-pf.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// interfaceKey names an emulated interface command as the printer orders
// it ("ip address" also for ip unnumbered and dhcp, "ikev2 binding" also
// for ikev2 profile); kept lines print after the command they followed.
func interfaceKey(toks []token) string {
	_, t := splitNo(toks)
	w := kw(t[0])
	switch w {
	case "description", "shutdown":
		return w
	case "tunnel":
		return "tunnel mode"
	case "ip":
		if len(t) > 1 {
			switch kw(t[1]) {
			case "address", "unnumbered":
				return "ip address"
			case "mtu":
				return "ip mtu"
			case "tcp":
				return "ip tcp adjust-mss"
			case "napt":
				return "ip napt enable"
			case "filter":
				return "ip filter"
			case "dhcp":
				return "ip dhcp binding"
			}
		}
	case "ikev2":
		if len(t) > 2 {
			two := kw(t[1]) + " " + kw(t[2])
			for _, k := range tunnelIKEv2Order {
				if k == two {
					return "ikev2 " + k
				}
			}
		}
		if len(t) > 1 {
			switch k := kw(t[1]); k {
			case "profile":
				return "ikev2 binding"
			case "dpd":
				return "ikev2 dpd interval"
			default:
				return "ikev2 " + k
			}
		}
	}
	return ""
}
