package esp

import (
	"net/netip"
	"sync"
	"time"
)

// icvGuard bounds the work ESP with bad ICVs from one source can cause.
// A forged packet with a live SPI and a sequence number ahead of the
// replay window passes every cheap check, so each one costs a queue slot,
// a buffer and an ICV computation before it is dropped (issue 14). Packets
// from the SA's own peer address are never limited here (a forger who
// claims that address cannot be told apart before the ICV is checked);
// from any other address (a peer whose NAT mapping moved, or an attacker)
// each failed ICV takes a token of the source's bucket, and while the
// bucket is empty the source's packets for the SA are dropped on the
// receive goroutine, before they queue, and counted as ICVLimited. A
// source whose packets verify never loses a token.
//
// Only packets from a stranger touch the guard, so the peer's packets
// pay nothing (no lock, no clock read, no allocation).
type icvGuard struct {
	mu      sync.Mutex
	sources map[netip.Addr]*icvBucket
}

const (
	icvGuardRate  = 100  // failed ICVs per second a source may cause once its burst is spent
	icvGuardBurst = 1000 // failed ICVs a source may cause at once
	// icvGuardSources bounds the sources tracked: beyond it, sources not
	// yet tracked share one more bucket (the zero address), so an
	// attacker with many addresses is bounded together.
	icvGuardSources = 4096
)

type icvBucket struct {
	tokens float64
	last   time.Time
}

// refill adds the tokens earned since the last refill.
func (b *icvBucket) refill(now time.Time) {
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(icvGuardBurst, b.tokens+d*icvGuardRate)
	}
	b.last = now
}

// blocked reports whether ESP from src must be dropped before its ICV is
// checked.
func (g *icvGuard) blocked(src netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.sources[src]
	if b == nil {
		if len(g.sources) < icvGuardSources {
			return false
		}
		if b = g.sources[netip.Addr{}]; b == nil {
			return false
		}
	}
	b.refill(time.Now())
	return b.tokens < 1
}

// failed takes a token from src's bucket for a failed ICV.
func (g *icvGuard) failed(src netip.Addr) { g.failedAt(src, time.Now()) }

// failedAt is failed at the time now.
func (g *icvGuard) failedAt(src netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sources == nil {
		g.sources = map[netip.Addr]*icvBucket{}
	}
	b := g.sources[src]
	if b == nil {
		if len(g.sources) >= icvGuardSources {
			g.prune(now)
		}
		if len(g.sources) >= icvGuardSources {
			src = netip.Addr{}
			b = g.sources[src]
		}
		if b == nil {
			b = &icvBucket{tokens: icvGuardBurst, last: now}
			g.sources[src] = b
		}
	}
	b.refill(now)
	b.tokens = max(b.tokens-1, -icvGuardBurst)
}

// prune forgets the sources whose buckets have refilled completely.
func (g *icvGuard) prune(now time.Time) {
	for a, b := range g.sources {
		if b.refill(now); b.tokens >= icvGuardBurst {
			delete(g.sources, a)
		}
	}
}
