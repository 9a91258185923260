package config

import (
	"bytes"
	"fmt"
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
// peer and peer ID) differs in identity or key. Such a tunnel must be torn
// down and brought up again; tunnels not listed keep their SAs.
// Interfaces covers every other interface (GigaEthernet, Loopback, Null and
// tunnels that are not ipsec-ikev2), compared block for block.
// Routes compares "ip route" lines by destination, gateway and distance.
// BGPChanged is set when anything under "router bgp" differs, or a
// route-map, prefix list or matched access list BGP may use.
// FiltersChanged is set when an access list, an interface's "ip filter"
// lines or its "ip napt enable" differ; these never count as a change of
// the interface itself, so a new filter renegotiates no tunnel.
// DHCPChanged is set when "ip dhcp enable", a profile or a binding differs.
type Changes struct {
	TunnelsAdded, TunnelsRemoved, TunnelsChanged          []string
	InterfacesAdded, InterfacesRemoved, InterfacesChanged []string
	RoutesAdded, RoutesRemoved                            []*Route
	BGPChanged                                            bool
	HostnameChanged                                       bool
	FiltersChanged                                        bool
	DHCPChanged                                           bool
}

// Empty reports whether nothing changed.
func (ch Changes) Empty() bool {
	return len(ch.TunnelsAdded)+len(ch.TunnelsRemoved)+len(ch.TunnelsChanged)+
		len(ch.InterfacesAdded)+len(ch.InterfacesRemoved)+len(ch.InterfacesChanged)+
		len(ch.RoutesAdded)+len(ch.RoutesRemoved) == 0 && !ch.BGPChanged && !ch.HostnameChanged && !ch.FiltersChanged && !ch.DHCPChanged
}

// Diff compares two configs for a reload. Positions in the file never count
// as a change. A nil config is treated as empty.
func Diff(old, new *Config) Changes {
	if old == nil {
		old = &Config{}
	}
	if new == nil {
		new = &Config{}
	}
	var ch Changes
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
				!equalPSK(old.PSKFor(o.Tunnel.Peer, o.Tunnel.PeerID), new.PSKFor(n.Tunnel.Peer, n.Tunnel.PeerID)) {
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
			if x.Prefix == r.Prefix && x.sameTarget(r) && x.Distance == r.Distance {
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
	s.PeerPos, s.ProfilePos, s.OutgoingPos, s.SourcePos = Pos{}, Pos{}, Pos{}, Pos{}
	t.PeerPos, t.ProfilePos, t.OutgoingPos, t.SourcePos = Pos{}, Pos{}, Pos{}, Pos{}
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
