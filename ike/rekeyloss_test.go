package ike

import (
	"net/netip"
	"testing"
	"time"
)

// dropFirst returns a network filter that drops the first CREATE_CHILD_SA
// answer from the address from, and counts every IKE_SA_INIT request sent
// after it is installed into inits.
func dropFirst(from netip.Addr, inits *int) func(datagram) bool {
	dropped := false
	return func(d datagram) bool {
		if isInitRequest(d) {
			*inits++
		}
		h, err := parseHeader(d.pkt)
		if err != nil {
			return false
		}
		if !dropped && d.from.Addr() == from && h.Exchange == exCreateChildSA && h.Response {
			dropped = true
			return true
		}
		return false
	}
}

// TestIKERekeyAnswerLost: b answers a's IKE SA rekey, the answer is lost,
// and b at once starts a Child SA rekey on the new IKE SA, which a does
// not hold yet. a's INVALID_IKE_SPI for it means "not yet", not "lost":
// b must not set up a third IKE SA beside the two (a would keep one of its
// own and delete b's, and b's traffic would stop until it re-initiated).
func TestIKERekeyAnswerLost(t *testing.T) {
	// Both ends connect on their own: only such an end sets up a new IKE
	// SA when told the peer lost one.
	p, sa, sb := upAutoPair(t)
	inits := 0
	p.net.filter = dropFirst(addrB, &inits)
	p.a.core.startIKERekey(p.now, sa)
	p.net.deliver(p.now)
	nsb := sb.replacedBy
	if nsb == nil || !nsb.unproven {
		t.Fatal("b did not take the new IKE SA as unproven")
	}
	p.b.core.startChildRekey(p.now, nsb, nsb.children[0])
	p.net.deliver(p.now)
	if inits != 0 {
		t.Fatal("b set up a new IKE SA on INVALID_IKE_SPI for the SA it had just answered a rekey for")
	}
	p.run(30 * time.Second)
	sa2, sb2 := p.checkUp()
	if sb2 != nsb || sa2.spiI != nsb.spiI || inits != 0 {
		t.Fatalf("the rekeyed IKE SA did not survive: IKE_SA_INIT sent %d times", inits)
	}
	if nsb.unproven {
		t.Fatal("the new IKE SA is still unproven after the peer used it")
	}
	if len(sa2.children) != 1 || len(sb2.children) != 1 || p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		t.Fatalf("children a=%d b=%d, data plane SAs a=%d b=%d", len(sa2.children), len(sb2.children), p.a.dp.count(), p.b.dp.count())
	}
}

// TestIKERekeyWaitsForChildRekey: b's Child SA rekey is in flight (a's
// answer was lost) and b's own IKE SA rekey waits behind it when a's IKE
// SA rekey arrives. That is no collision, since b's rekey is not out yet:
// b answers TEMPORARY_FAILURE (RFC 7296 §2.25.2), so its Child SA rekey
// ends on the old IKE SA instead of vanishing with it and leaving a with
// a new Child SA that b never installed.
func TestIKERekeyWaitsForChildRekey(t *testing.T) {
	p, sa, sb := upPair(t)
	inits := 0
	p.net.filter = dropFirst(addrA, &inits)
	p.b.core.startChildRekey(p.now, sb, sb.children[0])
	p.net.deliver(p.now)
	p.b.core.startIKERekey(p.now, sb)
	if sb.rekeying == nil || sb.rekeying.sent {
		t.Fatal("b's IKE SA rekey should wait behind its Child SA rekey")
	}
	p.a.core.startIKERekey(p.now, sa)
	p.net.deliver(p.now)
	if sb.peerRekey != nil || sb.replacedBy != nil {
		t.Fatal("b took a's IKE SA rekey while its own Child SA rekey was in flight")
	}
	p.run(60 * time.Second)
	sa2, sb2 := p.checkUp()
	if inits != 0 {
		t.Fatalf("IKE_SA_INIT sent %d times", inits)
	}
	if len(sa2.children) != 1 || len(sb2.children) != 1 || p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		t.Fatalf("children a=%d b=%d, data plane SAs a=%d b=%d\na: %v\nb: %v", len(sa2.children), len(sb2.children),
			p.a.dp.count(), p.b.dp.count(), p.a.dp.log, p.b.dp.log)
	}
	if sa2 == sa || sb2 == sb {
		t.Fatal("the IKE SA was never rekeyed")
	}
}

// TestChildRekeyQueuedIsNoCollision: b's rekey of a Child SA waits behind
// another exchange of b's when a's rekey of the same Child SA arrives.
// b's rekey was never sent, so it is no collision: b takes a's new Child
// SA and drops its own rekey instead of sending it for an SA that is gone.
func TestChildRekeyQueuedIsNoCollision(t *testing.T) {
	p, sa, sb := upPair(t)
	p.b.core.startDPD(p.now, sb)
	p.b.core.startChildRekey(p.now, sb, sb.children[0])
	old := sb.children[0]
	if old.rekeying == nil || old.rekeying.sent {
		t.Fatal("b's Child SA rekey should wait behind its liveness check")
	}
	p.a.core.startChildRekey(p.now, sa, sa.children[0])
	p.run(30 * time.Second)
	sa2, sb2 := p.checkUp()
	if len(sa2.children) != 1 || len(sb2.children) != 1 || p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		t.Fatalf("children a=%d b=%d, data plane SAs a=%d b=%d", len(sa2.children), len(sb2.children), p.a.dp.count(), p.b.dp.count())
	}
	if n := p.b.core.Stats().Sent.CreateChildSA; n != 0 {
		t.Fatalf("b sent %d CREATE_CHILD_SA for a Child SA the peer had already replaced", n)
	}
	if n := p.a.core.Stats().ChildRekeys + p.b.core.Stats().ChildRekeys; n != 2 {
		t.Fatalf("%d Child SA rekeys counted, want one on each side", n)
	}
}

// TestChildRekeyCollisionAnswerLost: both ends rekey the Child SA at once
// and a's answer to b's rekey is lost. Whichever new SA wins, a must not
// send on b's new SA before b holds it: b installs it only when a's
// answer arrives, and until then the old SA carries a's traffic.
func TestChildRekeyCollisionAnswerLost(t *testing.T) {
	lostWins := 0
	for i := 0; i < 30; i++ {
		p, sa, sb := upPair(t)
		inits := 0
		p.net.filter = dropFirst(addrA, &inits)
		oldOut := sa.children[0].outSPI
		p.a.core.startChildRekey(p.now, sa, sa.children[0])
		p.b.core.startChildRekey(p.now, sb, sb.children[0])
		p.net.deliver(p.now) // no timer runs: b has not retransmitted
		out := p.a.dp.outbound["Tunnel0.0"]
		if _, ok := p.b.dp.sas[dpKey{out, true}]; !ok {
			t.Fatalf("run %d: a sends on %08x, which b has not installed\na: %v\nb: %v", i, out, p.a.dp.log, p.b.dp.log)
		}
		if out == oldOut {
			lostWins++ // a's rekey lost the collision: it stays on the old SA
		}
		p.run(30 * time.Second)
		sa2, sb2 := p.checkUp()
		if len(sa2.children) != 1 || len(sb2.children) != 1 || inits != 0 {
			t.Fatalf("run %d: children a=%d b=%d, IKE_SA_INIT sent %d times", i, len(sa2.children), len(sb2.children), inits)
		}
	}
	if lostWins == 0 {
		t.Fatal("in no run did b's rekey win the collision: the case was not tested")
	}
}

// TestChildExchangesQueuedBehindIKERekey: a Child SA rekey, or the DELETE
// of the SA a Child SA rekey replaced, waits in the queue of an IKE SA
// whose rekey is in flight. The old IKE SA's queue dies with it, so they
// must go out on the new IKE SA: else the Child SA is never rekeyed again
// (and is torn down, traffic and all, at its hard lifetime), or the
// replaced SA is never deleted.
func TestChildExchangesQueuedBehindIKERekey(t *testing.T) {
	t.Run("child rekey", func(t *testing.T) {
		p, sa, _ := upPair(t)
		ch := sa.children[0]
		p.a.core.startIKERekey(p.now, sa)
		p.a.core.startChildRekey(p.now, sa, ch)
		p.run(20 * time.Second)
		sa2, sb2 := p.checkUp()
		if sa2 == sa {
			t.Fatal("the IKE SA was not rekeyed")
		}
		if len(sa2.children) != 1 || len(sb2.children) != 1 || sa2.children[0] == ch || ch.rekeying != nil {
			t.Fatal("the queued Child SA rekey was lost")
		}
	})
	t.Run("child delete", func(t *testing.T) {
		p, sa, _ := upPair(t)
		p.a.core.startChildRekey(p.now, sa, sa.children[0])
		p.a.core.startIKERekey(p.now, sa) // queued; the DELETE of the old Child SA queues behind it
		p.run(20 * time.Second)           // less than orphanTimeout: b does not clean up for us
		sa2, sb2 := p.checkUp()
		if sa2 == sa {
			t.Fatal("the IKE SA was not rekeyed")
		}
		if len(sa2.children) != 1 || len(sb2.children) != 1 || p.a.dp.count() != 2 || p.b.dp.count() != 2 {
			t.Fatalf("children a=%d b=%d, data plane SAs a=%d b=%d: the queued DELETE was lost",
				len(sa2.children), len(sb2.children), p.a.dp.count(), p.b.dp.count())
		}
	})
}

// TestChildDeleteOnPeersNewIKESA: both ends rekey the IKE SA at once; b's
// request is held up on the path, so a sees no collision, takes its own
// new IKE SA and sends there the DELETE of the Child SA its rekey just
// replaced. b, whose collision is still open, holds the Child SAs on the
// old IKE SA: it must find them there, or it keeps sending on the old
// Child SA after a has removed it.
func TestChildDeleteOnPeersNewIKESA(t *testing.T) {
	p, sa, sb := upPair(t)
	oldSPIi, oldSPIr := sa.spiI, sa.spiR
	var heldRekey, heldDelete bool
	p.net.filter = func(d datagram) bool {
		h, err := parseHeader(d.pkt)
		if err != nil || h.Response {
			return false
		}
		switch {
		case !heldRekey && d.from.Addr() == addrB && h.Exchange == exCreateChildSA:
			heldRekey = true // b's IKE SA rekey
			return true
		case !heldDelete && d.from.Addr() == addrA && h.Exchange == exInformational && h.SPIi == oldSPIi && h.SPIr == oldSPIr:
			heldDelete = true // a's DELETE of the old IKE SA
			return true
		}
		return false
	}
	p.a.core.startChildRekey(p.now, sa, sa.children[0])
	p.a.core.startIKERekey(p.now, sa) // queued: the DELETE of the old Child SA queues behind it
	p.b.core.startIKERekey(p.now, sb)
	p.net.deliver(p.now)
	if !heldRekey || !heldDelete || sa.replacedBy == nil || sb.peerRekey == nil {
		t.Fatalf("setup: held rekey %v, held delete %v, a rekeyed %v, b in collision %v",
			heldRekey, heldDelete, sa.replacedBy != nil, sb.peerRekey != nil)
	}
	// Past a's grace period for the old Child SA, before any orphan timeout.
	for i := 0; i < 5; i++ {
		p.run(time.Second)
		out := p.b.dp.outbound["Tunnel0.0"]
		if _, ok := p.a.dp.sas[dpKey{out, true}]; !ok {
			t.Fatalf("after %d s b sends on %08x, which a has removed\na: %v\nb: %v", i+1, out, p.a.dp.log, p.b.dp.log)
		}
	}
	p.run(30 * time.Second)
	p.checkUp()
}

// TestRefusedRekeyRetriedBeforeExpiry: with a lifetime of a minute the
// rekey starts 6 to 9 s before expiry. The peer refuses it with
// TEMPORARY_FAILURE (its liveness check is in flight, the answer lost),
// and the retry must come while the SA still lives: a fixed 10 s wait
// let the SA expire and be set up anew, a gap in traffic and no rekey.
func TestRefusedRekeyRetriedBeforeExpiry(t *testing.T) {
	for range 20 {
		p, sa, sb := upPair(t)
		dropped := false
		p.net.filter = func(d datagram) bool {
			h, err := parseHeader(d.pkt)
			if err == nil && !dropped && d.from.Addr() == addrA && h.Exchange == exInformational && h.Response {
				dropped = true
				return true
			}
			return false
		}
		p.b.core.startDPD(p.now, sb)
		p.net.deliver(p.now)
		if !dropped || sb.pending == nil {
			t.Fatal("b's liveness check is not in flight")
		}
		const left = 7 * time.Second
		sa.expireAt = p.now.Add(left)
		p.a.core.startIKERekey(p.now, sa)
		p.net.deliver(p.now)
		if sa.rekeying != nil || sa.rekeyAt.IsZero() || sa.replacedBy != nil {
			t.Fatal("b did not refuse the rekey while its own exchange was in flight")
		}
		p.run(left)
		if n := p.a.core.Stats().IKERekeys; n != 1 || sa.replacedBy == nil {
			t.Fatalf("IKE SA not rekeyed before it expired: %d rekeys", n)
		}
		p.checkUp()
	}
}

// TestRekeyRetryTime: a refused rekey waits 5 to 10 s, less where the SA
// expires sooner: at most a third of the time left, but not under half a
// second, so a peer refusing in the SA's last moments is not flooded.
func TestRekeyRetryTime(t *testing.T) {
	c := &Core{}
	now := time.Unix(1e9, 0)
	for range 1000 {
		for _, tc := range []struct{ left, lo, hi time.Duration }{
			{0, 5 * time.Second, 10 * time.Second}, // no expiry known
			{time.Hour, 5 * time.Second, 10 * time.Second},
			{9 * time.Second, 1500 * time.Millisecond, 3 * time.Second},
			{2 * time.Second, 500 * time.Millisecond, time.Second},
			{-time.Second, 500 * time.Millisecond, time.Second},
		} {
			var exp time.Time
			if tc.left != 0 {
				exp = now.Add(tc.left)
			}
			if d := c.rekeyRetryTime(now, exp).Sub(now); d < tc.lo || d > tc.hi {
				t.Fatalf("%v left: retry after %v, want %v to %v", tc.left, d, tc.lo, tc.hi)
			}
		}
	}
}
