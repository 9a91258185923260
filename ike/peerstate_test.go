package ike

// Peers that keep or lose state in ways the soft-ix peer of the other
// tests does not: an IKE SA kept after its Child SA was refused, a
// restart without INITIAL_CONTACT (what a real Azure gateway may do).

import (
	"crypto/md5"
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
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

// TestPeerRestartWithoutInitialContact: the peer loses its state (a new
// gateway instance) and sets up a new IKE SA without INITIAL_CONTACT.
// The new SA replaces ours at once, whichever has the lower SPI; kept by
// the duplicate rule, our stale SA used to outlive every new one the
// peer made until its rekey (no DPD in the seed file).
func TestPeerRestartWithoutInitialContact(t *testing.T) {
	for i := 0; i < 8; i++ {
		p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
		p.a.core.Start(p.now)
		p.run(time.Minute)
		p.checkUp()
		n := p.b
		c, err := NewCore(CoreConfig{Config: testConfig(addrA, "k", true, nil), DataPlane: newFakeDP(), Transport: p.net,
			Logger: n.core.log, LocalAddr: n.core.opt.LocalAddr, NoInitialContact: true})
		if err != nil {
			t.Fatal(err)
		}
		n.dp, n.core = c.opt.DataPlane.(*fakeDP), c
		c.Start(p.now)
		p.run(5 * time.Second)
		ea, eb := established(p.a), established(p.b)
		if len(ea) != 1 || len(eb) != 1 || ea[0].spiI != eb[0].spiI {
			t.Fatalf("run %d: 5 s after the peer's restart a holds %d IKE SAs, b %d, not the same one", i, len(ea), len(eb))
		}
		if _, ok := p.b.dp.sas[dpKey{p.a.dp.outbound["Tunnel0.0"], true}]; !ok {
			t.Fatalf("run %d: a's traffic goes to an SA the restarted peer does not have", i)
		}
	}
}

// TestPFSRekeyAgainstAzure: Azure offers no PFS but answers an IX's PFS
// rekey (groups 2, 14, 24 on its responder list); an IX with child-pfs
// 2048-bit keeps its tunnel across Child SA rekeys against AzurePolicy,
// and the rekeyed Child SAs use the group.
func TestPFSRekeyAgainstAzure(t *testing.T) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"}, DH: []string{"1024-bit"},
		ChildEnc: []string{"aes-cbc-256"}, ChildIntegrity: []string{"sha2-256"}, ChildPFS: "2048-bit", ChildLifetime: 10 * time.Minute}
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", true, nil), nil)
	p.b.core.tunnels["Tunnel0.0"].pol = AzurePolicy()
	p.a.core.Start(p.now)
	p.run(2 * time.Second)
	first, _ := p.checkUp()
	p.run(25 * time.Minute)
	sa, _ := p.checkUp()
	ch := sa.liveChild()
	if sa != first || ch == nil || ch.suite.DH.ID != 14 {
		t.Fatalf("after two Child SA lifetimes: same IKE SA %v, live Child SA %+v; want one rekeyed with group 14", sa == first, ch)
	}
}

// TestPeerRestartVidInitialContact: Azure's gateway, as Windows' IKEv2
// does, says INITIAL_CONTACT with the Vid-Initial-Contact vendor ID in its
// IKE_SA_INIT request, not with the notify in IKE_AUTH ([MS-IKEE] §1.3.4).
// A peer that restarts seconds after the tunnel came up (an instance
// failing over right after a setup) replaces our stale SA at once, and
// our traffic goes to an SA it holds. Only the vendor ID says so here:
// the stale SA is younger than staleDuplicate, and by the duplicate rule
// alone we kept whichever SA had the lower SPI, a stale one half the
// time.
func TestPeerRestartVidInitialContact(t *testing.T) {
	for i := 0; i < 8; i++ {
		p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
		p.a.core.Start(p.now)
		p.run(2 * time.Second)
		p.checkUp()
		n := p.b
		c, err := NewCore(CoreConfig{Config: testConfig(addrA, "k", true, nil), DataPlane: newFakeDP(), Transport: p.net,
			Logger: n.core.log, LocalAddr: n.core.opt.LocalAddr, InitialContactVendorID: true})
		if err != nil {
			t.Fatal(err)
		}
		n.dp, n.core = c.opt.DataPlane.(*fakeDP), c
		var vid bool
		p.net.filter = func(d datagram) bool {
			if isInitRequest(d) && d.from.Addr() == addrB {
				m, err := decodePlain(d.pkt)
				vid = err == nil && m.hasVendorID(vendorIDInitialContact)
			}
			return false
		}
		c.Start(p.now)
		p.run(time.Second)
		if !vid {
			t.Fatal("the restarted peer's IKE_SA_INIT request has no Vid-Initial-Contact")
		}
		ea, eb := established(p.a), established(p.b)
		if len(ea) != 1 || len(eb) != 1 || ea[0].spiI != eb[0].spiI {
			t.Fatalf("run %d: 1 s after the peer's restart a holds %d IKE SAs, b %d, not the same one", i, len(ea), len(eb))
		}
		if _, ok := p.b.dp.sas[dpKey{p.a.dp.outbound["Tunnel0.0"], true}]; !ok {
			t.Fatalf("run %d: a's traffic goes to an SA the restarted peer does not have", i)
		}
	}
}

// TestVidInitialContactOnlyWithoutSA: an end that says INITIAL_CONTACT the
// Microsoft way sends the vendor ID only while it holds no IKE SA with the
// peer, as it would the notify: a second IKE SA beside a live one (both
// ends dialling) must not make the peer drop the first.
func TestVidInitialContactOnlyWithoutSA(t *testing.T) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), func(c *CoreConfig) {
		c.InitialContactVendorID = true
	})
	var vids []bool
	p.net.filter = func(d datagram) bool {
		if isInitRequest(d) && d.from.Addr() == addrA {
			m, err := decodePlain(d.pkt)
			vids = append(vids, err == nil && m.hasVendorID(vendorIDInitialContact))
		}
		return false
	}
	p.a.core.Start(p.now)
	p.run(2 * time.Second)
	first, _ := p.checkUp()
	ta := p.a.core.tunnels["Tunnel0.0"]
	p.a.core.initiate(p.now, ta)
	p.run(2 * time.Second)
	if len(vids) != 2 || !vids[0] || vids[1] {
		t.Fatalf("Vid-Initial-Contact in a's IKE_SA_INIT requests: %v; want in the first only", vids)
	}
	if first.state != StateEstablished && first.replacedBy == nil {
		t.Fatalf("the first IKE SA went (%v) without a successor", first.state)
	}
	p.checkUp()
}

// TestAzureFragmentsEveryExchange: Windows' IKEv2, so Azure's gateway,
// fragments (RFC 7383) any encrypted message above 576 bytes once both
// ends sent IKEV2_FRAGMENTATION_SUPPORTED ([MS-IKEE] §3.15.5.3), not
// only IKE_AUTH. An IX keeps its tunnel across Azure's setup, Child SA
// rekey, IKE SA rekey and liveness check all arriving in fragments (a
// smaller fragment size here, so that every one of them is cut).
func TestAzureFragmentsEveryExchange(t *testing.T) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), func(c *CoreConfig) {
		if c.LocalAddr(netip.Addr{}) == addrB {
			c.FragmentSize = 200
		}
	})
	p.b.core.tunnels["Tunnel0.0"].pol = AzurePolicy()
	frags := map[int]int{} // fragmented requests from b by exchange
	p.net.filter = func(d datagram) bool {
		if d.from.Addr() != addrB {
			return false
		}
		wm, err := wire.ParseMessage(d.pkt)
		if err == nil && !wm.Header.IsResponse() {
			if f := wm.EncryptedFragment(); f != nil && f.FragmentNumber == 1 {
				frags[int(wm.Header.Exchange)]++
			}
		}
		return false
	}
	p.b.core.Start(p.now) // only Azure dials
	p.run(2 * time.Second)
	sa, sb := p.checkUp()
	p.b.core.startChildRekey(p.now, sb, sb.liveChild())
	p.run(5 * time.Second)
	p.checkUp()
	p.b.core.startIKERekey(p.now, sb)
	p.run(5 * time.Second)
	sa2, sb2 := p.checkUp()
	p.b.core.startDPD(p.now, sb2)
	p.run(5 * time.Second)
	p.checkUp()
	if sa2 == sa || sa2.liveChild() == nil || sb2.liveChild() == nil {
		t.Fatal("the IKE SA rekey did not replace the SA with the Child SA moved")
	}
	for _, ex := range []int{exIKEAuth, exCreateChildSA} {
		if frags[ex] == 0 {
			t.Errorf("no fragmented %s request from Azure: %v", exchangeName(ex), frags)
		}
	}
}

// TestVendorIDInitialContact: the vendor ID is MD5("Vid-Initial-Contact")
// ([MS-IKEE] appendix A note 6).
func TestVendorIDInitialContact(t *testing.T) {
	if want := md5.Sum([]byte("Vid-Initial-Contact")); string(vendorIDInitialContact) != string(want[:]) {
		t.Fatalf("%x, want %x", vendorIDInitialContact, want)
	}
}

// TestAzureRekeysEveryTwentySeconds: Windows' IKE on a site-to-site
// tunnel checks a peer's liveness by rekeying the Child SA whenever it
// sent packets but received none for 20 s ([MS-IKEE] §3.12.4.2 and
// appendix A note 33), so traffic that flows only from Azure (a VNet
// sending to on-premises hosts that never answer) makes Azure rekey the
// Child SA every 20 s or so. The IX keeps one live Child SA pair through
// an hour of that, and no replaced SA stays installed past its grace.
func TestAzureRekeysEveryTwentySeconds(t *testing.T) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
	p.b.core.tunnels["Tunnel0.0"].pol = AzurePolicy()
	p.a.core.Start(p.now)
	p.run(2 * time.Second)
	p.checkUp()
	used := map[uint32]bool{p.a.dp.outbound["Tunnel0.0"]: true}
	for i := 0; i < 180; i++ {
		_, sb := p.checkUp()
		if ch := sb.liveChild(); ch != nil && ch.rekeying == nil {
			p.b.core.startChildRekey(p.now, sb, ch)
		}
		p.run(20 * time.Second)
		if n := p.a.dp.count(); n > 4 {
			t.Fatalf("after %d rekeys by Azure the IX holds %d SAs installed, want one pair (two during a rekey)", i+1, n)
		}
		used[p.a.dp.outbound["Tunnel0.0"]] = true
	}
	p.checkUp()
	if len(used) != 181 {
		t.Fatalf("the IX sent on %d Child SAs through 180 rekeys by Azure, want 181", len(used))
	}
}

// TestAzureInvalidSPINotify: Windows' IKE may report ESP that arrived on
// an SPI it does not know with an INVALID_SPI notify in an INFORMATIONAL
// request (RFC 7296 §2.21, [MS-IKEE] appendix A note 1). The IX answers
// it and keeps the IKE SA: the notify does not prove the Child SA gone,
// and Azure's own check (a Child SA rekey after 20 s without inbound
// packets) replaces a pair it lost.
func TestAzureInvalidSPINotify(t *testing.T) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
	p.b.core.tunnels["Tunnel0.0"].pol = AzurePolicy()
	p.a.core.Start(p.now)
	p.run(2 * time.Second)
	sa, sb := p.checkUp()
	answered := false
	p.b.core.request(p.now, sb, func(time.Time) *message {
		m := &message{Exchange: exInformational}
		m.Notifies = append(m.Notifies, notify{Protocol: protoESP, Type: 11, Data: be32(p.a.dp.outbound["Tunnel0.0"])})
		return m
	}, func(time.Time, *message) { answered = true })
	p.run(5 * time.Second)
	if sa2, _ := p.checkUp(); !answered || sa2 != sa {
		t.Fatalf("INVALID_SPI answered %v, IKE SA kept %v", answered, sa2 == sa)
	}
}

// TestVidInitialContactStaleRetransmit: a Vid-Initial-Contact is decided
// when the IKE_SA_INIT request is built, and a retransmission repeats it.
// Azure dials first and its first request is lost (the IX was not
// listening yet, as in "soft-ix lab"); the IX's own dial sets up an SA;
// Azure's retransmission, 2 s later, still says it holds no SA with us,
// though by then it holds the IX's. Both ends must settle on one SA
// without a moment in which either end's traffic goes to an SA the other
// does not hold. Before, the IX took the stale vendor ID at its word and
// dropped its SA while Azure's duplicate rule dropped the new one, half
// the time: the tunnel went down until the IX dialled again.
func TestVidInitialContactStaleRetransmit(t *testing.T) {
	for i := 0; i < 8; i++ {
		p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), func(c *CoreConfig) {
			c.InitialContactVendorID = c.LocalAddr(netip.Addr{}) == addrB
		})
		lost := false
		p.net.filter = func(d datagram) bool {
			if !lost && isInitRequest(d) && d.from.Addr() == addrB {
				lost = true
				return true
			}
			return false
		}
		p.b.core.Start(p.now)
		p.run(100 * time.Millisecond)
		p.a.core.Start(p.now)
		p.run(100 * time.Millisecond)
		p.checkUp()
		for step := 0; step < 100; step++ {
			p.run(100 * time.Millisecond)
			for _, n := range [][2]*node{{p.a, p.b}, {p.b, p.a}} {
				out, ok := n[0].dp.outbound["Tunnel0.0"]
				if _, held := n[1].dp.sas[dpKey{out, true}]; !ok || !held {
					t.Fatalf("run %d, %v after the IX dialled: %s sends on SPI %08x (%v), which %s does not hold",
						i, time.Duration(step+2)*100*time.Millisecond, n[0].addr, out, ok, n[1].addr)
				}
			}
		}
		p.checkUp()
	}
}
