package router

// The router reads "show interfaces" from the kernel of its own network
// namespace ("show ip route" comes from tun.Manager.Routes, which reads the
// kernel too): that is what forwards packets, so it is the truth an
// operator needs, whatever the parts believe they installed.

import (
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
)

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
