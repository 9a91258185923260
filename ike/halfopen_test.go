package ike

import "testing"

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
