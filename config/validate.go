package config

import (
	"fmt"
	"net/netip"
	"slices"
)

// azureReservedASNs are the ASNs Azure will not accept for the on-premises
// side of a BGP connection: Azure's own public ASNs, the private ASNs Azure
// reserves for itself, and the AS_TRANS placeholder.
var azureReservedASNs = []uint32{8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520, 23456}

// Validate checks the config as a whole (Parse calls it): references to
// interfaces and profiles, a PSK for every peer, value ranges that depend on
// other commands, and the pitfalls of connecting to Azure (warnings).
//
// GigaEthernet interfaces and Null0.0 exist on an IX without an interface
// block, so references to them are always valid; Loopback and Tunnel
// interfaces must be declared.
func (c *Config) Validate() []Diagnostic {
	v := validator{c: c}
	v.interfaces()
	v.routes()
	v.bgp()
	v.routeMaps()
	v.filters()
	v.dhcpServer()
	return v.diags
}

// filters warns about a filter whose access list does not exist: it
// permits nothing, so, as on an IX, the direction it is applied to drops
// whatever no other filter there permits.
func (v *validator) filters() {
	for _, ifc := range v.c.Interfaces {
		for _, f := range ifc.Filters {
			if v.c.AccessList(f.List) == nil && v.c.DynamicList(f.List) == nil && len(v.c.KeptAccessListLines(f.List)) == 0 {
				v.warnf(f.Pos, "ip filter: access list %q is not configured: it permits nothing, so %s drops every packet %s that no other filter permits",
					f.List, ifc.Name, map[bool]string{true: "going out", false: "coming in"}[f.Out])
			}
		}
	}
}

type validator struct {
	c     *Config
	diags []Diagnostic
}

func (v *validator) errf(pos Pos, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Pos: pos, Severity: Error, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(pos Pos, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Pos: pos, Severity: Warning, Msg: fmt.Sprintf(format, args...)})
}

// exists reports whether an interface can be referred to.
func (v *validator) exists(name string) bool {
	_, kind, err := NormalizeInterfaceName(name)
	if err != nil {
		return false
	}
	if kind == KindGigaEthernet || kind == KindNull {
		return true
	}
	return v.c.Interface(name) != nil
}

func (v *validator) needInterface(pos Pos, cmd, name string) {
	if !v.exists(name) {
		v.errf(pos, "%s: interface %s is not configured (no \"interface %s\" block)", cmd, name, name)
	}
}

func (v *validator) interfaces() {
	c := v.c
	seen := map[string]bool{}
	for _, ifc := range c.Interfaces {
		if seen[ifc.Name] {
			v.errf(ifc.Pos, "interface %s is declared twice", ifc.Name)
		}
		seen[ifc.Name] = true
		if ifc.Unnumbered != "" {
			v.needInterface(ifc.UnnumberedPos, "ip unnumbered", ifc.Unnumbered)
			if ifc.Unnumbered == ifc.Name {
				v.errf(ifc.UnnumberedPos, "ip unnumbered: %s cannot borrow its own address", ifc.Name)
			}
		}
		if ifc.Kind == KindLoopback && ifc.Address.IsValid() && ifc.Address.Bits() != ifc.Address.Addr().BitLen() {
			v.warnf(ifc.Pos, "interface %s: loopback address %s is not a host route (/%d)", ifc.Name, ifc.Address, ifc.Address.Addr().BitLen())
		}
		if ifc.Kind != KindTunnel || ifc.Tunnel == nil {
			continue
		}
		v.tunnel(ifc)
	}
	// Two tunnels to the same peer with the same identity cannot be told
	// apart when the peer initiates.
	type peerKey struct {
		addr netip.Addr
		id   Identity
	}
	peers := map[peerKey]string{}
	for _, ifc := range c.Tunnels() {
		t := ifc.Tunnel
		if !t.Peer.IsValid() && !t.PeerAny {
			continue
		}
		k := peerKey{t.Peer, t.PeerID}
		if other, dup := peers[k]; dup {
			v.warnf(t.PeerPos, "interface %s has the same ikev2 peer and identity as %s: soft-ix cannot tell their IKE SAs apart", ifc.Name, other)
		}
		peers[k] = ifc.Name
	}
	for _, pr := range append([]*Profile{c.DefaultProfile}, c.Profiles...) {
		if pr != nil && pr.SourceInterface != "" {
			v.needInterface(pr.Pos, "source-address", pr.SourceInterface)
		}
	}
}

func (v *validator) tunnel(ifc *Interface) {
	c, t := v.c, ifc.Tunnel
	if t.Mode == "" {
		v.warnf(ifc.Pos, "interface %s has no \"tunnel mode ipsec-ikev2\"; soft-ix leaves it down", ifc.Name)
		return
	}
	if t.Mode != "ipsec-ikev2" {
		return
	}
	if t.Profile != "" && c.Profile(t.Profile) == nil {
		v.errf(t.ProfilePos, "ikev2 binding: no \"ikev2 profile %s\" is configured", t.Profile)
	}
	if t.OutgoingInterface != "" {
		v.needInterface(t.OutgoingPos, "ikev2 outgoing-interface", t.OutgoingInterface)
	}
	if nh := t.OutgoingNextHop; nh.IsValid() && t.Peer.IsValid() && nh.Is4() != t.Peer.Is4() {
		v.errf(t.OutgoingPos, "ikev2 outgoing-interface: next hop %s is not in the address family of the peer %s", nh, t.Peer)
	}
	if t.SourceInterface != "" {
		v.needInterface(t.SourcePos, "ikev2 source-address", t.SourceInterface)
	}
	// IPv4 and IPv6 outer addresses both work, but IKE cannot speak from
	// an address of one family to a peer of the other, and an IPv6
	// address that is not global needs a zone, which neither the IX's
	// syntax nor soft-ix's sockets carry: refuse both, or the tunnel would
	// load and never connect.
	if t.Peer.IsValid() && !outerAddressUsable(t.Peer) {
		v.errf(t.PeerPos, "ikev2 peer %s: soft-ix supports IPv6 outer addresses only when they are global unicast (a link-local or multicast peer needs an interface zone); use the peer's global address", t.Peer)
	}
	if t.SourceAddress.IsValid() && !outerAddressUsable(t.SourceAddress) {
		v.errf(t.SourcePos, "ikev2 source-address %s: soft-ix supports IPv6 outer addresses only when they are global unicast", t.SourceAddress)
	}
	if a := c.ProfileFor(ifc).SourceAddress; a.IsValid() && t.Peer.IsValid() && a.Unmap().Is4() != t.Peer.Unmap().Is4() {
		pos, what := t.SourcePos, "ikev2 source-address"
		if !t.SourceAddress.IsValid() {
			pos, what = ifc.Pos, "interface "+ifc.Name+": its profile's source-address"
		}
		v.errf(pos, "%s %s and ikev2 peer %s are of different address families: IKE and ESP go from an address to a peer of the same family", what, a, t.Peer)
	}
	switch {
	case !t.Peer.IsValid() && !t.PeerAny:
		v.warnf(ifc.Pos, "interface %s has no \"ikev2 peer\"; soft-ix leaves it down", ifc.Name)
	case t.PeerAny && t.PeerID == (Identity{}):
		v.errf(t.PeerPos, "ikev2 peer any: needs \"authentication psk id TYPE VALUE\" to find the peer's key")
	case c.PSKFor(t.Peer, t.PeerID) == nil:
		if t.PeerID != (Identity{}) {
			v.errf(t.PeerPos, "ikev2 peer: no \"ikev2 authentication psk id %s %s key ...\" for this peer", t.PeerID.Type, t.PeerID.Value)
		} else {
			v.errf(t.PeerPos, "ikev2 peer: no \"ikev2 authentication psk id %s %s key ...\" for this peer", idTypeOf(t.Peer), t.Peer)
		}
	}
	if t.PeerAny && t.ConnectAuto && t.NegotiationDirection != "responder" {
		v.warnf(t.PeerPos, "interface %s: ikev2 peer any has no address to initiate to; \"ikev2 connect-type auto\" only answers", ifc.Name)
	}
	pr := c.ProfileFor(ifc)
	if pr.IPsecMode != "tunnel" {
		v.errf(ifc.Pos, "interface %s: ipsec-mode %s is not supported by soft-ix (route-based tunnels need ipsec-mode tunnel)", ifc.Name, pr.IPsecMode)
	}
	if ifc.AdjustMSS == 0 && !ifc.Shutdown {
		v.warnf(ifc.Pos, "interface %s has no \"ip tcp adjust-mss\": TCP through the tunnel may stall on large segments (Azure recommends clamping the MSS to 1350; use \"ip tcp adjust-mss auto\")", ifc.Name)
	}
	if !ifc.Address.IsValid() && ifc.Unnumbered == "" && !ifc.DHCP && !ifc.keptAddress() {
		v.warnf(ifc.Pos, "interface %s has no ip address or ip unnumbered", ifc.Name)
	}
}

// outerAddressUsable reports whether a may be an outer (IKE and ESP)
// address: any IPv4 address, or a global unicast IPv6 address (a unique
// local fc00::/7 address too: it is routed like one).
func outerAddressUsable(a netip.Addr) bool {
	a = a.Unmap()
	return a.Is4() || (a.IsGlobalUnicast() && a.Zone() == "")
}

func idTypeOf(a interface{ Is4() bool }) IDType {
	if a.Is4() {
		return IDIPv4
	}
	return IDIPv6
}

func (v *validator) routes() {
	for _, r := range v.c.Routes {
		if r.Interface != "" {
			v.needInterface(r.Pos, "ip route", r.Interface)
			v.recursiveRoute(r)
		}
	}
}

// recursiveRoute warns about a static route into an IKEv2 tunnel that
// covers the tunnel's own peer address ("ip route default Tunnel0.0") when
// nothing more specific keeps the peer outside the tunnel: IKE and ESP to
// the peer would then be routed into the tunnel they make, and it could
// never come up. A real IX loads such a config too, so this is a warning.
func (v *validator) recursiveRoute(r *Route) {
	ifc := v.c.Interface(r.Interface)
	if ifc == nil {
		return
	}
	peer, ok := ifc.CoversPeer(r.Prefix)
	if !ok {
		return
	}
	// A longer route to the peer that does not go into a tunnel, or a
	// connected network holding it, keeps IKE and ESP outside.
	for _, o := range v.c.Routes {
		if o.Prefix.Bits() <= r.Prefix.Bits() || !o.Prefix.Contains(peer) {
			continue
		}
		if oi := v.c.Interface(o.Interface); o.Interface == "" || (oi != nil && oi.Kind != KindTunnel) {
			return
		}
	}
	for _, o := range v.c.Interfaces {
		if o.Kind != KindTunnel && o.Address.IsValid() && o.Address.Bits() > r.Prefix.Bits() && o.Address.Masked().Contains(peer) {
			return
		}
	}
	v.warnf(r.Pos, "ip route %s %s covers %s, the ikev2 peer of %s: IKE and ESP to the peer would be routed into the tunnel itself; add a longer route for the peer that leaves by the WAN (e.g. ip route %s/32 <WAN gateway>)",
		r.Prefix, r.Interface, peer, r.Interface, peer)
}

func (v *validator) bgp() {
	b := v.c.BGP
	if b == nil {
		return
	}
	if slices.Contains(azureReservedASNs, b.ASN) {
		v.warnf(b.Pos, "router bgp %d: Azure reserves AS %d and will not peer with it; pick another private ASN", b.ASN, b.ASN)
	}
	for _, n := range b.Neighbors {
		if !n.Addr.Is4() {
			v.warnf(n.Pos, "neighbor %s: IPv6 BGP neighbors are not emulated by soft-ix; ignored", n.Addr)
			continue
		}
		if n.RemoteAS == 0 {
			v.errf(n.Pos, "neighbor %s has no remote-as", n.Addr)
			continue
		}
		if n.RemoteAS == b.ASN {
			v.warnf(n.Pos, "neighbor %s remote-as %d is the local AS (iBGP): right towards a router of your own AS, but Azure VPN gateways speak eBGP only, so with one this session will not come up", n.Addr, n.RemoteAS)
		}
		if n.RemoteAS == 23456 {
			v.warnf(n.Pos, "neighbor %s remote-as 23456 is AS_TRANS, not a real AS", n.Addr)
		}
		if n.UpdateSource != "" {
			v.needInterface(n.UpdateSourcePos, "neighbor update-source", n.UpdateSource)
			if ifc := v.c.Interface(n.UpdateSource); ifc != nil && !ifc.Address.IsValid() && !ifc.DHCP {
				v.warnf(n.UpdateSourcePos, "neighbor %s update-source %s: the interface has no address", n.Addr, n.UpdateSource)
			}
		}
		if n.Keepalive != 0 && n.Hold != 0 && n.Keepalive > n.Hold {
			v.errf(n.Pos, "neighbor %s timers: keepalive %v is longer than hold time %v", n.Addr, n.Keepalive, n.Hold)
		}
	}
}
