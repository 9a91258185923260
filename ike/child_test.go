package ike

import (
	"testing"
	"time"
)

// TestAdditionalChildSARefused: one Child SA per tunnel (see doc.go): a
// CREATE_CHILD_SA without REKEY_SA while the tunnel has a live Child SA
// gets NO_ADDITIONAL_SAS and changes nothing.
func TestAdditionalChildSARefused(t *testing.T) {
	p, sa, _ := upPair(t)
	var answer *message
	p.a.core.request(p.now, sa, func(time.Time) *message {
		m := &message{Exchange: exCreateChildSA, Nonce: make([]byte, 32)}
		m.SA = childOffer(&sa.tun.pol, 0x12345678, false)
		m.TSi, m.TSr = routeSelectors(), routeSelectors()
		return m
	}, func(_ time.Time, m *message) { answer = m })
	p.run(time.Second)
	if answer == nil || answer.notify(nNoAdditionalSAs) == nil {
		t.Fatalf("answer %+v", answer)
	}
	p.checkUp()
	if p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		t.Fatalf("data plane SAs a %d, b %d", p.a.dp.count(), p.b.dp.count())
	}
}

// deleteOnlyChild makes n delete its IKE SA's only Child SA (what charon
// does when a Child SA expires before its rekey) and checks that both
// data planes are left without SAs: the tunnel is down.
func (p *pair) deleteOnlyChild(n *node) *ikeSA {
	p.t.Helper()
	s := established(n)[0]
	n.core.startChildDelete(p.now, s, s.children[0])
	p.net.deliver(p.now)
	if p.a.dp.count() != 0 || p.b.dp.count() != 0 {
		p.t.Fatalf("after DELETE: data plane SAs a=%d b=%d", p.a.dp.count(), p.b.dp.count())
	}
	return s
}

// checkOneChild asserts the tunnel is up with exactly one Child SA each side.
func (p *pair) checkOneChild(what string) {
	p.t.Helper()
	sa, sb := p.checkUp()
	if len(sa.children) != 1 || len(sb.children) != 1 || p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		p.t.Fatalf("%s: children a=%d b=%d, data plane SAs a=%d b=%d\na: %v\nb: %v", what, len(sa.children), len(sb.children),
			p.a.dp.count(), p.b.dp.count(), p.a.dp.log, p.b.dp.log)
	}
}

func childCreatesSent(n *node) uint64 {
	s, _ := n.core.TunnelStats("Tunnel0.0")
	return s.Sent.CreateChildSA
}

// TestPeerRecreatesChild: the peer deletes the only Child SA and creates
// a new one on the same IKE SA; we accept it and create none ourselves.
func TestPeerRecreatesChild(t *testing.T) {
	p, _, _ := upPair(t)
	sb := p.deleteOnlyChild(p.b)
	p.b.core.startChildCreate(p.now, sb)
	p.run(10 * time.Second)
	p.checkOneChild("peer re-created")
	if n := childCreatesSent(p.a); n != 0 {
		t.Fatalf("a sent %d CREATE_CHILD_SA as well", n)
	}
	p.run(2 * time.Hour) // the new Child SA rekeys as usual
	p.checkOneChild("after rekeys")
}

// TestChildRecreatedAfterPeerDelete: the peer deletes the only Child SA
// and does nothing more; a connect-type auto tunnel creates a new one
// after childRecreateDelay, and is down until then.
func TestChildRecreatedAfterPeerDelete(t *testing.T) {
	p, _, _ := upPair(t)
	p.deleteOnlyChild(p.b)
	p.run(childRecreateDelay / 2)
	if p.a.dp.count() != 0 {
		t.Fatalf("a created a Child SA before childRecreateDelay")
	}
	p.run(5 * time.Second)
	p.checkOneChild("re-created")
	if n := childCreatesSent(p.a); n != 1 {
		t.Fatalf("a sent %d CREATE_CHILD_SA, want 1", n)
	}
}

// TestResponderWaitsForPeerChild: a tunnel that does not connect on its
// own (here not connect-type auto; likewise negotiation-direction
// responder) leaves re-creating the Child SA to its peer.
func TestResponderWaitsForPeerChild(t *testing.T) {
	cfgA := testConfig(addrB, "P@ssw0rd1234", true, nil)
	cfgA.Tunnels[0].Direction = ResponderOnly
	for i, cfg := range []Config{testConfig(addrB, "P@ssw0rd1234", false, nil), cfgA} {
		p := newPair(t, cfg, testConfig(addrA, "P@ssw0rd1234", true, nil), nil)
		p.b.core.Start(p.now)
		p.run(time.Second)
		p.checkUp()
		p.deleteOnlyChild(p.b)
		p.run(time.Minute)
		if p.a.dp.count() != 0 || childCreatesSent(p.a) != 0 {
			t.Fatalf("case %d: a re-created the Child SA itself", i)
		}
		p.b.core.startChildCreate(p.now, established(p.b)[0])
		p.run(5 * time.Second)
		p.checkOneChild("peer re-created")
	}
}

// TestChildRecreateCollision: both ends create a new Child SA at once;
// exactly one remains on both.
func TestChildRecreateCollision(t *testing.T) {
	for i := 0; i < 20; i++ {
		p, _, _ := upPair(t)
		sb := p.deleteOnlyChild(p.b)
		sa := established(p.a)[0]
		sa.recreateAt = time.Time{}
		p.a.core.startChildCreate(p.now, sa)
		p.b.core.startChildCreate(p.now, sb)
		p.run(time.Minute)
		p.checkOneChild("collision")
		if childCreatesSent(p.a) != 1 || childCreatesSent(p.b) != 1 {
			t.Fatalf("run %d: creates sent a=%d b=%d", i, childCreatesSent(p.a), childCreatesSent(p.b))
		}
	}
}
