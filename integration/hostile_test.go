package integration

// Issue 14's hostile input: the seed scenario with a soft-ix at each end
// and an attacker namespace on the internet segment running the hostile
// program (integration/cmd/hostile), which writes forged IKE and ESP to a
// raw socket from its own or spoofed addresses. Each attack is bounded in
// packets and time; TestHostile prints one table of what soft-ix did
// under it next to the targets. Names start with "hos".

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/cpupin"
	"github.com/soft-ix/soft-ix/integration/nslab"
)

// The attacker's link to the internet router, and the addresses it claims
// in the IKE_SA_INIT flood (the router routes them back to it, so
// soft-ix's answers leave the lab nowhere and need no neighbor entries).
const (
	hosRouterAddr = "192.0.2.1"
	hosAddr       = "192.0.2.2"
	hosSpoofNet   = "192.0.2.128/25"
)

// hosLab is the scenario with both daemons up and the attacker beside it.
type hosLab struct {
	*relPair
	ix    *nslab.SoftIX
	atk   *nslab.Namespace
	bin   string        // the hostile program
	flood time.Duration // how long each flood lasts
	count int           // messages of each bounded IKE attack
	full  bool          // HOSTILE_FULL: the throughput bar is enforced
}

// hosBinary builds the hostile program once per test.
func hosBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hostile")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/soft-ix/soft-ix/integration/cmd/hostile").CombinedOutput()
	if err != nil {
		t.Fatalf("building hostile: %v\n%s", err, out)
	}
	return bin
}

// throughputFails says whether a flood's throughput ratio (under attack /
// without) fails the test. The bar, 80 %, is enforced in the full
// form (HOSTILE_FULL=1), which is the measurement the README quotes. The
// short form in CI runs on a two-core machine whose load moves such a
// ratio by tens of points from run to run (74 % and 122 % for the same
// flood an hour apart), so there it reports the figure in the table and
// fails only when the tunnel collapses under the flood.
func (h *hosLab) throughputFails(ratio float64) bool {
	if h.full {
		return ratio < 0.8
	}
	return ratio < 0.3
}

func hosNewLab(t *testing.T) *hosLab {
	t.Helper()
	p := relNewLab(t, "hostile", nil, "iperf3", "tcpdump")
	h := &hosLab{relPair: p, bin: hosBinary(t), flood: 3 * time.Second, count: 4000}
	if os.Getenv("HOSTILE_FULL") != "" {
		h.flood, h.count, h.full = 10*time.Second, 20000, true
	}
	var err error
	if h.atk, err = p.lab.Namespace("atk"); err != nil {
		t.Fatal(err)
	}
	if err := p.lab.Link(p.s.Internet, "atk", hosRouterAddr+"/28", h.atk, "eth0", hosAddr+"/28"); err != nil {
		t.Fatal(err)
	}
	if err := h.atk.IP("route", "add", "default", "via", hosRouterAddr); err != nil {
		t.Fatal(err)
	}
	if err := p.s.Internet.IP("route", "add", hosSpoofNet, "via", hosAddr); err != nil {
		t.Fatal(err)
	}
	// The internet forwards what the attacker claims to be (no source
	// validation): that is the threat.
	if err := p.s.Internet.Sysctl("0", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter",
		"net/ipv4/conf/atk/rp_filter"); err != nil {
		t.Fatal(err)
	}
	p.startAzure(false)
	// The default log level: what a flood writes to the log is a figure.
	h.ix = p.startIX(iopIXConf{Args: []string{"--log-level", "info"}})
	iopWaitSoftIXPair(t, p.iopLab, h.ix, p.az, 30*time.Second)
	p.waitPing(20 * time.Second)
	p.settle(h.ix)
	return h
}

// attack runs the hostile program in the attacker namespace and returns
// its summary line's fields.
func (h *hosLab) attack(ctx context.Context, args ...string) (map[string]float64, error) {
	out, err := h.atk.RunContext(ctx, append([]string{h.bin, "-dst", nslab.IXWANAddr}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("hostile %s: %v: %s", strings.Join(args, " "), err, out)
	}
	res := map[string]float64{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				res[k] = n
			}
		}
	}
	return res, nil
}

// metrics reads the IX's metrics.
func (h *hosLab) metrics() map[string]float64 { return relMetrics(h.t, h.s.IX) }

// relMetrics reads the metrics of the daemon in ns (on 127.0.0.1:9477):
// "name{labels} value" lines keyed by "name{labels}".
func relMetrics(t *testing.T, ns *nslab.Namespace) map[string]float64 {
	t.Helper()
	out, err := ns.Run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9477 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// sum adds the metrics whose key starts with name and contains every
// label ("reason=\"x\"") given.
func sum(m map[string]float64, name string, labels ...string) float64 {
	var s float64
next:
	for k, v := range m {
		if !strings.HasPrefix(k, name) {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(k, l) {
				continue next
			}
		}
		s += v
	}
	return s
}

// state is what must survive an attack: the IX's IKE SA and newest
// inbound ESP SPI, its process and its log size.
type hosState struct {
	ike     string
	inSPI   string
	logSize int
	rssKiB  int64
	heapKiB int64 // live heap after the last GC
}

func (h *hosLab) state() hosState {
	h.t.Helper()
	sas := h.ikeSAs(h.ix)
	if len(sas) != 1 {
		h.t.Fatalf("IX has %d IKE SAs: %+v", len(sas), sas)
	}
	// The inbound SA from the metrics: the log also names the SA of the
	// duplicate IKE SA the start made and deleted.
	var in []string
	for k := range h.metrics() {
		if v, ok := strings.CutPrefix(k, `softix_child_sa_packets_total{direction="in",spi="0x`); ok {
			in = append(in, v[:8])
		}
	}
	if len(in) != 1 {
		h.t.Fatalf("IX has inbound Child SAs %v, want one", in)
	}
	_, _, rss := relProcFigures(h.t, h.s.IX, h.ix.Proc.Pid())
	return hosState{ike: sas[0].SPII + ":" + sas[0].SPIR, inSPI: in[0], logSize: len(h.ix.Proc.Log()), rssKiB: rss,
		heapKiB: relHeapLive(h.t, h.s.IX)}
}

// alive checks that the IX still runs and kept its SAs.
func (h *hosLab) alive(before hosState) (hosState, bool) {
	h.t.Helper()
	if exited, err := h.ix.Proc.Exited(); exited {
		h.t.Fatalf("soft-ix IX exited under attack: %v\n%s", err, h.ix.Proc.Log())
	}
	now := h.state()
	return now, now.ike == before.ike && now.inSPI == before.inSPI
}

// TestHostile runs issue 14's hostile-input suite against the IX daemon
// (about 3.5 minutes in the short form; HOSTILE_FULL=1 floods 10 s each and sends
// 20,000 messages per IKE attack) and logs one table:
// `go test -v -run TestHostile ./integration/`.
func TestHostile(t *testing.T) {
	t.Parallel()
	h := hosNewLab(t)
	var tab relTable
	// In order: the ESP floods first (their throughput baseline wants a
	// quiet IKE side), then the IKE attacks, the INIT flood last (it
	// restarts the peer).
	t.Run("esp", func(t *testing.T) { hosESP(t, h, &tab) })
	t.Run("esp-pinned", func(t *testing.T) { hosESPPinned(t, h, &tab) })
	t.Run("malformed", func(t *testing.T) { hosMalformed(t, h, &tab) })
	t.Run("forge", func(t *testing.T) { hosForge(t, h, &tab) })
	t.Run("ikeinit", func(t *testing.T) { hosInitFlood(t, h, &tab) })
	t.Logf("hostile-input figures (go test -v -run TestHostile ./integration/):\n%s", tab.String())
}

// hosESP: ESP floods at the live SPI with bad ICVs, at random SPIs and as
// replays, raw and in UDP 4500, each at the attacker's full rate while
// iperf3 runs VNet -> LAN (so the IX decrypts the bulk traffic) and a
// 20 ms ping crosses. Targets: every packet counted in its counter, at
// least 80 % of the throughput of the same iperf3 run without an attack
// (measured first), log growth bounded.
func hosESP(t *testing.T, h *hosLab, tab *relTable) {
	const sc = "h1 ESP flood"
	cpu0 := hosCPU(t, h.ix.Proc.Pid())
	base, err := nslab.Iperf3(h.s.LAN, h.s.VNet, nslab.LANHostAddr, h.flood)
	if err != nil {
		t.Fatal(err)
	}
	tab.add(sc, "iperf3 VNet -> LAN without attack (Mbit/s); IX soft-ix CPU (s)", fmt.Sprintf("%.0f; %.1f", base.ReceivedMbps, (hosCPU(t, h.ix.Proc.Pid())-cpu0).Seconds()), "", true)
	before := h.state()
	for _, a := range []struct {
		mode    string
		udp     bool
		counter func(m map[string]float64) float64
		what    string
		asPeer  bool
		rate    int // packets per second; 0 as fast as the attacker can
	}{
		{"esp-badicv", false, func(m map[string]float64) float64 {
			return sum(m, "softix_child_sa_drops_total", `reason="integrity_failure"`) + sum(m, "softix_esp_drops_total", `reason="icv_limited"`)
		}, "integrity failure + icv_limited", false, 0},
		{"esp-badicv", true, func(m map[string]float64) float64 {
			return sum(m, "softix_child_sa_drops_total", `reason="integrity_failure"`) + sum(m, "softix_esp_drops_total", `reason="icv_limited"`)
		}, "integrity failure + icv_limited", false, 0},
		{"esp-randspi", false, func(m map[string]float64) float64 { return sum(m, "softix_esp_drops_total", `reason="unknown_spi"`) }, "unknown_spi", false, 0},
		{"esp-randspi", true, func(m map[string]float64) float64 { return sum(m, "softix_esp_drops_total", `reason="unknown_spi"`) }, "unknown_spi", false, 0},
		{"esp-replay", false, hosReplayDrops, "replay detected (+ ICV failures, see hosReplayDrops)", false, 0},
		{"esp-replay", true, hosReplayDrops, "replay detected (+ ICV failures, see hosReplayDrops)", false, 0},
		// Claiming the peer's address: the per-source bound cannot apply.
		{"esp-badicv", false, func(m map[string]float64) float64 {
			return sum(m, "softix_child_sa_drops_total", `reason="integrity_failure"`) + sum(m, "softix_esp_drops_total", `reason="icv_limited"`)
		}, "integrity failure + icv_limited", true, 0},
		// At a rate the machine's CPU can absorb beside the tunnel.
		{mode: "esp-badicv", counter: func(m map[string]float64) float64 {
			return sum(m, "softix_child_sa_drops_total", `reason="integrity_failure"`) + sum(m, "softix_esp_drops_total", `reason="icv_limited"`)
		}, what: "integrity failure + icv_limited", rate: 20000},
	} {
		name, src := a.mode+" raw", hosAddr
		if a.asPeer {
			name, src = a.mode+" raw claiming the peer", nslab.AzurePublicAddr
		}
		args := []string{"-mode", a.mode, "-src", src, "-esp-spi", before.inSPI, "-duration", (h.flood + 2*time.Second).String()}
		replay := a.mode == "esp-replay"
		if replay {
			// Replays of what the peer sent last: the packets its
			// outbound SA sent are its highest sequence number (the
			// IX's own count misses what the floods made the kernel
			// drop). No iperf3 here, so the window stays where the
			// replayed numbers are.
			var n int64
			for _, ch := range h.childSAs(h.az) {
				if ch.Direction == "outbound" {
					n = ch.OutPkts
				}
			}
			args = append(args, "-seq", strconv.FormatInt(n, 10))
		}
		if a.udp {
			name = a.mode + " udp"
			args = append(args, "-udp")
		}
		if a.rate > 0 {
			name = fmt.Sprintf("%s raw at %d/s", a.mode, a.rate)
			args = append(args, "-rate", strconv.Itoa(a.rate))
		}
		if !replay {
			// The reference right before: the machine's load changes
			// from one minute to the next.
			if base, err = nslab.Iperf3(h.s.LAN, h.s.VNet, nslab.LANHostAddr, h.flood); err != nil {
				t.Fatal(err)
			}
		}
		m0 := h.metrics()
		k0 := hosKernelDrops(t, h.s.IX)
		s0 := h.state()
		pings := iopPing(h.s.LAN, nslab.VNetHostAddr, int(h.flood/(20*time.Millisecond)), 20*time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), h.flood+30*time.Second)
		var res map[string]float64
		var aerr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); res, aerr = h.attack(ctx, args...) }()
		time.Sleep(500 * time.Millisecond) // the flood is on before iperf3 starts
		cpu0 := hosCPU(t, h.ix.Proc.Pid())
		var ip nslab.IperfResult
		var err error
		if !replay {
			ip, err = nslab.Iperf3(h.s.LAN, h.s.VNet, nslab.LANHostAddr, h.flood)
		} else {
			time.Sleep(h.flood)
		}
		cpu := hosCPU(t, h.ix.Proc.Pid()) - cpu0
		wg.Wait()
		cancel()
		pr := <-pings
		if aerr != nil {
			t.Fatal(aerr)
		}
		if err != nil {
			t.Errorf("%s: iperf3: %v", name, err)
		}
		time.Sleep(500 * time.Millisecond) // the last queued packets are counted
		m1 := h.metrics()
		kdrops := float64(hosKernelDrops(t, h.s.IX) - k0)
		s1, kept := h.alive(s0)
		counted := a.counter(m1) - a.counter(m0)
		if replay {
			rd := sum(m1, "softix_child_sa_drops_total", `reason="replay_detected"`) - sum(m0, "softix_child_sa_drops_total", `reason="replay_detected"`)
			tab.add(sc, name+": of them replay detected (before any ICV work)", fmt.Sprintf("%.0f", rd), "", true)
		}
		ratio := ip.ReceivedMbps / base.ReceivedMbps
		tab.add(sc, name+": sent (pkt/s)", fmt.Sprintf("%.0f (%.0f)", res["sent"], res["pps"]), "", true)
		tab.add(sc, name+": counted as "+a.what+" + kernel socket queue drops", fmt.Sprintf("%.0f + %.0f (%.1f %%)", counted, kdrops, 100*(counted+kdrops)/max(res["sent"], 1)),
			">= 99 %", counted+kdrops >= 0.99*res["sent"])
		if !replay {
			tab.add(sc, name+": iperf3 under attack / just before without; IX soft-ix CPU (s)", fmt.Sprintf("%.0f / %.0f Mbit/s (%.0f %%); %.1f", ip.ReceivedMbps, base.ReceivedMbps, 100*ratio, cpu.Seconds()), ">= 80 %", ratio >= 0.8)
		}
		tab.add(sc, name+": pings lost (20 ms apart); SAs kept", fmt.Sprintf("%d of %d; %v", pr.Lost(), pr.Sent, kept), "kept", kept)
		tab.add(sc, name+": log bytes written", fmt.Sprint(s1.logSize-s0.logSize), "<= 4096", s1.logSize-s0.logSize <= 4096)
		tab.add(sc, name+": RSS; live heap, before -> after (MiB)", fmt.Sprintf("%.1f -> %.1f; %.1f -> %.1f", float64(s0.rssKiB)/1024, float64(s1.rssKiB)/1024,
			float64(s0.heapKiB)/1024, float64(s1.heapKiB)/1024), "", true)
		if counted+kdrops < 0.99*res["sent"] {
			t.Logf("%s: metrics that moved:\n%s", name, hosMoved(m0, m1))
		}
		if counted+kdrops < 0.99*res["sent"] || !kept || s1.logSize-s0.logSize > 4096 {
			t.Errorf("%s: sent %.0f, counted %.0f; SAs kept %v; log +%d bytes", name, res["sent"], counted, kept, s1.logSize-s0.logSize)
		}
		// At the attacker's full rate the attacker shares the machine's
		// cores with soft-ix, so there the figure is reported (and
		// marked in the table), not a failure; at a rate the machine
		// absorbs it is the target.
		if !replay && a.rate > 0 && h.throughputFails(ratio) {
			t.Errorf("%s: iperf3 %.0f Mbit/s under attack, %.0f without", name, ip.ReceivedMbps, base.ReceivedMbps)
		}
	}
}

// hosESPPinned: issue 14's throughput target restated for a 2-core
// machine. At the attacker's full rate in hosESP the attacker keeps one of
// the two cores busy, so soft-ix, the peer and iperf3 get half the machine
// the reference run had. Here the attacker runs on CPU 1 (hostile -cpu 1)
// and everything else of the lab that uses CPU (both daemons, iperf3,
// ping, this test) on CPU 0, for the reference run as for the run under
// attack, right after each other: the ratio is soft-ix's own cost of the
// flood. The kernel's work to take the forged packets in (the attacker's
// sends through the router into the IX's socket queue) runs on the
// sender's CPU, the attacker's here, as a NIC's interrupts would on a
// machine of its own; what soft-ix spends reading and dropping them is on
// CPU 0. Then each flood runs once more without iperf3 to give the IX's
// CPU per forged packet it read: one core absorbs about 1 s divided by it.
// Other helpers' work on the machine still lands on both cores.
func hosESPPinned(t *testing.T, h *hosLab, tab *relTable) {
	const sc = "h1b ESP flood, attacker on CPU 1, soft-ix + iperf3 on CPU 0"
	pin := func(cpus ...int) {
		t.Helper()
		for _, pid := range []int{0, h.ix.Proc.Pid(), h.az.Proc.Pid()} {
			if err := cpupin.Pin(pid, cpus...); err != nil {
				t.Fatal(err)
			}
		}
	}
	pin(0)
	defer pin()
	badICV := func(m map[string]float64) float64 {
		return sum(m, "softix_child_sa_drops_total", `reason="integrity_failure"`) + sum(m, "softix_esp_drops_total", `reason="icv_limited"`)
	}
	spi := h.state().inSPI
	for _, a := range []struct {
		name   string
		udp    bool
		asPeer bool
	}{
		{"esp-badicv raw", false, false},
		{"esp-badicv udp", true, false},
		{"esp-badicv raw claiming the peer", false, true},
	} {
		src := hosAddr
		if a.asPeer {
			src = nslab.AzurePublicAddr
		}
		args := []string{"-mode", "esp-badicv", "-src", src, "-esp-spi", spi, "-cpu", "1"}
		if a.udp {
			args = append(args, "-udp")
		}
		// Reference and attack alternate three times and the median of
		// the three pairs' ratios counts: the other work on the machine
		// changes from one run to the next, on both cores alike.
		const pairs = 3
		s0 := h.state()
		var res map[string]float64
		var refMbps, atkMbps, refCPU, atkCPU, atkRead float64
		var ratios []float64
		for range pairs {
			cpu0 := hosCPU(t, h.ix.Proc.Pid())
			base, err := nslab.Iperf3(h.s.LAN, h.s.VNet, nslab.LANHostAddr, h.flood)
			if err != nil {
				t.Fatal(err)
			}
			refMbps += base.ReceivedMbps / pairs
			refCPU += (hosCPU(t, h.ix.Proc.Pid()) - cpu0).Seconds() / pairs
			ctx, cancel := context.WithTimeout(context.Background(), h.flood+30*time.Second)
			var aerr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, aerr = h.attack(ctx, append(args, "-duration", (h.flood+2*time.Second).String())...)
			}()
			time.Sleep(500 * time.Millisecond) // the flood is on before iperf3 starts
			m0, cpu0 := h.metrics(), hosCPU(t, h.ix.Proc.Pid())
			ip, err := nslab.Iperf3(h.s.LAN, h.s.VNet, nslab.LANHostAddr, h.flood)
			atkCPU += (hosCPU(t, h.ix.Proc.Pid()) - cpu0).Seconds() / pairs
			atkRead += badICV(h.metrics()) - badICV(m0)
			wg.Wait()
			cancel()
			if aerr != nil {
				t.Fatal(aerr)
			}
			if err != nil {
				t.Errorf("%s: iperf3: %v", a.name, err)
			}
			atkMbps += ip.ReceivedMbps / pairs
			ratios = append(ratios, ip.ReceivedMbps/max(base.ReceivedMbps, 1))
		}
		sort.Float64s(ratios)
		ratio := ratios[pairs/2]
		tab.add(sc, fmt.Sprintf("%s at %.0f/s: iperf3 under attack / without, median ratio of %d alternating pairs (means; IX soft-ix CPU s with / without)", a.name, res["pps"], pairs),
			fmt.Sprintf("%.0f %% (%.0f / %.0f Mbit/s; %.1f / %.1f)", 100*ratio, atkMbps, refMbps, atkCPU, refCPU), ">= 80 %", ratio >= 0.8)
		if h.throughputFails(ratio) {
			t.Errorf("%s with the attacker on a core of its own: iperf3 at %.0f %% of the reference (median of %d pairs; means %.0f / %.0f Mbit/s)", a.name, 100*ratio, pairs, atkMbps, refMbps)
		}
		if atkRead > 0 {
			tab.add(sc, a.name+": IX CPU beyond the reference's per forged packet it read during iperf3", fmt.Sprintf("%.2f µs (%.0f read)", 1e6*(atkCPU-refCPU)*pairs/atkRead, atkRead), "", true)
		}

		// The same flood alone: the IX's CPU per packet it read.
		time.Sleep(500 * time.Millisecond)
		m0, k0, cpu0 := h.metrics(), hosKernelDrops(t, h.s.IX), hosCPU(t, h.ix.Proc.Pid())
		res, err := h.attack(context.Background(), append(args, "-duration", h.flood.String())...)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // the last queued packets are counted
		cpu := hosCPU(t, h.ix.Proc.Pid()) - cpu0
		m1, kdrops := h.metrics(), hosKernelDrops(t, h.s.IX)-k0
		read := badICV(m1) - badICV(m0)
		checked := sum(m1, "softix_child_sa_drops_total", `reason="integrity_failure"`) - sum(m0, "softix_child_sa_drops_total", `reason="integrity_failure"`)
		per := cpu.Seconds() / max(read, 1)
		tab.add(sc, a.name+" alone: IX soft-ix CPU per forged packet it read (of them ICV-checked; sent; kernel drops)",
			fmt.Sprintf("%.2f µs: %.1f s for %.0f (%.0f; %.0f at %.0f/s; %d), one core absorbs about %.0fk/s", per*1e6, cpu.Seconds(), read, checked, res["sent"], res["pps"], kdrops, 1/per/1000), "", true)
		if _, kept := h.alive(s0); !kept {
			t.Errorf("%s: the IX lost its SAs", a.name)
		}
	}
}

// hosMalformed: 16 kinds of malformed IKE (hostile's -mode malformed), on
// ports 500 and 4500, for new and for the live IKE SA, once from the
// attacker's address and once claiming the peer's. Targets: soft-ix runs
// on, keeps its SAs, loses no ping, logs little.
func hosMalformed(t *testing.T, h *hosLab, tab *relTable) {
	const sc = "h2 malformed IKE"
	for _, src := range []string{hosAddr, nslab.AzurePublicAddr} {
		s0 := h.state()
		m0 := h.metrics()
		pings := iopPing(h.s.LAN, nslab.VNetHostAddr, 100, 20*time.Millisecond)
		res, err := h.attack(context.Background(), "-mode", "malformed", "-src", src, "-ike-spi", s0.ike, "-count", strconv.Itoa(h.count), "-duration", "60s")
		if err != nil {
			t.Fatal(err)
		}
		pr := <-pings
		time.Sleep(time.Second)
		m1 := h.metrics()
		s1, kept := h.alive(s0)
		dropped := sum(m1, "softix_ike_failures_total") - sum(m0, "softix_ike_failures_total")
		who := "from the attacker"
		if src == nslab.AzurePublicAddr {
			who = "claiming the peer"
		}
		tab.add(sc, fmt.Sprintf("%s: %.0f messages of %.0f kinds at %.0f/s", who, res["sent"], res["kinds"], res["pps"]), fmt.Sprintf("%.0f counted as IKE failures", dropped), "", true)
		tab.add(sc, who+": soft-ix up, IKE and Child SA kept; pings lost", fmt.Sprintf("%v; %d of %d", kept, pr.Lost(), pr.Sent), "kept; 0", kept && pr.Lost() == 0)
		tab.add(sc, who+": log bytes written", fmt.Sprint(s1.logSize-s0.logSize), "<= 4096", s1.logSize-s0.logSize <= 4096)
		if !kept || pr.Lost() > 0 || s1.logSize-s0.logSize > 4096 {
			t.Errorf("malformed IKE %s: SAs kept %v, %d pings lost, log +%d bytes:\n%s", who, kept, pr.Lost(), s1.logSize-s0.logSize, h.ix.Proc.Log()[s0.logSize:])
		}
	}
}

// hosForge: forged INFORMATIONAL DELETEs (in an SK payload of random bytes
// and in plaintext) and bogus plaintext notifies (INVALID_IKE_SPI,
// INVALID_SPI, AUTHENTICATION_FAILED, INITIAL_CONTACT) for the live SA,
// claiming the peer's address, on ports 500 and 4500. Targets: ignored,
// the tunnel stays (same SAs, no ping lost).
func hosForge(t *testing.T, h *hosLab, tab *relTable) {
	const sc = "h3 forged DELETE, notifies"
	s0 := h.state()
	pings := iopPing(h.s.LAN, nslab.VNetHostAddr, 100, 20*time.Millisecond)
	res, err := h.attack(context.Background(), "-mode", "forge", "-src", nslab.AzurePublicAddr, "-ike-spi", s0.ike,
		"-esp-spi", s0.inSPI, "-count", strconv.Itoa(h.count/4), "-duration", "60s")
	if err != nil {
		t.Fatal(err)
	}
	pr := <-pings
	time.Sleep(time.Second)
	s1, kept := h.alive(s0)
	tab.add(sc, fmt.Sprintf("%.0f messages of %.0f kinds claiming the peer: SAs kept; pings lost", res["sent"], res["kinds"]), fmt.Sprintf("%v; %d of %d", kept, pr.Lost(), pr.Sent), "kept; 0", kept && pr.Lost() == 0)
	tab.add(sc, "log bytes written", fmt.Sprint(s1.logSize-s0.logSize), "<= 4096", s1.logSize-s0.logSize <= 4096)
	if !kept || pr.Lost() > 0 || s1.logSize-s0.logSize > 4096 {
		t.Errorf("forged messages: SAs kept %v, %d pings lost, log +%d bytes:\n%s", kept, pr.Lost(), s1.logSize-s0.logSize, h.ix.Proc.Log()[s0.logSize:])
	}
}

// hosInitFlood: IKE_SA_INIT requests at the attacker's full rate from
// 4,096 spoofed address:port pairs (128 addresses of 192.0.2.128/25, 32
// ports each). Targets: soft-ix answers with COOKIEs, the Azure end
// killed and started again during the flood has its tunnel back within
// 2 s (a legitimate peer establishing under the flood), RSS bounded.
func hosInitFlood(t *testing.T, h *hosLab, tab *relTable) {
	const sc = "h4 IKE_SA_INIT flood"
	s0 := h.state()
	m0 := h.metrics()
	k0 := hosKernelDrops(t, h.s.IX)
	ctx, cancel := context.WithTimeout(context.Background(), 2*h.flood+30*time.Second)
	defer cancel()
	var res map[string]float64
	var aerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, aerr = h.attack(ctx, "-mode", "ikeinit", "-spoof", hosSpoofNet, "-ports", "32", "-duration", (2 * h.flood).String())
	}()
	time.Sleep(h.flood / 2)
	pg := relStartPinger(t, h.s.LAN, nslab.VNetHostAddr, 50*time.Millisecond, 2*h.flood+30*time.Second)
	relKill(t, h.az)
	started := time.Now()
	h.startAzure(false)
	back := pg.waitAnswerAfter(t, started.Add(50*time.Millisecond), 30*time.Second, "traffic back after the peer's restart under the flood")
	d := back.Sub(started)
	_, _, rssMid := relProcFigures(t, h.s.IX, h.ix.Proc.Pid())
	heapMid := relHeapLive(t, h.s.IX)
	<-done
	if aerr != nil {
		t.Fatal(aerr)
	}
	time.Sleep(time.Second)
	_, _, rss1 := relProcFigures(t, h.s.IX, h.ix.Proc.Pid())
	heap1 := relHeapLive(t, h.s.IX)
	logBytes := len(h.ix.Proc.Log()) - s0.logSize
	m1 := h.metrics()
	cookies := sum(m1, "softix_ike_cookies_sent_total") - sum(m0, "softix_ike_cookies_sent_total")
	inits := sum(m1, "softix_ike_exchanges_total", `direction="received"`, `exchange="IKE_SA_INIT"`) -
		sum(m0, "softix_ike_exchanges_total", `direction="received"`, `exchange="IKE_SA_INIT"`)
	queueFull := sum(m1, "softix_ike_failures_total", `reason="queue_full"`) - sum(m0, "softix_ike_failures_total", `reason="queue_full"`)
	limited := sum(m1, "softix_ike_failures_total", `reason="cookie_rate_limited"`) - sum(m0, "softix_ike_failures_total", `reason="cookie_rate_limited"`)
	kdrops := hosKernelDrops(t, h.s.IX) - k0
	tab.add(sc, "sent from 4,096 spoofed address:port pairs (pkt/s)", fmt.Sprintf("%.0f (%.0f)", res["sent"], res["pps"]), "", true)
	tab.add(sc, "answered with a COOKIE / taken up (half-open SA or the peer's)", fmt.Sprintf("%.0f / %.0f", cookies, inits), "COOKIEs", cookies > 0)
	tab.add(sc, "dropped: beyond the COOKIE rate / IKE intake queue full / kernel socket queue", fmt.Sprintf("%.0f / %.0f / %d", limited, queueFull, kdrops), "", true)
	tab.add(sc, "peer restarted during the flood: traffic back after its start (s)", fmt.Sprintf("%.2f", d.Seconds()), "<= 2", d <= 2*time.Second)
	// RSS follows the collector's pacing (the reader's garbage: x/net's
	// ReadFrom allocates per datagram); the live heap is what the flood
	// leaves behind.
	tab.add(sc, "IX RSS before -> during -> after (MiB)", fmt.Sprintf("%.1f -> %.1f -> %.1f", float64(s0.rssKiB)/1024, float64(rssMid)/1024, float64(rss1)/1024), "", true)
	heapOK := heapMid-s0.heapKiB <= 16<<10 && heap1-s0.heapKiB <= 16<<10
	tab.add(sc, "IX live heap before -> during -> after (MiB)", fmt.Sprintf("%.1f -> %.1f -> %.1f", float64(s0.heapKiB)/1024, float64(heapMid)/1024, float64(heap1)/1024), "<= +16 MiB", heapOK)
	tab.add(sc, "log bytes written", fmt.Sprint(logBytes), "<= 16384", logBytes <= 16384)
	if d > 2*time.Second || cookies == 0 || !heapOK || logBytes > 16384 {
		t.Errorf("IKE_SA_INIT flood: peer back after %v, %.0f cookies, RSS %d -> %d KiB, log +%d bytes\nmetrics that moved:\n%s",
			d, cookies, s0.rssKiB, rss1, logBytes, hosMoved(m0, m1))
	}
}

// hosMoved lists the metrics that changed from m0 to m1.
func hosMoved(m0, m1 map[string]float64) string {
	var b strings.Builder
	for k, v := range m1 {
		if v != m0[k] && !strings.HasPrefix(k, "go_") && !strings.HasPrefix(k, "process_") {
			fmt.Fprintf(&b, "  %s %+.0f\n", k, v-m0[k])
		}
	}
	return b.String()
}

// hosKernelDrops reads what the kernel in ns dropped at full socket
// queues: UDP receive buffer errors, the drops of raw sockets, and raw
// ESP that found the daemon's receive ring full (its metric: the kernel
// counts those per packet socket, which /proc does not show).
func hosKernelDrops(t *testing.T, ns *nslab.Namespace) int64 {
	t.Helper()
	drops := int64(sum(relMetrics(t, ns), "softix_esp_drops_total", `reason="ring_full"`))
	snmp, err := ns.Run("cat", "/proc/net/snmp", "/proc/net/raw")
	if err != nil {
		t.Fatal(err)
	}
	var udpHead []string
	for _, line := range strings.Split(snmp, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && f[0] == "Udp:" && udpHead == nil:
			udpHead = f
		case len(f) > 1 && f[0] == "Udp:":
			for i, name := range udpHead {
				if name == "RcvbufErrors" && i < len(f) {
					n, _ := strconv.ParseInt(f[i], 10, 64)
					drops += n
				}
			}
		case len(f) > 12 && strings.HasSuffix(f[0], ":") && f[0] != "sl" && strings.Contains(f[1], ":"):
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64) // a raw socket's drops
			drops += n
		}
	}
	return drops
}

// hosCPU reads the CPU time (user + system) process pid has used.
func hosCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// hosReplayDrops counts what a replay flood can end in: replay detected,
// and, for a sequence number the window has left behind, with extended
// sequence numbers (soft-ix offers them) an ICV failure: the receiver
// takes it for one of the next 2^32 (RFC 4303 appendix A2), which only
// the ICV can refute (icv_limited once the guard stops a source).
func hosReplayDrops(m map[string]float64) float64 {
	return sum(m, "softix_child_sa_drops_total", `reason="replay_detected"`) +
		sum(m, "softix_child_sa_drops_total", `reason="integrity_failure"`) + sum(m, "softix_esp_drops_total", `reason="icv_limited"`)
}
