// Command tunmem measures what N idle tunnels of the ESP engine cost on
// their own, without IKE or the Linux side: it creates N TUN devices
// through esp.Engine.CreateTunnel in the current network namespace (run it
// in one of its own: ip netns exec NS tunmem -n 1000), waits, and prints
// one JSON line with the create time, RSS, Go heap, goroutines and the CPU
// the idle engine used over -idle. hub.sh measures the whole daemon; this
// says how much of that is esp and the TUN devices.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/esp"
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
}

func main() {
	n := flag.Int("n", 1000, "tunnels (bounded: at most 20000)")
	idle := flag.Duration("idle", 10*time.Second, "idle time over which CPU is measured (at most 5m)")
	flag.Parse()
	if *n < 1 || *n > 20000 || *idle <= 0 || *idle > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "tunmem: want 1 <= -n <= 20000 and 0 < -idle <= 5m")
		os.Exit(2)
	}
	base := rssKiB()
	e := esp.NewEngine(esp.Config{})
	defer e.Close()
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		if _, err := e.CreateTunnel(esp.TunnelConfig{Name: fmt.Sprintf("Tunnel%d.0", i)}); err != nil {
			fmt.Fprintln(os.Stderr, "tunmem:", err)
			os.Exit(1)
		}
	}
	res := Result{Tunnels: *n, CreateSec: time.Since(t0).Seconds()}
	time.Sleep(2 * time.Second)
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
