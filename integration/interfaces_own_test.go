package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// ownedConfig is a branch file on links that have no address: the WAN
// with an MTU, the LAN, and a default route whose next hop only the WAN's
// address makes reachable.
const ownedConfig = `hostname owned-ix
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip mtu 1400
  no shutdown
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  no shutdown
ip route default 203.0.113.1
`

// newBareLab is the lan - ix - internet topology with the IX's links
// carrying no address and its LAN link down, as a fresh host has them.
func newBareLab(t *testing.T, prefix string) (*nslab.Lab, *nslab.Namespace, *nslab.Namespace) {
	t.Helper()
	lab := nslab.NewForTest(t, prefix, "ping")
	softIXBinary(t)
	ix, err := lab.Namespace("ix")
	if err != nil {
		t.Fatal(err)
	}
	inet, err := lab.Namespace("inet")
	if err != nil {
		t.Fatal(err)
	}
	lan, err := lab.Namespace("lan")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(ix, nslab.IXWANIf, "", inet, "eth0", "203.0.113.1/24"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(ix, nslab.IXLANIf, "", lan, "eth0", "192.168.2.10/24"); err != nil {
		t.Fatal(err)
	}
	if err := ix.IP("link", "set", nslab.IXLANIf, "down"); err != nil {
		t.Fatal(err)
	}
	return lab, ix, inet
}

func ipOut(t *testing.T, ns *nslab.Namespace, args ...string) string {
	t.Helper()
	out, err := ns.Run(append([]string{"ip"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInterfacesOwnedByFile: the IX file's ip address, ip mtu and no
// shutdown are applied to the mapped links, the default route goes in,
// the internet host answers; a stop takes back exactly what soft-ix set.
func TestInterfacesOwnedByFile(t *testing.T) {
	_, ix, _ := newBareLab(t, "own")
	x, err := nslab.StartSoftIXDaemon(ix, nslab.SoftIXOptions{Name: "ix", Config: ownedConfig, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	wan := ipOut(t, ix, "addr", "show", "dev", nslab.IXWANIf)
	lan := ipOut(t, ix, "addr", "show", "dev", nslab.IXLANIf)
	if !strings.Contains(wan, "inet 203.0.113.94/24") || !strings.Contains(wan, "mtu 1400") {
		t.Errorf("WAN not configured from the file:\n%s", wan)
	}
	if !strings.Contains(lan, "inet 192.168.2.1/24") || !strings.Contains(lan, ",UP") {
		t.Errorf("LAN not configured (address, up) from the file:\n%s", lan)
	}
	if r := ipOut(t, ix, "route", "show", "default"); !strings.Contains(r, "via 203.0.113.1") {
		t.Errorf("default route: %q", r)
	}
	if err := ix.Ping("203.0.113.1", "", 1); err != nil {
		t.Errorf("internet host: %v", err)
	}

	if err := x.Proc.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	wan = ipOut(t, ix, "addr", "show", "dev", nslab.IXWANIf)
	lan = ipOut(t, ix, "addr", "show", "dev", nslab.IXLANIf)
	if strings.Contains(wan, "203.0.113.94") || !strings.Contains(wan, "mtu 1500") {
		t.Errorf("after stop, the WAN keeps what soft-ix set:\n%s", wan)
	}
	if strings.Contains(lan, "192.168.2.1/24") || strings.Contains(lan, ",UP") {
		t.Errorf("after stop, the LAN keeps what soft-ix set (address, up):\n%s", lan)
	}
}

// TestHostInterfacesAndLateRoute: with --host-interfaces the links stay
// as the host has them (the log says so), and the default route goes in
// as soon as the host gives the WAN its address, without a reload.
func TestHostInterfacesAndLateRoute(t *testing.T) {
	_, ix, _ := newBareLab(t, "hif")
	x, err := nslab.StartSoftIXDaemon(ix, nslab.SoftIXOptions{Name: "ix", Config: ownedConfig, Map: nslab.IXSideMap(),
		Args: []string{"--host-interfaces"}})
	if err != nil {
		t.Fatal(err)
	}
	if wan := ipOut(t, ix, "addr", "show", "dev", nslab.IXWANIf); strings.Contains(wan, "203.0.113.94") || strings.Contains(wan, "mtu 1400") {
		t.Errorf("--host-interfaces: soft-ix changed the WAN:\n%s", wan)
	}
	if log := x.Proc.Log(); !strings.Contains(log, "left to the host") {
		t.Errorf("the log does not say the links are the host's:\n%s", log)
	}
	if r := ipOut(t, ix, "route", "show", "default"); r != "" {
		t.Fatalf("default route without a reachable next hop: %q", r)
	}
	if err := ix.IP("addr", "add", "203.0.113.94/24", "dev", nslab.IXWANIf); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(5*time.Second, "default route after the WAN got its address", func() error {
		if r := ipOut(t, ix, "route", "show", "default"); !strings.Contains(r, "via 203.0.113.1") {
			return errNotYet(r)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

type errNotYet string

func (e errNotYet) Error() string { return "not yet: " + string(e) }
