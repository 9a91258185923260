package config

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
)

// Changes is what a reload must do to go from one config to the next.
// Names are canonical interface names, in the new config's order (removed
// ones in the old config's order).
//
// A tunnel (an ipsec-ikev2 Tunnel interface, see Tunnels) is changed when
// its interface block differs in anything, when its effective profile
// (ProfileFor) differs, or when the PSK it authenticates with (PSKFor its
// peer and peer ID) or the one configured for its own identity (the
// profile's "local-authentication id", with which its AUTH is made)
// differs in identity or key, or when the MTU of the interface it leaves
// by (OuterMTU) differs. Such a tunnel must be torn down and brought up
// again; tunnels not listed keep their SAs.
// Interfaces covers every other interface (GigaEthernet, Loopback, Null and
// tunnels that are not ipsec-ikev2), compared block for block.
// Routes compares "ip route" lines by destination, gateway, "dhcp",
// distance and metric: everything tun installs them by (tag is not acted
// on), so a reload that changes only a metric still reaches the kernel.
// BGPChanged is set when anything under "router bgp" differs, or a
// route-map, prefix list or matched access list BGP may use.
// FiltersChanged is set when an access list, an interface's "ip filter"
// lines or its "ip napt enable" differ; these never count as a change of
// the interface itself, so a new filter renegotiates no tunnel.
// DHCPChanged is set when "ip dhcp enable", a profile or a binding differs.
//
// Commands is the same comparison as the operator reads it: the commands
// (each line with the block it stands in) that went ("- ") and came
// ("+ "), and "~ " for a pre-shared key that changed. It goes to the log,
// so no secret is in it: keys are masked, and lines soft-ix keeps without
// acting on (see PrintActive) are left out.
type Changes struct {
	Commands                                              []string
	TunnelsAdded, TunnelsRemoved, TunnelsChanged          []string
	InterfacesAdded, InterfacesRemoved, InterfacesChanged []string
	RoutesAdded, RoutesRemoved                            []*Route
	BGPChanged                                            bool
	HostnameChanged                                       bool
	FiltersChanged                                        bool
	DHCPChanged                                           bool
}

// Empty reports whether nothing soft-ix runs changed. Commands may still
// list lines: ones whose change asks nothing of it.
func (ch Changes) Empty() bool {
	return len(ch.TunnelsAdded)+len(ch.TunnelsRemoved)+len(ch.TunnelsChanged)+
		len(ch.InterfacesAdded)+len(ch.InterfacesRemoved)+len(ch.InterfacesChanged)+
		len(ch.RoutesAdded)+len(ch.RoutesRemoved) == 0 && !ch.BGPChanged && !ch.HostnameChanged && !ch.FiltersChanged && !ch.DHCPChanged
}

// Diff compares two configs for a reload. Positions in the file never count
// as a change. A nil config is treated as empty.
func Diff(old, new *Config) Changes {
	var ch Changes
	ch.Commands = diffCommands(old, new)
	if old == nil {
		old = &Config{}
	}
	if new == nil {
		new = &Config{}
	}
	ch.HostnameChanged = old.Hostname != new.Hostname

	isTunnel := func(ifc *Interface) bool {
		return ifc.Kind == KindTunnel && ifc.Tunnel != nil && ifc.Tunnel.Mode == "ipsec-ikev2"
	}
	for _, n := range new.Interfaces {
		o := old.Interface(n.Name)
		switch {
		case isTunnel(n) && (o == nil || !isTunnel(o)):
			ch.TunnelsAdded = append(ch.TunnelsAdded, n.Name)
			if o != nil {
				ch.InterfacesRemoved = append(ch.InterfacesRemoved, n.Name)
			}
		case isTunnel(n):
			if !equalInterfaces(o, n) || !equalProfiles(old.ProfileFor(o), new.ProfileFor(n)) ||
				!equalPSK(old.PSKFor(o.Tunnel.Peer, o.Tunnel.PeerID), new.PSKFor(n.Tunnel.Peer, n.Tunnel.PeerID)) ||
				!equalPSK(old.ownPSK(o), new.ownPSK(n)) || old.OuterMTU(o) != new.OuterMTU(n) {
				ch.TunnelsChanged = append(ch.TunnelsChanged, n.Name)
			}
		case o == nil:
			ch.InterfacesAdded = append(ch.InterfacesAdded, n.Name)
		case isTunnel(o):
			ch.TunnelsRemoved = append(ch.TunnelsRemoved, n.Name)
			ch.InterfacesAdded = append(ch.InterfacesAdded, n.Name)
		case !equalInterfaces(o, n):
			ch.InterfacesChanged = append(ch.InterfacesChanged, n.Name)
		}
	}
	for _, o := range old.Interfaces {
		if new.Interface(o.Name) != nil {
			continue
		}
		if isTunnel(o) {
			ch.TunnelsRemoved = append(ch.TunnelsRemoved, o.Name)
		} else {
			ch.InterfacesRemoved = append(ch.InterfacesRemoved, o.Name)
		}
	}

	hasRoute := func(rs []*Route, r *Route) bool {
		for _, x := range rs {
			if x.Prefix == r.Prefix && x.sameTarget(r) && x.DHCP == r.DHCP && x.Distance == r.Distance && x.Metric == r.Metric {
				return true
			}
		}
		return false
	}
	for _, r := range new.Routes {
		if !hasRoute(old.Routes, r) {
			ch.RoutesAdded = append(ch.RoutesAdded, r)
		}
	}
	for _, r := range old.Routes {
		if !hasRoute(new.Routes, r) {
			ch.RoutesRemoved = append(ch.RoutesRemoved, r)
		}
	}
	ch.BGPChanged = !equalBGP(old.BGP, new.BGP) || (new.BGP != nil && !equalPolicies(old, new))
	ch.FiltersChanged = !equalFilters(old, new)
	ch.DHCPChanged = !equalDHCP(old, new)
	return ch
}

// ownPSK is the key configured for the identity tunnel ifc sends
// ("local-authentication id"), or nil: package ike makes the tunnel's
// AUTH with it when there is one.
func (c *Config) ownPSK(ifc *Interface) *PSK {
	id := c.ProfileFor(ifc).LocalID
	if id == (Identity{}) {
		return nil
	}
	return c.PSKFor(netip.Addr{}, id)
}

// equalPSK compares identity and key. Whether the key is written as
// "char" or "hex" does not matter: the same bytes authenticate the same.
func equalPSK(a, b *PSK) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ID == b.ID && bytes.Equal(a.Key, b.Key)
}

// equalInterfaces compares two interface blocks, ignoring positions.
func equalInterfaces(a, b *Interface) bool {
	x, y := *a, *b
	x.Pos, y.Pos, x.UnnumberedPos, y.UnnumberedPos = Pos{}, Pos{}, Pos{}, Pos{}
	x.Extra, y.Extra = nil, nil // kept lines change nothing soft-ix runs
	// Filters and NAPT are compared by equalFilters.
	x.Filters, y.Filters, x.NAPT, y.NAPT, x.NAPTPos, y.NAPTPos = nil, nil, false, false, Pos{}, Pos{}
	x.NAPTForwards, y.NAPTForwards = nil, nil
	x.NAPTHairpin, y.NAPTHairpin, x.NAPTHairpinPos, y.NAPTHairpinPos = false, false, Pos{}, Pos{}
	x.Tunnel, y.Tunnel = nil, nil
	if !reflect.DeepEqual(x, y) {
		return false
	}
	if a.Tunnel == nil || b.Tunnel == nil {
		return a.Tunnel == b.Tunnel
	}
	s, t := *a.Tunnel, *b.Tunnel
	s.PeerPos, s.ProfilePos, s.OutgoingPos, s.SourcePos, s.ModePos = Pos{}, Pos{}, Pos{}, Pos{}, Pos{}
	t.PeerPos, t.ProfilePos, t.OutgoingPos, t.SourcePos, t.ModePos = Pos{}, Pos{}, Pos{}, Pos{}, Pos{}
	so, to := s.Override, t.Override
	s.Override, t.Override = nil, nil
	if !reflect.DeepEqual(s, t) {
		return false
	}
	if so == nil || to == nil {
		return so == to
	}
	return equalProfiles(*so, *to)
}

// equalFilters compares the access lists and each interface's filters and
// NAPT, ignoring positions. An interface without any is the same as none.
func equalFilters(a, b *Config) bool {
	type iface struct {
		napt     bool
		hairpin  bool
		filters  []Filter
		forwards []NAPTForward
	}
	view := func(c *Config) (map[string][]ACLEntry, map[string]iface) {
		acls, ifs := map[string][]ACLEntry{}, map[string]iface{}

		for _, l := range c.AccessLists {
			for _, e := range l.Entries {
				x := *e
				x.Pos = Pos{}
				acls[l.Name] = append(acls[l.Name], x)
			}
		}
		for _, ifc := range c.Interfaces {
			if !ifc.NAPT && !ifc.NAPTHairpin && len(ifc.Filters) == 0 && len(ifc.NAPTForwards) == 0 {
				continue
			}
			v := iface{napt: ifc.NAPT, hairpin: ifc.NAPTHairpin}
			for _, f := range ifc.Filters {
				x := *f
				x.Pos = Pos{}
				v.filters = append(v.filters, x)
			}
			for _, f := range ifc.NAPTForwards {
				x := *f
				x.Pos = Pos{}
				v.forwards = append(v.forwards, x)
			}
			ifs[ifc.Name] = v
		}
		return acls, ifs
	}
	dyn := func(c *Config) map[string]string {
		m := map[string]string{}
		for _, d := range c.DynamicLists {
			m[d.Name] = d.Access
		}
		return m
	}
	a1, i1 := view(a)
	a2, i2 := view(b)
	return reflect.DeepEqual(a1, a2) && reflect.DeepEqual(i1, i2) && reflect.DeepEqual(dyn(a), dyn(b))
}

func equalBGP(a, b *BGP) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Pos, y.Pos = Pos{}, Pos{}
	x.Neighbors, y.Neighbors = nil, nil
	x.Extra, y.Extra, x.AFExtra, y.AFExtra = nil, nil, nil, nil
	if !reflect.DeepEqual(x, y) || len(a.Neighbors) != len(b.Neighbors) {
		return false
	}
	for i := range a.Neighbors {
		n, m := *a.Neighbors[i], *b.Neighbors[i]
		n.Pos, m.Pos, n.UpdateSourcePos, m.UpdateSourcePos = Pos{}, Pos{}, Pos{}, Pos{}
		n.RouteMapInPos, m.RouteMapInPos, n.RouteMapOutPos, m.RouteMapOutPos = Pos{}, Pos{}, Pos{}, Pos{}
		if n != m {
			return false
		}
	}
	return true
}

// equalPolicies compares what BGP's route-maps act on: the route-map
// entries and the prefix lists and access lists they match, ignoring
// positions and kept lines.
func equalPolicies(a, b *Config) bool {
	if len(a.RouteMaps) != len(b.RouteMaps) || len(a.PrefixLists) != len(b.PrefixLists) {
		return false
	}
	for i := range a.RouteMaps {
		x, y := *a.RouteMaps[i], *b.RouteMaps[i]
		x.Pos, y.Pos, x.MatchPos, y.MatchPos, x.Extra, y.Extra = Pos{}, Pos{}, Pos{}, Pos{}, nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
		if x.MatchAccessList != "" {
			l1, _ := a.AccessListSources(x.MatchAccessList)
			l2, _ := b.AccessListSources(y.MatchAccessList)
			if !equalPrefixLists(l1, l2) {
				return false
			}
		}
	}
	return equalPrefixLists(a.PrefixLists, b.PrefixLists)
}

func equalPrefixLists(a, b []*PrefixList) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := *a[i], *b[i]
		x.Pos, y.Pos = Pos{}, Pos{}
		if x != y {
			return false
		}
	}
	return true
}

// String summarises the changes for a log line, e.g.
// "tunnels changed [Tunnel0.0]; routes +1 -0; bgp changed".
func (ch Changes) String() string {
	if ch.Empty() {
		return "no changes"
	}
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", what, names))
		}
	}
	add("tunnels added", ch.TunnelsAdded)
	add("tunnels removed", ch.TunnelsRemoved)
	add("tunnels changed", ch.TunnelsChanged)
	add("interfaces added", ch.InterfacesAdded)
	add("interfaces removed", ch.InterfacesRemoved)
	add("interfaces changed", ch.InterfacesChanged)
	if len(ch.RoutesAdded)+len(ch.RoutesRemoved) > 0 {
		parts = append(parts, fmt.Sprintf("routes +%d -%d", len(ch.RoutesAdded), len(ch.RoutesRemoved)))
	}
	if ch.BGPChanged {
		parts = append(parts, "bgp changed")
	}
	if ch.HostnameChanged {
		parts = append(parts, "hostname changed")
	}
	if ch.FiltersChanged {
		parts = append(parts, "filters changed")
	}
	return strings.Join(parts, "; ")
}

// diffCommands compares the canonical texts of two configs command by
// command (see Changes.Commands). Key lines are compared with the key
// masked; a changed key is reported as such.
func diffCommands(old, new *Config) []string {
	a, b := commandSet(maskKeys(old)), commandSet(maskKeys(new))
	var out []string
	for _, l := range a.order {
		if !b.has[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range b.order {
		if !a.has[l] {
			out = append(out, "+ "+l)
		}
	}
	if old == nil || new == nil {
		return out
	}
	for _, n := range new.PSKs {
		for _, o := range old.PSKs {
			if o.ID == n.ID && !bytes.Equal(o.Key, n.Key) {
				out = append(out, fmt.Sprintf("~ ikev2 authentication psk id %s %s: key changed", n.ID.Type, n.ID.Value))
			}
		}
	}
	return out
}

// maskedKey stands in for every pre-shared key in Changes.Commands.
const maskedKey = "********"

// maskKeys returns c with every PSK replaced by maskedKey; c is not changed.
func maskKeys(c *Config) *Config {
	if c == nil || len(c.PSKs) == 0 {
		return c
	}
	m := *c
	m.PSKs = make([]*PSK, len(c.PSKs))
	for i, k := range c.PSKs {
		mk := *k
		mk.Key, mk.Hex = []byte(maskedKey), false
		m.PSKs[i] = &mk
	}
	return &m
}

// commands are the lines of a config in order, each once.
type commands struct {
	order []string
	has   map[string]bool
}

func commandSet(c *Config) commands {
	cs := commands{has: map[string]bool{}}
	if c == nil {
		return cs
	}
	block := ""
	// PrintActive: the lines soft-ix keeps without acting on change nothing
	// it runs, and may hold secrets IX stores in clear (PPP passwords, IKEv1
	// keys) that must not reach the log.
	for _, line := range strings.Split(string(PrintActive(c)), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "!") {
			block = ""
			continue
		}
		if line == t { // a top-level command, maybe opening a block
			block = t
			cs.add(t)
			continue
		}
		cs.add(block + ": " + t)
	}
	return cs
}

func (cs *commands) add(s string) {
	if !cs.has[s] {
		cs.has[s] = true
		cs.order = append(cs.order, s)
	}
}
