package netlab

import (
	"fmt"
	"strings"
	"time"
)

// The seed scenario over an IPv6-only internet (ScenarioOptions.IPv6Internet),
// as an IX on IPv6 internet access (common in Japan) reaches its peer:
//
//	IX ns "ix"               GigaEthernet0.0 2001:db8:1::94/64 (IX WAN), default via 2001:db8:1::1
//	internet ns "inet"       ix    2001:db8:1::1/64
//	  (forwards IPv6 only)   azure 2001:db8:2::1/64
//	Azure gateway ns "azure" wan   2001:db8:2::6/64, default via 2001:db8:2::1
//
// The LAN, the VNet and the IX LAN address stay IPv4: the tunnel carries
// IPv4 over IPv6.
const (
	IXWANAddr6              = "2001:db8:1::94"
	InternetIXSideAddr6     = "2001:db8:1::1"
	InternetAzureSideAddr6  = "2001:db8:2::1"
	AzurePublicAddr6        = "2001:db8:2::6"
	ipv6AddressWaitDuration = 10 * time.Second
)

// EnableIPv6 turns IPv6 on in the namespace whatever the root namespace's
// defaults are (a host may boot with it disabled): on every interface
// created from now on and on those that exist, without duplicate address
// detection (accept_dad 0: a lab has no duplicates, and DAD would keep new
// addresses tentative, unusable, for a second or more), and with IPv6
// forwarding when forward is set. Call it before Link adds addresses.
func (ns *Namespace) EnableIPv6(forward bool) error {
	fwd := "0"
	if forward {
		fwd = "1"
	}
	var b strings.Builder
	for _, conf := range []string{"all", "default", "lo"} {
		fmt.Fprintf(&b, "echo 0 > /proc/sys/net/ipv6/conf/%s/disable_ipv6 && ", conf)
	}
	for _, conf := range []string{"all", "default"} {
		fmt.Fprintf(&b, "echo 0 > /proc/sys/net/ipv6/conf/%s/accept_dad && ", conf)
	}
	fmt.Fprintf(&b, "echo %s > /proc/sys/net/ipv6/conf/all/forwarding", fwd)
	if _, err := ns.Run("sh", "-c", b.String()); err != nil {
		return fmt.Errorf("netlab: IPv6 in %s (is IPv6 built into this kernel?): %w", ns.Name, err)
	}
	return nil
}

// WaitIPv6Addresses waits until no IPv6 address of the namespace is
// tentative (still in duplicate address detection) or failed it.
func (ns *Namespace) WaitIPv6Addresses(timeout time.Duration) error {
	return WaitFor(timeout, "IPv6 addresses usable in "+ns.Name, func() error {
		out, err := ns.Run("ip", "-6", "-o", "addr", "show")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "tentative") || strings.Contains(line, "dadfailed") {
				return fmt.Errorf("not yet: %s", strings.TrimSpace(line))
			}
		}
		return nil
	})
}

// enableIPv6 prepares the scenario's namespaces for the IPv6 internet:
// IPv6 on everywhere on the way, forwarding in the internet router only.
func (s *Scenario) enableIPv6() error {
	for _, ns := range []*Namespace{s.IX, s.Internet, s.Azure} {
		if err := ns.EnableIPv6(ns == s.Internet); err != nil {
			return err
		}
	}
	return nil
}

// WaitIPv6 waits until the IPv6 addresses of the scenario's IX, internet
// router and gateway are usable.
func (s *Scenario) WaitIPv6() error {
	for _, ns := range []*Namespace{s.IX, s.Internet, s.Azure} {
		if err := ns.WaitIPv6Addresses(ipv6AddressWaitDuration); err != nil {
			return err
		}
	}
	return nil
}
