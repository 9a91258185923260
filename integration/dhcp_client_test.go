package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// dhcpWANConfig is a branch whose WAN takes its address, its default
// route and the route to the peers' network from the ISP's DHCP server.
const dhcpWANConfig = `hostname dhcp-ix
interface GigaEthernet0.0
  ip address dhcp receive-default
  no shutdown
ip route 198.51.100.0/24 GigaEthernet0.0 dhcp
`

// dhcpISP is the ISP's DHCP server on the internet router's side of the
// IX's WAN: one address in the pool, renewal after 4 s, rebinding after 7.
func dhcpISP(t *testing.T, inet *nslab.Namespace, dev, name, addr string) *nslab.Proc {
	t.Helper()
	p, err := nslab.StartDnsmasq(inet, nslab.DnsmasqOptions{
		Name: name, Interface: dev, First: addr, Last: addr,
		Router: nslab.InternetIXSideAddr, DNS: "192.0.2.53", T1: 4 * time.Second, T2: 7 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitOut polls a command in ns until its output contains want.
func waitOut(t *testing.T, ns *nslab.Namespace, timeout time.Duration, want string, args ...string) {
	t.Helper()
	if err := nslab.WaitFor(timeout, strings.Join(args, " ")+" showing "+want, func() error {
		out, err := ns.Run(args...)
		if err != nil {
			return err
		}
		if !strings.Contains(out, want) {
			return errNotYet(out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// leasedWAN is the bare lab with the ISP's dnsmasq and soft-ix running
// dhcpWANConfig, once the WAN holds its lease (203.0.113.100).
func leasedWAN(t *testing.T, prefix string) (*nslab.Namespace, *nslab.Proc, *nslab.SoftIX) {
	t.Helper()
	_, ix, inet := newBareLab(t, prefix)
	nslab.Require(t, "dnsmasq")
	isp := dhcpISP(t, inet, "eth0", "isp", "203.0.113.100")
	x, err := nslab.StartSoftIXDaemon(ix, nslab.SoftIXOptions{Name: "ix", Config: dhcpWANConfig, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	waitOut(t, ix, 30*time.Second, "inet 203.0.113.100/24", "ip", "addr", "show", "dev", nslab.IXWANIf)
	return ix, isp, x
}

// waitRelease waits for dnsmasq to log the release of leasedWAN's lease.
func waitRelease(t *testing.T, isp *nslab.Proc) {
	t.Helper()
	if err := nslab.WaitFor(5*time.Second, "DHCPRELEASE at dnsmasq", func() error {
		if !strings.Contains(isp.Log(), "DHCPRELEASE(eth0) 203.0.113.100") {
			return errNotYet("no release")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestDHCPClientLease: soft-ix obtains a lease from dnsmasq on a WAN with
// no address, installs the address, the default route (receive-default)
// and "ip route ... dhcp" through the lease's router, shows the lease,
// renews it at T1, and on stop releases it and takes back what it set.
func TestDHCPClientLease(t *testing.T) {
	ix, isp, x := leasedWAN(t, "dhcpc")
	waitOut(t, ix, 10*time.Second, "default via 203.0.113.1", "ip", "route", "show")
	waitOut(t, ix, 10*time.Second, "198.51.100.0/24 via 203.0.113.1", "ip", "route", "show")
	if err := ix.Ping(nslab.InternetIXSideAddr, "", 1); err != nil {
		t.Errorf("internet router over the leased address: %v", err)
	}
	out, err := x.Command("show", "ip", "dhcp", "lease")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := x.Command("show", "interfaces"); err != nil || !strings.Contains(out, "203.0.113.100/24") {
		t.Errorf("show interfaces lacks the leased address (%v):\n%s", err, out)
	}
	for _, want := range []string{"GigaEthernet0.0", "IP address: 203.0.113.100/24", "Default gateway: 203.0.113.1", "DHCP server: 203.0.113.1", "DNS servers: 192.0.2.53"} {
		if !strings.Contains(out, want) {
			t.Errorf("show ip dhcp lease lacks %q:\n%s", want, out)
		}
	}

	// Renewal at T1 (4 s): dnsmasq acknowledges the same address again.
	if err := nslab.WaitFor(30*time.Second, "a renewal", func() error {
		if n := strings.Count(isp.Log(), "DHCPACK(eth0) 203.0.113.100"); n < 2 {
			return fmt.Errorf("%d ACKs", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(x.Proc.Log(), "dhcp: lease obtained"); n != 1 {
		t.Errorf("%d 'lease obtained' log lines, want 1 (renewals are not new leases)", n)
	}

	if err := x.Proc.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	if wan := ipOut(t, ix, "addr", "show", "dev", nslab.IXWANIf); strings.Contains(wan, "203.0.113.100") {
		t.Errorf("after stop, the leased address stays:\n%s", wan)
	}
	if r := ipOut(t, ix, "route", "show"); strings.Contains(r, "203.0.113.1") {
		t.Errorf("after stop, routes through the lease's router stay:\n%s", r)
	}
	waitRelease(t, isp)
}

// TestDHCPClientIKEFollowsAddress: the IX's WAN address comes from DHCP
// and its tunnel to strongSwan (standing in for Azure, accepting the IX
// from any address and ID) leaves from it. The ISP's server then moves
// the IX to another address (its renewal is refused): the IX takes the
// new lease and the tunnel is negotiated again from the new address.
func TestDHCPClientIKEFollowsAddress(t *testing.T) {
	l := iopNewLab(t, "dhcpike", "dnsmasq")
	if err := l.s.IX.IP("addr", "flush", "dev", nslab.IXWANIf); err != nil {
		t.Fatal(err)
	}
	isp := dhcpISP(t, l.s.Internet, "ix", "isp", "203.0.113.100")
	c := l.startCharonEdit(iopAzure(), func(s string) string {
		s = strings.Replace(s, "remote_addrs = 203.0.113.94", "remote_addrs = %any", 1)
		s = strings.Replace(s, "id = 203.0.113.94", "id = %any", 1)
		// A secret without owners is charon's for any pair of IDs.
		s = strings.Replace(s, "    id-local = 198.51.100.6\n", "", 1)
		return strings.Replace(s, "    id-remote = 203.0.113.94\n", "", 1)
	})
	ixConf := iopIXConf{}.text()
	for _, r := range [][2]string{
		{"  ip address 203.0.113.94/24\n", "  ip address dhcp receive-default\n"},
		{"  ikev2 connect-type auto\n", "  ikev2 connect-type auto\n  ikev2 source-address GigaEthernet0.0\n"},
	} {
		if !strings.Contains(ixConf, r[0]) {
			t.Fatalf("the IX config has no %q", r[0])
		}
		ixConf = strings.Replace(ixConf, r[0], r[1], 1)
	}
	ix, err := nslab.StartSoftIXDaemon(l.s.IX, nslab.SoftIXOptions{Name: "ix", Config: ixConf, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	l.ix = ix
	tunnelFrom := func(addr string) func() error {
		return func() error {
			sas := l.ikeSAs(ix)
			if len(sas) != 1 || !strings.HasPrefix(sas[0].LocalAddr, addr) {
				return fmt.Errorf("the IX's IKE SAs: %+v", sas)
			}
			if out, err := c.ListSAs(); err != nil || !strings.Contains(out, "@ "+addr+"[") {
				return fmt.Errorf("charon's SAs (%v): %s", err, out)
			}
			return l.s.LAN.Ping(nslab.VNetHostAddr, "", 1)
		}
	}
	if err := nslab.WaitFor(30*time.Second, "charon's tunnel", c.Established); err != nil {
		t.Fatal(err)
	}
	l.charonUp(c, 10*time.Second)
	if err := nslab.WaitFor(30*time.Second, "tunnel from the first lease 203.0.113.100", tunnelFrom("203.0.113.100")); err != nil {
		t.Fatal(err)
	}

	// The ISP's server moves on: a new pool, no memory of the old lease.
	if err := isp.Stop(); err != nil {
		t.Logf("stop dnsmasq: %v", err)
	}
	dhcpISP(t, l.s.Internet, "ix", "isp2", "203.0.113.101")
	waitOut(t, l.s.IX, 45*time.Second, "inet 203.0.113.101/24", "ip", "addr", "show", "dev", nslab.IXWANIf)
	if wan := ipOut(t, l.s.IX, "addr", "show", "dev", nslab.IXWANIf); strings.Contains(wan, "203.0.113.100") {
		t.Errorf("the old leased address stays beside the new one:\n%s", wan)
	}
	if err := nslab.WaitFor(45*time.Second, "tunnel from the new lease 203.0.113.101", tunnelFrom("203.0.113.101")); err != nil {
		t.Fatal(err)
	}
	log := ix.Proc.Log()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "dhcp: lease") && !strings.Contains(line, "renewed") || strings.Contains(line, "negotiate again") {
			t.Log(line)
		}
	}
	if !strings.Contains(log, "tunnels negotiate again from the new WAN address") {
		t.Errorf("the IX's log does not say the tunnel follows the new address")
	}
}

// TestDHCPClientReload: a reload that gives the WAN a fixed address stops
// the DHCP client (the lease is released and its address removed) and
// puts the file's address in its place.
func TestDHCPClientReload(t *testing.T) {
	ix, isp, x := leasedWAN(t, "dhcpr")
	if err := os.WriteFile(x.ConfPath, []byte(ownedConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := x.Command("reload"); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	waitOut(t, ix, 10*time.Second, "inet 203.0.113.94/24", "ip", "addr", "show", "dev", nslab.IXWANIf)
	if wan := ipOut(t, ix, "addr", "show", "dev", nslab.IXWANIf); strings.Contains(wan, "203.0.113.100") {
		t.Errorf("the leased address stays after the reload:\n%s", wan)
	}
	waitOut(t, ix, 10*time.Second, "default via 203.0.113.1", "ip", "route", "show")
	waitRelease(t, isp)
	if out, err := x.Command("show", "ip", "dhcp", "lease"); err != nil || !strings.Contains(out, "No DHCP client or server") {
		t.Errorf("show ip dhcp lease after the reload (%v):\n%s", err, out)
	}
}
