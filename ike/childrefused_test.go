package ike

import (
	"testing"
	"time"
)

// dropPeerDeletes makes the network lose every INFORMATIONAL request
// from addrB (its DELETEs): b behaves as a peer that keeps the IKE SA of
// a Child SA we refused, as charon does and Azure may.
func dropPeerDeletes(p *pair) {
	p.net.filter = func(d datagram) bool {
		return d.from.Addr() == addrB && len(d.pkt) > 19 && d.pkt[18] == exInformational && d.pkt[19]&0x20 == 0
	}
}

// TestRefusedFirstChildBesideALiveSA: the peer dials again while the
// tunnel is up and offers a Child SA we refuse. The new IKE SA carries
// nothing: it goes, and the tunnel stays on the one with the Child SA
// (it used to become the tunnel's SA, left without a Child SA).
func TestRefusedFirstChildBesideALiveSA(t *testing.T) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
	p.a.core.Start(p.now)
	p.run(2 * time.Second)
	keep, _ := p.checkUp()
	bt := p.b.core.tunnels["Tunnel0.0"]
	bt.pol.ChildOffer = []ChildSuite{{Enc: encByName["3des"], Integ: integByName["sha1"]}}
	dropPeerDeletes(p)
	p.b.core.initiate(p.now, bt)
	p.run(3 * time.Second)
	if ta := p.a.core.tunnels["Tunnel0.0"]; ta.ike != keep || keep.liveChild() == nil {
		t.Fatalf("the tunnel's IKE SA is %x (children %d), want the one with the Child SA, %x", ta.ike.spiI, len(ta.ike.children), keep.spiI)
	}
	for _, sa := range established(p.a) {
		if sa != keep {
			t.Errorf("the IKE SA of the refused Child SA (%x) is still established", sa.spiI)
		}
	}
}

// TestRefusedFirstChildAlone: Azure offers fewer Child SA proposals than
// it accepts, so an IX whose proposal is only on the accepted list
// refuses the Child SA of Azure's IKE_AUTH. With no other IKE SA, a
// connect-type auto tunnel then creates a Child SA on that IKE SA with
// its own proposals (it used to stay without one until the SA ended).
func TestRefusedFirstChildAlone(t *testing.T) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"}, DH: []string{"1024-bit"},
		ChildEnc: []string{"aes-cbc-128"}, ChildIntegrity: []string{"sha2-256"}, ChildLifetime: time.Hour}
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", true, nil), nil)
	p.b.core.tunnels["Tunnel0.0"].pol = AzurePolicy() // offers no aes-cbc-128 with sha2-256
	dropPeerDeletes(p)
	creates := 0
	drop := p.net.filter
	p.net.filter = func(d datagram) bool {
		if d.from.Addr() == addrA && len(d.pkt) > 19 && d.pkt[18] == exCreateChildSA && d.pkt[19]&0x20 == 0 {
			creates++
		}
		return drop(d)
	}
	p.b.core.Start(p.now) // only Azure dials
	p.run(childRecreateDelay + 2*time.Second)
	if len(established(p.a)) != 1 || creates == 0 {
		t.Fatalf("a holds %d IKE SAs and sent %d CREATE_CHILD_SA requests; want one SA and a request for a Child SA on it", len(established(p.a)), creates)
	}
}
