package ike

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

func TestEstablishInitiatorResponder(t *testing.T) {
	p := newPair(t, testConfig(addrB, "P@ssw0rd1234", true, nil), testConfig(addrA, "P@ssw0rd1234", false, nil), nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, sb := p.checkUp()
	if !sa.initiator || sb.initiator {
		t.Fatalf("roles: a initiator=%v b initiator=%v", sa.initiator, sb.initiator)
	}
	if sa.suite.Enc.Name != "AES-CBC-256" || sa.suite.Integ.Name != "HMAC-SHA1-96" || sa.suite.DH.ID != 2 {
		t.Fatalf("suite %+v", sa.suite)
	}
	if got := len(sa.children); got != 1 {
		t.Fatalf("children %d", got)
	}
	ch := sa.children[0]
	if ch.suite.Enc.Name != "AES-CBC-256" || ch.suite.Integ.Name != "HMAC-SHA2-256-128" {
		t.Fatalf("child suite %+v", ch.suite)
	}
}

func seedPair(t *testing.T, tweak func(*CoreConfig)) *pair {
	return newPair(t, testConfig(addrB, "P@ssw0rd1234", true, nil), testConfig(addrA, "P@ssw0rd1234", false, nil), tweak)
}

func upPair(t *testing.T) (*pair, *ikeSA, *ikeSA) {
	p := seedPair(t, nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, sb := p.checkUp()
	return p, sa, sb
}

// upAutoPair is upPair with both ends connect-type, as an IX and Azure
// are: each initiates, and one IKE SA survives.
func upAutoPair(t *testing.T) (*pair, *ikeSA, *ikeSA) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
	p.a.core.Start(p.now)
	p.b.core.Start(p.now)
	p.run(10 * time.Second)
	sa, sb := p.checkUp()
	return p, sa, sb
}

func TestChildRekeyEachSide(t *testing.T) {
	for _, byResponder := range []bool{false, true} {
		p, sa, sb := upPair(t)
		n, s := p.a, sa
		if byResponder {
			n, s = p.b, sb
		}
		old := s.children[0]
		n.core.startChildRekey(p.now, s, old)
		p.run(5 * time.Second)
		sa2, sb2 := p.checkUp()
		if len(sa2.children) != 1 || len(sb2.children) != 1 {
			t.Fatalf("byResponder=%v: children a=%d b=%d", byResponder, len(sa2.children), len(sb2.children))
		}
		if sa2.children[0].inSPI == old.inSPI || sa2.children[0].inSPI == old.outSPI {
			t.Fatalf("byResponder=%v: child not replaced", byResponder)
		}
		if p.a.dp.count() != 2 || p.b.dp.count() != 2 {
			t.Fatalf("byResponder=%v: data plane SAs a=%d b=%d", byResponder, p.a.dp.count(), p.b.dp.count())
		}
	}
}

func TestIKERekeyEachSide(t *testing.T) {
	for _, byResponder := range []bool{false, true} {
		p, sa, sb := upPair(t)
		n, s := p.a, sa
		if byResponder {
			n, s = p.b, sb
		}
		n.core.startIKERekey(p.now, s)
		p.run(5 * time.Second)
		sa2, sb2 := p.checkUp()
		if sa2 == sa || sb2 == sb || sa2.serial != 2 {
			t.Fatalf("byResponder=%v: IKE SA not replaced (serial %d)", byResponder, sa2.serial)
		}
		if sa2.initiator == byResponder {
			t.Fatalf("byResponder=%v: new IKE SA's initiator is the rekey's initiator", byResponder)
		}
		if len(sa2.children) != 1 || len(sb2.children) != 1 {
			t.Fatalf("children not moved")
		}
		// The new SA works: a child rekey over it.
		p.a.core.startChildRekey(p.now, sa2, sa2.children[0])
		p.run(5 * time.Second)
		p.checkUp()
	}
}

// TestChildRekeyCollision: both ends rekey the same Child SA at once; the
// lowest-nonce rule leaves exactly one new pair on both.
func TestChildRekeyCollision(t *testing.T) {
	for i := 0; i < 20; i++ {
		p, sa, sb := upPair(t)
		p.a.core.startChildRekey(p.now, sa, sa.children[0])
		p.b.core.startChildRekey(p.now, sb, sb.children[0])
		p.run(10 * time.Second)
		sa2, sb2 := p.checkUp()
		if len(sa2.children) != 1 || len(sb2.children) != 1 {
			t.Fatalf("run %d: children a=%d b=%d", i, len(sa2.children), len(sb2.children))
		}
		if p.a.dp.count() != 2 || p.b.dp.count() != 2 {
			t.Fatalf("run %d: data plane SAs a=%d b=%d\na: %v\nb: %v", i, p.a.dp.count(), p.b.dp.count(), p.a.dp.log, p.b.dp.log)
		}
	}
}

// TestIKERekeyCollision: both ends rekey the IKE SA at once.
func TestIKERekeyCollision(t *testing.T) {
	for i := 0; i < 20; i++ {
		p, sa, sb := upPair(t)
		p.a.core.startIKERekey(p.now, sa)
		p.b.core.startIKERekey(p.now, sb)
		p.run(10 * time.Second)
		sa2, sb2 := p.checkUp()
		if len(sa2.children) != 1 || len(sb2.children) != 1 {
			t.Fatalf("run %d: children a=%d b=%d", i, len(sa2.children), len(sb2.children))
		}
		if len(p.a.core.sas) != 1 || len(p.b.core.sas) != 1 {
			t.Fatalf("run %d: IKE SAs a=%d b=%d", i, len(p.a.core.sas), len(p.b.core.sas))
		}
	}
}

// TestLostAndDuplicated drops every other packet once and duplicates the
// rest: retransmission and the reply cache bring the tunnel up anyway.
func TestLostAndDuplicated(t *testing.T) {
	p := seedPair(t, nil)
	n := 0
	p.net.filter = func(d datagram) bool {
		n++
		if n%2 == 1 && n < 12 {
			return true // lost
		}
		p.net.queue = append(p.net.queue, d) // duplicated (delivered again later)
		return false
	}
	p.a.core.Start(p.now)
	p.run(30 * time.Second)
	p.net.filter = nil
	p.run(time.Second)
	p.checkUp()
	sa, _ := p.checkUp()
	p.net.filter = func(d datagram) bool { n++; return n%2 == 1 }
	p.a.core.startChildRekey(p.now, sa, sa.children[0])
	p.run(30 * time.Second)
	p.net.filter = nil
	p.run(5 * time.Second)
	p.checkUp()
}

func TestWrongPSK(t *testing.T) {
	p := newPair(t, testConfig(addrB, "right", true, nil), testConfig(addrA, "wrong", false, nil), nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	if len(established(p.a)) != 0 || len(established(p.b)) != 0 {
		t.Fatal("established with different keys")
	}
	if p.a.dp.count() != 0 || p.b.dp.count() != 0 {
		t.Fatal("Child SAs installed")
	}
	if !p.a.core.tunnels["Tunnel0.0"].retryAt.After(p.now) {
		t.Fatal("no re-initiation scheduled")
	}
}

func TestInvalidKERetry(t *testing.T) {
	profA := &testProfile{Enc: []string{"aes-cbc-128"}, Integrity: []string{"sha2-256"},
		DH: []string{"256-bit-ecp", "2048-bit"}, ChildEnc: []string{"aes-gcm-256"}}
	profB := &testProfile{Enc: []string{"aes-cbc-128"}, Integrity: []string{"sha2-256"},
		DH: []string{"2048-bit"}, ChildEnc: []string{"aes-gcm-256"}}
	p := newPair(t, testConfig(addrB, "k", true, profA), testConfig(addrA, "k", false, profB), nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, _ := p.checkUp()
	if sa.suite.DH.ID != 14 {
		t.Fatalf("DH %d", sa.suite.DH.ID)
	}
	if sa.children[0].suite.Enc.Name != "AES-GCM-256" {
		t.Fatalf("child %+v", sa.children[0].suite)
	}
}

func TestCookie(t *testing.T) {
	p := seedPair(t, func(c *CoreConfig) { c.CookieThreshold = 1 })
	// A half-open SA from elsewhere makes b demand cookies.
	p.b.core.halfOpen[halfOpenKey{netip.MustParseAddrPort("192.0.2.9:500"), 1}] = &ikeSA{}
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, _ := p.checkUp()
	if sa.cookie == nil {
		t.Fatal("no cookie exchanged")
	}
}

func TestFragmentation(t *testing.T) {
	p := seedPair(t, func(c *CoreConfig) { c.FragmentSize = 300 })
	big := 0
	p.net.filter = func(d datagram) bool {
		if len(d.pkt) > 304 {
			big++
		}
		return false
	}
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.checkUp()
	if big > 2 { // only the two IKE_SA_INIT messages may exceed it
		t.Fatalf("%d datagrams above the fragment size", big)
	}
}

func TestDPDPeerDeath(t *testing.T) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"},
		DH: []string{"1024-bit"}, DPDInterval: 10 * time.Second}
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", false, prof),
		func(c *CoreConfig) { c.RetransmitBase = time.Second; c.RetransmitTries = 3 })
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.checkUp()
	p.run(time.Minute) // DPD both ways keeps it up
	p.checkUp()
	p.net.filter = func(datagram) bool { return true } // b dies
	p.run(40 * time.Second)
	if len(established(p.a)) != 0 || p.a.dp.count() != 0 {
		t.Fatal("dead peer's SAs kept")
	}
	p.net.filter = nil // b is back (it also declared a dead)
	p.run(5 * time.Minute)
	p.checkUp()
}

// TestDPDRetransmitsSpread: a liveness check into a silent path has its
// tries spread over the DPD timeout rather than spent in its first 14 s,
// and the peer is declared dead at the timeout, neither later nor sooner:
// with the defaults (2 s base, 5 tries, 30 s) at 0, 2, 6, 12, 18 and 24 s,
// and with Azure's 45 s timeout at 0, 2, 6, 14, 23 and 32 s.
func TestDPDRetransmitsSpread(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		timeout time.Duration
		sent    []time.Duration
	}{
		{0, []time.Duration{0, 2 * s, 6 * s, 12 * s, 18 * s, 24 * s}},
		{45 * s, []time.Duration{0, 2 * s, 6 * s, 14 * s, 23 * s, 32 * s}},
	} {
		p := seedPair(t, func(c *CoreConfig) { c.DPDTimeout = tc.timeout })
		p.a.core.Start(p.now)
		p.run(time.Second)
		sa, _ := p.checkUp()
		timeout := p.a.core.opt.DPDTimeout
		start := p.now
		var sent []time.Duration
		p.net.filter = func(d datagram) bool {
			if d.from.Addr() == addrA {
				if h, err := wire.ParseHeader(d.pkt); err == nil && h.Exchange == wire.INFORMATIONAL && !h.IsResponse() {
					sent = append(sent, p.now.Sub(start))
				}
			}
			return true // the path is silent
		}
		p.a.core.startDPD(p.now, sa)
		var deadAt time.Duration
		for p.now.Sub(start) < 2*timeout && deadAt == 0 {
			p.run(100 * time.Millisecond)
			if sa.state == StateDead || len(established(p.a)) == 0 {
				deadAt = p.now.Sub(start)
			}
		}
		if !slices.Equal(sent, tc.sent) {
			t.Errorf("DPD timeout %v: liveness check sent at %v, want %v", timeout, sent, tc.sent)
		}
		if deadAt != timeout {
			t.Errorf("DPD timeout %v: peer declared dead %v after the check", timeout, deadAt)
		}
	}
}

// TestAzureOffer: a responder configured with the seed's profile accepts
// Azure's whole default offer and picks what its config allows.
func TestAzureOffer(t *testing.T) {
	az := AzurePolicy()
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha2-256"},
		DH: []string{"1024-bit"}, ChildEnc: []string{"aes-cbc-256"}, ChildIntegrity: []string{"sha2-256"}}
	pol := prof.policy()
	s, chosen, ok := chooseIKE(&pol, ikeOffer(&az, nil, 0))
	if !ok || s.Enc.Name != "AES-CBC-256" || s.Integ.Name != "HMAC-SHA2-256-128" || chosen.Num != 2 {
		t.Fatalf("IKE choice %+v num %d ok %v", s, chosen.Num, ok)
	}
	cs, cp, ok := chooseChild(&pol, childOffer(&az, 0x1234, false), false)
	if !ok || cs.Enc.Name != "AES-CBC-256" || cs.Integ.Name != "HMAC-SHA2-256-128" || cp.Num != 4 {
		t.Fatalf("child choice %+v num %d ok %v", cs, cp.Num, ok)
	}
	// And a full exchange: an Azure-policy initiator against it.
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", false, prof), nil)
	p.a.core.tunnels["Tunnel0.0"].pol = az
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, _ := p.checkUp()
	if sa.suite.Integ.Name != "HMAC-SHA2-256-128" || sa.children[0].suite.Integ.Name != "HMAC-SHA2-256-128" {
		t.Fatalf("suites %+v %+v", sa.suite, sa.children[0].suite)
	}
}

func TestLifetimesRekeyAutomatically(t *testing.T) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"},
		DH: []string{"1024-bit"}, Lifetime: time.Hour, ChildLifetime: 10 * time.Minute}
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", false, prof), nil)
	p.a.core.Start(p.now)
	p.run(3 * time.Hour)
	sa, _ := p.checkUp()
	if sa.serial < 3 {
		t.Fatalf("serial %d after 3 lifetimes", sa.serial)
	}
	if p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		t.Fatalf("data plane SAs a=%d b=%d", p.a.dp.count(), p.b.dp.count())
	}
}

func TestUnknownPeerRejected(t *testing.T) {
	cfgB := testConfig(netip.MustParseAddr("192.0.2.77"), "k", false, nil)
	p := newPair(t, testConfig(addrB, "k", true, nil), cfgB, nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	if len(established(p.a)) != 0 || len(established(p.b)) != 0 {
		t.Fatal("unknown peer accepted")
	}
}

func TestPeerAnyWithID(t *testing.T) {
	cfgB := testConfig(addrA, "k", false, nil)
	tun := &cfgB.Tunnels[0]
	tun.Peer, tun.PeerAny = netip.Addr{}, true
	p := newPair(t, testConfig(addrB, "k", true, nil), cfgB, nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.checkUp()
}

func TestNATKeepalive(t *testing.T) {
	p, sa, _ := upPair(t)
	sa.natLocal, sa.encap = true, true
	sa.local = netip.AddrPortFrom(sa.local.Addr(), 4500)
	sa.remote = netip.AddrPortFrom(sa.remote.Addr(), 4500)
	p.a.core.mark(sa)
	keepalives := 0
	p.net.filter = func(d datagram) bool {
		if len(d.pkt) == 1 && d.pkt[0] == 0xff {
			keepalives++
			return true
		}
		return false
	}
	p.run(65 * time.Second)
	if keepalives != 3 {
		t.Fatalf("%d keepalives in 65 s, want 3", keepalives)
	}
}

func TestClearSAReinitiates(t *testing.T) {
	p, sa, _ := upPair(t)
	p.run(stableUp) // up long enough to count as a success
	m := &Manager{core: p.a.core, now: func() time.Time { return p.now }, wake: make(chan struct{}, 1)}
	if n := m.ClearSA(addrB); n != 1 {
		t.Fatalf("cleared %d", n)
	}
	p.run(time.Millisecond) // connect-type auto: back at once
	sa2, sb2 := p.checkUp()
	if sa2 == sa || p.b.core.sas[sa.spiR] != nil || sb2.spiR == sa.spiR {
		t.Fatal("same SA, or the peer kept the old one after our DELETE")
	}
	if p.b.dp.count() != 2 {
		t.Fatalf("peer has %d Child SAs installed, want the new pair", p.b.dp.count())
	}
}

func TestReloadChangedTunnel(t *testing.T) {
	p, sa, _ := upPair(t)
	m := &Manager{core: p.a.core, now: func() time.Time { return p.now }, wake: make(chan struct{}, 1)}
	prof := seedProfile()
	prof.Enc = []string{"aes-cbc-128", "aes-cbc-256"}
	cfg := testConfig(addrB, "P@ssw0rd1234", true, prof)
	if err := m.Reload(cfg, nil); err != nil {
		t.Fatal(err)
	}
	p.run(time.Second)
	if sa2, _ := p.checkUp(); sa2 != sa {
		t.Fatal("unchanged tunnel lost its SA")
	}
	if err := m.Reload(cfg, []string{"Tunnel0.0"}); err != nil {
		t.Fatal(err)
	}
	p.run(time.Second)
	sa3, _ := p.checkUp()
	if sa3 == sa || sa3.suite.Enc.Name != "AES-CBC-256" {
		t.Fatalf("changed tunnel: same SA or suite %s", sa3.suite.Enc.Name)
	}
}

func TestShowData(t *testing.T) {
	p, sa, _ := upPair(t)
	ikes := p.a.core.IKESAs(p.now)
	if len(ikes) != 1 || ikes[0].SPIi != sa.spiI || !ikes[0].Initiator || ikes[0].PeerID != "IPV4-ADDR "+addrB.String() ||
		ikes[0].Enc != "AES-CBC-256" || ikes[0].Integ != "HMAC-SHA1-96" || ikes[0].Serial != 1 || ikes[0].RemainLifetime <= 0 {
		t.Fatalf("IKE SA info %+v", ikes)
	}
	ch := p.a.core.ChildSAs(p.now)
	if len(ch) != 1 || ch[0].Hash != "HMAC-SHA2-256-128" || !ch[0].Outbound || ch[0].Out.Packets != 1 || ch[0].Protocol != "ESP" {
		t.Fatalf("Child SA info %+v", ch)
	}
}

func TestKeyLog(t *testing.T) {
	var buf strings.Builder
	p := seedPair(t, func(c *CoreConfig) { c.KeyLog = &buf })
	p.a.core.Start(p.now)
	p.run(time.Second)
	p.checkUp()
	out := buf.String()
	if strings.Count(out, "ikev2_decryption_table: ") != 2 || strings.Count(out, "esp_sa: ") != 4 ||
		!strings.Contains(out, "AES-CBC-256 [RFC3602]") || !strings.Contains(out, "HMAC-SHA-256-128 [RFC4868]") {
		t.Fatalf("key log:\n%s", out)
	}
}

// TestBothInitiate: both ends connect-type auto at the same moment; they
// end with one IKE SA and one Child SA pair.
func TestBothInitiate(t *testing.T) {
	for i := 0; i < 10; i++ {
		p, _, _ := upAutoPair(t)
		if p.a.dp.count() != 2 || p.b.dp.count() != 2 || len(p.a.core.sas) != 1 || len(p.b.core.sas) != 1 {
			t.Fatalf("run %d: SAs a=%d/%d b=%d/%d", i, len(p.a.core.sas), p.a.dp.count(), len(p.b.core.sas), p.b.dp.count())
		}
		p.run(time.Hour) // rekeys on the survivor keep working
		p.checkUp()
	}
}

func TestVolumeExpiry(t *testing.T) {
	p, sa, _ := upPair(t)
	m := &Manager{core: p.a.core, now: func() time.Time { return p.now }, wake: make(chan struct{}, 1)}
	old := sa.children[0]
	m.SoftExpired(old.outSPI, false)
	p.run(5 * time.Second)
	sa2, _ := p.checkUp()
	if len(sa2.children) != 1 || sa2.children[0] == old {
		t.Fatal("soft expiry did not rekey the Child SA")
	}
	spent := sa2.children[0]
	m.HardExpired(spent.inSPI, true)
	p.run(5 * time.Second)
	sa3, _ := p.checkUp()
	if len(sa3.children) != 1 || sa3.children[0] == spent {
		t.Fatal("hard expiry did not replace the Child SA")
	}
}

// TestPeerRekeyWithoutDelete: the peer rekeys a Child SA and its DELETE of
// the old one is lost for good; we switch and clean up on our own.
func TestPeerRekeyWithoutDelete(t *testing.T) {
	p, sa, sb := upPair(t)
	old := sb.children[0]
	p.a.core.startChildRekey(p.now, sa, sa.children[0])
	p.net.deliver(p.now) // request and answer
	// Drop every DELETE a sends from now on, and a's retransmissions.
	p.net.filter = func(d datagram) bool { return d.from.Addr() == addrA }
	p.run(time.Minute)
	p.net.filter = nil
	if p.b.dp.outbound["Tunnel0.0"] == old.outSPI {
		t.Fatal("b still sends on the replaced Child SA")
	}
	if _, ok := p.b.dp.sas[dpKey{old.inSPI, true}]; ok {
		t.Fatal("b kept the replaced Child SA")
	}
}

func TestUnsupportedCriticalPayload(t *testing.T) {
	p := seedPair(t, nil)
	wm := &wire.Message{Header: wire.Header{SPIi: 0x1122334455667788, MajorVersion: 2, Exchange: wire.IKE_SA_INIT,
		Flags: wire.FlagInitiator}, Payloads: []wire.Payload{&wire.Raw{PayloadType: 200, Critical: true, Body: []byte{1, 2}}}}
	var answer []byte
	p.net.filter = func(d datagram) bool { answer = d.pkt; return true }
	p.b.core.HandlePacket(p.now, wm.Append(nil), netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500))
	p.net.deliver(p.now)
	m, err := decodePlain(answer)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if n := m.notify(nUnsupportedCritical); n == nil || len(n.Data) != 1 || n.Data[0] != 200 {
		t.Fatalf("answer notifies %+v", m.Notifies)
	}
}

// TestForceUDPEncap: with ForceUDPEncap on either side and no NAT between
// them, both IKE SAs float to the NAT-T port and both Child SA pairs carry
// ESP in UDP; without it they stay on raw ESP.
func TestForceUDPEncap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		forced    netip.Addr // the side that forces; invalid: neither
		wantEncap bool
	}{
		{"initiator", addrA, true},
		{"responder", addrB, true},
		{"neither", netip.Addr{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", false, nil), func(cc *CoreConfig) {
				cc.ForceUDPEncap = cc.LocalAddr(netip.Addr{}) == tc.forced
			})
			p.a.core.Start(p.now)
			p.run(time.Second)
			sa, sb := p.checkUp()
			for _, x := range []*ikeSA{sa, sb} {
				if x.encap != tc.wantEncap {
					t.Errorf("IKE SA encap %v, want %v", x.encap, tc.wantEncap)
				}
				if tc.wantEncap && (x.local.Port() != 4500 || x.remote.Port() != 4500) {
					t.Errorf("IKE SA on %v -> %v, want the NAT-T port", x.local, x.remote)
				}
			}
			for _, n := range []*node{p.a, p.b} {
				for k, c := range n.dp.sas {
					if c.UDPEncap != tc.wantEncap {
						t.Errorf("%v: Child SA %08x UDPEncap %v, want %v", n.addr, k.spi, c.UDPEncap, tc.wantEncap)
					}
				}
			}
		})
	}
}

// TestRekeyIntoDeadPeerBoundedByDPD: with DPD configured, a rekey request
// the peer never answers (it died or rebooted mid-rekey) gives up after
// the DPD timeout, not after the whole retransmission schedule: while it
// is pending no DPD probe can start.
func TestRekeyIntoDeadPeerBoundedByDPD(t *testing.T) {
	prof := seedProfile()
	prof.ChildLifetime, prof.DPDInterval = 20*time.Second, 10*time.Second
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", false, prof), nil)
	p.a.core.Start(p.now)
	p.run(15 * time.Second) // one DPD round at 10 s, answered
	p.checkUp()
	p.net.filter = func(datagram) bool { return true } // b dies before the Child SA rekey (17-18 s)
	p.run(5 * time.Second)
	if sas := established(p.a); len(sas) != 1 || sas[0].pending == nil {
		t.Fatal("no rekey request pending at 20 s")
	}
	p.run(35 * time.Second) // rekey sent at most 18 s in, DPD timeout 30 s
	if len(established(p.a)) != 0 {
		t.Fatal("the IKE SA of a peer that died mid-rekey is still up 50 s in")
	}
}
