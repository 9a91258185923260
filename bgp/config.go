package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults that IX and Azure VPN Gateway share, used for a Neighbor whose
// Keepalive or Hold is zero.
const (
	DefaultKeepalive = 60 * time.Second
	DefaultHold      = 180 * time.Second
)

// AzureMaxPrefixes is how many prefixes Azure VPN Gateway accepts from an
// on-premises peer; beyond it Azure drops the session.
const AzureMaxPrefixes = 4000

// Config is what the speaker runs: bgp's own terms, which the router
// translates from the IX's "router bgp" (internal/ixbgp). bgp does not
// read the IX model.
type Config struct {
	ASN       uint32
	RouterID  netip.Addr // an IPv4 address
	Neighbors []Neighbor // IPv4 neighbors
	Networks  []netip.Prefix
	// RouteMaps are the route-maps neighbors refer to, by name.
	RouteMaps map[string]RouteMap
}

// Neighbor is one BGP neighbor.
type Neighbor struct {
	Addr        netip.Addr
	RemoteAS    uint32
	LocalAddr   netip.Addr    // the session's source address; invalid: chosen by the kernel
	Keepalive   time.Duration // 0: DefaultKeepalive
	Hold        time.Duration // 0: DefaultHold
	MultihopTTL uint8         // 0: directly connected eBGP (TTL 1)
	Description string

	// ConnectRetry is the time between connection attempts; 0:
	// defaultConnectRetry. There is no minimum advertisement interval:
	// GoBGP takes one in its API and never reads it.
	ConnectRetry time.Duration

	// RouteMapIn and RouteMapOut name entries of Config.RouteMaps ("" for
	// none): applied to what the neighbor sends, and to what is sent to it.
	RouteMapIn, RouteMapOut string

	// MaxPrefixes, when not 0, is how many prefixes the neighbor may send:
	// one more and the session is closed with a Cease NOTIFICATION
	// (RFC 4486 subcode 1), as Azure does beyond its limit.
	MaxPrefixes uint32
	// Passive waits for the neighbor to open the session and never
	// connects itself.
	Passive bool
}

// settings is everything the speaker is told, derived from a Config.
type settings struct {
	global   globalConf
	peers    map[netip.Addr]peerConf
	networks []netip.Prefix
	policy   policy
}

// settingsFrom checks c and turns it into speaker settings.
func settingsFrom(c Config, listenPort int32) (settings, error) {
	if c.ASN == 0 {
		return settings{}, errors.New("bgp: no AS number")
	}
	if !c.RouterID.Is4() {
		return settings{}, fmt.Errorf("bgp: router ID %v is not an IPv4 address", c.RouterID)
	}
	s := settings{
		global: globalConf{ASN: c.ASN, RouterID: c.RouterID, ListenPort: listenPort},
		peers:  map[netip.Addr]peerConf{},
		policy: policy{maps: map[string]RouteMap{}, in: map[netip.Addr]string{}, out: map[netip.Addr]string{}},
	}
	for _, n := range c.Neighbors {
		switch {
		case !n.Addr.Is4():
			return settings{}, fmt.Errorf("bgp: neighbor %v: not an IPv4 address", n.Addr)
		case n.RemoteAS == 0:
			return settings{}, fmt.Errorf("bgp: neighbor %s: no remote AS", n.Addr)
		}
		p := peerConf{
			Addr: n.Addr, RemoteAS: n.RemoteAS, LocalAddr: n.LocalAddr,
			Keepalive: n.Keepalive, Hold: n.Hold, MultihopTTL: n.MultihopTTL, Description: n.Description,
			ConnectRetry: n.ConnectRetry, MaxPrefixes: n.MaxPrefixes, Passive: n.Passive,
		}
		if p.Keepalive <= 0 {
			p.Keepalive = DefaultKeepalive
		}
		if p.Hold <= 0 {
			p.Hold = DefaultHold
		}
		s.peers[p.Addr] = p
		for _, u := range []struct {
			dir  map[netip.Addr]string
			name string
		}{{s.policy.in, n.RouteMapIn}, {s.policy.out, n.RouteMapOut}} {
			if u.name == "" {
				continue
			}
			rm, ok := c.RouteMaps[u.name]
			if !ok {
				return settings{}, fmt.Errorf("bgp: neighbor %s: no route-map %s", n.Addr, u.name)
			}
			u.dir[n.Addr] = u.name
			s.policy.maps[u.name] = rm
		}
	}
	seen := map[netip.Prefix]bool{}
	for _, p := range c.Networks {
		p = p.Masked()
		if !p.Addr().Is4() || seen[p] {
			continue
		}
		seen[p] = true
		s.networks = append(s.networks, p)
	}
	return s, nil
}
