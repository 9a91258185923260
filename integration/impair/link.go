package impair

import (
	"container/heap"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// QueueLimit is how many packets a Link holds at most; more are dropped
// (counted as Overflow), as a router's full queue would.
const QueueLimit = 2000

// ReorderHold is how long a reordered packet waits when there is no
// delay for it to skip: the packets after it overtake it.
const ReorderHold = 5 * time.Millisecond

// Stats counts what a Link did. Every field is read and written atomically.
type Stats struct {
	In         atomic.Int64 // packets pushed
	Out        atomic.Int64 // packets popped (copies included)
	Lost       atomic.Int64 // dropped by Loss
	Blackholed atomic.Int64 // dropped by Blackhole
	Duplicated atomic.Int64 // extra copies made
	Corrupted  atomic.Int64 // packets with a bit flipped
	Reordered  atomic.Int64 // packets sent out of order on purpose
	Overflow   atomic.Int64 // dropped because the queue was full
}

// Link is one direction of the impairment: packets pushed in come out of
// Pop at their send time, or never. It is safe for one pushing and one
// popping goroutine (or more).
type Link struct {
	Stats Stats

	params func() *Params

	mu       sync.Mutex
	rng      *rand.Rand
	q        pktHeap
	seq      uint64    // tie-break: equal send times leave in push order
	last     time.Time // latest send time of an in-order packet: jitter keeps order
	linkFree time.Time // when the rate-limited link is free again
}

// NewLink returns a Link whose decisions come from a random stream seeded
// with seed, reading the parameters from params at every packet (so a
// change takes effect at once).
func NewLink(seed uint64, params func() *Params) *Link {
	return &Link{params: params, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// chance reports true with probability pct percent.
func (l *Link) chance(pct float64) bool {
	return pct > 0 && l.rng.Float64()*100 < pct
}

// Push decides the fate of pkt, which arrived at now, and queues it (and a
// duplicate) for its send time. The Link keeps pkt; the caller must not
// reuse it. The rules, in order:
//
//   - blackhole or loss: dropped;
//   - rate: the packet leaves when the link has sent what is before it,
//     plus its own transmission time;
//   - delay ± jitter on top; in-order packets never overtake one another,
//     so jitter alone does not reorder (unlike netem's default);
//   - reorder: the packet skips the delay and so overtakes the packets
//     still queued, or, with no delay, waits ReorderHold so that later
//     ones overtake it;
//   - duplicate: a second copy leaves at the same time;
//   - corrupt: one random bit after the IPv4 header is flipped (so the
//     kernel still forwards it and the receiver's integrity check sees it).
func (l *Link) Push(now time.Time, pkt []byte) {
	l.Stats.In.Add(1)
	p := l.params()
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.Blackhole {
		l.Stats.Blackholed.Add(1)
		return
	}
	if l.chance(p.Loss) {
		l.Stats.Lost.Add(1)
		return
	}
	copies := 1
	if l.chance(p.Duplicate) {
		copies = 2
	}
	if len(l.q)+copies > QueueLimit {
		l.Stats.Overflow.Add(1)
		return
	}
	if l.chance(p.Corrupt) {
		corrupt(l.rng, pkt)
		l.Stats.Corrupted.Add(1)
	}

	start := now
	if p.Rate > 0 {
		if l.linkFree.After(start) {
			start = l.linkFree
		}
		start = start.Add(time.Duration(int64(len(pkt)) * 8 * int64(time.Second) / p.Rate))
		l.linkFree = start
	}
	at := start.Add(p.Delay)
	if p.Jitter > 0 {
		at = at.Add(time.Duration(l.rng.Int64N(int64(2*p.Jitter)+1)) - p.Jitter)
	}
	if at.Before(start) {
		at = start
	}
	if l.chance(p.Reorder) {
		l.Stats.Reordered.Add(1)
		if p.Delay > 0 {
			at = start
		} else {
			at = start.Add(ReorderHold)
		}
	} else {
		if at.Before(l.last) {
			at = l.last
		}
		l.last = at
	}
	for i := 0; i < copies; i++ {
		b := pkt
		if i > 0 {
			b = append([]byte(nil), pkt...)
			l.Stats.Duplicated.Add(1)
		}
		l.seq++
		heap.Push(&l.q, queued{at: at, seq: l.seq, pkt: b})
	}
}

// corrupt flips one random bit after the IPv4 header, or anywhere in a
// packet too short to have anything after it.
func corrupt(rng *rand.Rand, pkt []byte) {
	if len(pkt) == 0 {
		return
	}
	from := 0
	if len(pkt) > 20 && pkt[0]>>4 == 4 {
		if hl := int(pkt[0]&0x0f) * 4; hl >= 20 && hl < len(pkt) {
			from = hl
		}
	}
	i := from + rng.IntN(len(pkt)-from)
	pkt[i] ^= 1 << rng.IntN(8)
}

// Pop returns the next packet due at now. When none is due it returns
// nil and how long until the next one is (0 when the queue is empty).
func (l *Link) Pop(now time.Time) (pkt []byte, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q) == 0 {
		return nil, 0
	}
	if d := l.q[0].at.Sub(now); d > 0 {
		return nil, d
	}
	e := heap.Pop(&l.q).(queued)
	l.Stats.Out.Add(1)
	return e.pkt, 0
}

// Len is the number of packets queued.
func (l *Link) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.q)
}

type queued struct {
	at  time.Time
	seq uint64
	pkt []byte
}

// pktHeap orders packets by send time, then by push order.
type pktHeap []queued

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *pktHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = queued{}
	*h = old[:len(old)-1]
	return e
}
