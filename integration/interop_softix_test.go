package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/vishvananda/netlink"
)

// iopAzureSoftIXConf is soft-ix's Azure gateway emulation
// (cmd/soft-ix/labconf/azure-lab.conf) without its BGP speaker, for a
// tunnel-only test against the IX's static config. natPeer makes it accept
// the IX from any address (the IX is behind a NAT), identified by its ID,
// and leave the initiating to the IX.
func iopAzureSoftIXConf(t *testing.T, natPeer bool) string {
	t.Helper()
	b, err := os.ReadFile("../cmd/soft-ix/labconf/azure-lab.conf")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "router bgp ")
	j := strings.Index(text[i:], "!\n")
	if i < 0 || j < 0 {
		t.Fatalf("azure-lab.conf has no router bgp block")
	}
	text = text[:i] + text[i+j+2:]
	if natPeer {
		text = strings.Replace(text, "  ikev2 connect-type auto\n", "", 1)
		text = strings.Replace(text, "ikev2 peer 203.0.113.94 authentication", "ikev2 peer any authentication", 1)
	}
	return text
}

// iopCapture runs tcpdump on dev in ns with filter for at most timeout or
// count packets, whichever comes first; ready is closed once tcpdump
// listens. The result is its packet lines.
func iopCapture(ns *nslab.Namespace, dev, filter string, count int, timeout time.Duration) (ready <-chan struct{}, result <-chan []string) {
	readyc, resc := make(chan struct{}), make(chan []string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, "tcpdump", "-l", "-n", "-p",
			"-i", dev, "-c", fmt.Sprint(count), filter)
		cmd.WaitDelay = time.Second
		stderr, _ := cmd.StderrPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			close(readyc)
			resc <- []string{"(tcpdump: " + err.Error() + ")"}
			return
		}
		go func() {
			sc := bufio.NewScanner(stderr)
			closed := false
			for sc.Scan() {
				if !closed && strings.Contains(sc.Text(), "listening on") {
					close(readyc)
					closed = true
				}
			}
			if !closed {
				close(readyc)
			}
		}()
		var lines []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		cmd.Wait()
		resc <- lines
	}()
	return readyc, resc
}

// softIXPairUp starts soft-ix as the gateway (the lab's Azure side
// configuration, with the flags azArgs) and as the IX (conf), waits for
// their tunnel and the LAN host's first ping through it, and returns both.
func (l *iopLab) softIXPairUp(conf iopIXConf, azArgs ...string) (ix, az *nslab.SoftIX) {
	l.t.Helper()
	return l.softIXPairUpWith(ixOptions(conf), azArgs...)
}

// softIXPairUpWith is softIXPairUp with the IX daemon's options o.
func (l *iopLab) softIXPairUpWith(o nslab.SoftIXOptions, azArgs ...string) (ix, az *nslab.SoftIX) {
	l.t.Helper()
	az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
		Name: "azure", Config: iopAzureSoftIXConf(l.t, false), Map: nslab.AzureSideMap(), Args: azArgs,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	ix = l.startIXWith(o)
	iopWaitSoftIXPair(l.t, l, ix, az, 30*time.Second)
	l.waitPing(iopPingAttempts)
	return ix, az
}

// iopWaitSoftIXPair waits until both soft-ix daemons show the same IKE SA
// and an outbound Child SA.
func iopWaitSoftIXPair(t *testing.T, l *iopLab, ix, az *nslab.SoftIX, timeout time.Duration) {
	t.Helper()
	if err := nslab.WaitFor(timeout, "soft-ix <-> soft-ix tunnel", func() error {
		a, b := l.ikeSAs(ix), l.ikeSAs(az)
		if len(a) != 1 || len(b) != 1 || a[0].SPII != b[0].SPII || a[0].SPIR != b[0].SPIR {
			return fmt.Errorf("IKE SAs: IX %+v, Azure %+v", a, b)
		}
		for _, x := range []*nslab.SoftIX{ix, az} {
			out := false
			for _, ch := range l.childSAs(x) {
				out = out || ch.Direction == "outbound"
			}
			if !out {
				return fmt.Errorf("soft-ix %s has no outbound Child SA", x.Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

var (
	iopRawESPRe       = regexp.MustCompile(`^\S+ IP 203\.0\.113\.94 > 198\.51\.100\.6: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)`)
	iopForcedUDPESPRe = regexp.MustCompile(`^\S+ IP 203\.0\.113\.94\.4500 > 198\.51\.100\.6\.4500: UDP-encap: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)`)
	iopUDPESPRe       = regexp.MustCompile(`^\S+ IP 198\.51\.100\.1\.\d+ > 198\.51\.100\.6\.4500: UDP-encap: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)`)
)

// iopCheckWire captures what the internet router forwards to the gateway
// while the LAN host pings the VNet host three times: at least two
// packets must match want, and none may be of the other wire format (raw
// ESP when udp, UDP 4500 when not).
func iopCheckWire(t *testing.T, l *iopLab, want *regexp.Regexp, udp bool) {
	t.Helper()
	ready, result := iopCapture(l.s.Internet, "azure", "esp or udp port 4500", 4, 10*time.Second)
	<-ready
	if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
		t.Fatal(err)
	}
	lines := <-result
	matched := 0
	for _, line := range lines {
		switch {
		case want.MatchString(line):
			matched++
		case udp && strings.Contains(line, ": ESP(") && !strings.Contains(line, "UDP-encap"):
			t.Errorf("raw ESP where UDP 4500 was expected: %s", line)
		case !udp && strings.Contains(line, "4500"):
			t.Errorf("UDP 4500 where raw ESP was expected: %s", line)
		}
	}
	t.Logf("captured at the internet router:\n%s", strings.Join(lines, "\n"))
	if matched < 2 {
		t.Errorf("want packets matching %s on the wire, saw %d", want, matched)
	}
}

// TestInteropSoftIXPair: soft-ix against soft-ix, the IX's static config
// against the Azure emulation of "soft-ix lab". Without a NAT the ESP on
// the wire is raw IP protocol 50; with the IX behind a masquerading
// router it is ESP in UDP 4500. The LAN host's ping goes through either
// way.
func TestInteropSoftIXPair(t *testing.T) {
	t.Run("raw-esp", func(t *testing.T) {
		l := iopNewLab(t, "iopraw", "tcpdump")
		ix, _ := l.softIXPairUp(iopIXConf{})
		sa := l.ikeSAs(ix)[0]
		if sa.NATT != "off" {
			t.Errorf("IX shows NAT-T %q without a NAT", sa.NATT)
		}

		// What the internet router forwards: ESP, IP protocol 50.
		iopCheckWire(t, l, iopRawESPRe, false)
	})

	t.Run("forced-udp-encap", func(t *testing.T) {
		// No NAT, but the IX forces UDP encapsulation (--force-udp-encap,
		// strongSwan's encap=yes): both ends send ESP in UDP 4500.
		l := iopNewLab(t, "iopenc", "tcpdump")
		ix, az := l.softIXPairUp(iopIXConf{Args: []string{"--force-udp-encap"}})
		for _, x := range []*nslab.SoftIX{ix, az} {
			if sa := l.ikeSAs(x)[0]; sa.NATT != "on" {
				t.Errorf("soft-ix %s shows NAT-T %q with forced encapsulation", x.Name, sa.NATT)
			}
		}
		iopCheckWire(t, l, iopForcedUDPESPRe, true)
	})

	t.Run("nat-udp-4500", func(t *testing.T) {
		nslab.Require(t, "iptables")
		l := iopNewLab(t, "iopnat", "tcpdump")
		// The internet router hides the IX behind its own address.
		if _, err := l.s.Internet.Run("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "azure",
			"-s", "203.0.113.0/24", "-j", "MASQUERADE"); err != nil {
			t.Fatal(err)
		}
		az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
			Name: "azure", Config: iopAzureSoftIXConf(t, true), Map: nslab.AzureSideMap(),
		})
		if err != nil {
			t.Fatal(err)
		}
		ix := l.startIX(iopIXConf{NATKeepalive: "5"})
		iopWaitSoftIXPair(t, l, ix, az, 30*time.Second)
		l.waitPing(iopPingAttempts)
		sa := l.ikeSAs(ix)[0]
		if sa.NATT != "on" {
			t.Errorf("IX shows NAT-T %q behind a NAT", sa.NATT)
		}
		iopCheckWire(t, l, iopUDPESPRe, true)
		// NAT keepalives every 5 s from the IX (behind the NAT).
		ready, result := iopCapture(l.s.Internet, "azure", "udp port 4500 and udp[8:1] = 0xff and udp[4:2] = 9", 1, 12*time.Second)
		<-ready
		if lines := <-result; len(lines) == 0 {
			t.Errorf("no NAT keepalive from the IX within 12 s")
		} else {
			t.Logf("keepalive: %s", lines[0])
		}
	})
}

// TestInteropSoftIXPairRekeys: soft-ix against soft-ix (raw ESP) under a
// 50 ms ping while both sides rekey: the IX its IKE SA and Child SA
// (lifetimes 60 s, the IX minimum), the Azure emulation its Child SA at
// the same lifetime, so the Child SA rekeys of the two ends may collide.
// No ping may be lost. Runs in parallel with the other long tests.
func TestInteropSoftIXPairRekeys(t *testing.T) {
	t.Parallel()
	l := iopNewLab(t, "iopprek")
	conf := strings.Replace(iopAzureSoftIXConf(t, false), "child-lifetime 27000 kilobytes 102400000", "child-lifetime 60", 1)
	if !strings.Contains(conf, "child-lifetime 60\n") {
		t.Fatal("azure-lab.conf's child-lifetime line changed")
	}
	az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{Name: "azure", Config: conf, Map: nslab.AzureSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	ix := l.startIX(iopIXConf{SALifetime: 60, ChildLifetime: 60})
	iopWaitSoftIXPair(t, l, ix, az, 30*time.Second)
	l.waitPing(iopPingAttempts)
	first := l.ikeSAs(ix)

	const interval = 50 * time.Millisecond
	res := <-iopPing(l.s.LAN, nslab.VNetHostAddr, int(57*time.Second/interval), interval)
	ixLog, azLog := ix.Proc.Log(), az.Proc.Log()
	t.Logf("57 s of pings every %v: %d sent, %d received, %d lost; IX: %d IKE SA rekeys, %d Child SAs; Azure: %d Child SAs; collisions IX %d Azure %d",
		interval, res.Sent, res.Received, res.Lost(),
		len(iopIKERekeyedRe.FindAllString(ixLog, -1)), len(iopChildRe.FindAllString(ixLog, -1)), len(iopChildRe.FindAllString(azLog, -1)),
		strings.Count(ixLog, "collision"), strings.Count(azLog, "collision"))
	if res.Sent == 0 {
		t.Fatalf("ping did not run: %v\n%s", res.Err, res.Output)
	}
	if res.Lost() != 0 {
		t.Errorf("%d of %d pings lost across rekeys", res.Lost(), res.Sent)
		iopExplainLoss(t, l, nil, res)
	}
	if len(iopIKERekeyedRe.FindAllString(ixLog, -1)) < 1 || len(iopChildRe.FindAllString(ixLog, -1)) < 2 {
		t.Errorf("the IX did not rekey its IKE SA and Child SA during the ping")
	}
	iopWaitSoftIXPair(t, l, ix, az, 10*time.Second)
	if now := l.ikeSAs(ix); now[0].SPII == first[0].SPII {
		t.Errorf("IKE SA not replaced")
	}
	for _, log := range []string{ixLog, azLog} {
		if strings.Contains(log, "level=ERROR") {
			t.Errorf("soft-ix logged errors during rekeys")
		}
	}
}

// TestInteropSoftIXNATRebind: the IX behind a NAT that changes its
// mapping (a CGNAT timeout, a router's restart: here its SNAT port range
// changes and its connection tracking is flushed). The IX keeps sending
// from the new mapping; the gateway, which is not behind a NAT, must
// follow it (RFC 7296 §2.23) or its ESP goes to a mapping that no longer
// exists while the IX's own ESP still arrives, and the ping stays
// one-way dead until a rekey. It must answer again within 10 s.
//
// The IX is soft-ix, then charon (a real NATed peer: its kernel-libipsec
// sends ESP and keepalives from UDP 4500 through the NAT).
func TestInteropSoftIXNATRebind(t *testing.T) {
	nslab.Require(t, "iptables")
	for _, ixKind := range []string{"soft-ix", "charon"} {
		t.Run(ixKind, func(t *testing.T) {
			l := iopNewLab(t, "iopnatmv")
			snat := func(op, ports string) {
				args := []string{"iptables", "-t", "nat", op, "POSTROUTING"}
				if op == "-R" {
					args = append(args, "1")
				}
				args = append(args, "-o", "azure", "-s", "203.0.113.0/24", "-p", "udp", "-j", "SNAT", "--to-source", "198.51.100.1:"+ports)
				if _, err := l.s.Internet.Run(args...); err != nil {
					t.Fatal(err)
				}
			}
			snat("-A", "20000-20099")
			az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
				Name: "azure", Config: iopAzureSoftIXConf(t, true), Map: nslab.AzureSideMap(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if ixKind == "soft-ix" {
				ix := l.startIX(iopIXConf{NATKeepalive: "5"})
				iopWaitSoftIXPair(t, l, ix, az, 30*time.Second)
			} else {
				c, err := nslab.StartStrongSwan(l.s.IX, nslab.IXStrongSwanConfig())
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Load(); err != nil {
					t.Fatal(err)
				}
				if err := c.Up(30*time.Second, nslab.VNetNet); err != nil {
					t.Fatal(err)
				}
			}
			l.waitPing(iopPingAttempts)

			// The NAT's new mapping: other ports, and no memory of the
			// old one.
			snat("-R", "30000-30099")
			if err := inNS(l.s.Internet, func() error { return netlink.ConntrackTableFlush(netlink.ConntrackTable) }); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			l.waitPing(10 * time.Second)
			t.Logf("ping answered again %v after the NAT's new mapping", time.Since(start).Round(time.Millisecond))
			if !strings.Contains(az.Proc.Log(), "peer's NAT mapping changed") {
				t.Error("the gateway did not log following the IX's new mapping")
			}
			if sas := l.ikeSAs(az); len(sas) != 1 {
				t.Errorf("gateway's IKE SAs after the move: %+v", sas)
			}
		})
	}
}
