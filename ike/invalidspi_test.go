package ike

import (
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// unknownSARequest is an IKE request for SPIs b does not know, with an
// SK-sized payload (an answer is never larger than the request).
func unknownSARequest(response bool, msgID uint32) []byte {
	h := wire.Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, MajorVersion: 2, Exchange: wire.INFORMATIONAL,
		Flags: wire.FlagInitiator, MessageID: msgID}
	if response {
		h.Flags |= wire.FlagResponse
	}
	return (&wire.Message{Header: h, Payloads: []wire.Payload{&wire.Raw{PayloadType: wire.PayloadSK, Body: make([]byte, 48)}}}).Append(nil)
}

func TestInvalidIKESPIAnswer(t *testing.T) {
	p := seedPair(t, nil)
	var answers [][]byte
	p.net.filter = func(d datagram) bool { answers = append(answers, d.pkt); return true }
	from, to := netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500)

	p.b.core.HandlePacket(p.now, unknownSARequest(true, 7), from, to)
	p.net.deliver(p.now)
	if len(answers) != 0 {
		t.Fatal("answered a response")
	}
	p.b.core.HandlePacket(p.now, unknownSARequest(false, 7), from, to)
	p.net.deliver(p.now)
	if len(answers) != 1 {
		t.Fatalf("%d answers to a request", len(answers))
	}
	m, err := decodePlain(answers[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.notify(nInvalidIKESPI) == nil || !m.Response || m.Initiator || m.Exchange != exInformational ||
		m.MsgID != 7 || m.SPIi != 0x0102030405060708 || m.SPIr != 0x1112131415161718 || m.HasSK {
		t.Fatalf("answer %+v", m)
	}

	// A flood from one address gets a burst of answers, then a trickle.
	answers = nil
	for i := 0; i < 100; i++ {
		p.b.core.HandlePacket(p.now, unknownSARequest(false, uint32(i)), from, to)
	}
	p.net.deliver(p.now)
	if len(answers) != invalidSPIBurst-1 {
		t.Fatalf("%d answers to a flood (burst %d, one spent)", len(answers), invalidSPIBurst)
	}
	answers = nil
	p.now = p.now.Add(time.Second)
	for i := 0; i < 100; i++ {
		p.b.core.HandlePacket(p.now, unknownSARequest(false, uint32(i)), from, to)
	}
	p.net.deliver(p.now)
	if len(answers) != invalidSPIRate {
		t.Fatalf("%d answers a second later (rate %d/s)", len(answers), invalidSPIRate)
	}
	// Another address has its own bucket; the total stays bounded.
	answers = nil
	for i := 0; i < 1000; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 500)
		p.b.core.HandlePacket(p.now, unknownSARequest(false, 1), src, to)
	}
	p.net.deliver(p.now)
	if len(answers) == 0 || len(answers) > invalidSPIGlobalRate {
		t.Fatalf("%d answers to 1000 addresses", len(answers))
	}
	many := len(answers)
	// A bare header is smaller than the answer: no answer.
	answers = nil
	bare := (&wire.Message{Header: wire.Header{SPIi: 9, SPIr: 9, MajorVersion: 2, Exchange: wire.INFORMATIONAL}}).Append(nil)
	p.b.core.HandlePacket(p.now.Add(time.Hour), bare, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.200"), 500), to)
	p.net.deliver(p.now)
	if len(answers) != 0 {
		t.Fatal("answered a request smaller than the answer")
	}
	st := p.b.core.Stats()
	if st.Failures.UnknownSPI != 1203 || st.InvalidSPISent != uint64(1+invalidSPIBurst-1+invalidSPIRate+many) {
		t.Fatalf("stats %+v", st)
	}
}

// TestInvalidIKESPIAfterPeerRestart: b forgets its SAs (restart); a's DPD
// gets INVALID_IKE_SPI, which a logs but does not trust: DPD still decides.
func TestInvalidIKESPIAfterPeerRestart(t *testing.T) {
	p, _, _ := upPair(t)
	cc := p.b.core.opt
	nb, err := NewCore(cc)
	if err != nil {
		t.Fatal(err)
	}
	p.b.core = nb
	invalid := 0
	p.net.filter = func(d datagram) bool {
		if d.from.Addr() == addrB {
			if m, err := decodePlain(d.pkt); err == nil && m.notify(nInvalidIKESPI) != nil {
				invalid++
			}
		}
		return false
	}
	sa := established(p.a)[0]
	p.a.core.startDPD(p.now, sa)
	p.run(time.Second)
	if invalid != 1 || p.a.core.Stats().Failures.Malformed != 0 {
		t.Fatalf("INVALID_IKE_SPI answers %d, a's stats %+v", invalid, p.a.core.Stats())
	}
	if len(established(p.a)) != 1 {
		t.Fatal("an unauthenticated notify tore the SA down")
	}
}

// TestStaleInvalidIKESPIIgnored: an INVALID_IKE_SPI for our request on an
// SA arrives after the peer has used that SA since the request went out
// (the answer to an early copy, delayed on the path). It must not make a
// connect-type end set up a new IKE SA beside the live one.
func TestStaleInvalidIKESPIIgnored(t *testing.T) {
	p, sa, sb := upAutoPair(t)
	inits := 0
	p.net.filter = func(d datagram) bool {
		if isInitRequest(d) {
			inits++
		}
		return d.from.Addr() == addrA // a's liveness check (and its answers) go unanswered for now
	}
	p.a.core.startDPD(p.now, sa)
	p.net.deliver(p.now)
	p.now = p.now.Add(100 * time.Millisecond)
	p.b.core.startDPD(p.now, sb) // reaches a: the peer spoke on sa after a's check went out
	p.net.deliver(p.now)
	stale := &message{SPIi: sa.spiI, SPIr: sa.spiR, Exchange: exInformational, Response: true,
		Initiator: !sa.initiator, MsgID: sa.pending.msgID}
	stale.addNotify(nInvalidIKESPI, nil)
	pkt, err := encodePlain(stale)
	if err != nil {
		t.Fatal(err)
	}
	p.a.core.HandlePacket(p.now, pkt, netip.AddrPortFrom(addrB, 500), netip.AddrPortFrom(addrA, 500))
	p.net.deliver(p.now)
	if inits != 0 {
		t.Fatal("a stale INVALID_IKE_SPI made a set up a new IKE SA")
	}
	p.net.filter = nil
	p.run(10 * time.Second)
	if sa2, _ := p.checkUp(); sa2 != sa {
		t.Fatal("the live IKE SA was replaced")
	}
}
