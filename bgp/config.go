package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

// Defaults that IX and Azure VPN Gateway share.
const (
	DefaultKeepalive = 60 * time.Second
	DefaultHold      = 180 * time.Second
)

// AzureMaxPrefixes is how many prefixes Azure VPN Gateway accepts from an
// on-premises peer; beyond it Azure drops the session.
const AzureMaxPrefixes = 4000

// loopbackMultihopTTL is the TTL soft-ix uses towards an eBGP neighbor
// that has "update-source" but no "ebgp-multihop".
//
// The IX brings up the seed's session (10.2.2.2 on Loopback0.0 to
// 172.16.0.6 routed into Tunnel0.0) without ebgp-multihop: it does no
// connected check on eBGP sessions. GoBGP does no connected check either,
// but it sends TTL 1 on eBGP sessions, which only works while the peer is
// exactly one IP hop away. A neighbor addressed from a loopback is by
// definition not on a shared subnet, and whatever stands between (the
// Azure gateway's tunnel endpoint, a router in a lab) may cost a hop, so
// soft-ix treats it as multihop with TTL 255, as the IX behaves.
const loopbackMultihopTTL = 255

// settings is everything the speaker is told, derived from a configuration.
type settings struct {
	global   globalConf
	peers    map[netip.Addr]peerConf
	networks []netip.Prefix
	policy   policy
}

// settingsFrom translates "router bgp" (and the interface addresses it
// refers to) into speaker settings.
func settingsFrom(cfg *config.Config, listenPort int32) (settings, error) {
	b := cfg.BGP
	if b == nil {
		return settings{}, errors.New("bgp: no router bgp in configuration")
	}
	if b.ASN == 0 {
		return settings{}, errors.New("bgp: router bgp without AS number")
	}
	rid, err := RouterID(cfg)
	if err != nil {
		return settings{}, err
	}
	s := settings{
		global: globalConf{ASN: b.ASN, RouterID: rid, ListenPort: listenPort},
		peers:  map[netip.Addr]peerConf{},
		policy: policyFrom(cfg),
	}
	for _, n := range b.Neighbors {
		if !n.Addr.Is4() {
			continue // config warns: IPv6 neighbors are not emulated
		}
		p, err := neighborConf(cfg, b, n)
		if err != nil {
			return settings{}, err
		}
		s.peers[p.Addr] = p
	}
	seen := map[netip.Prefix]bool{}
	for _, p := range b.Networks {
		p = p.Masked()
		if !p.Addr().Is4() || seen[p] {
			continue
		}
		seen[p] = true
		s.networks = append(s.networks, p)
	}
	return s, nil
}

func neighborConf(cfg *config.Config, b *config.BGP, n *config.Neighbor) (peerConf, error) {
	if n.RemoteAS == 0 {
		return peerConf{}, fmt.Errorf("bgp: neighbor %s: no remote-as", n.Addr)
	}
	p := peerConf{
		Addr:        n.Addr,
		RemoteAS:    n.RemoteAS,
		Keepalive:   n.Keepalive,
		Hold:        n.Hold,
		Description: n.Description,

		ConnectRetry:          n.ConnectInterval,
		AdvertisementInterval: n.AdvertisementInterval,
	}
	if p.Keepalive <= 0 {
		p.Keepalive = DefaultKeepalive
	}
	if p.Hold <= 0 {
		p.Hold = DefaultHold
	}
	if n.UpdateSource != "" {
		ifc := cfg.Interface(n.UpdateSource)
		if ifc == nil {
			return peerConf{}, fmt.Errorf("bgp: neighbor %s: update-source %s is not configured", n.Addr, n.UpdateSource)
		}
		// An update-source without an address loads on the IX (config
		// warns); the session then leaves from the address the kernel
		// picks, rather than keeping the whole speaker from starting.
		if ifc.Address.IsValid() {
			p.LocalAddr = ifc.Address.Addr()
		}
	}
	ebgp := n.RemoteAS != b.ASN
	switch {
	case n.EBGPMultihop > 255:
		p.MultihopTTL = 255
	case n.EBGPMultihop > 0:
		p.MultihopTTL = uint8(n.EBGPMultihop)
	case ebgp && n.UpdateSource != "":
		p.MultihopTTL = loopbackMultihopTTL
	}
	return p, nil
}

// RouterID returns the BGP router ID as the IX chooses it: the configured
// "router-id", else the highest loopback address, else the highest address
// of any interface.
func RouterID(cfg *config.Config) (netip.Addr, error) {
	if cfg.BGP != nil && cfg.BGP.RouterID.IsValid() {
		return cfg.BGP.RouterID, nil
	}
	var loop, any netip.Addr
	for _, ifc := range cfg.Interfaces {
		if !ifc.Address.IsValid() || !ifc.Address.Addr().Is4() || ifc.Shutdown {
			continue
		}
		a := ifc.Address.Addr()
		if ifc.Kind == config.KindLoopback && (!loop.IsValid() || a.Compare(loop) > 0) {
			loop = a
		}
		if !any.IsValid() || a.Compare(any) > 0 {
			any = a
		}
	}
	switch {
	case loop.IsValid():
		return loop, nil
	case any.IsValid():
		return any, nil
	}
	return netip.Addr{}, errors.New("bgp: no router-id configured and no IPv4 interface address to choose one from")
}
