package ike

import (
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// TestReinitiateAtOnce: when the peer deletes an IKE SA that had been up,
// a connect-type auto tunnel initiates again at once, not after a fixed
// wait (issue 14: every peer-side reset cost 5 s of traffic). An SA the
// peer deletes right after it came up counts as a failed attempt: the
// waits grow from RetryBase, and start over once an SA stayed up.
func TestReinitiateAtOnce(t *testing.T) {
	p, _, _ := upPair(t)
	var old *ikeSA
	up := func() bool {
		ea := established(p.a)
		return len(ea) == 1 && ea[0] != old && len(established(p.b)) == 1
	}
	peerDeletes := func() {
		t.Helper()
		sb := established(p.b)
		if len(sb) != 1 {
			t.Fatalf("b has %d established IKE SAs", len(sb))
		}
		old = established(p.a)[0]
		p.b.core.deleteIKE(p.now, sb[0])
	}
	backAfter := func(want time.Duration) {
		t.Helper()
		start := p.now
		for !up() && p.now.Sub(start) < time.Minute {
			p.run(time.Millisecond)
		}
		got := p.now.Sub(start)
		if !up() || got < want || got > want+5*time.Millisecond {
			t.Fatalf("tunnel back after %v (up %v), want %v", got, up(), want)
		}
		p.checkUp()
	}

	p.run(time.Minute)
	peerDeletes()
	backAfter(0)
	// Deleted again at once: a failed attempt, RetryBase (1 s), then 2 s.
	peerDeletes()
	backAfter(time.Second)
	peerDeletes()
	backAfter(2 * time.Second)
	// Up for a while: a success, so the next loss goes at once again.
	p.run(stableUp)
	peerDeletes()
	backAfter(0)
}

// TestReinitiateBackoff: attempts at a peer that does not answer wait
// RetryBase, doubling, capped at RetryMax.
func TestReinitiateBackoff(t *testing.T) {
	p := seedPair(t, func(c *CoreConfig) {
		c.RetransmitBase, c.RetransmitTries, c.RetryMax = 100*time.Millisecond, 1, 4*time.Second
	})
	p.a.core.Start(p.now)
	p.run(stableUp + time.Second)
	p.checkUp()
	var starts []time.Time
	seen := map[uint64]bool{}
	p.net.filter = func(d datagram) bool {
		if h, err := wire.ParseHeader(d.pkt); err == nil && h.Exchange == wire.IKE_SA_INIT && !h.IsResponse() && !seen[h.SPIi] {
			seen[h.SPIi] = true
			starts = append(starts, p.now)
		}
		return true // the peer is gone
	}
	lost := p.now
	p.b.core.removeSA(p.now, established(p.b)[0]) // the peer restarts
	p.a.core.startDPD(p.now, established(p.a)[0])
	p.run(30 * time.Second)
	// DPD fails after 3 × 100 ms; each attempt fails after 300 ms.
	fail := 300 * time.Millisecond
	want := []time.Duration{fail, 2*fail + time.Second, 3*fail + 3*time.Second, 4*fail + 7*time.Second, 5*fail + 11*time.Second}
	if len(starts) < len(want) {
		t.Fatalf("%d attempts, want at least %d", len(starts), len(want))
	}
	for i, w := range want {
		if got := starts[i].Sub(lost); got != w {
			t.Errorf("attempt %d at %v after the loss, want %v", i+1, got, w)
		}
	}
}

// TestDPDPeerRestartedAsResponder: the peer restarts, keeps no state and
// only responds. Its INVALID_IKE_SPI answer to our next liveness check is
// not trusted to end the SA, but it is enough to set up a new IKE SA beside
// it (replaceLost): once that one is authenticated the old goes. With a
// 10 s DPD interval the tunnel is back within 11 s, without waiting for
// DPD's 30 s of retransmissions (issue 14: 134 s at first, then 41 s).
func TestDPDPeerRestartedAsResponder(t *testing.T) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"},
		DH: []string{"1024-bit"}, DPDInterval: 10 * time.Second}
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", false, prof), nil)
	p.a.core.Start(p.now)
	p.run(time.Minute)
	old, _ := p.checkUp()
	restarted := p.now
	nb, err := NewCore(p.b.core.opt)
	if err != nil {
		t.Fatal(err)
	}
	p.b.core = nb
	for p.now.Sub(restarted) < 5*time.Minute {
		p.run(100 * time.Millisecond)
		if ea := established(p.a); len(ea) == 1 && ea[0] != old && len(established(p.b)) == 1 {
			break
		}
	}
	back := p.now.Sub(restarted)
	p.checkUp()
	if back > 11*time.Second {
		t.Fatalf("tunnel back %v after the peer restarted, want at most 11 s (10 s DPD interval, then one new IKE SA)", back)
	}
	if st := p.a.core.Stats(); st.Failures.Timeout != 0 {
		t.Fatalf("want no DPD timeout: %+v", st)
	}
	t.Logf("back after %v", back)
}
