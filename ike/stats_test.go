package ike

import (
	"net/netip"
	"testing"
	"time"
)

func TestStatsSetupAndRekeys(t *testing.T) {
	p, sa, sb := upPair(t)
	a, b := p.a.core.Stats(), p.b.core.Stats()
	one := ExchangeCounts{IKESAInit: 1, IKEAuth: 1}
	if a.Sent != one || a.Received != (ExchangeCounts{}) || b.Received != one || b.Sent != (ExchangeCounts{}) {
		t.Fatalf("after setup: a %+v, b %+v", a, b)
	}
	p.a.core.startChildRekey(p.now, sa, sa.children[0])
	p.run(5 * time.Second)
	p.b.core.startIKERekey(p.now, sb)
	p.run(5 * time.Second)
	a, b = p.a.core.Stats(), p.b.core.Stats()
	if a.ChildRekeys != 1 || b.ChildRekeys != 1 || a.IKERekeys != 1 || b.IKERekeys != 1 {
		t.Fatalf("rekeys: a %+v, b %+v", a, b)
	}
	// a: Child rekey + its DELETE; b: IKE rekey + the old IKE SA's DELETE.
	if a.Sent.CreateChildSA != 1 || a.Sent.Informational != 1 || b.Received.CreateChildSA != 1 || b.Received.Informational != 1 {
		t.Fatalf("a sent %+v, b received %+v", a.Sent, b.Received)
	}
	if b.Sent.CreateChildSA != 1 || b.Sent.Informational != 1 || a.Received.CreateChildSA != 1 {
		t.Fatalf("b sent %+v, a received %+v", b.Sent, a.Received)
	}
	ts, ok := p.a.core.TunnelStats("Tunnel0.0")
	if !ok || ts.Sent != a.Sent || ts.ChildRekeys != 1 {
		t.Fatalf("tunnel stats %+v %v", ts, ok)
	}
	if a.Failures != (FailureCounts{}) || b.Failures != (FailureCounts{}) || a.Retransmits != 0 {
		t.Fatalf("failures: a %+v, b %+v", a, b)
	}
}

func TestStatsWrongPSK(t *testing.T) {
	p := newPair(t, testConfig(addrB, "right", true, nil), testConfig(addrA, "wrong", false, nil), nil)
	p.a.core.Start(p.now)
	p.run(time.Second / 2) // before the retry
	a, b := p.a.core.Stats(), p.b.core.Stats()
	if a.Failures.AuthFailed != 1 || b.Failures.AuthFailed != 1 {
		t.Fatalf("auth failures: a %d, b %d", a.Failures.AuthFailed, b.Failures.AuthFailed)
	}
}

func TestStatsNoProposalAndInvalidKE(t *testing.T) {
	profA := &testProfile{Enc: []string{"aes-cbc-128"}, Integrity: []string{"sha2-256"},
		DH: []string{"256-bit-ecp", "2048-bit"}}
	profB := &testProfile{Enc: []string{"aes-cbc-128"}, Integrity: []string{"sha2-256"},
		DH: []string{"2048-bit"}}
	p := newPair(t, testConfig(addrB, "k", true, profA), testConfig(addrA, "k", false, profB), nil)
	p.a.core.Start(p.now)
	p.run(time.Second / 2) // before the retry
	if a, b := p.a.core.Stats(), p.b.core.Stats(); a.Failures.InvalidKE != 1 || b.Failures.InvalidKE != 1 || a.Sent.IKESAInit != 2 {
		t.Fatalf("invalid KE: a %+v, b %+v", a, b)
	}
	profB.Enc = []string{"aes-cbc-256"}
	p = newPair(t, testConfig(addrB, "k", true, profA), testConfig(addrA, "k", false, profB), nil)
	p.a.core.Start(p.now)
	p.run(time.Second / 2) // before the retry
	if a, b := p.a.core.Stats(), p.b.core.Stats(); a.Failures.NoProposal != 1 || b.Failures.NoProposal != 1 {
		t.Fatalf("no proposal: a %+v, b %+v", a.Failures, b.Failures)
	}
	if ts, _ := p.b.core.TunnelStats("Tunnel0.0"); ts.Failures.NoProposal != 1 || ts.Received.IKESAInit != 1 {
		t.Fatalf("b's tunnel stats %+v", ts)
	}
}

func TestStatsDPDTimeoutAndMalformed(t *testing.T) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"},
		DH: []string{"1024-bit"}, DPDInterval: 10 * time.Second}
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", false, prof),
		func(c *CoreConfig) { c.RetransmitBase = time.Second; c.RetransmitTries = 3 })
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.net.filter = func(datagram) bool { return true }
	p.run(30 * time.Second)
	a := p.a.core.Stats()
	if a.DPDProbes != 1 || a.Retransmits < 3 || a.Failures.Timeout != 1 {
		t.Fatalf("DPD: %+v", a)
	}
	p.a.core.HandlePacket(p.now, []byte{1, 2, 3}, netip.AddrPortFrom(addrB, 500), netip.AddrPortFrom(addrA, 500))
	if got := p.a.core.Stats().Failures.Malformed; got != 1 {
		t.Fatalf("malformed %d", got)
	}
}
