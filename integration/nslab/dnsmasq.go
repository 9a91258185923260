package nslab

import (
	"fmt"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/internal/netlab"
)

// DnsmasqOptions describes a DHCP server (dnsmasq, DNS off) for
// StartDnsmasq.
type DnsmasqOptions struct {
	// Name names its files ("dnsmasq-<name>.leases") and log.
	Name string
	// Interface is the link it serves, in the namespace.
	Interface string
	// First and Last bound the pool; Mask is its netmask (255.255.255.0
	// when empty).
	First, Last, Mask string
	// Router and DNS are options 3 and 6 when set.
	Router, DNS string
	// Lease is the lease time; dnsmasq's minimum is two minutes.
	Lease time.Duration
	// T1 and T2 override the renewal and rebinding times (options 58 and
	// 59), so a test sees renewals long before the two-minute lease ends.
	T1, T2 time.Duration
}

// StartDnsmasq runs dnsmasq as an authoritative DHCP server only (no DNS)
// in ns, in the foreground, logging every DHCP exchange. Authoritative: a
// client renewing an address the server does not know gets a NAK, as
// from an ISP whose server has moved on.
func StartDnsmasq(ns *Namespace, o DnsmasqOptions) (*Proc, error) {
	if err := netlab.CheckName(o.Name); err != nil {
		return nil, fmt.Errorf("nslab: dnsmasq name: %w", err)
	}
	mask := o.Mask
	if mask == "" {
		mask = "255.255.255.0"
	}
	lease := max(o.Lease, 2*time.Minute)
	args := []string{"dnsmasq", "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--group=root", "--pid-file=", "--no-resolv", "--no-hosts", "--log-dhcp", "--log-facility=-",
		"--dhcp-authoritative", "--bind-interfaces", "--interface=" + o.Interface, "--except-interface=lo",
		"--dhcp-leasefile=" + ns.Lab().Path("dnsmasq-"+o.Name+".leases"),
		fmt.Sprintf("--dhcp-range=%s,%s,%s,%ds", o.First, o.Last, mask, int(lease.Seconds())),
	}
	if o.Router != "" {
		args = append(args, "--dhcp-option=option:router,"+o.Router)
	}
	if o.DNS != "" {
		args = append(args, "--dhcp-option=option:dns-server,"+o.DNS)
	}
	if o.T1 > 0 {
		args = append(args, fmt.Sprintf("--dhcp-option=option:T1,%d", int(o.T1.Seconds())))
	}
	if o.T2 > 0 {
		args = append(args, fmt.Sprintf("--dhcp-option=option:T2,%d", int(o.T2.Seconds())))
	}
	p, err := ns.Start("dnsmasq-"+o.Name, nil, args...)
	if err != nil {
		return nil, err
	}
	// dnsmasq says "started" once it has read its options and listens.
	err = WaitFor(10*time.Second, "dnsmasq "+o.Name+" started", func() error {
		if exited, werr := p.Exited(); exited {
			return fmt.Errorf("dnsmasq exited (%v): %s", werr, strings.TrimSpace(p.Log()))
		}
		if !strings.Contains(p.Log(), "DHCP, IP range") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("nslab: %w", err)
	}
	return p, nil
}
