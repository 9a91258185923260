package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// bench is the lab and the tunnel that is up in it.
type bench struct {
	settings
	lab *nslab.Lab
	sc  *nslab.Scenario

	softixBin, esppeerBin string
	repo                  string

	tunnel []*nslab.Proc // the tunnel endpoints whose CPU time counts
	nat    bool          // the internet router masquerades (softix-nat-*)
	// wanLimits are the internet path's veths' GSO and GRO limits before
	// plain-pp set them to one packet, restored when it is down; nil
	// while they are as the lab built them.
	wanLimits []wanLimit

	cleanOnce sync.Once
}

// prepare checks what contender c needs and builds the programs it runs.
func (b *bench) prepare(c string) error {
	switch {
	case c == "plain", c == "plain-pp":
	case strings.HasPrefix(c, "softix-"):
		if b.softixBin != "" {
			return nil
		}
		if os.Getenv("SOFTIX_BIN") == "" {
			logf("building soft-ix (go build ./cmd/soft-ix)")
		}
		bin, err := nslab.SoftIXBinary()
		if err != nil {
			return err
		}
		b.softixBin = bin
		if b.repo == "" {
			r, err := repoDir()
			if err != nil {
				return err
			}
			b.repo = r
		}
	case strings.HasPrefix(c, "swan-"):
		if err := nslab.CheckEnvironment("charon-systemd", "swanctl"); err != nil {
			return err
		}
	case c == "wg":
		return wgEnsure(b.work)
	case strings.HasPrefix(c, "esppeer-"):
		if b.esppeerBin != "" {
			return nil
		}
		b.esppeerBin = filepath.Join(b.work, "esppeer")
		logf("building esppeer (go build ./integration/cmd/esppeer)")
		if out, err := exec.Command("go", "build", "-o", b.esppeerBin, "github.com/soft-ix/soft-ix/integration/cmd/esppeer").CombinedOutput(); err != nil {
			return fmt.Errorf("go build esppeer failed: %v\n%s", err, out)
		}
	default:
		return fmt.Errorf("unknown contender %s", c)
	}
	return nil
}

// topologyUp builds nslab's seed scenario in namespaces named after the
// prefix and this process.
func (b *bench) topologyUp() error {
	lab, err := nslab.New(b.prefix, b.work)
	if err != nil {
		return err
	}
	b.lab = lab
	b.sc, err = nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil || !b.wanPerPacket {
		return err
	}
	return b.wanOnePacketAtATime()
}

// wanLink is one of the four veths of the internet path: the IX and the
// gateway WAN, the internet router's two sides.
type wanLink struct {
	ns     *nslab.Namespace
	ifname string
}

func (b *bench) wanLinks() []wanLink {
	return []wanLink{
		{b.sc.IX, nslab.IXWANIf},
		{b.sc.Internet, "ix"},
		{b.sc.Internet, "azure"},
		{b.sc.Azure, nslab.AzureWANIf},
	}
}

// wanLimit is a veth's GSO and GRO limits, as ip link set takes them.
type wanLimit struct {
	link                               wanLink
	gsoMaxSegs, gsoMaxSize, groMaxSize string
}

// wanOnePacketAtATime makes the four veths of the internet path carry
// packets one at a time, as a real WAN does: a GSO skb (TCP TSO, UDP GSO)
// is segmented when it is sent on them, and none is built again on
// receipt (veth does no GRO unless told; gro_max_size caps it should it
// be on). Without this one 64 KiB skb crosses every hop of the lab, which
// no physical link or router does, and which flatters ESP in UDP (UDP GSO
// and GRO) against raw ESP (one skb per packet at every hop).
func (b *bench) wanOnePacketAtATime() error {
	const size = "1500" // the veths' MTU: at most one packet per skb
	for _, l := range b.wanLinks() {
		if err := b.setWANLimit(wanLimit{l, "1", size, size}); err != nil {
			return fmt.Errorf("WAN one packet at a time: %w", err)
		}
	}
	return nil
}

func (b *bench) setWANLimit(w wanLimit) error {
	if err := w.link.ns.IP("link", "set", "dev", w.link.ifname, "gso_max_segs", w.gsoMaxSegs,
		"gso_max_size", w.gsoMaxSize, "gro_max_size", w.groMaxSize); err != nil {
		return fmt.Errorf("%s: %w", w.link.ifname, err)
	}
	return nil
}

// saveWANLimits reads the internet path's limits, for restoreWANLimits.
func (b *bench) saveWANLimits() error {
	b.wanLimits = nil
	for _, l := range b.wanLinks() {
		out, err := l.ns.Run("ip", "-d", "-j", "link", "show", "dev", l.ifname)
		if err != nil {
			return err
		}
		var links []struct {
			GSOMaxSegs int `json:"gso_max_segs"`
			GSOMaxSize int `json:"gso_max_size"`
			GROMaxSize int `json:"gro_max_size"`
		}
		if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 || links[0].GSOMaxSize == 0 {
			return fmt.Errorf("%s: no GSO limits in ip -d -j link show (%v)", l.ifname, err)
		}
		k := links[0]
		b.wanLimits = append(b.wanLimits, wanLimit{l, strconv.Itoa(k.GSOMaxSegs), strconv.Itoa(k.GSOMaxSize), strconv.Itoa(k.GROMaxSize)})
	}
	return nil
}

// restoreWANLimits puts back what saveWANLimits read.
func (b *bench) restoreWANLimits() {
	for _, w := range b.wanLimits {
		if err := b.setWANLimit(w); err != nil {
			logf("restoring the WAN's GSO limits: %v", err)
		}
	}
	b.wanLimits = nil
}

// logWANSkbSize logs the mean size of what the internet router sent on
// each side during the run: veth counts one packet per skb, so a mean
// near the MTU shows the WAN carried packets one at a time, and one far
// above it shows GSO skbs crossed it whole.
func (b *bench) logWANSkbSize() {
	for _, ifname := range []string{"ix", "azure"} {
		out, err := b.sc.Internet.Run("ip", "-j", "-s", "link", "show", "dev", ifname)
		if err != nil {
			logf("internet router %s: %v", ifname, err)
			continue
		}
		var links []struct {
			Stats struct {
				TX struct{ Bytes, Packets uint64 }
			} `json:"stats64"`
		}
		if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 || links[0].Stats.TX.Packets == 0 {
			logf("internet router %s: no counters (%v)", ifname, err)
			continue
		}
		tx := links[0].Stats.TX
		logf("internet router sent on %s: %d skbs, %d bytes, %d bytes per skb", ifname, tx.Packets, tx.Bytes, tx.Bytes/tx.Packets)
	}
}

// cleanup stops every process by PID, removes the namespaces and the
// wireguard sockets, and the work directory unless KEEP=1.
func (b *bench) cleanup() {
	b.cleanOnce.Do(func() {
		if b.lab != nil {
			if err := b.lab.Close(); err != nil {
				logf("cleanup: %v", err)
			}
		}
		wgRemoveSockets()
		nslab.RemoveBuiltSoftIX()
		if b.keep {
			logf("files kept in %s", b.work)
		} else {
			os.RemoveAll(b.work)
		}
	})
}

// showLogs prints the last lines of the lab's logs and its namespaces'
// state: what a failed contender left.
func (b *bench) showLogs() {
	if b.lab != nil {
		b.lab.DumpLogs(os.Stderr)
	}
}

// reach reports whether one ping from the LAN host gets an answer from
// the VNet host.
func (b *bench) reach() bool {
	_, err := b.sc.LAN.Run("ping", "-n", "-c", "1", "-W", "1", nslab.VNetHostAddr)
	return err == nil
}

// waitReach waits until the tunnel carries traffic end to end.
func (b *bench) waitReach(timeout time.Duration) error {
	return nslab.WaitFor(timeout, "LAN -> VNet ping through the tunnel", func() error {
		if !b.reach() {
			return errors.New("no answer")
		}
		return nil
	})
}

// up brings contender c up and waits until a ping crosses; down removes
// it, whether up succeeded or not.
func (b *bench) up(c string) error {
	if err := b.start(c); err != nil {
		return err
	}
	if b.pin {
		return b.pinEndpoints()
	}
	return nil
}

// pinEndpoints puts every thread of the IX endpoint on CPU 0 and of the
// gateway on CPU 1 (PIN=1): two machines of one core each, as far as a
// two-core host can model them, for every contender alike. iperf3, the
// routers and the softirqs the endpoints' system calls run stay free.
func (b *bench) pinEndpoints() error {
	for i, p := range b.tunnel {
		cpu := strconv.Itoa(i % runtime.NumCPU())
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpu, strconv.Itoa(p.Cmd.Process.Pid)).CombinedOutput(); err != nil {
			return fmt.Errorf("taskset %s to CPU %s: %v: %s", p.Name, cpu, err, out)
		}
	}
	return nil
}

func (b *bench) start(c string) error {
	b.tunnel = nil
	switch {
	case c == "plain":
		return b.plainUp()
	case c == "plain-pp":
		return b.plainPerPacketUp()
	case strings.HasPrefix(c, "softix-"):
		return b.softixUp(strings.TrimPrefix(c, "softix-"))
	case strings.HasPrefix(c, "swan-"):
		return b.swanUp(strings.TrimPrefix(c, "swan-"))
	case c == "wg":
		return b.wgUp()
	case strings.HasPrefix(c, "esppeer-"):
		return b.esppeerUp(strings.TrimPrefix(c, "esppeer-"))
	}
	return fmt.Errorf("unknown contender %s", c)
}

func (b *bench) down(c string) {
	for _, p := range b.tunnel {
		p.Stop()
	}
	b.tunnel = nil
	switch {
	case c == "plain":
		b.plainDown()
	case c == "plain-pp":
		b.plainDown()
		b.restoreWANLimits()
	case strings.HasPrefix(c, "softix-"), strings.HasPrefix(c, "esppeer-"):
		b.softixDown()
	case strings.HasPrefix(c, "swan-"):
		b.swanDown()
	case c == "wg":
		b.wgDown()
	}
}

// ignore runs cleanup commands whose failure means there was nothing to
// remove.
func ignore(error) {}

// -- no tunnel: the internet router routes the private prefixes directly.

func (b *bench) plainUp() error {
	if err := b.sc.Internet.IP("route", "add", nslab.LANNet, "via", nslab.IXWANAddr); err != nil {
		return err
	}
	if err := b.sc.Internet.IP("route", "add", nslab.VNetNet, "via", nslab.AzurePublicAddr); err != nil {
		return err
	}
	return b.waitReach(10 * time.Second)
}

// plainPerPacketUp is plain with the internet path carrying one packet
// at a time (as WAN_GSO=off makes it for every contender): what the
// path, with no tunnel at all, moves when every packet crosses it alone,
// as raw ESP's must (the kernel has no GSO for IP protocol 50 outside
// XFRM). It shows what the machine's per-packet path costs, which moves
// raw ESP's figures from one host to another. It is not a ceiling: one
// flow's forwarding runs in one CPU's softirq there, while a tunnel's
// endpoints split the path between their threads.
func (b *bench) plainPerPacketUp() error {
	if !b.wanPerPacket {
		if err := b.saveWANLimits(); err != nil {
			return err
		}
		if err := b.wanOnePacketAtATime(); err != nil {
			return err
		}
	}
	return b.plainUp()
}

func (b *bench) plainDown() {
	ignore(b.sc.Internet.IP("route", "del", nslab.LANNet))
	ignore(b.sc.Internet.IP("route", "del", nslab.VNetNet))
}

// -- measurement

// iperfFigures are one iperf3 run's figures as the table prints them.
type iperfFigures struct {
	mbps string // received at the VNet host, whole Mbit/s; 0 when the run failed
	retr string // the sender's retransmits, "?" when unknown
	cpu  string // CPU % of the tunnel endpoints during the run (100 = one core)
	host string // CPU % of the whole machine during the run, every process and softirq (100 = one core)
}

// measureIperf runs iperf3 TCP from the LAN host to the VNet host for
// SECS seconds after a WARMUP omitted warm-up.
func (b *bench) measureIperf() iperfFigures {
	f := iperfFigures{mbps: "0", retr: "?", cpu: "0", host: "0"}
	srv, err := nslab.StartIperf3Server(b.sc.VNet, nslab.VNetHostAddr)
	if err != nil {
		logf("%v", err)
		return f
	}
	defer srv.Stop()
	ticks0 := cpuTicks(b.tunnel)
	busy0, all0 := hostTicks()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.secs+b.warmup+15)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", b.sc.LAN.Name, "iperf3", "-J", "-c", nslab.VNetHostAddr,
		"-B", nslab.LANHostAddr, "-t", strconv.Itoa(b.secs), "-O", strconv.Itoa(b.warmup))
	out, _ := cmd.Output() // a failed run reports its error in the JSON
	elapsed := time.Since(t0)
	ticks1 := cpuTicks(b.tunnel)
	busy1, all1 := hostTicks()
	os.WriteFile(filepath.Join(b.work, "iperf-last.json"), out, 0o600)
	f.cpu = fmt.Sprintf("%.0f", float64(ticks1-ticks0)/clockTicks/elapsed.Seconds()*100)
	if all1 > all0 {
		// Busy ticks of every online CPU over wall time: cores used,
		// whatever CPUs this process may run on.
		f.host = fmt.Sprintf("%.0f", float64(busy1-busy0)/clockTicks/elapsed.Seconds()*100)
	}
	r, err := nslab.ParseIperf3(out)
	if err != nil {
		return f
	}
	f.mbps = strconv.FormatInt(int64(math.Floor(r.ReceivedMbps)), 10)
	f.retr = strconv.FormatInt(r.Retransmits, 10)
	return f
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux this runs on.
const clockTicks = 100

// hostTicks reads the machine's CPU time from /proc/stat's first line:
// the busy ticks (everything but idle and iowait, so softirq work done
// for any namespace counts) and all ticks, summed over the CPUs.
func hostTicks() (busy, all int64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// already inside user and nice). Steal is time the hypervisor gave
	// to others: not work done here.
	for i, v := range f[1:] {
		if i >= 8 {
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		all += n
		if i != 3 && i != 4 && i != 7 {
			busy += n
		}
	}
	return busy, all
}

// cpuTicks sums the user and system clock ticks the processes (all their
// threads) used so far.
func cpuTicks(procs []*nslab.Proc) int64 {
	var sum int64
	for _, p := range procs {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses:
		// utime and stime are fields 14 and 15 of the line.
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		sum += u + st
	}
	return sum
}

// measureRTT returns the median RTT in microseconds of PINGS pings from
// the LAN host to the VNet host at 10 ms intervals, "n/a" when none came
// back.
func (b *bench) measureRTT() string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := b.sc.LAN.RunContext(ctx, "ping", "-n", "-c", strconv.Itoa(b.pings), "-i", "0.01", "-W", "1", nslab.VNetHostAddr)
	var rtts []int
	for _, line := range strings.Split(out, "\n") {
		_, after, ok := strings.Cut(line, "time=")
		if !ok {
			continue
		}
		ms, err := strconv.ParseFloat(strings.Fields(after)[0], 64)
		if err != nil {
			continue
		}
		us, _ := strconv.Atoi(fmt.Sprintf("%.0f", ms*1000))
		rtts = append(rtts, us)
	}
	if len(rtts) == 0 {
		return "n/a"
	}
	sort.Ints(rtts)
	return strconv.Itoa(rtts[(len(rtts)+1)/2-1])
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	k := make([]byte, n)
	rand.Read(k)
	return hex.EncodeToString(k)
}
