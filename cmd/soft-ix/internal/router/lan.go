package router

// The DHCP server of the LAN ports: "ip dhcp enable" with "ip dhcp binding
// PROFILE" on an interface runs a tun/dhcpd server on its Linux link with
// the profile, the interface filling in what the profile leaves out.

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/tun/dhcpd"
)

// dhcpServers translates the file's DHCP server into one tun/dhcpd
// configuration per interface that serves, by IX name. Interfaces soft-ix
// has no Linux link for are left out (plan says so).
func dhcpServers(cfg *config.Config, links map[string]string) map[string]dhcpd.Config {
	out := map[string]dhcpd.Config{}
	if !cfg.DHCPServer {
		return out
	}
	for _, ifc := range cfg.Interfaces {
		pr := cfg.DHCPProfile(ifc.DHCPBinding)
		dev := linkOf(ifc, links)
		if pr == nil || dev == "" || !ifc.Address.IsValid() || !ifc.Address.Addr().Is4() {
			continue
		}
		c := dhcpdConfig(ifc, pr, dev)
		if c.Last.Less(c.First) {
			continue // the range lies outside the subnet (Validate warns)
		}
		out[ifc.Name] = c
	}
	return out
}

// dhcpdConfig is one profile on one interface. The IX's defaults: the
// pool is the interface's subnet, the gateway its address. Its pool is
// empty (Last before First) when the profile's range misses the subnet.
func dhcpdConfig(ifc *config.Interface, pr *config.DHCPProfile, dev string) dhcpd.Config {
	subnet := ifc.Address.Masked()
	c := dhcpd.Config{
		Link: dev, Address: ifc.Address, First: pr.RangeFirst, Last: pr.RangeLast,
		MaskBits: pr.MaskBits, Router: pr.DefaultGateway, DNS: pr.DNSServers, Domain: pr.DomainName,
		Lease: pr.LeaseTime, Fixed: map[string]netip.Addr{},
	}
	if !c.First.IsValid() {
		c.First, c.Last = subnet.Addr().Next(), lastHost(subnet)
	}
	// A range reaching past the subnet (a typo IX loads; Validate
	// warns) hands out only the part inside it.
	if lo := subnet.Addr().Next(); c.First.Less(lo) {
		c.First = lo
	}
	if hi := lastHost(subnet); hi.Less(c.Last) {
		c.Last = hi
	}
	if c.MaskBits == 0 {
		c.MaskBits = subnet.Bits()
	}
	if !c.Router.IsValid() {
		c.Router = ifc.Address.Addr()
	}
	if c.Lease == 0 {
		c.Lease = config.DefaultDHCPLease
	}
	for _, f := range pr.Fixed {
		c.Fixed[f.MAC.String()] = f.Addr
	}
	return c
}

// lastHost is the address below the subnet's broadcast address.
func lastHost(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	v--
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// syncDHCPServers runs the servers cfg asks for: a server whose
// configuration changed starts anew (its bindings are forgotten; clients
// keep their addresses and renew). Called with r.mu held.
func (r *Router) syncDHCPServers(cfg *config.Config) {
	want := dhcpServers(cfg, r.opts.Maps)
	for ix, s := range r.servers {
		if w, ok := want[ix]; ok && reflect.DeepEqual(w, r.serverCfg[ix]) {
			continue
		}
		if err := s.Close(); err != nil {
			r.log.Warn("dhcp server: stop", "interface", ix, "err", err)
		}
		delete(r.servers, ix)
		delete(r.serverCfg, ix)
	}
	for _, ix := range slices.Sorted(maps.Keys(want)) {
		if _, ok := r.servers[ix]; ok {
			continue
		}
		sc := want[ix]
		run := sc
		run.Log = r.log.With("interface", ix)
		s, err := dhcpd.Start(run)
		if err != nil {
			r.log.Error("dhcp server not started", "interface", ix, "err", err)
			continue
		}
		r.servers[ix], r.serverCfg[ix] = s, sc
	}
}

// dhcpBindings lists what each LAN server has given out.
func (r *Router) dhcpBindings() []show.DHCPBinding {
	var out []show.DHCPBinding
	for _, ix := range slices.Sorted(maps.Keys(r.servers)) {
		for _, b := range r.servers[ix].Bindings() {
			out = append(out, show.DHCPBinding{Interface: ix, Addr: b.Addr, MAC: b.MAC, Hostname: b.Hostname, Expires: b.Expires, Fixed: b.Fixed})
		}
	}
	return out
}

// closeDHCPServers stops every LAN server.
func (r *Router) closeDHCPServers() {
	for ix, s := range r.servers {
		if err := s.Close(); err != nil {
			r.log.Warn("dhcp server: stop", "interface", ix, "err", err)
		}
	}
	r.servers, r.serverCfg = map[string]*dhcpd.Server{}, map[string]dhcpd.Config{}
}
