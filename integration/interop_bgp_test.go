package integration

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// iopAzureBIRD is Azure's BGP speaker at 172.16.0.6 AS 65010 in the Azure
// namespace: multihop from its GatewaySubnet address to the IX loopback
// through charon's ipsec0, announcing the VNet and installing what it
// learns. Short error waits so an outage does not stall it for a minute.
func iopAzureBIRD(lab *nslab.Lab) string {
	return `
log "` + nslab.BIRDLogFile(lab, "azure") + `" all;
router id 172.16.0.6;
protocol device { scan time 2; }
protocol static announce { ipv4; route 172.16.0.0/16 via "vnet"; }
protocol static reach { ipv4; route 10.2.2.2/32 via "ipsec0"; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp peer {
  local 172.16.0.6 as 65010;
  neighbor 10.2.2.2 as 65050;
  multihop 2;
  hold time 30;
  connect retry time 2;
  error wait time 1, 5;
  ipv4 { import all; export where proto = "announce"; };
}
`
}

// TestInteropBGPStrongSwanBIRD: the seed's BGP variant end to end with
// the real daemon. soft-ix runs ix-bgp.conf mapped to the lab (tunnel to
// 198.51.100.6, Loopback0.0 10.2.2.2, router bgp 65050, only 172.16.0.6/32
// static); charon + BIRD 2 play Azure. The session comes up through the
// tunnel, 172.16.0.0/16 lands in soft-ix's kernel via Tunnel0.0,
// 192.168.2.0/24 at BIRD, and the LAN pings the VNet. The tunnel is then
// torn down at charon: soft-ix re-establishes it (connect-type auto) and
// session, routes and ping recover. Finally SIGTERM leaves nothing of
// soft-ix in its namespace.
func TestInteropBGPStrongSwanBIRD(t *testing.T) {
	l := iopNewLab(t, "iopbgp", "bird", "birdc")
	s := l.s
	c := l.startCharon(iopAzure())
	x := l.startIX(iopIXConf{BGP: true})
	l.waitTunnel(x, c, 30*time.Second)
	// Azure routes the on-prem BGP peer address into the connection; the
	// LAN prefix comes from BGP.
	if err := c.Up(10*time.Second, nslab.IXLoopbackAddr+"/32"); err != nil {
		t.Fatal(err)
	}
	bird, err := nslab.StartBIRD(s.Azure, "azure", iopAzureBIRD(l.lab))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	iopWaitBGP(t, l, x, bird, 60*time.Second)
	t.Logf("BGP established, routes in both kernels and ping answered %v after BIRD started", time.Since(start).Round(100*time.Millisecond))

	out, err := x.Command("show", "ip", "bgp", "neighbors", nslab.AzureBGPAddr, "routes")
	if err != nil || !strings.Contains(out, "*> 172.16.0.0/16      172.16.0.6") || !strings.Contains(out, "65010 i") {
		t.Errorf("show ip bgp neighbors 172.16.0.6 routes (%v):\n%s", err, out)
	}
	out, err = bird.Birdc("show", "route", "protocol", "peer", "all")
	if err != nil || !strings.Contains(out, nslab.LANNet) || !strings.Contains(out, "BGP.as_path: 65050") ||
		!strings.Contains(out, "BGP.next_hop: 10.2.2.2") {
		t.Errorf("BIRD did not learn 192.168.2.0/24 from AS 65050 (%v):\n%s", err, out)
	}

	// "clear ip bgp": soft keeps the session, hard resets it (BIRD hears
	// the Cease) and it comes back by itself.
	if out, err := x.Command("clear", "ip", "bgp", "*", "soft"); err != nil || !strings.Contains(out, "1 BGP neighbor(s) soft reset") {
		t.Errorf("clear ip bgp * soft (%v):\n%s", err, out)
	}
	if out, err := bird.Birdc("show", "protocols", "all", "peer"); err != nil || !strings.Contains(out, "Established") ||
		strings.Contains(out, "Administrative reset") {
		t.Errorf("BIRD's session after the soft clear (%v):\n%s", err, out)
	}
	cleared := time.Now()
	if out, err := x.Command("clear", "ip", "bgp", nslab.AzureBGPAddr); err != nil || !strings.Contains(out, "1 BGP session(s) reset") {
		t.Errorf("clear ip bgp %s (%v):\n%s", nslab.AzureBGPAddr, err, out)
	}
	if err := nslab.WaitFor(10*time.Second, "BIRD to hear the Cease", func() error {
		out, err := bird.Birdc("show", "protocols", "all", "peer")
		if err == nil && !strings.Contains(out, "Administrative reset") {
			err = fmt.Errorf("%s", out)
		}
		return err
	}); err != nil {
		t.Error(err)
	}
	iopWaitBGP(t, l, x, bird, 30*time.Second)
	t.Logf("session, routes and ping back %v after clear ip bgp", time.Since(cleared).Round(100*time.Millisecond))
	out, err = x.Command("show", "ip", "bgp", "neighbors", nslab.AzureBGPAddr)
	for _, want := range []string{"BGP neighbor is 172.16.0.6, remote AS 65010, local AS 65050, external link",
		"remote router ID 172.16.0.6", "BGP state = Established", "Opens:",
		"1 accepted prefixes (1 received)", "1 announced prefixes", "Connections dropped 1", "Local host: 10.2.2.2"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("show ip bgp neighbors 172.16.0.6 lacks %q (%v):\n%s", want, err, out)
		}
	}

	// The tunnel goes down at Azure's end; soft-ix sees the DELETE,
	// withdraws the tunnel's routes and re-initiates.
	firstSAs := l.ikeSAs(x)
	if out, err := c.Swanctl("--terminate", "--ike", "azure", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	outage := time.Now()
	if err := nslab.WaitFor(10*time.Second, "soft-ix to withdraw 172.16.0.0/16 from its kernel", func() error {
		out, err := s.IX.Run("ip", "route", "show", nslab.VNetNet)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("route still there: %s", out)
		}
		return nil
	}); err != nil {
		// Not fatal: the tunnel may be back before we look.
		t.Logf("%v", err)
	}
	if err := nslab.WaitFor(30*time.Second, "a new IKE SA", func() error {
		sas := l.ikeSAs(x)
		if len(sas) != 1 || len(firstSAs) != 1 || sas[0].SPII == firstSAs[0].SPII {
			return fmt.Errorf("soft-ix IKE SAs %+v", sas)
		}
		return l.tunnelUp(x, c)
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.FixRouting(); err != nil {
		t.Fatal(err)
	}
	iopWaitBGP(t, l, x, bird, 90*time.Second)
	t.Logf("tunnel, session, routes and ping back %v after the tunnel was torn down", time.Since(outage).Round(100*time.Millisecond))

	// SIGTERM: soft-ix removes its routes, its TUN and its loopback.
	if err := x.Proc.SignalWait(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Proc.Exited(); err != nil {
		t.Errorf("soft-ix exit status after SIGTERM: %v", err)
	}
	assertNothingOfSoftIX(t, s.IX.Name)
	links, _ := s.IX.Run("ip", "-br", "link")
	for _, name := range []string{"Tunnel0.0", "Loopback0.0"} {
		if strings.Contains(links, name) {
			t.Errorf("%s left after SIGTERM:\n%s", name, links)
		}
	}
	routes, _ := s.IX.Run("ip", "route")
	for _, r := range []string{"172.16.", "10.2.2.2", "169.254."} {
		if strings.Contains(routes, r) {
			t.Errorf("route with %s left after SIGTERM:\n%s", r, routes)
		}
	}
}

// iopBGPRouteRe matches the BGP route in "show ip route" (indented when
// IX groups it under its classful network).
var iopBGPRouteRe = regexp.MustCompile(`(?m)^B\s+172\.16\.0\.0/16 \[20/0\] via 172\.16\.0\.6, Tunnel0\.0(, [0-9:]+)?$`)

// iopWaitBGP waits for the seed's BGP session and its results: soft-ix
// and BIRD Established, 172.16.0.0/16 in soft-ix's table and kernel out
// of Tunnel0.0, 192.168.2.0/24 in the Azure kernel, and the LAN host's
// ping to the VNet host answered.
func iopWaitBGP(t *testing.T, l *iopLab, x *nslab.SoftIX, bird *nslab.BIRD, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	left := func() time.Duration { return max(time.Until(deadline), time.Second) }
	if err := nslab.WaitFor(left(), "soft-ix BGP session Established", func() error {
		out, err := x.Command("show", "ip", "bgp", "summary")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "172.16.0.6      4 65010") || !strings.Contains(out, "ESTABLISHED") {
			return fmt.Errorf("%s", out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := bird.WaitEstablished("peer", left()); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(left(), "172.16.0.0/16 via Tunnel0.0 at soft-ix", func() error {
		out, err := x.Command("show", "ip", "route")
		if err != nil {
			return err
		}
		if !iopBGPRouteRe.MatchString(out) {
			return fmt.Errorf("show ip route:\n%s", out)
		}
		k, err := l.s.IX.Run("ip", "route", "show", nslab.VNetNet)
		if err != nil {
			return err
		}
		if !strings.Contains(k, "dev Tunnel0.0") {
			return fmt.Errorf("kernel route %q", strings.TrimSpace(k))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(left(), "192.168.2.0/24 in the Azure kernel", func() error {
		k, err := l.s.Azure.Run("ip", "route", "show", nslab.LANNet)
		if err != nil {
			return err
		}
		if !strings.Contains(k, "proto bird") {
			return fmt.Errorf("kernel route %q", strings.TrimSpace(k))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l.waitPing(left())
}
