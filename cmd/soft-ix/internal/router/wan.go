package router

// The DHCP client of the WAN ports ("ip address dhcp"): one tun/dhcp
// client per mapped GigaEthernet the file owns. A lease becomes part of
// the configuration the router runs, the "effective" configuration:
// the port's address, the routes "ip route P IF dhcp" through the lease's
// router, and with "receive-default" a default route through it. The file
// itself (show running-config) is never changed.

import (
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/tun/dhcp"
)

// dhcpClient is what the router needs of tun/dhcp's Client.
type dhcpClient interface {
	Lease() (dhcp.Lease, bool)
	Close() error
}

// wanLeases collects the leases the clients report. Clients only store
// their lease here and kick the applier: they never wait for the
// router's lock, so stopping a client under that lock cannot deadlock.
type wanLeases struct {
	mu     sync.Mutex
	latest map[string]dhcp.Lease // IX interface name -> lease
	kick   chan struct{}         // buffered 1: something changed
}

func newWANLeases() *wanLeases {
	return &wanLeases{latest: map[string]dhcp.Lease{}, kick: make(chan struct{}, 1)}
}

func (w *wanLeases) set(ix string, l dhcp.Lease) {
	w.mu.Lock()
	if l.Valid() {
		w.latest[ix] = l
	} else {
		delete(w.latest, ix)
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *wanLeases) snapshot() map[string]dhcp.Lease {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]dhcp.Lease, len(w.latest))
	for k, v := range w.latest {
		out[k] = v
	}
	return out
}

// wantsDHCP lists the interfaces of cfg soft-ix runs a DHCP client for:
// mapped GigaEthernets with "ip address dhcp" that the file owns.
func wantsDHCP(cfg *config.Config, o Options) map[string]string {
	out := map[string]string{}
	if o.HostInterfaces {
		return out
	}
	for _, i := range cfg.Interfaces {
		if dev, ok := o.Maps[i.Name]; ok && i.Kind == config.KindGigaEthernet && i.DHCP && !i.Shutdown {
			out[i.Name] = dev
		}
	}
	return out
}

// syncDHCP starts the clients cfg asks for and stops (releasing their
// leases) those it no longer does. Called with r.mu held.
func (r *Router) syncDHCP(cfg *config.Config) {
	want := wantsDHCP(cfg, r.opts)
	for ix, cl := range r.dhcp {
		if _, ok := want[ix]; ok {
			continue
		}
		if err := cl.Close(); err != nil {
			r.log.Warn("dhcp: release", "interface", ix, "err", err)
		}
		delete(r.dhcp, ix)
		delete(r.applied, ix)
		r.leases.set(ix, dhcp.Lease{})
	}
	for ix, dev := range want {
		if _, ok := r.dhcp[ix]; ok {
			continue
		}
		cl, err := r.startDHCP(dhcp.Config{
			Link:     dev,
			Hostname: cfg.Hostname,
			Log:      r.log.With("interface", ix),
			OnLease:  func(l dhcp.Lease) { r.leases.set(ix, l) },
		})
		if err != nil {
			r.log.Error("dhcp: client not started", "interface", ix, "linux", dev, "err", err)
			continue
		}
		r.dhcp[ix] = cl
	}
}

// followLeases applies each batch of lease changes until stop is closed.
func (r *Router) followLeases(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-r.leases.kick:
			r.applyLeases()
		}
	}
}

// applyLeases brings the Linux side and IKE in line with the leases now
// held: addresses and routes follow at once; tunnels whose IKE local
// address is a changed lease's are negotiated again from the new address.
func (r *Router) applyLeases() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg == nil || r.stopped {
		return
	}
	now := r.leases.snapshot()
	var changed []string
	for ix := range r.dhcp {
		if now[ix].Address != r.applied[ix].Address || now[ix].Router != r.applied[ix].Router {
			changed = append(changed, ix)
		}
	}
	for ix := range now {
		if _, running := r.dhcp[ix]; !running {
			delete(now, ix) // a stopped client's last report
		}
	}
	if len(changed) == 0 {
		return
	}
	moved := map[string]bool{}
	for _, ix := range changed {
		if now[ix].Address.Addr() != r.applied[ix].Address.Addr() {
			moved[ix] = true
		}
	}
	r.applied = now
	eff := effective(r.cfg, now)
	if r.linux != nil {
		if err := r.linux.Apply(eff); err != nil {
			r.log.Warn("interfaces and routes after a lease change", "err", err)
		}
	}
	if r.ipsec == nil || len(moved) == 0 {
		return
	}
	var tunnels []string
	for _, t := range r.cfg.Tunnels() {
		// A tunnel whose source the kernel picks may have left from any
		// WAN's lease.
		if src := tunnelSource(r.cfg, t); src == "" || moved[src] {
			tunnels = append(tunnels, t.Name)
		}
	}
	if len(tunnels) == 0 {
		return
	}
	if hasAddress(eff, moved) {
		r.log.Info("tunnels negotiate again from the new WAN address", "tunnels", tunnels)
	} else {
		r.log.Info("tunnels closed: the WAN lost its leased address; they negotiate again once there is a lease", "tunnels", tunnels)
	}
	if err := r.ipsec.Reload(eff, config.Changes{TunnelsChanged: tunnels}); err != nil {
		r.log.Warn("ikev2 after a lease change", "err", err)
	}
	r.syncTunnels(eff)
}

// withLeases is cfg with the leases the router runs (see effective).
func (r *Router) withLeases(cfg *config.Config) *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return effective(cfg, r.applied)
}

// hasAddress reports whether every interface in moved has an address in eff.
func hasAddress(eff *config.Config, moved map[string]bool) bool {
	for ix := range moved {
		if i := eff.Interface(ix); i == nil || !i.Address.IsValid() {
			return false
		}
	}
	return true
}

// tunnelSource is the interface a tunnel's IKE leaves from: its profile's
// "source-address IF", or "" when the kernel chooses (then any WAN lease
// may be its address). A literal source address follows no lease: "-",
// which names no interface.
func tunnelSource(cfg *config.Config, t *config.Interface) string {
	p := cfg.ProfileFor(t)
	if p.SourceAddress.IsValid() {
		return "-"
	}
	return p.SourceInterface
}

// effective is cfg with the leases in it: each leased interface has the
// leased address, "ip route P IF dhcp" goes through the lease's router
// (and is left out without one), and "receive-default" adds a default
// route through it unless the file has its own at distance 1. cfg itself
// is not changed; what is not rewritten is shared with it.
func effective(cfg *config.Config, leases map[string]dhcp.Lease) *config.Config {
	if cfg == nil {
		return nil
	}
	hasDHCP := slices.ContainsFunc(cfg.Interfaces, func(i *config.Interface) bool { return i.DHCP }) ||
		slices.ContainsFunc(cfg.Routes, func(r *config.Route) bool { return r.DHCP })
	if !hasDHCP {
		return cfg
	}
	out := *cfg
	out.Interfaces = make([]*config.Interface, len(cfg.Interfaces))
	out.Routes = nil
	staticDefault := false
	for _, r := range cfg.Routes {
		if !r.DHCP {
			out.Routes = append(out.Routes, r)
			if r.Prefix.Bits() == 0 && max(r.Distance, 1) == 1 {
				staticDefault = true
			}
			continue
		}
		l, ok := leases[r.Interface]
		if !ok || !l.Router.IsValid() {
			continue // inactive until there is a lease with a router
		}
		nr := *r
		nr.NextHop, nr.DHCP = l.Router, false
		out.Routes = append(out.Routes, &nr)
	}
	for i, ifc := range cfg.Interfaces {
		out.Interfaces[i] = ifc
		l, ok := leases[ifc.Name]
		if !ifc.DHCP || !ok {
			continue
		}
		ni := *ifc
		ni.Address = l.Address
		out.Interfaces[i] = &ni
		if ifc.DHCPReceiveDefault && l.Router.IsValid() && !staticDefault {
			out.Routes = append(out.Routes, &config.Route{
				Prefix: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Interface: ifc.Name, NextHop: l.Router, Pos: ifc.Pos,
			})
		}
	}
	return &out
}

// dhcpLeases is the state of every WAN DHCP client, for "show ip dhcp lease".
func (r *Router) dhcpLeases() []show.DHCPLease {
	var out []show.DHCPLease
	for ix, cl := range r.dhcp {
		sl := show.DHCPLease{Interface: ix}
		if l, ok := cl.Lease(); ok {
			sl.Address, sl.Router, sl.Server, sl.DNS, sl.Domain = l.Address, l.Router, l.Server, l.DNS, l.Domain
			sl.Obtained, sl.Duration, sl.T1, sl.T2 = l.Obtained, l.Duration, l.T1, l.T2
		}
		out = append(out, sl)
	}
	slices.SortFunc(out, func(a, b show.DHCPLease) int { return strings.Compare(a.Interface, b.Interface) })
	return out
}
