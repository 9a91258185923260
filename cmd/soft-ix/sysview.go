package main

// The daemon reads "show interfaces" and "show ip route" from the kernel of
// its own network namespace: that is what forwards packets, so it is the
// truth an operator needs, whatever the components believe they installed.

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
)

// rtprotBGP is the route protocol number BGP-learned kernel routes carry
// (RTPROT_BGP in linux/rtnetlink.h), shown with code B.
const rtprotBGP = 186

// linuxName is the Linux device playing the IX interface: the --map entry
// for a GigaEthernet, the IX name itself for the devices soft-ix creates.
func linuxName(i *config.Interface, maps map[string]string) string {
	switch i.Kind {
	case config.KindGigaEthernet:
		return maps[i.Name]
	case config.KindTunnel, config.KindLoopback:
		return i.Name
	}
	return ""
}

// interfaceStates is "show interfaces": every interface of the config in
// its order, then mapped GigaEthernets the config does not mention, each
// with the state of the Linux device playing it.
//
// A tunnel is up only while tunnelUp says it has an SA, as on the IX.
func interfaceStates(cfg *config.Config, maps map[string]string, tunnelUp func(string) bool) []show.Interface {
	var out []show.Interface
	seen := map[string]bool{}
	for _, ci := range cfg.Interfaces {
		seen[ci.Name] = true
		si := show.Interface{
			Name: ci.Name, Description: ci.Description, AdminDown: ci.Shutdown,
			Unnumbered: ci.Unnumbered, MTU: ci.MTU,
		}
		if ci.Address.IsValid() {
			si.Addresses = []netip.Prefix{ci.Address}
		}
		if dev := linuxName(ci, maps); dev != "" {
			linkState(&si, dev)
		}
		if ci.Kind == config.KindTunnel && tunnelUp != nil && !tunnelUp(ci.Name) {
			si.Up = false
		}
		out = append(out, si)
	}
	var extra []string
	for ix := range maps {
		if !seen[ix] {
			extra = append(extra, ix)
		}
	}
	sort.Strings(extra)
	for _, ix := range extra {
		si := show.Interface{Name: ix}
		linkState(&si, maps[ix])
		out = append(out, si)
	}
	return out
}

// linkState fills si from the Linux device dev.
func linkState(si *show.Interface, dev string) {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		si.Linux = dev + " (absent)"
		return
	}
	si.Linux = dev
	a := link.Attrs()
	// TUN devices report operstate "unknown" while they carry traffic.
	si.Up = a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
	si.MTU = a.MTU
	if addrs, err := netlink.AddrList(link, netlink.FAMILY_V4); err == nil {
		si.Addresses = nil
		for _, ad := range addrs {
			if p, ok := prefixOf(ad.IPNet); ok {
				si.Addresses = append(si.Addresses, p)
			}
		}
	}
	if s := a.Statistics; s != nil {
		si.HasCounters = true
		si.RxPackets, si.RxBytes, si.RxErrors, si.RxDropped = s.RxPackets, s.RxBytes, s.RxErrors, s.RxDropped
		si.TxPackets, si.TxBytes, si.TxErrors, si.TxDropped = s.TxPackets, s.TxBytes, s.TxErrors, s.TxDropped
	}
}

// kernelRoutes is "show ip route": the IPv4 main table restricted to the
// devices that play IX interfaces, named with their IX names.
func kernelRoutes(cfg *config.Config, maps map[string]string) ([]show.Route, error) {
	ixByIndex := map[int]string{}
	for _, ci := range cfg.Interfaces {
		dev := linuxName(ci, maps)
		if dev == "" {
			continue
		}
		if link, err := netlink.LinkByName(dev); err == nil {
			ixByIndex[link.Attrs().Index] = ci.Name
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("reading the routing table: %w", err)
	}
	var out []show.Route
	for _, r := range routes {
		ix, ok := ixByIndex[r.LinkIndex]
		if !ok || r.Type != unix.RTN_UNICAST {
			continue
		}
		sr := show.Route{Interface: ix, Metric: r.Priority}
		if r.Dst == nil {
			sr.Prefix = netip.MustParsePrefix("0.0.0.0/0")
		} else if p, ok := prefixOf(r.Dst); ok {
			sr.Prefix = p.Masked()
		} else {
			continue
		}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			sr.NextHop = gw.Unmap()
		}
		switch r.Protocol {
		case unix.RTPROT_KERNEL:
			sr.Code, sr.Metric = show.Connected, 1
		case rtprotBGP:
			sr.Code, sr.Distance = show.BGP, 20
		default:
			sr.Code, sr.Distance = show.Static, staticDistance(cfg, sr.Prefix)
		}
		out = append(out, sr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Prefix, out[j].Prefix
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return out, nil
}

func staticDistance(cfg *config.Config, p netip.Prefix) int {
	for _, r := range cfg.Routes {
		if r.Prefix == p && r.Distance > 0 {
			return r.Distance
		}
	}
	return 1
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
