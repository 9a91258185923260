package ike

import (
	"net/netip"
	"testing"
	"time"
)

// TestHalfOpenTimeoutOnTheInstant: a half-open responder SA goes when its
// timer fires at exactly the time NextTimer gave. It used to stay until
// strictly later, so a timer loop on a simulated clock (or a real one
// that read the same instant) found the same timer due again, forever.
func TestHalfOpenTimeoutOnTheInstant(t *testing.T) {
	p := seedPair(t, nil)
	p.net.filter = func(d datagram) bool { return d.from.Addr() == addrB } // b's answers are lost
	p.a.core.Start(p.now)
	p.net.deliver(p.now)
	if len(p.b.core.halfOpen) != 1 {
		t.Fatalf("%d half-open SAs at b", len(p.b.core.halfOpen))
	}
	due := p.now.Add(p.b.core.opt.HalfOpenTimeout)
	if next := p.b.core.NextTimer(); !next.Equal(due) {
		t.Fatalf("b's next timer %v, want the half-open timeout %v", next, due)
	}
	p.b.core.HandleTimer(due)
	if len(p.b.core.halfOpen) != 0 {
		t.Fatal("the half-open SA outlived its timeout")
	}
	if next := p.b.core.NextTimer(); !next.IsZero() && !next.After(due) {
		t.Fatalf("b's next timer %v is still due at %v", next, due)
	}
}

// TestLateInitCopyDropped: a copy of the peer's IKE_SA_INIT that the path
// delayed or duplicated arrives after the SA is up. It gets no answer and
// sets up no half-open SA (a DH computation and 30 s of state for an SA
// nobody completes).
func TestLateInitCopyDropped(t *testing.T) {
	p := seedPair(t, nil)
	first := p.startKeepingFirst()
	p.checkUp()
	sent := p.net.sent
	p.b.core.HandlePacket(p.now, first, netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500))
	if len(p.b.core.halfOpen) != 0 || p.net.sent != sent {
		t.Fatalf("late IKE_SA_INIT copy: %d half-open SAs, %d packets sent", len(p.b.core.halfOpen), p.net.sent-sent)
	}
	p.run(time.Second)
	p.checkUp()
}
