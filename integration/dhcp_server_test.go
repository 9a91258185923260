package integration

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// dhcpServerConfig is a branch LAN served by the IX's DHCP server, as
// NEC IX writes it: a pool, DNS, domain, lease time and one static
// binding by MAC address.
const dhcpServerConfig = `hostname dhcps-ix
ip dhcp enable
!
ip dhcp profile lan
  assignable-range 192.168.2.100 192.168.2.109
  dns-server 192.0.2.53
  domain-name branch.example
  lease-time 600
  fixed-assignment 192.168.2.50 02:00:00:00:00:50
!
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  no shutdown
!
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  ip dhcp binding lan
  no shutdown
`

// udhcpcScript records what the server handed out, then configures the
// address, as a host's DHCP hook would.
const udhcpcScript = `#!/bin/sh
case "$1" in
bound|renew)
	echo "ip=$ip mask=$mask router=$router dns=$dns domain=$domain lease=$lease" >> "$RESULT"
	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
	;;
esac
exit 0
`

// udhcpc runs busybox's DHCP client once on the LAN host's eth0 (it
// releases the lease on exit) and returns the line its hook recorded.
func udhcpc(t *testing.T, lan *nslab.Namespace, name string) string {
	t.Helper()
	dir := lan.Lab().Path("")
	script, result := dir+"/udhcpc-hook.sh", dir+"/udhcpc-"+name+".result"
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := lan.Run("env", "RESULT="+result, "udhcpc", "-f", "-q", "-n", "-R", "-i", "eth0", "-t", "5", "-T", "2", "-s", script, "-x", "hostname:"+name)
	if err != nil {
		t.Fatalf("udhcpc %s: %v\n%s", name, err, out)
	}
	b, err := os.ReadFile(result)
	if err != nil {
		t.Fatalf("udhcpc %s: no lease recorded: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(b))
}

// TestDHCPServerLAN: a LAN host's DHCP client (busybox udhcpc) gets an
// address from the profile's range with the gateway, DNS and domain
// options; a host with the fixed-assignment's MAC gets its fixed address;
// show ip dhcp lease lists the bindings.
func TestDHCPServerLAN(t *testing.T) {
	lab, ix, _ := newBareLab(t, "dhcps")
	nslab.Require(t, "udhcpc")
	var lan *nslab.Namespace
	for _, ns := range lab.Namespaces() {
		if ns.Role == "lan" {
			lan = ns
		}
	}
	if err := lan.IP("addr", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	x, err := nslab.StartSoftIXDaemon(ix, nslab.SoftIXOptions{Name: "ix", Config: dhcpServerConfig, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	// The LAN link comes up with soft-ix (no shutdown): wait for it.
	if err := nslab.WaitFor(10*time.Second, "the LAN link up", func() error {
		if out := ipOut(t, ix, "addr", "show", "dev", nslab.IXLANIf); !strings.Contains(out, "192.168.2.1/24") || !strings.Contains(out, ",UP") {
			return errNotYet(out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	got := udhcpc(t, lan, "pc1")
	for _, want := range []string{"ip=192.168.2.10", "mask=24", "router=192.168.2.1", "dns=192.0.2.53", "domain=branch.example", "lease=600"} {
		if !strings.Contains(got, want) {
			t.Errorf("dynamic lease %q lacks %q", got, want)
		}
	}
	if !strings.Contains(got, "ip=192.168.2.100 ") && !strings.Contains(got, "ip=192.168.2.101 ") {
		t.Errorf("dynamic lease %q not from the range's start", got)
	}
	if err := lan.Ping("192.168.2.1", "", 1); err != nil {
		t.Errorf("the IX from the leased address: %v", err)
	}
	out, err := x.Command("show", "ip", "dhcp", "lease")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("show ip dhcp lease:\n%s", out)

	// The host with the static binding's MAC.
	if err := lan.IP("link", "set", "eth0", "address", "02:00:00:00:00:50"); err != nil {
		t.Fatal(err)
	}
	if got := udhcpc(t, lan, "printer"); !strings.Contains(got, "ip=192.168.2.50 ") || !strings.Contains(got, "router=192.168.2.1") {
		t.Errorf("fixed-assignment host got %q, want 192.168.2.50", got)
	}
	log := x.Proc.Log()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "dhcp server") {
			t.Log(line)
		}
	}
	if !strings.Contains(log, `msg="dhcp server: address bound"`) || !strings.Contains(log, "fixed=true") {
		t.Errorf("the log does not show the bindings")
	}
}
