// Package gcpace keeps the Go collector's goal a fixed headroom above the
// live heap when the live heap is large, instead of GOGC's doubling.
//
// Why: each TUN device of wireguard-go's tun package holds GRO tables of
// about 2 MiB that are allocated once and, until traffic fills them, never
// touched: they cost no resident memory but count as live heap. With
// GOGC=100 the collector's goal is twice the live heap, so a hub with
// 1,000 tunnels (2 GiB of such tables) would let about 2 GiB of garbage
// pile up, all of it resident, before collecting once: measured, 200 MB
// of short-lived allocations left the RSS 280 MiB higher with 1,000
// tunnels and unchanged with one. Collecting every Headroom bytes of new
// allocation instead bounds that garbage; those tables hold no pointers,
// so a cycle costs little.
package gcpace

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Headroom is the garbage a collection cycle may leave to accumulate
// before the next one, when the live heap is large enough that GOGC=100
// would allow more.
const Headroom = 64 << 20

// Every is how often Run looks at the live heap.
const Every = time.Second

// Percent is the GOGC value that puts the collector's goal headroom bytes
// above a live heap of live bytes: at most 100 (the default), and at
// least 1.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return 100
	}
	p := headroom * 100 / live
	return int(max(1, min(100, p)))
}

// Run adjusts GOGC every Every until ctx ends, unless the operator set
// GOGC in the environment (then that stands). It restores the setting it
// found when it returns.
func Run(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(Percent(sample[0].Value.Uint64(), Headroom))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
