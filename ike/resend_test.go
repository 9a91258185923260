package ike

import (
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// capture records the datagrams a filter lets through or drops.
type capture struct{ pkts []datagram }

func (c *capture) from(addr netip.Addr) []datagram {
	var out []datagram
	for _, d := range c.pkts {
		if d.from.Addr() == addr {
			out = append(out, d)
		}
	}
	return out
}

// TestResendOnlyIdenticalRequest: once b answered a's request, a forged
// header with the live SPIs and the answered message ID, or an altered
// copy, gets nothing; the byte-identical request gets the cached answer,
// a burst of it a few, and then only resendRate per second.
func TestResendOnlyIdenticalRequest(t *testing.T) {
	p, sa, _ := upPair(t)
	var c capture
	p.net.filter = func(d datagram) bool { c.pkts = append(c.pkts, d); return false }
	p.a.core.startDPD(p.now, sa)
	p.run(time.Millisecond)
	reqs, answers := c.from(addrA), c.from(addrB)
	if len(reqs) != 1 || len(answers) != 1 {
		t.Fatalf("DPD: %d requests, %d answers", len(reqs), len(answers))
	}
	req := reqs[0]
	hdr, err := wire.ParseHeader(req.pkt)
	if err != nil {
		t.Fatal(err)
	}

	resent := func(pkt []byte, n int) int {
		t.Helper()
		c.pkts = nil
		for i := 0; i < n; i++ {
			p.b.core.HandlePacket(p.now, pkt, req.from, req.to)
		}
		p.net.filter = func(d datagram) bool { c.pkts = append(c.pkts, d); return true }
		p.net.deliver(p.now)
		return len(c.from(addrB))
	}

	// The attack of issue 14: a bare header naming the live SA.
	forged := (&wire.Message{Header: hdr}).Append(nil)
	if len(forged) != wire.HeaderLen {
		t.Fatalf("forged header is %d bytes", len(forged))
	}
	if n := resent(forged, 50); n != 0 {
		t.Fatalf("forged header: %d answers resent", n)
	}
	altered := append([]byte(nil), req.pkt...)
	altered[len(altered)-1] ^= 1
	if n := resent(altered, 1); n != 0 {
		t.Fatalf("altered request: %d answers resent", n)
	}
	if st := p.b.core.Stats(); st.Failures.ResendMismatch != 51 || st.Failures.Malformed != 0 {
		t.Fatalf("stats after forgeries: %+v", st.Failures)
	}
	if ts, _ := p.b.core.TunnelStats("Tunnel0.0"); ts.Failures.ResendMismatch != 51 {
		t.Fatalf("tunnel stats after forgeries: %+v", ts.Failures)
	}

	// The genuine retransmission gets the very answer again.
	c.pkts = nil
	if n := resent(req.pkt, 1); n != 1 || string(c.from(addrB)[0].pkt) != string(answers[0].pkt) {
		t.Fatalf("retransmission: %d answers", n)
	}
	// A replay flood: the rest of the burst, then the rate.
	if n := resent(req.pkt, 100); n != resendBurst-1 {
		t.Fatalf("replay flood: %d answers, want %d", n, resendBurst-1)
	}
	p.now = p.now.Add(time.Second)
	if n := resent(req.pkt, 100); n != resendRate {
		t.Fatalf("a second later: %d answers, want %d", n, resendRate)
	}
	st := p.b.core.Stats()
	if want := uint64(100 - (resendBurst - 1) + 100 - resendRate); st.Failures.ResendLimited != want || st.Failures.ResendMismatch != 51 {
		t.Fatalf("stats after the flood: %+v, want %d limited", st.Failures, want)
	}
	// The SA is unharmed.
	p.net.filter = nil
	p.run(time.Minute)
	p.checkUp()
}

// TestResendIKESAInit: a half-open responder SA resends its IKE_SA_INIT
// answer only for the identical request, and only at the resend rate.
func TestResendIKESAInit(t *testing.T) {
	p := seedPair(t, nil)
	var c capture
	p.net.filter = func(d datagram) bool { c.pkts = append(c.pkts, d); return d.from.Addr() == addrB }
	p.a.core.Start(p.now)
	p.net.deliver(p.now)
	reqs, answers := c.from(addrA), c.from(addrB)
	if len(reqs) != 1 || len(answers) != 1 {
		t.Fatalf("IKE_SA_INIT: %d requests, %d answers", len(reqs), len(answers))
	}
	req := reqs[0]
	count := func(pkt []byte, n int) int {
		c.pkts = nil
		for i := 0; i < n; i++ {
			p.b.core.HandlePacket(p.now, pkt, req.from, req.to)
		}
		p.net.deliver(p.now)
		return len(c.from(addrB))
	}
	altered := append([]byte(nil), req.pkt...)
	altered[len(altered)-1] ^= 1
	if n := count(altered, 10); n != 0 {
		t.Fatalf("altered IKE_SA_INIT: %d answers", n)
	}
	if n := count(req.pkt, 100); n != resendBurst {
		t.Fatalf("IKE_SA_INIT replay flood: %d answers, want %d", n, resendBurst)
	}
	if st := p.b.core.Stats(); st.Failures.ResendMismatch != 10 || st.Failures.ResendLimited != 100-resendBurst {
		t.Fatalf("stats %+v", st.Failures)
	}
	// A forged IKE_AUTH header with message ID 0 does not fetch the
	// IKE_SA_INIT answer either.
	var spiR uint64
	for spi := range p.b.core.sas {
		spiR = spi
	}
	h := wire.Header{SPIi: p.a.core.tunnels["Tunnel0.0"].ike.spiI, SPIr: spiR, MajorVersion: 2, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator}
	if n := count((&wire.Message{Header: h}).Append(nil), 5); n != 0 {
		t.Fatalf("forged message ID 0: %d answers", n)
	}
}

// TestResendFragmentedRequest: of a retransmitted fragmented request only
// fragment 1 fetches the answer (RFC 7383 §2.6.1); the later fragments are
// ignored, and not counted as forgeries.
func TestResendFragmentedRequest(t *testing.T) {
	p := seedPair(t, func(c *CoreConfig) { c.FragmentSize = 160 })
	var c capture
	p.net.filter = func(d datagram) bool { c.pkts = append(c.pkts, d); return false }
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.checkUp()
	var frags []datagram
	for _, d := range c.from(addrA) {
		if h, err := wire.ParseHeader(d.pkt); err == nil && h.Exchange == wire.IKE_AUTH {
			frags = append(frags, d)
		}
	}
	if len(frags) < 2 {
		t.Fatalf("IKE_AUTH request in %d datagrams, want fragments", len(frags))
	}
	p.net.filter = func(d datagram) bool { c.pkts = append(c.pkts, d); return true }
	c.pkts = nil
	for _, f := range frags {
		p.b.core.HandlePacket(p.now, f.pkt, f.from, f.to)
	}
	p.net.deliver(p.now)
	var answered []datagram
	for _, d := range c.from(addrB) {
		if h, err := wire.ParseHeader(d.pkt); err == nil && h.Exchange == wire.IKE_AUTH {
			answered = append(answered, d)
		}
	}
	if want := len(p.b.core.tunnels["Tunnel0.0"].ike.lastResp); len(answered) != want {
		t.Fatalf("retransmitted fragments got %d datagrams, want one answer of %d", len(answered), want)
	}
	if st := p.b.core.Stats(); st.Failures.ResendMismatch != 0 || st.Failures.ResendLimited != 0 {
		t.Fatalf("stats %+v", st.Failures)
	}
}
