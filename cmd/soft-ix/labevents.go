package main

// The lab's Azure side as Azure runs it: the instances of the gateway,
// and Azure's events on them (planned maintenance, unplanned failover),
// with how long traffic from the IX LAN to the VNet stops in each.

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azure"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
	"github.com/soft-ix/soft-ix/internal/netlab"
)

// Lab event parameters.
const (
	probeInterval = 10 * time.Millisecond // one UDP probe LAN -> VNet every 10 ms
	probePort     = 47000
	// maintenanceAway is how long an active-active instance stays away
	// during planned maintenance before it comes back.
	maintenanceAway = 3 * time.Second
)

// waitTunnels waits until each instance in insts has a Child SA and the
// IX has one per instance. Both ends must have installed it: the
// responder installs it when it answers IKE_AUTH, the initiator only
// when the answer arrives, and a packet sent in between is lost on the
// far side.
func (st *labState) waitTunnels(ctx context.Context, timeout time.Duration, insts []*azureInstance) error {
	return waitUntil(ctx, timeout, func() error {
		n, err := childSAs(st.ixSock)
		if err != nil {
			return err
		}
		if n < len(st.azure) {
			return fmt.Errorf("IX: %d Child SAs, want %d", n, len(st.azure))
		}
		for _, a := range insts {
			n, err := childSAs(a.sock)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%s: no Child SA yet", a.name)
			}
		}
		return nil
	})
}

func childSAs(sock string) (int, error) {
	r, err := ctl.Do(sock, []string{"show", "ikev2", "child-sa"}, 10*time.Second)
	if err != nil {
		return 0, err
	}
	m := childSAsRe.FindStringSubmatch(r.Output)
	if m == nil {
		return 0, fmt.Errorf("unexpected answer %q", r.Output)
	}
	return strconv.Atoi(m[1])
}

// waitBGP waits until the IX has a session with every instance.
func (st *labState) waitBGP(ctx context.Context, timeout time.Duration) error {
	return st.waitBGPSince(ctx, timeout, nil, time.Time{})
}

var bgpRowRe = regexp.MustCompile(`(?m)^(\S+)\s+4\s+\d+\s+\d+\s+\d+\s+(\d+):(\d\d):(\d\d) (\S+)$`)

// waitBGPSince waits until the IX has a session with every instance, and
// with instance a (when not nil) one established after since: the IX may
// hold on to a session with an instance that lost its state until it
// next sends to it, and the route through it with that session.
func (st *labState) waitBGPSince(ctx context.Context, timeout time.Duration, a *azureInstance, since time.Time) error {
	return waitUntil(ctx, timeout, func() error {
		r, err := ctl.Do(st.ixSock, []string{"show", "ip", "bgp", "summary"}, 10*time.Second)
		if err != nil {
			return err
		}
		up := 0
		for _, m := range bgpRowRe.FindAllStringSubmatch(r.Output, -1) {
			if m[5] != "ESTABLISHED" {
				continue
			}
			up++
			h, _ := strconv.Atoi(m[2])
			min, _ := strconv.Atoi(m[3])
			sec, _ := strconv.Atoi(m[4])
			age := time.Duration(h*3600+min*60+sec) * time.Second
			if a != nil && m[1] == a.bgpPeer && age > time.Since(since) {
				return fmt.Errorf("the IX's session with %s is the one from before the event", a.bgpPeer)
			}
		}
		if up < len(st.azure) {
			return fmt.Errorf("%d of %d sessions established", up, len(st.azure))
		}
		return nil
	})
}

// activeActiveIXConfig is the IX file "soft-ix azure config" writes for
// the lab's active-active gateway.
func activeActiveIXConfig(static bool) ([]byte, error) {
	p := azure.Params{
		Gateways: []netip.Addr{netip.MustParseAddr(netlab.AzurePublicAddr), netip.MustParseAddr(netlab.Azure2PublicAddr)},
		PSK:      []byte(netlab.SeedPSK),
		LANs:     []netip.Prefix{netip.MustParsePrefix(netlab.LANNet)},
	}
	if static {
		p.VNets = []netip.Prefix{netip.MustParsePrefix(netlab.VNetNet)}
	} else {
		p.AzureASN, p.LocalASN = netlab.AzureASN, netlab.IXASN
		p.BGPPeers = []netip.Addr{netip.MustParseAddr(netlab.AzureBGPAddr), netip.MustParseAddr(netlab.Azure2BGPAddr)}
		p.LocalBGP = netip.MustParseAddr(netlab.IXLoopbackAddr)
	}
	return azure.Generate(p)
}

var inboundRe = regexp.MustCompile(`Inbound (\d+) packets`)

// inbound is how many ESP packets instance a has received on all its
// Child SAs.
func inbound(a *azureInstance) (int, error) {
	r, err := ctl.Do(a.sock, []string{"show", "ikev2", "child-sa"}, 10*time.Second)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range inboundRe.FindAllStringSubmatch(r.Output, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n, nil
}

// carrying returns the instance the probe stream goes through (the one
// whose inbound ESP grows most over a second), the first when unsure.
func (st *labState) carrying() int {
	if len(st.azure) == 1 {
		return 0
	}
	before := make([]int, len(st.azure))
	for i, a := range st.azure {
		before[i], _ = inbound(a)
	}
	time.Sleep(time.Second)
	best, most := 0, -1
	for i, a := range st.azure {
		n, _ := inbound(a)
		if n-before[i] > most {
			best, most = i, n-before[i]
		}
	}
	return best
}

// spreadOverTunnels sends UDP from the LAN host to the VNet host on many
// ports and reports how many ESP packets each instance received: with
// ECMP both tunnels carry some.
func (st *labState) spreadOverTunnels() ([]int, error) {
	before := make([]int, len(st.azure))
	for i, a := range st.azure {
		before[i], _ = inbound(a)
	}
	for port := 47100; port < 47132; port++ {
		p, err := netlab.StartProbe(st.sc.LAN, netlab.LANHostAddr, st.sc.VNet, netlab.VNetHostAddr, port, probeInterval)
		if err != nil {
			return nil, err
		}
		time.Sleep(5 * probeInterval)
		p.Close()
	}
	got := make([]int, len(st.azure))
	for i, a := range st.azure {
		n, err := inbound(a)
		if err != nil {
			return nil, err
		}
		got[i] = n - before[i]
	}
	return got, nil
}

// setVNet steers the VNet's traffic to the instances that are up, as
// Azure's platform does; a no-op with one instance.
func (st *labState) setVNet(up []bool) error {
	if len(st.azure) < 2 {
		return nil
	}
	return st.sc.SetVNetGateways(up[0], up[1])
}

// replace ends instance a (SIGTERM: it deletes its SAs and closes BGP,
// as an instance leaving for maintenance does; kill: SIGKILL, all state
// lost silently), waits away, and starts its successor on the same
// addresses, which initiates (saying INITIAL_CONTACT, as it has no other
// SA with the IX, with a Vid-Initial-Contact vendor ID as Azure does, see
// table row "initial-contact"). It
// returns when the successor's tunnel is up.
func (st *labState) replace(ctx context.Context, i int, kill bool, away time.Duration) error {
	a := st.azure[i]
	t0 := time.Now()
	up := make([]bool, len(st.azure))
	for j := range up {
		up[j] = j != i
	}
	if err := st.setVNet(up); err != nil {
		return err
	}
	if kill {
		a.proc.Signal(syscall.SIGKILL)
		<-a.proc.Done()
	} else {
		a.proc.Stop()
	}
	time.Sleep(away)
	if err := a.start(st.self, st.azureArgs); err != nil {
		return err
	}
	if err := waitStarted(ctx, a.name, a.sock, a.proc); err != nil {
		return err
	}
	if err := st.waitTunnels(ctx, labTunnelTimeout, []*azureInstance{a}); err != nil {
		return fmt.Errorf("%s: tunnel after restart: %w", a.name, err)
	}
	if !st.static {
		// Azure's BGP timers: the IX notices a stale session at its next
		// keepalive at the latest.
		if err := st.waitBGPSince(ctx, azure.BGPHold+labBGPTimeout, a, t0); err != nil {
			return fmt.Errorf("%s: BGP after restart: %w", a.name, err)
		}
	}
	for j := range up {
		up[j] = true
	}
	return st.setVNet(up)
}

var remainRe = regexp.MustCompile(`Remain lifetime\[sec\] : (\d+)`)

// longestRemaining is the longest remaining lifetime of the SAs a "show"
// command lists on sock; it grows when one of them is rekeyed.
func longestRemaining(sock string, what ...string) (int, error) {
	r, err := ctl.Do(sock, append([]string{"show", "ikev2"}, what...), 10*time.Second)
	if err != nil {
		return 0, err
	}
	most := -1
	for _, m := range remainRe.FindAllStringSubmatch(r.Output, -1) {
		v, _ := strconv.Atoi(m[1])
		most = max(most, v)
	}
	return most, nil
}

// waitRekeys waits until instance a has rekeyed a Child SA and its IKE SA
// on its own (scaled) lifetimes, and says after how long each happened.
func (st *labState) waitRekeys(ctx context.Context, a *azureInstance, timeout time.Duration, stdout io.Writer) error {
	start := time.Now()
	kinds := []struct {
		what string
		prev int
		at   time.Duration
	}{{what: "child-sa", prev: -1}, {what: "sa", prev: -1}}
	return waitUntil(ctx, timeout, func() error {
		pending := 0
		for i := range kinds {
			k := &kinds[i]
			if k.at > 0 {
				continue
			}
			n, err := longestRemaining(a.sock, k.what)
			if err != nil {
				return err
			}
			if k.prev >= 0 && n > k.prev+1 {
				k.at = time.Since(start)
				fmt.Fprintf(stdout, "  %s rekeyed its %s after %v\n", a.name, map[string]string{"sa": "IKE SA", "child-sa": "Child SA"}[k.what], k.at.Round(time.Second))
				continue
			}
			k.prev = n
			pending++
		}
		if pending > 0 {
			return fmt.Errorf("%d of 2 rekeys still to come", pending)
		}
		return nil
	})
}

// runEvents runs the comma-separated Azure events of list against the
// running lab and prints, for each, how long the probe stream from the
// LAN host to the VNet host stopped, next to what Azure documents. It
// reports whether every event stayed within Azure's bound.
func (st *labState) runEvents(ctx context.Context, list string, stdout, stderr io.Writer) bool {
	mode := "single instance"
	if len(st.azure) > 1 {
		mode = "active-active"
		got, err := st.spreadOverTunnels()
		if err != nil {
			fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
			return false
		}
		fmt.Fprintf(stdout, "ESP packets per instance from 32 LAN flows: %v\n", got)
	}
	routing := "BGP"
	if st.static {
		routing = "static"
	}
	probe, err := netlab.StartProbe(st.sc.LAN, netlab.LANHostAddr, st.sc.VNet, netlab.VNetHostAddr, probePort, probeInterval)
	if err != nil {
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return false
	}
	defer probe.Close()
	if err := probe.WaitFlowing(20, 20*time.Second); err != nil {
		fmt.Fprintf(stderr, "soft-ix lab: %v\n", err)
		return false
	}
	ok := true
	for _, ev := range strings.Split(list, ",") {
		ev = strings.TrimSpace(ev)
		var bound time.Duration
		var row string
		switch ev {
		case "maintenance":
			bound, row = azure.PlannedRestore, "planned-maintenance"
		case "failover":
			bound, row = azure.UnplannedRecovery, "unplanned-failover"
		case "rekey":
			// A rekey must not interrupt traffic; allow scheduling noise.
			bound, row = time.Second, "child-lifetime"
			if st.timeScale <= 1 {
				fmt.Fprintln(stderr, "soft-ix lab: --events rekey needs --emulate-time-scale (Azure's IKE SA lives 8 hours)")
				return false
			}
		default:
			fmt.Fprintf(stderr, "soft-ix lab: --events: unknown event %q (maintenance, failover, rekey)\n", ev)
			return false
		}
		target := st.carrying()
		fmt.Fprintf(stdout, "\nAzure event %s (%s, %s): %s carries the probe stream\n", ev, routing, mode, st.azure[target].name)
		t0 := time.Now()
		switch {
		case ev == "rekey":
			life := time.Duration(float64(azure.IKELifetime) / st.timeScale)
			fmt.Fprintf(stdout, "  waiting for Azure's rekeys (lifetimes / %g: IKE SA %v, Child SA %v)\n", st.timeScale,
				life, time.Duration(float64(azure.ChildLifetime)/st.timeScale))
			err = st.waitRekeys(ctx, st.azure[target], life+life/2+30*time.Second, stdout)
		case ev == "failover":
			fmt.Fprintf(stdout, "  %s loses all state; its successor on %s initiates\n", st.azure[target].name, st.azure[target].peer)
			err = st.replace(ctx, target, true, 0)
		case len(st.azure) == 1:
			fmt.Fprintf(stdout, "  %s leaves (DELETE); the standby on %s takes over\n", st.azure[target].name, st.azure[target].peer)
			err = st.replace(ctx, target, false, 0)
		default:
			for _, i := range []int{target, 1 - target} {
				fmt.Fprintf(stdout, "  %s leaves (DELETE) for %v and comes back\n", st.azure[i].name, maintenanceAway)
				if err = st.replace(ctx, i, false, maintenanceAway); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = probe.WaitFlowing(20, bound)
		}
		time.Sleep(time.Second)
		end := time.Now()
		time.Sleep(200 * time.Millisecond) // the window's last probes arrive
		g := probe.Gap(t0, end)
		if err != nil {
			fmt.Fprintf(stderr, "soft-ix lab: event %s: %v\n", ev, err)
			ok = false
		}
		// The delay is printed, not judged: it includes the lab's own
		// scheduling of the sender.
		verdict := "within"
		if g.Longest > bound {
			verdict, ok = "OVER", false
		}
		fmt.Fprintf(stdout, "event %s %s %s: interrupted %d ms, %d probes lost, max delay %d ms; bound %v (row %s): %s\n",
			ev, routing, strings.ReplaceAll(mode, " ", "-"), g.Longest.Milliseconds(), g.Lost,
			g.MaxDelay.Milliseconds(), bound, row, verdict)
		if ctx.Err() != nil {
			return false
		}
	}
	return ok
}
