package router

// The state "show" renders and the metrics read, in package show's terms.
// Each method holds off a reload while it reads.

import (
	"fmt"
	"net/netip"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
)

// notRunning answers commands whose part the configuration does not start.
func notRunning(what string) error {
	return fmt.Errorf("%s is not running", what)
}

// Config is the configuration the router runs (the file's, without the
// DHCP leases: "show running-config").
func (r *Router) Config() *config.Config {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	return r.cfg
}

// IKESAs are the established IKE SAs ("show ikev2 sa").
func (r *Router) IKESAs() []show.IKESA {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.ipsec == nil {
		return nil
	}
	return r.ipsec.IKESAs()
}

// ChildSAs are the installed Child SAs ("show ikev2 child-sa").
func (r *Router) ChildSAs() []show.ChildSA {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.ipsec == nil {
		return nil
	}
	return r.ipsec.ChildSAs()
}

// ClearSA deletes the IKE SAs with peer (all when peer is invalid) and
// returns how many it deleted ("clear ikev2 sa").
func (r *Router) ClearSA(peer netip.Addr) (int, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.ipsec == nil {
		return 0, notRunning("IKEv2")
	}
	return r.ipsec.ClearSA(peer)
}

// ClearBGP is "clear ip bgp": it resets the session with neighbor, or
// with every neighbor when neighbor is invalid.
func (r *Router) ClearBGP(neighbor netip.Addr, how bgp.Reset) (int, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.bgp == nil {
		return 0, notRunning("BGP")
	}
	return r.bgp.Clear(neighbor, how)
}

// BGPSummary is "show ip bgp summary".
func (r *Router) BGPSummary() (show.BGPSummary, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.bgp == nil {
		return show.BGPSummary{}, notRunning("BGP")
	}
	return r.bgp.Summary()
}

// BGPNeighbors is "show ip bgp neighbors [A.B.C.D]": every neighbor, or
// the one asked for (not configured: an error).
func (r *Router) BGPNeighbors(neighbor netip.Addr) ([]show.BGPNeighbor, error) {
	sum, err := r.BGPSummary()
	if err != nil || !neighbor.IsValid() {
		return sum.Neighbors, err
	}
	for _, n := range sum.Neighbors {
		if n.Addr == neighbor {
			return []show.BGPNeighbor{n}, nil
		}
	}
	return nil, fmt.Errorf("BGP neighbor %s is not configured", neighbor)
}

// BGPRoutes lists what a neighbor sent, or what is sent to it
// (advertised); with an invalid neighbor address, every path of the table
// ("show ip bgp").
func (r *Router) BGPRoutes(neighbor netip.Addr, advertised bool) (show.BGPRoutes, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.bgp == nil {
		return show.BGPRoutes{}, notRunning("BGP")
	}
	return r.bgp.NeighborRoutes(neighbor, advertised)
}

// Routes is "show ip route": the kernel's main table in IX terms, with
// the BGP next hop of B routes.
func (r *Router) Routes() ([]show.Route, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.linux == nil {
		return nil, notRunning("routing")
	}
	routes, err := r.linux.Routes()
	if err != nil {
		return nil, err
	}
	if r.bgp != nil {
		bgpNextHops(r.bgp, routes)
	}
	return routes, nil
}

// bgpNextHops fills in the BGP next hop of B routes: the kernel has them as
// device routes out of the tunnel, the IX shows "via NEXTHOP, Tunnel0.0".
func bgpNextHops(b bgpSide, routes []show.Route) {
	var nextHop map[netip.Prefix]netip.Addr
	for i, r := range routes {
		if r.Code != show.BGP || r.NextHop.IsValid() {
			continue
		}
		if nextHop == nil {
			nextHop = map[netip.Prefix]netip.Addr{}
			sum, err := b.Summary()
			if err != nil {
				return
			}
			for _, n := range sum.Neighbors {
				t, err := b.NeighborRoutes(n.Addr, false)
				if err != nil {
					continue
				}
				for _, br := range t.Routes {
					if _, seen := nextHop[br.Prefix]; br.Best || !seen {
						nextHop[br.Prefix] = br.NextHop
					}
				}
			}
		}
		routes[i].NextHop = nextHop[r.Prefix]
	}
}

// Filters is what "show ip filter" and "show ip access-list" print: the
// configuration's filters and lists with the kernel's counter of each
// entry.
func (r *Router) Filters() ([]show.FilterDirection, []show.AccessList, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	return r.filterViews(r.cfg)
}

// NAPT is "show ip napt translation": the kernel's translations.
func (r *Router) NAPT() ([]show.NAPTTranslation, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	la, ok := r.linux.(linuxAdapter)
	if !ok {
		return nil, notRunning("the Linux side")
	}
	ts, err := la.Translations()
	if err != nil {
		return nil, err
	}
	return naptView(ts), nil
}

// ClearNAPT is "clear ip napt translation": the kernel forgets its
// translated connections.
func (r *Router) ClearNAPT() (int, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	la, ok := r.linux.(linuxAdapter)
	if !ok {
		return 0, notRunning("the Linux side")
	}
	return la.ClearTranslations()
}

// DHCP is "show ip dhcp lease": the WAN clients' leases and what the LAN
// servers have given out.
func (r *Router) DHCP() ([]show.DHCPLease, []show.DHCPBinding) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	return r.dhcpLeases(), r.dhcpBindings()
}

// Interfaces is "show interfaces", with the leased addresses of the dhcp
// interfaces.
func (r *Router) Interfaces() []show.Interface {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	return interfaceStates(r.withLeases(r.cfg), r.opts.Maps, r.tunnelUp)
}

// IKEStats are IKE counters beyond the SA tables; an ipsecSide may offer
// them (ipsecStatser) for the metrics.
type IKEStats struct {
	ChildSAsInstalled uint64            // outbound Child SAs installed (first SAs and rekeys)
	Rekeys            uint64            // Child SAs installed to replace a live one
	IKE               ike.Stats         // IKE control-plane counters (ike.Manager.Stats)
	DataPlaneDrops    map[string]uint64 // packets of no SA, by reason
	// PathMTUUpdates and PathMTUIgnored count the ICMP errors about our
	// ESP that lowered a tunnel's path MTU, and those not taken.
	PathMTUUpdates, PathMTUIgnored uint64
}

type ipsecStatser interface{ Stats() IKEStats }

// Snapshot is what the metrics read at scrape time.
type Snapshot struct {
	IKESAs     []show.IKESA
	ChildSAs   []show.ChildSA
	IKE        *IKEStats // nil without IPsec
	BGP        *show.BGPSummary
	Interfaces []show.Interface
}

// Snapshot reads the state the metrics show, each BGP neighbor with the
// number of prefixes it sent (accepted) and is sent.
func (r *Router) Snapshot() Snapshot {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	var s Snapshot
	if ip := r.ipsec; ip != nil {
		s.IKESAs, s.ChildSAs = ip.IKESAs(), ip.ChildSAs()
		if st, ok := ip.(ipsecStatser); ok {
			v := st.Stats()
			s.IKE = &v
		}
	}
	if b := r.bgp; b != nil {
		// The speaker counts each neighbor's prefixes: no need to list
		// them (4,000 from Azure) on every scrape.
		if sum, err := b.Summary(); err == nil {
			s.BGP = &sum
		}
	}
	s.Interfaces = interfaceStates(r.cfg, r.opts.Maps, r.tunnelUp)
	return s
}
