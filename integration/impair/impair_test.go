package impair

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newTestLink is a Link with fixed parameters.
func newTestLink(seed uint64, p Params) *Link {
	return NewLink(seed, func() *Params { return &p })
}

// numbered is a 100-byte IPv4-looking packet carrying n after the header.
func numbered(n int) []byte {
	b := make([]byte, 100)
	b[0] = 0x45
	binary.BigEndian.PutUint32(b[20:], uint32(n))
	return b
}

func number(b []byte) int { return int(binary.BigEndian.Uint32(b[20:])) }

// drain pops everything, stepping the clock to each send time, and
// returns the packet numbers with the time each left.
func drain(l *Link, now time.Time) (nums []int, at []time.Time) {
	for {
		pkt, wait := l.Pop(now)
		if pkt != nil {
			nums = append(nums, number(pkt))
			at = append(at, now)
			continue
		}
		if wait == 0 {
			return nums, at
		}
		now = now.Add(wait)
	}
}

// within reports whether got is within tol (absolute, in percent points)
// of want percent of n.
func within(got int64, n int, want, tol float64) bool {
	return math.Abs(float64(got)*100/float64(n)-want) <= tol
}

func TestLossDuplicateRates(t *testing.T) {
	const n = 200_000
	l := newTestLink(7, Params{Loss: 1, Duplicate: 0.5})
	for i := 0; i < n; i++ {
		l.Push(t0, numbered(i))
		l.Pop(t0) // keep the queue short
	}
	s := &l.Stats
	if !within(s.Lost.Load(), n, 1, 0.1) || !within(s.Duplicated.Load(), n, 0.5, 0.1) {
		t.Errorf("lost %d, duplicated %d of %d: want about 1%% and 0.5%%", s.Lost.Load(), s.Duplicated.Load(), n)
	}
	if out := s.Out.Load() + int64(l.Len()); out != n-s.Lost.Load()+s.Duplicated.Load() {
		t.Errorf("out %d, want in - lost + duplicated = %d", out, n-s.Lost.Load()+s.Duplicated.Load())
	}
}

func TestSameSeedSameDecisions(t *testing.T) {
	run := func(seed uint64) []int {
		l := newTestLink(seed, Params{Loss: 20, Duplicate: 10, Reorder: 10, Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond})
		for i := 0; i < 1000; i++ {
			l.Push(t0.Add(time.Duration(i)*time.Millisecond), numbered(i))
		}
		nums, _ := drain(l, t0)
		return nums
	}
	a, b, c := run(3), run(3), run(4)
	if fmtInts(a) != fmtInts(b) {
		t.Errorf("seed 3 gave two different sequences")
	}
	if fmtInts(a) == fmtInts(c) {
		t.Errorf("seeds 3 and 4 gave the same sequence")
	}
}

func fmtInts(v []int) string {
	var b strings.Builder
	for _, n := range v {
		fmt.Fprintf(&b, " %d", n)
	}
	return b.String()
}

// Jitter alone varies the delay but never reorders.
func TestJitterKeepsOrder(t *testing.T) {
	l := newTestLink(1, Params{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond})
	const n = 2000
	for i := 0; i < n; i++ {
		l.Push(t0.Add(time.Duration(i)*time.Millisecond), numbered(i))
	}
	nums, at := drain(l, t0)
	if len(nums) != n {
		t.Fatalf("%d of %d packets left", len(nums), n)
	}
	minD, maxD := time.Hour, time.Duration(0)
	for i, k := range nums {
		if k != i {
			t.Fatalf("packet %d left in place %d: jitter reordered", k, i)
		}
		d := at[i].Sub(t0.Add(time.Duration(k) * time.Millisecond))
		minD, maxD = min(minD, d), max(maxD, d)
	}
	// Order is kept by holding a packet behind its predecessor, so the
	// largest delay may exceed 40 ms only by what that costs (< 10 ms at
	// 1 ms spacing); the smallest is at least 20 ms.
	if minD < 20*time.Millisecond || minD > 25*time.Millisecond || maxD < 38*time.Millisecond || maxD > 40*time.Millisecond {
		t.Errorf("delays from %v to %v, want about 20 ms to 40 ms", minD, maxD)
	}
}

// Reordered packets skip the delay and overtake exactly the packets still
// queued; with no delay they are held back ReorderHold instead.
func TestReorder(t *testing.T) {
	const n = 100_000
	l := newTestLink(5, Params{Delay: 30 * time.Millisecond, Reorder: 1})
	var nums []int
	for i := 0; i < n; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		for pkt, _ := l.Pop(now); pkt != nil; pkt, _ = l.Pop(now) {
			nums = append(nums, number(pkt))
		}
		l.Push(now, numbered(i))
	}
	rest, _ := drain(l, t0.Add(n*time.Millisecond))
	nums = append(nums, rest...)
	early := 0
	for i := 1; i < len(nums); i++ {
		if nums[i] < nums[i-1] {
			continue
		}
		if i+1 < len(nums) && nums[i] > nums[i+1]+1 {
			early++ // nums[i] left before packets pushed earlier
		}
	}
	r := l.Stats.Reordered.Load()
	if !within(r, n, 1, 0.1) {
		t.Errorf("reordered %d of %d, want about 1%%", r, n)
	}
	if int64(early) != r {
		t.Errorf("%d packets overtook others, %d were reordered", early, r)
	}

	l = newTestLink(5, Params{Reorder: 100})
	l.Push(t0, numbered(1))
	if pkt, wait := l.Pop(t0); pkt != nil || wait != ReorderHold {
		t.Errorf("reordered packet without delay: Pop = %v, %v; want held %v", pkt != nil, wait, ReorderHold)
	}
}

func TestRateLimit(t *testing.T) {
	// 100-byte packets at 800 kbit/s take 1 ms each.
	l := newTestLink(1, Params{Rate: 800_000})
	for i := 0; i < 10; i++ {
		l.Push(t0, numbered(i))
	}
	nums, at := drain(l, t0)
	for i := range nums {
		if want := t0.Add(time.Duration(i+1) * time.Millisecond); nums[i] != i || !at[i].Equal(want) {
			t.Errorf("packet %d left at +%v, want +%v", nums[i], at[i].Sub(t0), want.Sub(t0))
		}
	}
}

func TestBlackholeAndOverflow(t *testing.T) {
	p := Params{Blackhole: true}
	l := NewLink(1, func() *Params { return &p })
	l.Push(t0, numbered(1))
	if l.Len() != 0 || l.Stats.Blackholed.Load() != 1 {
		t.Errorf("blackhole let a packet through")
	}
	p = Params{Delay: time.Second}
	for i := 0; i < QueueLimit+10; i++ {
		l.Push(t0, numbered(i))
	}
	if l.Len() != QueueLimit || l.Stats.Overflow.Load() != 10 {
		t.Errorf("queue %d, overflow %d; want %d and 10", l.Len(), l.Stats.Overflow.Load(), QueueLimit)
	}
}

func TestCorruptFlipsOneBitAfterHeader(t *testing.T) {
	l := newTestLink(9, Params{Corrupt: 100})
	for i := 0; i < 1000; i++ {
		orig := numbered(i)
		pkt := append([]byte(nil), orig...)
		l.Push(t0, pkt)
		got, _ := l.Pop(t0)
		bits := 0
		for j := range got {
			d := got[j] ^ orig[j]
			if d != 0 && j < 20 {
				t.Fatalf("header byte %d changed", j)
			}
			for ; d != 0; d &= d - 1 {
				bits++
			}
		}
		if bits != 1 {
			t.Fatalf("%d bits flipped, want 1", bits)
		}
	}
}

func TestParamsApply(t *testing.T) {
	p, err := Params{}.Apply("loss=1%", "delay=30ms", "jitter=10ms", "reorder=1", "dup=0.5%", "corrupt=0.1", "rate=10mbit", "blackhole=on")
	if err != nil {
		t.Fatal(err)
	}
	want := Params{Loss: 1, Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond, Reorder: 1, Duplicate: 0.5, Corrupt: 0.1, Rate: 10e6, Blackhole: true}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	// String prints what Apply reads.
	again, err := Params{}.Apply(strings.Fields(p.String())...)
	if err != nil || again != p {
		t.Errorf("round trip of %q: %+v, %v", p.String(), again, err)
	}
	if q, _ := p.Apply("clear", "loss=2"); q != (Params{Loss: 2}) {
		t.Errorf("clear: %+v", q)
	}
	for _, bad := range []string{"loss", "loss=101", "loss=-1", "delay=5", "delay=2m", "rate=fast", "blackhole=maybe", "color=red"} {
		if q, err := p.Apply("loss=3", bad); err == nil || q != p {
			t.Errorf("Apply(%q) = %+v, %v; want an error and p unchanged", bad, q, err)
		}
	}
}

func TestCommand(t *testing.T) {
	f, err := NewForwarder(nil, 1, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Command("set loss=5 blackhole=on"); !strings.HasPrefix(got, "ok loss=5% ") || !strings.HasSuffix(got, "blackhole=on") {
		t.Errorf("set: %q", got)
	}
	if got := f.Command("set loss=500"); !strings.HasPrefix(got, "error ") || f.Params().Loss != 5 {
		t.Errorf("bad set: %q, loss now %v", got, f.Params().Loss)
	}
	if got := f.Command("show"); !strings.HasPrefix(got, "ok loss=5%") {
		t.Errorf("show: %q", got)
	}
	if got := f.Command("reboot"); !strings.HasPrefix(got, "error ") {
		t.Errorf("unknown command: %q", got)
	}
}
