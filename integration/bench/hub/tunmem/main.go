// Command tunmem measures what N idle tunnels of the ESP engine cost on
// their own, without IKE or the Linux side: it creates N TUN devices
// through esp.Engine.CreateTunnel in the current network namespace (run it
// in one of its own: ip netns exec NS tunmem -n 1000), waits, and prints
// one JSON line with the create time, RSS, Go heap, goroutines and the CPU
// the idle engine used over -idle. hub.sh measures the whole daemon; this
// says how much of that is esp and the TUN devices.
//
// -garbage M then allocates M MiB in short-lived 1 KiB pieces (as IKE
// setups and logging do) and reports the RSS after it: with the
// collector's default pacing, N devices' untouched GRO tables let that
// garbage stay resident; -gcpace runs the daemon's pacing (internal/gcpace):
//
//	ip netns exec NS tunmem -n 1000 -garbage 200            # RSS grows ~200 MiB
//	ip netns exec NS tunmem -n 1000 -garbage 200 -gcpace    # it does not
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/internal/gcpace"
)

// Result is the JSON line tunmem prints.
type Result struct {
	Tunnels      int     `json:"tunnels"`
	CreateSec    float64 `json:"create_s"`
	RSSMiB       float64 `json:"rss_mib"`
	HeapInUseMiB float64 `json:"heap_inuse_mib"`
	StackMiB     float64 `json:"stack_mib"`
	SysMiB       float64 `json:"sys_mib"`
	Goroutines   int     `json:"goroutines"`
	IdleCPUPct   float64 `json:"idle_cpu_pct"`
	KiBPerTunnel float64 `json:"rss_kib_per_tunnel"`
	// With -garbage: the RSS before it (RSSMiB is after) and the
	// collections it took.
	RSSBeforeGarbageMiB float64 `json:"rss_before_garbage_mib,omitempty"`
	GCCycles            uint32  `json:"gc_cycles,omitempty"`
}

// sink keeps makeGarbage's allocations from being optimised away.
var sink []byte

// makeGarbage allocates mib MiB in 1 KiB pieces, each dropped at once.
func makeGarbage(mib int) {
	for i := 0; i < mib*1024; i++ {
		sink = make([]byte, 1024)
		sink[0] = 1
	}
	sink = nil
}

func gcCycles() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func main() {
	n := flag.Int("n", 1000, "tunnels (bounded: at most 20000)")
	idle := flag.Duration("idle", 10*time.Second, "idle time over which CPU is measured (at most 5m)")
	memProfile := flag.String("memprofile", "", "write a heap profile (go tool pprof) here at the end")
	garbage := flag.Int("garbage", 0, "MiB of short-lived allocations to make after the devices (at most 4096)")
	pace := flag.Bool("gcpace", false, "pace the collector as the daemon does (internal/gcpace)")
	raw := flag.String("raw-esp", "", "also open raw ESP on 0.0.0.0 in this `MODE` (socket, auto, packet), as the daemon does")
	flag.Parse()
	if *n < 1 || *n > 20000 || *idle <= 0 || *idle > 5*time.Minute || *garbage < 0 || *garbage > 4096 {
		fmt.Fprintln(os.Stderr, "tunmem: want 1 <= -n <= 20000, 0 < -idle <= 5m and 0 <= -garbage <= 4096")
		os.Exit(2)
	}
	if *pace {
		go gcpace.Run(context.Background())
	}
	base := rssKiB()
	e := esp.NewEngine(esp.Config{RawESP: esp.RawESPMode(*raw)})
	defer e.Close()
	if *raw != "" {
		if err := e.OpenRawESP(netip.IPv4Unspecified()); err != nil {
			fmt.Fprintln(os.Stderr, "tunmem:", err)
			os.Exit(1)
		}
	}
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		if _, err := e.CreateTunnel(esp.TunnelConfig{Name: fmt.Sprintf("Tunnel%d.0", i)}); err != nil {
			fmt.Fprintln(os.Stderr, "tunmem:", err)
			os.Exit(1)
		}
	}
	res := Result{Tunnels: *n, CreateSec: time.Since(t0).Seconds()}
	time.Sleep(2 * time.Second)
	if *garbage > 0 {
		res.RSSBeforeGarbageMiB = float64(rssKiB()) / 1024
		makeGarbage(*garbage)
		res.GCCycles = gcCycles()
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	time.Sleep(*idle)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	res.IdleCPUPct = 100 * cpu.Seconds() / idle.Seconds()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := rssKiB()
	res.RSSMiB = float64(rss) / 1024
	res.KiBPerTunnel = float64(rss-base) / float64(*n)
	res.HeapInUseMiB = float64(ms.HeapInuse) / (1 << 20)
	res.StackMiB = float64(ms.StackInuse) / (1 << 20)
	res.SysMiB = float64(ms.Sys) / (1 << 20)
	res.Goroutines = runtime.NumGoroutine()
	json.NewEncoder(os.Stdout).Encode(res)
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tunmem:", err)
			os.Exit(1)
		}
	}
}

// rssKiB reads VmRSS of this process.
func rssKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	return 0
}
