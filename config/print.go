package config

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Print writes c as canonical IX running-config text, in the order and
// indentation IX uses: hostname, ip route, ip prefix-list, ikev2
// authentication psk, ikev2 default-profile, ikev2 profile blocks,
// route-map blocks, router bgp, then the
// interface blocks, with "!" between sections and sub-commands indented two
// spaces (four inside address-family). Within a section the config's order
// is kept. Pre-shared keys are printed as configured ("key char K" or
// "key hex H"), so the output reloads; treat it as secret.
//
// Lines soft-ix keeps without acting on (Verbatim) are written back as they
// were written, in their block, after the command or section they followed
// in the source: the output is the whole configuration.
//
// Parse(Print(c)) yields c again (ignoring positions), and Print is
// idempotent.
func Print(c *Config) []byte { return printConfig(c, true) }

// PrintActive is Print without the lines soft-ix keeps but does not act on:
// what a reload has to compare. Kept lines may hold secrets IX stores in
// clear (PPP passwords, IKEv1 keys), so this is also the text to summarise
// in logs.
func PrintActive(c *Config) []byte { return printConfig(c, false) }

func printConfig(c *Config, all bool) []byte {
	w := printer{all: all, c: c}
	w.extras("")
	if c.Hostname != "" {
		w.line(0, "hostname", quoteWord(c.Hostname))
		w.bang()
	}
	w.extras("hostname")
	if len(c.Routes)+len(c.AccessLists)+len(c.DynamicLists) > 0 {
		for _, r := range c.Routes {
			w.route(r)
		}
		for _, a := range c.AccessLists {
			for _, e := range a.Entries {
				w.line(0, append([]string{"ip access-list", quoteWord(a.Name)}, e.Words()...)...)
			}
		}
		for _, d := range c.DynamicLists {
			w.line(0, "ip access-list dynamic", quoteWord(d.Name), "access", quoteWord(d.Access))
		}
		w.bang()
	}
	w.extras("ip route")
	w.dhcpEnable()
	if len(c.PrefixLists) > 0 {
		for _, pl := range c.PrefixLists {
			w.prefixList(pl)
		}
		w.bang()
	}
	w.extras("ip prefix-list")
	if len(c.PSKs) > 0 {
		for _, k := range c.PSKs {
			key := "char " + quoteWord(string(k.Key))
			if k.Hex {
				key = "hex " + hex.EncodeToString(k.Key)
			}
			w.line(0, "ikev2 authentication psk", idText(k.ID), "key", key)
		}
		w.bang()
	}
	w.extras("ikev2 authentication")
	if c.DefaultProfile != nil {
		w.line(0, "ikev2 default-profile")
		w.profile(c.DefaultProfile)
	}
	w.extras("ikev2 default-profile")
	for _, pr := range c.Profiles {
		w.line(0, "ikev2 profile", quoteWord(pr.Name))
		w.profile(pr)
	}
	w.dhcpProfiles()
	w.extras("ikev2 profile")
	for _, rm := range c.RouteMaps {
		w.routeMap(rm)
	}
	w.extras("route-map")
	if c.BGP != nil {
		w.bgp(c.BGP)
		w.bang()
	}
	w.extras("router bgp")
	for _, ifc := range c.Interfaces {
		w.iface(ifc)
		w.bang()
		w.extras("interface " + ifc.Name)
	}
	w.extras("interfaces")
	return w.Bytes()
}

type printer struct {
	bytes.Buffer
	all bool // also the lines soft-ix keeps without acting on
	c   *Config
}

func (w *printer) profile(pr *Profile) {
	m := map[string]string{}
	profileArgs(pr, m)
	w.ordered(2, "", profileOrder, m)
	w.kept(2, pr.Extra)
	w.bang()
}

// extras writes the kept top-level commands that followed section after,
// each with its block; a block, or the group, ends with "!" so that what
// follows is not read into it.
func (w *printer) extras(after string) {
	if !w.all {
		return
	}
	open := false
	for _, v := range w.c.Extra {
		if v.After != after {
			continue
		}
		w.line(0, v.Text)
		for _, s := range v.Sub {
			w.line(2, s)
		}
		open = true
		if len(v.Sub) > 0 || opensBlock(textTokens(v.Text)) {
			w.bang()
			open = false
		}
	}
	if open {
		w.bang()
	}
}

// kept writes the kept lines of a block, with their own blocks one level
// deeper (address families under router bgp).
func (w *printer) kept(in int, vs []*Verbatim) {
	if !w.all {
		return
	}
	for _, v := range vs {
		w.line(in, v.Text)
		for _, s := range v.Sub {
			w.line(in+2, s)
		}
	}
}

// textTokens splits a kept line into words, as the lexer does.
func textTokens(s string) []token {
	l, _, _ := lexLine(0, s)
	if len(l.toks) == 0 {
		return []token{{text: "!"}}
	}
	return l.toks
}

func (w *printer) line(indent int, words ...string) {
	w.WriteString(strings.Repeat(" ", indent))
	for i, s := range words {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(s)
	}
	w.WriteByte('\n')
}

func (w *printer) bang() { w.WriteString("!\n") }

func idText(id Identity) string { return "id " + string(id.Type) + " " + quoteWord(id.Value) }

func secs(d time.Duration) string { return fmt.Sprint(int64(d / time.Second)) }

func (w *printer) route(r *Route) {
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
	if r.Tag != 0 {
		words = append(words, "tag", fmt.Sprint(r.Tag))
	}
	w.line(0, words...)
}

func join[T ~string](s []T) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	return strings.Join(parts, " ")
}

// profileOrder is the order of commands in an ikev2 profile block.
var profileOrder = []string{
	"child-lifetime", "child-pfs", "child-proposal enc", "child-proposal integrity", "dpd interval",
	"local-authentication", "sa-lifetime", "sa-proposal enc", "sa-proposal integrity", "sa-proposal dh",
	"sa-proposal prf", "source-address", "ipsec-mode",
}

// tunnelIKEv2Order is the order of the "ikev2 ..." commands in a Tunnel
// interface: alphabetical as IX prints them, the peer last.
var tunnelIKEv2Order = []string{
	"binding", "child-lifetime", "child-pfs", "child-proposal enc", "child-proposal integrity",
	"connect-type", "dpd interval", "ipsec pre-fragment", "ipsec-mode", "local-authentication",
	"nat-traversal keepalive", "negotiation-direction", "outgoing-interface", "sa-lifetime",
	"sa-proposal enc", "sa-proposal integrity", "sa-proposal dh", "sa-proposal prf", "source-address", "peer",
}

// profileArgs maps each configured profile command to its arguments.
func profileArgs(pr *Profile, m map[string]string) {
	if pr.ChildLifetime != 0 {
		s := secs(pr.ChildLifetime)
		if pr.ChildLifetimeKB != 0 {
			s += fmt.Sprintf(" kilobytes %d", pr.ChildLifetimeKB)
		}
		m["child-lifetime"] = s
	}
	if pr.ChildPFS != "" {
		m["child-pfs"] = string(pr.ChildPFS)
	}
	if len(pr.ChildEnc) > 0 {
		m["child-proposal enc"] = join(pr.ChildEnc)
	}
	if len(pr.ChildIntegrity) > 0 {
		m["child-proposal integrity"] = join(pr.ChildIntegrity)
	}
	if pr.DPDInterval != 0 {
		m["dpd interval"] = secs(pr.DPDInterval)
	}
	if pr.LocalAuth != "" || pr.LocalID != (Identity{}) {
		var words []string
		if pr.LocalAuth != "" {
			words = append(words, pr.LocalAuth)
		}
		if pr.LocalID != (Identity{}) {
			words = append(words, idText(pr.LocalID))
		}
		m["local-authentication"] = strings.Join(words, " ")
	}
	if pr.Lifetime != 0 {
		m["sa-lifetime"] = secs(pr.Lifetime)
	}
	if len(pr.Enc) > 0 {
		m["sa-proposal enc"] = join(pr.Enc)
	}
	if len(pr.Integrity) > 0 {
		m["sa-proposal integrity"] = join(pr.Integrity)
	}
	if len(pr.DH) > 0 {
		m["sa-proposal dh"] = join(pr.DH)
	}
	if len(pr.PRF) > 0 {
		m["sa-proposal prf"] = join(pr.PRF)
	}
	if pr.SourceAddress.IsValid() {
		m["source-address"] = pr.SourceAddress.String()
	} else if pr.SourceInterface != "" {
		m["source-address"] = pr.SourceInterface
	}
	if pr.IPsecMode != "" {
		m["ipsec-mode"] = pr.IPsecMode
	}
}

// ordered writes the commands of m in the given order, each as
// prefix+command+" "+arguments.
func (w *printer) ordered(in int, prefix string, order []string, m map[string]string) {
	for _, k := range order {
		args, ok := m[k]
		switch {
		case !ok:
		case args == "":
			w.line(in, prefix+k)
		default:
			w.line(in, prefix+k, args)
		}
	}
}

func (w *printer) bgp(b *BGP) {
	w.line(0, "router bgp", fmt.Sprint(b.ASN))
	if b.RouterID.IsValid() {
		w.line(2, "bgp router-id", b.RouterID.String())
	}
	activate := false
	for _, n := range b.Neighbors {
		a := n.Addr.String()
		if n.RemoteAS != 0 {
			w.line(2, "neighbor", a, "remote-as", fmt.Sprint(n.RemoteAS))
		}
		if n.Description != "" {
			w.line(2, "neighbor", a, "description", quoteText(n.Description))
		}
		if n.EBGPMultihop != 0 {
			w.line(2, "neighbor", a, "ebgp-multihop", fmt.Sprint(n.EBGPMultihop))
		}
		if n.Keepalive != 0 || n.Hold != 0 {
			w.line(2, "neighbor", a, "timers", secs(n.Keepalive), secs(n.Hold))
		}
		if n.UpdateSource != "" {
			w.line(2, "neighbor", a, "update-source", n.UpdateSource)
		}
		if n.AdvertisementInterval != 0 {
			w.line(2, "neighbor", a, "advertisement-interval", secs(n.AdvertisementInterval))
		}
		if n.ConnectInterval != 0 {
			w.line(2, "neighbor", a, "connect-interval", secs(n.ConnectInterval))
		}
		activate = activate || n.Activate || n.RouteMapIn != "" || n.RouteMapOut != ""
	}
	w.kept(2, b.Extra)
	if len(b.Networks) > 0 || activate || (w.all && len(b.AFExtra) > 0) {
		w.line(2, "address-family ipv4 unicast")
		for _, n := range b.Neighbors {
			if n.Activate {
				w.line(4, "neighbor", n.Addr.String(), "activate")
			}
			if n.RouteMapIn != "" {
				w.line(4, "neighbor", n.Addr.String(), "route-map", quoteWord(n.RouteMapIn), "in")
			}
			if n.RouteMapOut != "" {
				w.line(4, "neighbor", n.Addr.String(), "route-map", quoteWord(n.RouteMapOut), "out")
			}
		}
		for _, p := range b.Networks {
			w.line(4, "network", p.String())
		}
		w.kept(4, b.AFExtra)
	}
}

// keyedLine is one emulated command of an interface block and the key kept
// lines are anchored to (see interfaceKey).
type keyedLine struct {
	key   string
	words []string
}

func (w *printer) iface(ifc *Interface) {
	w.line(0, "interface", ifc.Name)
	w.ifaceKept(ifc, "")
	lines := ifaceLines(ifc)
	for i, l := range lines {
		w.line(2, l.words...)
		if i+1 < len(lines) && lines[i+1].key == l.key {
			continue // kept lines follow the last of several ("ip filter")
		}
		w.ifaceKept(ifc, l.key)
	}
}

func (w *printer) ifaceKept(ifc *Interface, after string) {
	if !w.all {
		return
	}
	for _, v := range ifc.Extra {
		if v.After == after {
			w.line(2, v.Text)
		}
	}
}

// interfaceOrder is the order ifaceLines writes an interface's commands in,
// by key.
var interfaceOrder = func() []string {
	o := []string{"", "description", "tunnel mode", "ip address", "ip mtu", "ip tcp adjust-mss", "ip napt enable", "ip filter", "ip dhcp binding"}
	for _, k := range tunnelIKEv2Order {
		o = append(o, "ikev2 "+k)
	}
	return append(o, "shutdown")
}()

// ifaceLines is the emulated part of an interface block, in IX order.
func ifaceLines(ifc *Interface) []keyedLine {
	var out []keyedLine
	add := func(key string, words ...string) { out = append(out, keyedLine{key, words}) }
	if ifc.Description != "" {
		add("description", "description", quoteText(ifc.Description))
	}
	t := ifc.Tunnel
	if t != nil && t.Mode != "" {
		add("tunnel mode", "tunnel mode", t.Mode)
	}
	switch {
	case ifc.DHCP && ifc.DHCPReceiveDefault:
		add("ip address", "ip address dhcp receive-default")
	case ifc.DHCP:
		add("ip address", "ip address dhcp")
	case ifc.Address.IsValid():
		add("ip address", "ip address", ifc.Address.String())
	case ifc.Unnumbered != "":
		add("ip address", "ip unnumbered", ifc.Unnumbered)
	case ifc.Kind == KindGigaEthernet && !ifc.keptAddress():
		// Not for a PPPoE WAN ("ip address ipcp", kept verbatim): IX
		// prints its own address command there.
		add("ip address", "no ip address")
	}
	if ifc.MTU != 0 {
		add("ip mtu", "ip mtu", fmt.Sprint(ifc.MTU))
	}
	switch {
	case ifc.AdjustMSS == MSSAuto:
		add("ip tcp adjust-mss", "ip tcp adjust-mss auto")
	case ifc.AdjustMSS != 0:
		add("ip tcp adjust-mss", "ip tcp adjust-mss", fmt.Sprint(ifc.AdjustMSS))
	}
	if ifc.NAPT {
		add("ip napt enable", "ip napt enable")
	}
	if ifc.NAPTHairpin {
		add("ip napt enable", "ip napt hairpinning")
	}
	for _, f := range ifc.NAPTForwards {
		add("ip napt enable", f.Words()...)
	}
	for _, f := range ifc.Filters {
		add("ip filter", f.Words()...)
	}
	if ifc.DHCPBinding != "" {
		add("ip dhcp binding", "ip dhcp binding", quoteWord(ifc.DHCPBinding))
	}
	if t != nil {
		m := map[string]string{}
		if t.Override != nil {
			profileArgs(t.Override, m)
		}
		if t.Profile != "" {
			m["binding"] = quoteWord(t.Profile)
		}
		if t.ConnectAuto {
			m["connect-type"] = "auto"
		}
		if t.DPDInterval != 0 {
			m["dpd interval"] = secs(t.DPDInterval)
		}
		if t.PreFragment {
			m["ipsec pre-fragment"] = ""
		}
		if t.NATKeepalive != 0 {
			m["nat-traversal keepalive"] = secs(t.NATKeepalive)
			if t.NATKeepaliveForce {
				m["nat-traversal keepalive"] += " force"
			}
		}
		if t.NegotiationDirection != "" {
			m["negotiation-direction"] = t.NegotiationDirection
		}
		if t.OutgoingInterface != "" {
			m["outgoing-interface"] = t.OutgoingInterface
			if t.OutgoingAuto {
				m["outgoing-interface"] += " auto"
			}
			if t.OutgoingNextHop.IsValid() {
				m["outgoing-interface"] += " " + t.OutgoingNextHop.String()
			}
		}
		if t.SALifetime != 0 {
			m["sa-lifetime"] = secs(t.SALifetime)
		}
		if t.SourceAddress.IsValid() {
			m["source-address"] = t.SourceAddress.String()
		} else if t.SourceInterface != "" {
			m["source-address"] = t.SourceInterface
		}
		if t.Peer.IsValid() || t.PeerAny {
			peer := "any"
			if t.Peer.IsValid() {
				peer = t.Peer.String()
			}
			m["peer"] = peer + " authentication psk"
			if t.PeerID != (Identity{}) {
				m["peer"] += " " + idText(t.PeerID)
			}
		}
		for _, k := range tunnelIKEv2Order {
			if args, ok := m[k]; ok {
				words := []string{"ikev2 " + k}
				if args != "" {
					words = append(words, args)
				}
				add("ikev2 "+k, words...)
			}
		}
	}
	switch {
	case ifc.Shutdown:
		add("shutdown", "shutdown")
	case ifc.Kind == KindGigaEthernet || ifc.Kind == KindTunnel:
		add("shutdown", "no shutdown")
	}
	return out
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
