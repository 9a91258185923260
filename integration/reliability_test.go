package integration

// The short reliability suite of issue 14: two soft-ix daemons (the IX's
// static config and the Azure emulation) in the seed scenario, with the
// impairment program (integration/cmd/impair) on the path where a
// scenario needs a bad internet. Each scenario is bounded in time and
// runs in parallel with the others; TestReliability prints one table of
// what they measured next to the targets. Names start with "rel".

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun"
)

// relLossySettings is issue 14's lossy path, each direction.
var relLossySettings = []string{"loss=1%", "delay=30ms", "jitter=10ms", "reorder=1%", "dup=0.5%"}

// relRow is one figure of the table.
type relRow struct {
	scenario, figure, value, target string
	ok                              bool
}

// relTable collects the figures of the parallel scenarios.
type relTable struct {
	mu   sync.Mutex
	rows []relRow
}

// add records a figure; target "" means reported only.
func (tb *relTable) add(scenario, figure, value, target string, ok bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.rows = append(tb.rows, relRow{scenario, figure, value, target, ok})
}

func (tb *relTable) String() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	rows := append([]relRow(nil), tb.rows...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].scenario < rows[j].scenario })
	head := relRow{"scenario", "figure", "measured", "target", true}
	w := [4]int{}
	cells := func(r relRow) [4]string { return [4]string{r.scenario, r.figure, r.value, r.target} }
	for _, r := range append(rows, head) {
		for i, c := range cells(r) {
			w[i] = max(w[i], len(c))
		}
	}
	var b strings.Builder
	line := func(r relRow, status string) {
		c := cells(r)
		fmt.Fprintf(&b, "%-*s  %-*s  %-*s  %-*s  %s\n", w[0], c[0], w[1], c[1], w[2], c[2], w[3], c[3], status)
	}
	line(head, "")
	for _, r := range rows {
		status := "met"
		switch {
		case r.target == "":
			status = ""
		case !r.ok:
			status = "NOT MET"
		}
		line(r, status)
	}
	return b.String()
}

// TestReliability runs the short form of issue 14's reliability suite
// (about 70 s of wall time, the scenarios at once) and logs
// one table: `go test -v -run TestReliability ./integration/`. A single
// scenario runs with -run TestReliability/scenarios/NAME.
func TestReliability(t *testing.T) {
	t.Parallel()
	var tab relTable
	scenarios := []struct {
		name string
		run  func(*testing.T, *relTable)
	}{
		{"lossy-path", relLossyPath},
		{"lossy-rekeys", relLossyRekeys},
		{"peer-restart-initiator", relPeerRestartInitiator},
		{"peer-restart-responder", relPeerRestartResponder},
		{"blackhole", relBlackhole},
		{"sigkill", relSIGKILL},
		{"reloads", relReloads},
		{"reboot-mid-ike-rekey", func(t *testing.T, tab *relTable) { relRebootMidRekey(t, tab, true, false) }},
		{"reboot-mid-child-rekey", func(t *testing.T, tab *relTable) { relRebootMidRekey(t, tab, false, true) }},
	}
	// The soak is the full form only: REL_SOAK=30m (and a go test
	// -timeout above it) adds it, with and without PFS.
	if d, err := time.ParseDuration(os.Getenv("REL_SOAK")); err == nil && d >= time.Minute {
		for _, pfs := range []bool{false, true} {
			scenarios = append(scenarios, struct {
				name string
				run  func(*testing.T, *relTable)
			}{fmt.Sprintf("soak-pfs-%v", pfs), func(t *testing.T, tab *relTable) { relSoak(t, tab, d, pfs) }})
		}
	}
	t.Run("scenarios", func(t *testing.T) {
		// The scenarios mostly wait (for DPD, lifetimes, a blackhole), so
		// they all run at once rather than -parallel (GOMAXPROCS) at a
		// time: t.Run from several goroutines does that.
		var wg sync.WaitGroup
		for _, sc := range scenarios {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(sc.name, func(t *testing.T) { sc.run(t, &tab) })
			}()
		}
		wg.Wait()
	})
	t.Logf("reliability figures (go test -v -run TestReliability ./integration/):\n%s", tab.String())
}

// relPair is the seed scenario with a soft-ix at each end.
type relPair struct {
	*iopLab
	az        *nslab.SoftIX
	azStarted time.Time
	im        *nslab.Impairment // nil unless the scenario impairs the path
}

// relNewLab builds the scenario (no daemons yet), with the impairment
// program on the path when settings is not nil.
func relNewLab(t *testing.T, prefix string, settings []string, tools ...string) *relPair {
	t.Helper()
	lab := nslab.NewForTest(t, prefix, append([]string{"ping", "go"}, tools...)...)
	softIXBinary(t)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Other tests on the machine may flood the kernel's shared neighbor
	// table; the figures here are soft-ix's, not theirs.
	if err := s.PinNeighbors(); err != nil {
		t.Fatal(err)
	}
	p := &relPair{iopLab: &iopLab{t: t, lab: lab, s: s}}
	if settings != nil {
		if p.im, err = s.Impair(14, settings...); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// relAzureConf is the Azure emulation without BGP; responder makes it a
// pure responder (it never initiates).
func relAzureConf(t *testing.T, responder bool) string {
	conf := iopAzureSoftIXConf(t, false)
	if responder {
		conf = strings.Replace(conf, "  ikev2 connect-type auto\n", "  ikev2 negotiation-direction responder\n", 1)
	}
	return conf
}

func (p *relPair) startAzure(responder bool) {
	p.t.Helper()
	az, err := nslab.StartSoftIXDaemon(p.s.Azure, nslab.SoftIXOptions{
		Name: "azure", Config: relAzureConf(p.t, responder), Map: nslab.AzureSideMap(),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.az, p.azStarted = az, time.Now()
}

// settle waits out the start: the Azure end initiates as soon as it runs,
// before the IX listens, and its retransmission 2 s later makes a second
// IKE SA that the two ends then resolve by deleting one. A scenario that
// compares SAs or counts lost pings starts after that.
func (p *relPair) settle(ix *nslab.SoftIX) {
	p.t.Helper()
	time.Sleep(time.Until(p.azStarted.Add(3 * time.Second)))
	iopWaitSoftIXPair(p.t, p.iopLab, ix, p.az, 10*time.Second)
}

// relKill sends SIGKILL to a daemon and waits until it is gone.
func relKill(t *testing.T, x *nslab.SoftIX) {
	t.Helper()
	if err := x.Proc.SignalWait(syscall.SIGKILL, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// relPinger pings continuously from a namespace and keeps the time of
// every answer, so a test can measure an outage as the gap between two.
type relPinger struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	replies map[int]time.Time // sequence number -> arrival
	maxSeq  int               // highest sequence number answered
	wraps   int               // times icmp_seq wrapped from 65535 to 0
}

var relReplyRe = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from .*icmp_seq=(\d+) `)

// relStartPinger runs `ping -D -i interval dst` in ns until stop or the
// test's end, bounded by limit.
func relStartPinger(t *testing.T, ns *nslab.Namespace, dst string, interval, limit time.Duration) *relPinger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, "ping", "-n", "-D",
		"-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "1", dst)
	cmd.WaitDelay = time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &relPinger{cancel: cancel, done: make(chan struct{}), replies: map[int]time.Time{}}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := relReplyRe.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			frac, _ := strconv.ParseFloat("0."+m[2], 64)
			seq, _ := strconv.Atoi(m[3])
			p.mu.Lock()
			// icmp_seq is 16 bits: at 20 ms it wraps after 22 minutes.
			if seq+p.wraps<<16 < p.maxSeq-1<<15 {
				p.wraps++
			}
			seq += p.wraps << 16
			p.replies[seq] = time.Unix(sec, int64(frac*1e9))
			p.maxSeq = max(p.maxSeq, seq)
			p.mu.Unlock()
		}
		cmd.Wait()
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *relPinger) stop() {
	p.cancel()
	<-p.done
}

// times returns the arrival times of all answers, in order.
func (p *relPinger) times() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := make([]time.Time, 0, len(p.replies))
	for _, at := range p.replies {
		ts = append(ts, at)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// answeredAfter reports whether an answer arrived after t.
func (p *relPinger) answeredAfter(t time.Time) bool {
	ts := p.times()
	return len(ts) > 0 && ts[len(ts)-1].After(t)
}

// waitAnswerAfter waits until an answer arrives after t and returns its
// arrival time.
func (p *relPinger) waitAnswerAfter(tb *testing.T, t time.Time, timeout time.Duration, what string) time.Time {
	tb.Helper()
	if err := nslab.WaitFor(timeout, what, func() error {
		if !p.answeredAfter(t) {
			return fmt.Errorf("no ping answered since %s", t.Format("15:04:05.000"))
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	for _, at := range p.times() {
		if at.After(t) {
			return at
		}
	}
	panic("unreachable")
}

// lost counts the unanswered pings among those sent before the last
// answer (later ones may still be in flight).
func (p *relPinger) lost() (lost, sent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxSeq - len(p.replies), p.maxSeq
}

// relInbound sums counters of soft-ix's inbound Child SAs ("N replay
// detected", "N integrity failure", ...) by name.
func relInbound(t *testing.T, x *nslab.SoftIX) map[string]int64 {
	t.Helper()
	out, err := x.Command("show", "ikev2", "child-sa")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	in := false
	for _, line := range strings.Split(out, "\n") {
		s := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(s, "Inbound "):
			in = true
			continue
		case strings.HasPrefix(s, "Outbound ") || strings.HasPrefix(s, "Interface "):
			in = false
			continue
		}
		if !in {
			continue
		}
		for _, part := range strings.Split(s, ",") {
			num, name, ok := strings.Cut(strings.TrimSpace(part), " ")
			if n, err := strconv.ParseInt(num, 10, 64); ok && err == nil {
				sums[name] += n
			}
		}
	}
	return sums
}

// relLossyPath: issue 14's lossy path (1 % loss, 30 ± 10 ms, 1 %
// reordering, 0.5 % duplication, each way). The tunnel comes up, pings
// lose about what the path loses, TCP flows, and reordering alone is
// never counted as a replay. About 45 s.
func relLossyPath(t *testing.T, tab *relTable) {
	const sc = "a lossy path"
	p := relNewLab(t, "rellossy", relLossySettings, "iperf3")
	p.startAzure(false)
	start := time.Now()
	ix := p.startIX(iopIXConf{})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 60*time.Second)
	p.waitPing(30 * time.Second)
	up := time.Since(start)
	tab.add(sc, "IKE + Child SA up and first ping (s)", fmt.Sprintf("%.1f", up.Seconds()), "<= 10", up <= 10*time.Second)

	// 500 pings 20 ms apart: an echo crosses the path twice, so about 2 %
	// are lost to the impairment.
	res := <-iopPing(p.s.LAN, nslab.VNetHostAddr, 500, 20*time.Millisecond)
	lost, sent := relPingLost(res, 500)
	if sent == 0 {
		t.Fatalf("ping did not run: %v\n%s", res.Err, res.Output)
	}
	lossPct := float64(lost) * 100 / float64(sent)
	tab.add(sc, "ping loss, first 490 of 500 x 20 ms (%; the path drops 1 % each way)", fmt.Sprintf("%.1f (%d of %d)", lossPct, lost, sent), "<= 5", lossPct <= 5)
	if lossPct > 5 {
		t.Errorf("%d of %d pings lost on a 1 %% loss path", lost, sent)
	}

	r, err := nslab.Iperf3(p.s.VNet, p.s.LAN, nslab.VNetHostAddr, 5*time.Second)
	if err != nil {
		t.Error(err)
	}
	tab.add(sc, "iperf3 TCP LAN -> VNet, 5 s (Mbit/s)", fmt.Sprintf("%.1f (%d retransmits)", r.ReceivedMbps, r.Retransmits), "> 0", r.ReceivedMbps > 0)

	// Every ESP packet the path duplicated is a replay; nothing else may
	// be (a duplicated IKE datagram is not counted there, so replays may
	// be fewer). Counted from the start, after the path has drained.
	time.Sleep(200 * time.Millisecond)
	st, _ := p.im.Stats()
	replays := relReplays(t, ix, p.az)
	tab.add(sc, "replays counted / packets duplicated (/ reordered) by the path", fmt.Sprintf("%d / %d (/ %d)", replays, st["duplicated"], st["reordered"]),
		"replays <= duplicates", replays <= st["duplicated"])
	if replays > st["duplicated"] {
		t.Errorf("%d replays counted, the path duplicated only %d packets", replays, st["duplicated"])
	}

	// Reordering alone (5 %, each reordered packet overtakes the 2-4
	// packets of the last 30 ms, well inside the replay window) must not
	// count a single replay or lose a single ping.
	if _, err := p.im.Set("clear", "delay=30ms", "jitter=10ms", "reorder=5%"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // what the lossy setting still holds
	before, _ := p.im.Stats()
	replays0 := relReplays(t, ix, p.az)
	res = <-iopPing(p.s.LAN, nslab.VNetHostAddr, 400, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	after, _ := p.im.Stats()
	replays = relReplays(t, ix, p.az) - replays0
	reordered := after["reordered"] - before["reordered"]
	lost, sent = relPingLost(res, 400)
	tab.add(sc, "reorder only (5 %): replays counted / packets reordered", fmt.Sprintf("%d / %d", replays, reordered), "0 replays", replays == 0 && reordered > 0)
	tab.add(sc, "reorder only: pings lost, first 390 of 400 x 10 ms", fmt.Sprint(lost), "0", lost == 0)
	if reordered == 0 {
		t.Errorf("the impairment reordered nothing")
	}
	if replays != 0 {
		t.Errorf("%d packets counted as replays on a path that only reorders", replays)
	}
	if lost != 0 || sent == 0 {
		t.Errorf("%d of %d pings lost on a path that only reorders", lost, sent)
		iopExplainLoss(t, p.iopLab, nil, res)
	}
	t.Logf("inbound counters: IX %v, Azure %v; impairment %v", relInbound(t, ix), relInbound(t, p.az), after)
}

// relPingLost counts the unanswered pings among the first count-10:
// iopPing runs ping with a deadline, which sends on until count answers
// arrive and then stops, so the pings after count, and on a reordering
// path one or two just before it whose answers were overtaken, were still
// in flight when it stopped.
func relPingLost(res iopPingResult, count int) (lost, sent int) {
	count -= 10
	for _, m := range res.Missing {
		if m.Seq <= count {
			lost++
		}
	}
	return lost, min(res.Sent, count)
}

// relReplays sums "replay detected" over the inbound Child SAs of both
// ends.
func relReplays(t *testing.T, xs ...*nslab.SoftIX) int64 {
	t.Helper()
	var n int64
	for _, x := range xs {
		n += relInbound(t, x)["replay detected"]
	}
	return n
}

// relLossyRekeys: on the lossy path, both ends rekey (the IX its IKE SA
// and Child SA at the IX minimum of 60 s, the Azure end its Child SA at
// 60 s too, so Child rekeys may collide) under a 100 ms ping: the rekeys
// succeed, the tunnel stays up and the pings lose no more than the path
// does. About 70 s.
func relLossyRekeys(t *testing.T, tab *relTable) {
	const sc = "a lossy path: rekeys"
	p := relNewLab(t, "relrekey", relLossySettings)
	conf := strings.Replace(relAzureConf(t, false), "child-lifetime 27000 kilobytes 102400000", "child-lifetime 60", 1)
	if !strings.Contains(conf, "child-lifetime 60\n") {
		t.Fatal("azure-lab.conf's child-lifetime line changed")
	}
	az, err := nslab.StartSoftIXDaemon(p.s.Azure, nslab.SoftIXOptions{Name: "azure", Config: conf, Map: nslab.AzureSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	p.az, p.azStarted = az, time.Now()
	ix := p.startIX(iopIXConf{SALifetime: 60, ChildLifetime: 60})
	t.Cleanup(func() {
		if t.Failed() {
			relLogIKEEvents(t, ix, az)
		}
	})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 60*time.Second)
	p.waitPing(30 * time.Second)
	p.settle(ix)
	first := p.ikeSAs(ix)
	children0 := len(iopChildRe.FindAllString(ix.Proc.Log(), -1))

	start := time.Now()
	const interval = 100 * time.Millisecond
	pings := iopPing(p.s.LAN, nslab.VNetHostAddr, int(62*time.Second/interval), interval)
	var rekeyed time.Duration
	err = nslab.WaitFor(70*time.Second, "IKE and Child SA rekeys on the IX", func() error {
		log := ix.Proc.Log()
		ike, child := len(iopIKERekeyedRe.FindAllString(log, -1)), len(iopChildRe.FindAllString(log, -1))-children0
		if ike < 1 || child < 1 {
			return fmt.Errorf("%d IKE SA rekeys, %d new Child SAs", ike, child)
		}
		return nil
	})
	if err == nil {
		rekeyed = time.Since(start)
	}
	res := <-pings
	lost, sent := relPingLost(res, int(62*time.Second/interval))
	ixLog, azLog := ix.Proc.Log(), az.Proc.Log()
	ikeN := len(iopIKERekeyedRe.FindAllString(ixLog, -1))
	childN := len(iopChildRe.FindAllString(ixLog, -1)) - children0
	azChildN := len(iopChildRe.FindAllString(azLog, -1))
	tab.add(sc, "IKE SA rekeys (IX) / Child SA rekeys (IX) / Child SAs ever (Azure)", fmt.Sprintf("%d / %d, %d", ikeN, childN, azChildN), ">= 1 / >= 1", err == nil)
	if err != nil {
		t.Error(err)
	} else {
		tab.add(sc, "first rekeys done after (s; lifetimes 60 s)", fmt.Sprintf("%.1f", rekeyed.Seconds()), "", true)
	}
	lossPct := 0.0
	if sent > 0 {
		lossPct = float64(lost) * 100 / float64(sent)
	}
	tab.add(sc, "ping loss across the rekeys, 100 ms apart, first 610 (%)", fmt.Sprintf("%.1f (%d of %d)", lossPct, lost, sent), "<= 5", sent > 0 && lossPct <= 5)
	if sent == 0 || lossPct > 5 {
		t.Errorf("%d of %d pings lost across rekeys on the lossy path", lost, sent)
		iopExplainLoss(t, p.iopLab, nil, res)
	}
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 20*time.Second)
	if now := p.ikeSAs(ix); len(now) != 1 || len(first) != 1 || now[0].SPII == first[0].SPII {
		t.Errorf("IKE SA not replaced: before %+v, now %+v", first, now)
	}
	for name, log := range map[string]string{"IX": ixLog, "Azure": azLog} {
		if strings.Contains(log, "level=ERROR") {
			t.Errorf("soft-ix %s logged errors during rekeys on the lossy path", name)
		}
	}
}

// relLogIKEEvents logs each daemon's IKE events (its "ike: " lines above
// debug), what a failed rekey scenario needs for a diagnosis.
func relLogIKEEvents(t *testing.T, daemons ...*nslab.SoftIX) {
	t.Helper()
	for _, d := range daemons {
		t.Logf("soft-ix %s IKE events:\n%s", d.Name, iopIKEEvents(d.Proc.Log()))
	}
}

// relPeerRestartInitiator: the Azure end is killed and comes back with no
// state, initiating as Azure does; its INITIAL_CONTACT makes the IX drop
// the old SAs at once. Target: traffic back within 2 s of the new start.
// About 15 s.
func relPeerRestartInitiator(t *testing.T, tab *relTable) {
	const sc = "b peer restarted, initiates"
	p := relNewLab(t, "relreinit", nil)
	p.startAzure(false)
	ix := p.startIX(iopIXConf{})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(ix)

	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 100*time.Millisecond, 60*time.Second)
	pg.waitAnswerAfter(t, time.Now(), 5*time.Second, "pings before the restart")
	relKill(t, p.az)
	started := time.Now()
	p.startAzure(false)
	back := pg.waitAnswerAfter(t, started.Add(100*time.Millisecond), 30*time.Second, "traffic back after the peer's restart")
	d := back.Sub(started)
	tab.add(sc, "traffic back after the new start (s)", fmt.Sprintf("%.1f", d.Seconds()), "<= 2", d <= 2*time.Second)
	if d > 2*time.Second {
		t.Errorf("traffic back only %v after the peer started again", d)
	}
}

// relPeerRestartResponder: the Azure end is killed and comes back as a
// pure responder with no state; the IX (dpd interval 10) must find its SA
// dead and set up a new one. Target: traffic back within 60 s. About 50 s.
func relPeerRestartResponder(t *testing.T, tab *relTable) {
	const sc = "b peer restarted, pure responder"
	p := relNewLab(t, "relrestart", nil)
	p.startAzure(false)
	ix := p.startIX(iopIXConf{DPD: 10})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(ix)

	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 200*time.Millisecond, 120*time.Second)
	pg.waitAnswerAfter(t, time.Now(), 5*time.Second, "pings before the restart")
	killed := time.Now()
	relKill(t, p.az)
	p.startAzure(true)
	back := pg.waitAnswerAfter(t, killed.Add(time.Second), 90*time.Second, "traffic back after the peer's restart")
	d := back.Sub(killed)
	tab.add(sc, "traffic back after kill + restart (s; dpd interval 10)", fmt.Sprintf("%.1f", d.Seconds()), "<= 60", d <= 60*time.Second)
	if d > 60*time.Second {
		t.Errorf("traffic back only %v after the peer restarted", d)
	}
	// The IX learns it either from DPD or, when its probe reaches the
	// restarted peer, from the peer's INVALID_IKE_SPI answer, on which it
	// sets up a new IKE SA beside the old one.
	if log := ix.Proc.Log(); !strings.Contains(log, "peer dead (DPD)") && !strings.Contains(log, "beside the one the peer says it lost") {
		t.Errorf("the IX logged neither the DPD failure nor a new IKE SA beside the lost one")
	}
}

// relBlackhole: the path drops everything for 45 s, longer than the IX
// (dpd interval 10) takes to declare the peer dead (at most 10 + 30 s),
// then returns. The tunnel must come back: the IX re-initiates at once
// when DPD gives up and retransmits its IKE_SA_INIT 2, 4, 8 and 16 s
// apart, so one reaches the returned peer within 16 s plus the exchange;
// the target is 20 s. About 70 s. REL_BLACKHOLE=5m (by hand) measures a
// longer outage: its attempts' later retransmissions are 32 s apart, an
// attempt gives up after 126 s and the next waits a backoff that doubles
// up to 5 minutes, so there the figure is reported against no target.
func relBlackhole(t *testing.T, tab *relTable) {
	hole := 45 * time.Second
	if d, err := time.ParseDuration(os.Getenv("REL_BLACKHOLE")); err == nil && d >= 45*time.Second {
		hole = d
	}
	sc := fmt.Sprintf("c blackhole %v, then return", hole)
	target, limit := "<= 20", 20*time.Second
	if hole > 45*time.Second {
		target, limit = "", 10*time.Minute
	}
	p := relNewLab(t, "relblack", []string{})
	p.startAzure(false)
	ix := p.startIX(iopIXConf{DPD: 10})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(ix)
	first := p.ikeSAs(ix)

	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 200*time.Millisecond, hole+limit+time.Minute)
	pg.waitAnswerAfter(t, time.Now(), 5*time.Second, "pings before the blackhole")
	if _, err := p.im.Set("blackhole=on"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(hole)
	if pg.answeredAfter(time.Now().Add(-hole + 5*time.Second)) {
		t.Errorf("pings answered through the blackhole")
	}
	if _, err := p.im.Set("blackhole=off"); err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	back := pg.waitAnswerAfter(t, returned, max(90*time.Second, limit+30*time.Second), "traffic back after the blackhole")
	d := back.Sub(returned)
	tab.add(sc, "traffic back after the path returned (s)", fmt.Sprintf("%.1f", d.Seconds()), target, d <= limit)
	if d > limit {
		t.Errorf("traffic back only %v after the path returned", d)
	}
	renewed := "kept"
	if now := p.ikeSAs(ix); len(now) != 1 || len(first) != 1 || now[0].SPII != first[0].SPII {
		renewed = "replaced"
	}
	tab.add(sc, "IX IKE SA across the blackhole", renewed, "", true)
}

// relRebootMidRekey: the Azure end reboots while the IX's rekey is in
// flight. The IX has a 60 s lifetime on its Child SA, or
// with ike on its IKE SA, and starts the rekey 51-54 s after the SA came
// up; the path is blackholed a few seconds before, so the IX's
// CREATE_CHILD_SA request goes unanswered. Once the IX has sent it
// (its metrics count it), the Azure end is killed, the path returns and
// Azure starts again with no state: initiating (its INITIAL_CONTACT makes
// the IX drop the old SA and its pending rekey; target: traffic back
// within 2 s of the new start, as for any restarted initiator) or, with
// responder, as a pure responder (the IX, with dpd interval 30, must find
// the old SA dead by itself: its rekey request gives up after the DPD
// timeout, 30 s; target: traffic back within 60 s of the kill, as for a
// restarted responder). The suite runs the IKE SA rekey with an initiating
// peer and the Child SA rekey with a responding one: an IKE SA with a
// 60 s lifetime expires 6-9 s after its rekey starts, which would end the
// wait before DPD could, a Child SA's expiry leaves the IKE SA waiting.
// About 60 s, or 90 s as a responder.
func relRebootMidRekey(t *testing.T, tab *relTable, ike, responder bool) {
	what, conf := "Child SA", iopIXConf{ChildLifetime: 60}
	if ike {
		what, conf = "IKE SA", iopIXConf{SALifetime: 60}
	}
	how := "initiates"
	if responder {
		// DPD every 30 s: a probe at about 30 s, none pending when the
		// rekey starts (a probe in flight would hold the rekey back).
		how, conf.DPD = "pure responder (IX dpd interval 30)", 30
	}
	sc := fmt.Sprintf("b peer reboots mid %s rekey, %s", what, how)
	p := relNewLab(t, "relmidrekey", []string{})
	p.startAzure(false)
	ix := p.startIX(conf)
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	up := time.Now()
	p.waitPing(20 * time.Second)
	p.settle(ix)

	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 100*time.Millisecond, 3*time.Minute)
	pg.waitAnswerAfter(t, time.Now(), 5*time.Second, "pings before the rekey")
	sentRekeys := func() float64 {
		return sum(relMetrics(t, p.s.IX), "softix_ike_exchanges_total", `direction="sent"`, `exchange="CREATE_CHILD_SA"`)
	}
	// The earliest rekey is at 85 % of the lifetime, 51 s; the SA under
	// test came up at most 3 s before up (settle resolves the start's
	// duplicate IKE SA).
	time.Sleep(time.Until(up.Add(45 * time.Second)))
	rekeys0 := sentRekeys()
	if _, err := p.im.Set("blackhole=on"); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(20*time.Second, "the IX's rekey request", func() error {
		if sentRekeys() == rekeys0 {
			return fmt.Errorf("no CREATE_CHILD_SA sent yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the request is on its way into the blackhole
	killed := time.Now()
	relKill(t, p.az)
	if _, err := p.im.Set("blackhole=off"); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	p.startAzure(responder)
	from, target, limit, since := started, "<= 2", 2*time.Second, "its new start"
	if responder {
		from, target, limit, since = killed, "<= 60", 60*time.Second, "the kill"
	}
	back := pg.waitAnswerAfter(t, started.Add(100*time.Millisecond), 120*time.Second, "traffic back after the reboot mid-rekey")
	d := back.Sub(from)
	tab.add(sc, fmt.Sprintf("traffic back after %s (s)", since), fmt.Sprintf("%.1f", d.Seconds()), target, d <= limit)
	if d > limit {
		t.Errorf("traffic back only %v after %s", d, since)
	}
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 60*time.Second)
}

// relSoftIXState is what a soft-ix leaves in the kernel: its routes (by
// protocol) and its links.
func relSoftIXState(t *testing.T, ns string) (routes []string, links []string) {
	t.Helper()
	for _, proto := range []int{int(tun.ProtoStatic), int(tun.ProtoBGP)} {
		for _, r := range bgtRoutes(t, ns, proto) {
			routes = append(routes, fmt.Sprintf("%s dev %s proto %d", r.Dst, r.Dev, proto))
		}
	}
	out := bgtRun(t, "ip", "-n", ns, "-d", "-o", "link", "show")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "alias "+tun.LinkAlias) || strings.Contains(line, "Tunnel") {
			if f := strings.Fields(line); len(f) > 1 {
				links = append(links, strings.TrimSuffix(f[1], ":"))
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(links)
	return routes, links
}

// relSIGKILL: the IX daemon is killed (SIGKILL) during traffic and started
// again: the tunnel is back within 5 s and the kernel holds exactly what
// it held before (no stale or duplicate routes, TUNs or loopbacks; the
// checks of TestTunStaleCleanupAfterCrash). About 25 s.
func relSIGKILL(t *testing.T, tab *relTable) {
	const sc = "d soft-ix SIGKILL, start again"
	p := relNewLab(t, "relkill", nil)
	p.startAzure(false)
	ix := p.startIX(iopIXConf{})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(ix)
	routes0, links0 := relSoftIXState(t, p.s.IX.Name)
	if len(routes0) == 0 || len(links0) == 0 {
		t.Fatalf("nothing of soft-ix in the kernel: routes %v, links %v", routes0, links0)
	}

	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 100*time.Millisecond, 60*time.Second)
	pg.waitAnswerAfter(t, time.Now(), 5*time.Second, "pings before the kill")
	relKill(t, ix)
	restarted := time.Now()
	ix = p.startIX(iopIXConf{})
	back := pg.waitAnswerAfter(t, restarted.Add(100*time.Millisecond), 30*time.Second, "traffic back after the restart")
	d := back.Sub(restarted)
	tab.add(sc, "traffic back after the new start (s)", fmt.Sprintf("%.1f", d.Seconds()), "<= 5", d <= 5*time.Second)
	if d > 5*time.Second {
		t.Errorf("traffic back only %v after soft-ix started again", d)
	}
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 10*time.Second)
	routes1, links1 := relSoftIXState(t, p.s.IX.Name)
	same := strings.Join(routes0, "; ") == strings.Join(routes1, "; ") && strings.Join(links0, " ") == strings.Join(links1, " ")
	tab.add(sc, "kernel state after restart = before kill", fmt.Sprint(same), "true", same)
	if !same {
		t.Errorf("kernel state changed across the crash:\nbefore: %v %v\nafter:  %v %v", routes0, links0, routes1, links1)
	}
}

// relProcFigures reads a daemon's goroutines (from its metrics on the
// namespace's loopback), open fds and RSS.
func relProcFigures(t *testing.T, ns *nslab.Namespace, pid int) (goroutines, fds int, rssKiB int64) {
	t.Helper()
	goroutines = int(relMetrics(t, ns)["go_goroutines"])
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if goroutines == 0 || rssKiB == 0 {
		t.Fatalf("no goroutine count or RSS for pid %d", pid)
	}
	return goroutines, len(ents), rssKiB
}

// relRSSParts splits the resident memory of process pid (KiB, from
// /proc/PID/smaps_rollup) into anonymous memory (the Go heap, stacks, the
// runtime's own) and pages of files (the binary's code and data, shared
// with every other soft-ix running the same binary): the binary's pages
// count in RSS once the process first runs or reads them, so code paths
// taken for the first time late in a soak (a PFS rekey, a retransmission)
// grow RSS without any memory being allocated.
func relRSSParts(pid int) (anonKiB, fileKiB int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	var rss int64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "Rss":
			rss = n
		case "Anonymous":
			anonKiB = n
		}
	}
	return anonKiB, rss - anonKiB
}

// relHeapLive reads the heap the daemon's last garbage collection kept
// (go_gc_heap_live_bytes from its metrics on the namespace's loopback), in
// KiB: unlike RSS it does not follow the collector's pacing.
func relHeapLive(t *testing.T, ns *nslab.Namespace) int64 {
	t.Helper()
	f, ok := relMetrics(t, ns)["go_gc_heap_live_bytes"]
	if !ok {
		t.Fatalf("no go_gc_heap_live_bytes in the metrics")
	}
	return int64(f) / 1024
}

// relReloads: 50 SIGHUP reloads of the IX, alternating between the seed
// config and one with another hostname, an extra static route and another
// BGP AS number (which restarts the speaker), under a 50 ms ping: the unchanged tunnel never drops (same IKE SA, no ping
// lost) and goroutines, fds and RSS stay flat from reload 20 to 50. The
// IX runs with GOGC=5: with the default 100 a reload's ~130 KiB of garbage
// piles up for some 150 reloads before the first collection (RSS then
// levels off near twice the live heap), so RSS over 50 reloads would show
// the collector's schedule, not a leak. About 15 s.
func relReloads(t *testing.T, tab *relTable) {
	// The first reloads warm up (the heap settles by about the 20th at
	// GOGC=5); flat is measured from there. REL_RELOADS=200 runs the
	// issue's full form.
	const warm = 20
	reloads := 50
	if n, err := strconv.Atoi(os.Getenv("REL_RELOADS")); err == nil && n > warm {
		reloads = n // the full form, by hand
	}
	sc := fmt.Sprintf("e %d SIGHUP reloads", reloads)
	p := relNewLab(t, "relreload", nil)
	p.startAzure(false)
	ix := p.startIX(iopIXConf{Env: []string{"GOGC=5"}})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(ix)
	first := p.ikeSAs(ix)
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ix.Proc.Pid())); strings.TrimSpace(string(comm)) != "soft-ix" {
		t.Fatalf("pid %d is %q, not soft-ix", ix.Proc.Pid(), comm)
	}

	// Both configs have a BGP speaker whose AS number differs, so every
	// reload restarts it (GoBGP's Serve goroutine once leaked per
	// restart); its neighbor 172.16.0.6 has no speaker behind it, so the
	// session never comes up and no route changes.
	bgp := func(as int) string {
		return fmt.Sprintf("router bgp %d\n  neighbor 172.16.0.6 remote-as 65010\n!\n", as)
	}
	base := iopIXConf{}.text() + bgp(65050)
	changed := strings.Replace(iopIXConf{}.text(), "hostname iop-ix\n", "hostname iop-ix-b\n", 1) +
		"ip route 10.99.0.0/16 Tunnel0.0\n" + bgp(65051)
	if err := os.WriteFile(ix.ConfPath, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ix.Proc.Signal(syscall.SIGHUP); err != nil { // reload 0: BGP joins
		t.Fatal(err)
	}
	iopWaitLog(t, ix, 10*time.Second, regexp.MustCompile(`bgp: started`))
	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 50*time.Millisecond, 120*time.Second)
	pg.waitAnswerAfter(t, time.Now(), 5*time.Second, "pings before the reloads")
	reloadRe := regexp.MustCompile(`reload on SIGHUP done`)
	var g0, f0 int
	var r0 int64
	start := time.Now()
	for i := 1; i <= reloads; i++ {
		conf := base
		if i%2 == 1 {
			conf = changed
		}
		if err := os.WriteFile(ix.ConfPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		n := len(reloadRe.FindAllStringIndex(ix.Proc.Log(), -1))
		if err := ix.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if err := nslab.WaitFor(10*time.Second, fmt.Sprintf("reload %d", i), func() error {
			if len(reloadRe.FindAllStringIndex(ix.Proc.Log(), -1)) <= n {
				return fmt.Errorf("not done")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i == warm {
			g0, f0, r0 = relProcFigures(t, p.s.IX, ix.Proc.Pid())
		}
		if i%10 == 0 {
			g, f, r := relProcFigures(t, p.s.IX, ix.Proc.Pid())
			t.Logf("after reload %d: %d goroutines, %d fds, RSS %d KiB", i, g, f, r)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(time.Second) // the last pings' answers
	g1, f1, r1 := relProcFigures(t, p.s.IX, ix.Proc.Pid())
	lost, sent := pg.lost()
	pg.stop()

	span := fmt.Sprintf("after reload %d -> %d", warm, reloads)
	tab.add(sc, "time for the reloads (s)", fmt.Sprintf("%.1f", elapsed.Seconds()), "", true)
	tab.add(sc, "goroutines "+span, fmt.Sprintf("%d -> %d", g0, g1), "growth <= 2", g1-g0 <= 2)
	// A BGP connection attempt in flight holds a socket for a moment.
	tab.add(sc, "open fds "+span, fmt.Sprintf("%d -> %d", f0, f1), "growth <= 2", f1-f0 <= 2)
	rssGrowth := float64(r1-r0) * 100 / float64(r0)
	tab.add(sc, "RSS "+span+" (MiB, GOGC=5)", fmt.Sprintf("%.1f -> %.1f (%+.1f %%)", float64(r0)/1024, float64(r1)/1024, rssGrowth), "growth < 5 %", rssGrowth < 5)
	tab.add(sc, "pings lost during the reloads (50 ms apart)", fmt.Sprintf("%d of %d", lost, sent), "0", lost == 0)
	kept := false
	if now := p.ikeSAs(ix); len(now) == 1 && len(first) == 1 && now[0].SPII == first[0].SPII {
		kept = true
	}
	tab.add(sc, "unchanged tunnel's IKE SA kept", fmt.Sprint(kept), "true", kept)
	if g1-g0 > 2 || f1-f0 > 2 || rssGrowth >= 5 {
		t.Errorf("resources grew from reload %d to %d: goroutines %d -> %d, fds %d -> %d, RSS %d -> %d KiB", warm, reloads, g0, g1, f0, f1, r0, r1)
	}
	if lost != 0 || sent == 0 {
		t.Errorf("%d of %d pings lost during reloads", lost, sent)
	}
	if !kept {
		t.Errorf("the IKE SA changed during reloads that did not touch the tunnel")
	}
}

// relSoak: issue 14's soak, by hand (REL_SOAK=30m): accelerated lifetimes
// (Child SA 60 s on both ends, IKE SA 180 s at the IX), with or without
// PFS, 30 ± 10 ms on the path (no loss, so every lost ping is soft-ix's),
// an iperf3 TCP stream at 10 Mbit/s and a 20 ms ping for d: no ping lost,
// and the IX's goroutines, fds, RSS and live heap flat (growth below 5 %
// from the five minutes after the fifth, or after the middle of a shorter
// soak, to the last five).
func relSoak(t *testing.T, tab *relTable, d time.Duration, pfs bool) {
	group, mode := "", "off"
	if pfs {
		group, mode = "1024-bit", "1024-bit"
	}
	sc := fmt.Sprintf("f soak %v, PFS %s", d, mode)
	p := relNewLab(t, "relsoak"+map[bool]string{false: "", true: "pfs"}[pfs], []string{"delay=30ms", "jitter=10ms"}, "iperf3")
	conf := strings.Replace(relAzureConf(t, false), "child-lifetime 27000 kilobytes 102400000", "child-lifetime 60", 1)
	if pfs {
		conf = strings.Replace(conf, "child-lifetime 60\n", "child-lifetime 60\n  child-pfs 1024-bit\n", 1)
	}
	az, err := nslab.StartSoftIXDaemon(p.s.Azure, nslab.SoftIXOptions{Name: "azure", Config: conf, Map: nslab.AzureSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	p.az, p.azStarted = az, time.Now()
	ix := p.startIX(iopIXConf{SALifetime: 180, ChildLifetime: 60, ChildPFS: group})
	iopWaitSoftIXPair(t, p.iopLab, ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(ix)
	children0 := len(iopChildRe.FindAllString(ix.Proc.Log(), -1))

	if _, err := p.s.VNet.Start("iperf3-server", nil, "iperf3", "-s", "-B", nslab.VNetHostAddr); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := p.s.LAN.Start("iperf3-client", nil, "iperf3", "-c", nslab.VNetHostAddr, "-b", "10M",
		"-t", strconv.Itoa(int(d.Seconds())+5), "-i", "60"); err != nil {
		t.Fatal(err)
	}
	pg := relStartPinger(t, p.s.LAN, nslab.VNetHostAddr, 20*time.Millisecond, d+time.Minute)
	start := time.Now()
	base := min(5*time.Minute, d/2)
	// One sample a minute. RSS and the live heap move with the collector
	// and the buffer pools (a few MiB either way between two samples), so
	// flat is judged on five-sample means: the five from minute 5 (the
	// issue's warm-up) against the last five.
	type sample struct {
		at        time.Duration
		g, f      int
		rss, live int64
	}
	var samples []sample
	for next := time.Minute; ; next += time.Minute {
		time.Sleep(time.Until(start.Add(min(next, d))))
		g, f, r := relProcFigures(t, p.s.IX, ix.Proc.Pid())
		h := relHeapLive(t, p.s.IX)
		lost, sent := pg.lost()
		// Where RSS goes besides the live heap: heap spans in use
		// (live + garbage not yet collected), idle ones not yet given
		// back to the kernel, stacks, and the collector's next goal.
		m := relMetrics(t, p.s.IX)
		kib := func(name string) int64 { return int64(m[name]) / 1024 }
		anon, file := relRSSParts(ix.Proc.Pid())
		t.Logf("%s after %v: %d goroutines, %d fds, RSS %d KiB (anonymous %d, file pages %d), live heap %d KiB; heap in use %d, idle %d (released %d), stacks %d, next GC %d KiB; %.0f collections, %.0f mallocs; pings %d lost of %d",
			sc, min(next, d), g, f, r, anon, file, h, kib("go_memstats_heap_inuse_bytes"), kib("go_memstats_heap_idle_bytes"), kib("go_memstats_heap_released_bytes"),
			kib("go_memstats_stack_inuse_bytes"), kib("go_memstats_next_gc_bytes"), m["go_gc_duration_seconds_count"], m["go_memstats_mallocs_total"], lost, sent)
		samples = append(samples, sample{min(next, d), g, f, r, h})
		if next >= d {
			break
		}
	}
	mean := func(from, to time.Duration) (m sample) {
		var n int64
		for _, x := range samples {
			if x.at >= from && x.at <= to {
				m.g, m.f, m.rss, m.live, n = m.g+x.g, max(m.f, x.f), m.rss+x.rss, m.live+x.live, n+1
			}
		}
		if n > 0 {
			m.g, m.rss, m.live = int(int64(m.g)/n), m.rss/n, m.live/n
		}
		return m
	}
	lastFrom := max(d-4*time.Minute, time.Minute)
	first, last := mean(base, min(base+4*time.Minute, d)), mean(lastFrom, d)
	g0, f0, r0, h0 := first.g, first.f, first.rss, first.live
	g1, f1, r1, h1 := last.g, last.f, last.rss, last.live
	lost, sent := pg.lost()
	pg.stop()
	st, _ := p.im.Stats()
	log := ix.Proc.Log()
	ikeN := len(iopIKERekeyedRe.FindAllString(log, -1))
	childN := len(iopChildRe.FindAllString(log, -1)) - children0
	span := fmt.Sprintf("minutes %.0f-%.0f -> %.0f-%.0f (means)", base.Minutes(), min(base+4*time.Minute, d).Minutes(),
		lastFrom.Minutes(), d.Minutes())
	// Rekeys come at 85-90 % of a lifetime, so at least one per lifetime.
	wantIKE, wantChild := int(d/(180*time.Second)), int(d/time.Minute)
	tab.add(sc, "IKE SA rekeys / Child SA rekeys at the IX", fmt.Sprintf("%d / %d", ikeN, childN),
		fmt.Sprintf(">= %d / >= %d", wantIKE, wantChild), ikeN >= wantIKE && childN >= wantChild)
	tab.add(sc, "pings lost, 20 ms apart (path: no loss)", fmt.Sprintf("%d of %d (path dropped %d)", lost, sent, st["lost"]+st["overflow"]), "0", lost == 0)
	tab.add(sc, "goroutines "+span, fmt.Sprintf("%d -> %d", g0, g1), "growth < 5 %", float64(g1-g0) < 0.05*float64(g0))
	tab.add(sc, "open fds "+span, fmt.Sprintf("%d -> %d", f0, f1), "growth <= 2", f1-f0 <= 2)
	rssGrowth := float64(r1-r0) * 100 / float64(r0)
	tab.add(sc, "RSS "+span+" (MiB)", fmt.Sprintf("%.1f -> %.1f (%+.1f %%)", float64(r0)/1024, float64(r1)/1024, rssGrowth), "growth < 5 %", rssGrowth < 5)
	heapGrowth := float64(h1-h0) * 100 / float64(h0)
	tab.add(sc, "live heap after GC "+span+" (MiB)", fmt.Sprintf("%.1f -> %.1f (%+.1f %%)", float64(h0)/1024, float64(h1)/1024, heapGrowth), "growth < 5 %", heapGrowth < 5)
	if lost != 0 || ikeN < wantIKE || childN < wantChild || float64(g1-g0) >= 0.05*float64(g0) || f1-f0 > 2 || rssGrowth >= 5 || heapGrowth >= 5 {
		t.Errorf("soak: %d pings lost, %d IKE and %d Child rekeys, goroutines %d -> %d, fds %d -> %d, RSS %d -> %d KiB, live heap %d -> %d KiB",
			lost, ikeN, childN, g0, g1, f0, f1, r0, r1, h0, h1)
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("the IX logged errors during the soak")
	}
}
