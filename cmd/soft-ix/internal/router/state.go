package router

// The state "show" renders and the metrics read, in package show's terms.
// Each method holds off a reload while it reads.

import (
	"fmt"
	"net/netip"

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
func (c *Router) Config() *config.Config {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	return c.cfg
}

// IKESAs are the established IKE SAs ("show ikev2 sa").
func (c *Router) IKESAs() []show.IKESA {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.ipsec == nil {
		return nil
	}
	return c.ipsec.IKESAs()
}

// ChildSAs are the installed Child SAs ("show ikev2 child-sa").
func (c *Router) ChildSAs() []show.ChildSA {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.ipsec == nil {
		return nil
	}
	return c.ipsec.ChildSAs()
}

// ClearSA deletes the IKE SAs with peer (all when peer is invalid) and
// returns how many it deleted ("clear ikev2 sa").
func (c *Router) ClearSA(peer netip.Addr) (int, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.ipsec == nil {
		return 0, notRunning("IKEv2")
	}
	return c.ipsec.ClearSA(peer)
}

// BGPSummary is "show ip bgp summary".
func (c *Router) BGPSummary() (show.BGPSummary, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.bgp == nil {
		return show.BGPSummary{}, notRunning("BGP")
	}
	return c.bgp.Summary()
}

// BGPRoutes lists what a neighbor sent, or what is sent to it
// (advertised); with an invalid neighbor address, every path of the table
// ("show ip bgp").
func (c *Router) BGPRoutes(neighbor netip.Addr, advertised bool) (show.BGPRoutes, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.bgp == nil {
		return show.BGPRoutes{}, notRunning("BGP")
	}
	return c.bgp.NeighborRoutes(neighbor, advertised)
}

// Routes is "show ip route": the kernel's main table in IX terms, with
// the BGP next hop of B routes.
func (c *Router) Routes() ([]show.Route, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if c.linux == nil {
		return nil, notRunning("routing")
	}
	routes, err := c.linux.Routes()
	if err != nil {
		return nil, err
	}
	if c.bgp != nil {
		bgpNextHops(c.bgp, routes)
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
func (c *Router) Filters() ([]show.FilterDirection, []show.AccessList, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	return c.filterViews(c.cfg)
}

// NAPT is "show ip napt translation": the kernel's translations.
func (c *Router) NAPT() ([]show.NAPTTranslation, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	la, ok := c.linux.(linuxAdapter)
	if !ok {
		return nil, notRunning("the Linux side")
	}
	ts, err := la.Translations()
	if err != nil {
		return nil, err
	}
	return naptView(ts), nil
}

// DHCP is "show ip dhcp lease": the WAN clients' leases and what the LAN
// servers have given out.
func (c *Router) DHCP() ([]show.DHCPLease, []show.DHCPBinding) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	return c.dhcpLeases(), c.dhcpBindings()
}

// Interfaces is "show interfaces", with the leased addresses of the dhcp
// interfaces.
func (c *Router) Interfaces() []show.Interface {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	return interfaceStates(c.withLeases(c.cfg), c.opts.Maps, c.tunnelUp)
}

// IKEStats are IKE counters beyond the SA tables; an ipsecSide may offer
// them (ipsecStatser) for the metrics.
type IKEStats struct {
	ChildSAsInstalled uint64            // outbound Child SAs installed (first SAs and rekeys)
	Rekeys            uint64            // Child SAs installed to replace a live one
	IKE               ike.Stats         // IKE control-plane counters (ike.Manager.Stats)
	DataPlaneDrops    map[string]uint64 // packets of no SA, by reason
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
// number of prefixes it sent and is sent.
func (c *Router) Snapshot() Snapshot {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	var s Snapshot
	if ip := c.ipsec; ip != nil {
		s.IKESAs, s.ChildSAs = ip.IKESAs(), ip.ChildSAs()
		if st, ok := ip.(ipsecStatser); ok {
			v := st.Stats()
			s.IKE = &v
		}
	}
	if b := c.bgp; b != nil {
		if sum, err := b.Summary(); err == nil {
			for i, n := range sum.Neighbors {
				if r, err := b.NeighborRoutes(n.Addr, false); err == nil {
					sum.Neighbors[i].PrefixesReceived = len(r.Routes)
				}
				if r, err := b.NeighborRoutes(n.Addr, true); err == nil {
					sum.Neighbors[i].PrefixesAdvertised = len(r.Routes)
				}
			}
			s.BGP = &sum
		}
	}
	s.Interfaces = interfaceStates(c.cfg, c.opts.Maps, c.tunnelUp)
	return s
}
