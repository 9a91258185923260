// Package ixike translates the IX model's IKEv2 tunnels (interfaces with
// "tunnel mode ipsec-ikev2", the profiles they are bound to with the IX
// defaults filled in, "ikev2 authentication psk" keys) into ike.Config.
// Package ike negotiates from its own configuration and does not read the
// IX model, so the IX's rules live here: which profile a tunnel uses, how
// its source address is chosen, what an identity means. The daemon and
// the ikepeer test driver both use it.
package ixike

import (
	"fmt"
	"net/netip"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
)

// Config translates the IKEv2 part of cfg. A tunnel interface that is shut
// down is left out, as the IX does not negotiate for it.
func Config(cfg *config.Config) (ike.Config, error) {
	if cfg == nil {
		cfg = &config.Config{}
	}
	var out ike.Config
	for _, ifc := range cfg.Interfaces {
		if ifc.Tunnel == nil || ifc.Shutdown {
			continue
		}
		t, err := Tunnel(cfg, ifc)
		if err != nil {
			return ike.Config{}, err
		}
		out.Tunnels = append(out.Tunnels, t)
	}
	for _, p := range cfg.PSKs {
		id, err := ID(p.ID)
		if err != nil {
			return ike.Config{}, fmt.Errorf("ikev2 authentication psk: %w", err)
		}
		out.PSKs = append(out.PSKs, ike.PSK{ID: id, Key: p.Key})
	}
	def, err := Policy(cfg.ProfileFor(nil))
	if err != nil {
		return ike.Config{}, fmt.Errorf("ikev2 default-profile: %w", err)
	}
	out.Default = def
	return out, nil
}

// Tunnel translates the tunnel interface ifc of cfg.
func Tunnel(cfg *config.Config, ifc *config.Interface) (ike.TunnelConfig, error) {
	tun := ifc.Tunnel
	prof := cfg.ProfileFor(ifc)
	pol, err := Policy(prof)
	if err != nil {
		return ike.TunnelConfig{}, fmt.Errorf("%s: %w", ifc.Name, err)
	}
	peerID, err := ID(tun.PeerID)
	if err != nil {
		return ike.TunnelConfig{}, fmt.Errorf("%s: ikev2 peer: %w", ifc.Name, err)
	}
	localID, err := ID(prof.LocalID)
	if err != nil {
		return ike.TunnelConfig{}, fmt.Errorf("%s: local-authentication: %w", ifc.Name, err)
	}
	t := ike.TunnelConfig{
		Name: ifc.Name, Peer: tun.Peer, PeerAny: tun.PeerAny, PeerID: peerID, LocalID: localID,
		ConnectAuto: tun.ConnectAuto, NATKeepalive: tun.NATKeepalive, NATKeepaliveForce: tun.NATKeepaliveForce,
		Policy: pol,
	}
	switch tun.NegotiationDirection {
	case "initiator":
		t.Direction = ike.InitiatorOnly
	case "responder":
		t.Direction = ike.ResponderOnly
	}
	// "ikev2 source-address" (of the tunnel, else of its profile), as an
	// address or as the address of the interface it names; neither: the
	// kernel's source address for the route to the peer. The model holds
	// an interface's IPv4 address only ("ipv6 address" is the host's), so
	// an interface named for an IPv6 peer leaves the choice to the kernel
	// too, which takes an address of that family from the route.
	t.Source = prof.SourceAddress
	if !t.Source.IsValid() && prof.SourceInterface != "" {
		if si := cfg.Interface(prof.SourceInterface); si != nil && si.Address.IsValid() {
			t.Source = si.Address.Addr()
		}
	}
	if t.Source.IsValid() && tun.Peer.IsValid() && t.Source.Unmap().Is4() != tun.Peer.Unmap().Is4() {
		if prof.SourceAddress.IsValid() {
			// config's validation refuses this; say it again for callers
			// that translate without validating.
			return ike.TunnelConfig{}, fmt.Errorf("%s: ikev2 source-address %s and ikev2 peer %s are of different address families", ifc.Name, t.Source, tun.Peer)
		}
		t.Source = netip.Addr{}
	}
	return t, nil
}

// Policy maps an effective IX profile (config.ProfileFor: IX defaults
// already filled in) to an ike.Policy. An algorithm ike does not know is
// an error naming its keyword.
func Policy(p config.Profile) (ike.Policy, error) {
	var pol ike.Policy
	var err error
	prf := p.PRF
	if len(prf) == 0 {
		// As IX does: the PRF follows the integrity algorithm.
		for _, i := range p.Integrity {
			prf = append(prf, i.PRF())
		}
	}
	if pol.IKEEnc, err = lookup(ike.EncAlgorithm, p.Enc, "enc"); err != nil {
		return pol, err
	}
	if pol.IKEInteg, err = lookup(ike.IntegAlgorithm, p.Integrity, "integrity"); err != nil {
		return pol, err
	}
	if pol.IKEPRF, err = lookup(ike.PRFAlgorithm, prf, "prf"); err != nil {
		return pol, err
	}
	if pol.IKEDH, err = lookup(ike.DHAlgorithm, p.DH, "dh"); err != nil {
		return pol, err
	}
	if pol.ChildEnc, err = lookup(ike.EncAlgorithm, p.ChildEnc, "child enc"); err != nil {
		return pol, err
	}
	if pol.ChildInteg, err = lookup(ike.IntegAlgorithm, p.ChildIntegrity, "child integrity"); err != nil {
		return pol, err
	}
	if p.ChildPFS != "" {
		if pol.ChildPFS, err = lookup(ike.DHAlgorithm, []config.DHGroup{p.ChildPFS}, "child-pfs"); err != nil {
			return pol, err
		}
	}
	// ESN is offered alongside "no ESN" and used when the peer offers it.
	pol.ESN = true
	pol.IKELifetime = p.Lifetime
	pol.ChildLifetime = p.ChildLifetime
	pol.ChildLifetimeKB = p.ChildLifetimeKB
	pol.DPDInterval = p.DPDInterval
	return pol, nil
}

func lookup[K ~string](find func(string) (ike.Algorithm, bool), names []K, what string) ([]ike.Algorithm, error) {
	out := make([]ike.Algorithm, 0, len(names))
	for _, n := range names {
		a, ok := find(string(n))
		if !ok {
			return nil, fmt.Errorf("ike: unknown %s algorithm %q", what, n)
		}
		out = append(out, a)
	}
	return out, nil
}

// ID translates an IX identity; the zero Identity is the zero ID.
func ID(id config.Identity) (ike.ID, error) {
	switch id.Type {
	case "":
		return ike.ID{}, nil
	case config.IDIPv4, config.IDIPv6:
		a, err := netip.ParseAddr(id.Value)
		if err != nil {
			return ike.ID{}, fmt.Errorf("bad %s identity %q", id.Type, id.Value)
		}
		return ike.ID{Addr: a}, nil
	case config.IDFQDN:
		return ike.ID{FQDN: id.Value}, nil
	case config.IDKeyID:
		return ike.ID{KeyID: id.Value}, nil
	}
	return ike.ID{}, fmt.Errorf("unsupported identity type %q", id.Type)
}
