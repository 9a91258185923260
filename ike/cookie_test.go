package ike

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// TestAnswerCookie: the packet reader's COOKIE answer (answerCookie) is the
// one the Core would send, a request with the valid COOKIE and anything
// but an IKE_SA_INIT request are left to the Core, and the exchange
// completes.
func TestAnswerCookie(t *testing.T) {
	p := seedPair(t, func(c *CoreConfig) { c.CookieThreshold = 1 })
	p.b.core.halfOpen[halfOpenKey{netip.MustParseAddrPort("192.0.2.9:500"), 1}] = &ikeSA{}
	var inits []datagram
	var answers [][]byte
	p.net.filter = func(d datagram) bool {
		switch {
		case d.to.Addr() == addrB && len(d.pkt) > 19 && d.pkt[18] == exIKESAInit:
			inits = append(inits, d)
		case d.to.Addr() == addrA && len(d.pkt) > 19 && d.pkt[18] == exIKESAInit:
			answers = append(answers, d.pkt)
		}
		return false
	}
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.checkUp()
	if len(inits) != 2 || len(answers) != 2 {
		t.Fatalf("%d IKE_SA_INIT requests and %d answers, want 2 and 2 (with a cookie round)", len(inits), len(answers))
	}
	p.net.filter = nil

	sent := len(p.net.queue)
	first := inits[0]
	if !p.b.core.answerCookie(first.pkt, first.from, first.to) {
		t.Fatal("a request without a COOKIE was not answered")
	}
	if len(p.net.queue) != sent+1 || !bytes.Equal(p.net.queue[sent].pkt, answers[0]) {
		t.Fatalf("answer %x, the Core's %x", p.net.queue[len(p.net.queue)-1].pkt, answers[0])
	}
	if p.b.core.answerCookie(inits[1].pkt, inits[1].from, inits[1].to) {
		t.Fatal("a request with the valid COOKIE was answered with another")
	}
	forged := append([]byte(nil), inits[1].pkt...)
	forged[28+8+1] ^= 0xff // the COOKIE's data, after the notify header and its leading 0
	if !p.b.core.answerCookie(forged, inits[1].from, inits[1].to) {
		t.Fatal("a request with a wrong COOKIE was not answered")
	}
	for _, bad := range [][]byte{first.pkt[:27], answers[1], append(append([]byte(nil), first.pkt...), 0)} {
		if p.b.core.answerCookie(bad, first.from, first.to) {
			t.Fatalf("answered %x", bad)
		}
	}
	if got := p.b.core.stats.snapshot().CookiesSent; got != 3 {
		t.Fatalf("CookiesSent = %d, want 3", got)
	}

	// Other addresses get at most the burst (and then cookieRate a
	// second); the configured peer is answered beyond it.
	// The bucket refills on the wall clock, cookieRate a second, while
	// the loop runs (slowly under the race detector): allow for that.
	stranger := netip.MustParseAddrPort("192.0.2.77:500")
	start := time.Now()
	const n = 2*cookieBurst + 100
	for range n {
		p.b.core.answerCookie(first.pkt, stranger, first.to)
	}
	refill := uint64(time.Since(start).Seconds()*cookieRate) + 1
	st := p.b.core.stats.snapshot()
	if st.CookiesSent-3 > cookieBurst+refill || st.Failures.CookieLimited == 0 && refill < n-cookieBurst {
		t.Fatalf("after %d requests from a stranger in %v: %d COOKIEs, %d limited (burst %d, refill %d)",
			n, time.Since(start), st.CookiesSent-3, st.Failures.CookieLimited, cookieBurst, refill)
	}
	sent = len(p.net.queue)
	if !p.b.core.answerCookie(first.pkt, first.from, first.to) || len(p.net.queue) != sent+1 {
		t.Fatal("the configured peer got no COOKIE once strangers had used up the rate")
	}
}

// FuzzAnswerCookie: the packet reader's COOKIE check reads untrusted
// bytes without the Core's parser; it must never panic, and what it
// answers must be an IKE_SA_INIT request (a response from it would be
// sent for anything else).
func FuzzAnswerCookie(f *testing.F) {
	p := seedPair(nil, func(c *CoreConfig) { c.CookieThreshold = 1 }) // nil: as FuzzHandlePacket
	init := p.startKeepingFirst()
	f.Add(init)
	f.Add(init[:28])
	f.Add([]byte{})
	from, to := netip.MustParseAddrPort("192.0.2.7:500"), netip.MustParseAddrPort("198.51.100.6:500")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if p.b.core.answerCookie(pkt, from, to) && (len(pkt) < 28 || pkt[18] != exIKESAInit || pkt[19]&0x20 != 0) {
			t.Fatalf("answered %x", pkt)
		}
	})
}
