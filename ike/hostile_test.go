package ike

import (
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// fixedReader is a deterministic random source for test DH keys.
type fixedReader struct{}

func (fixedReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return len(b), nil
}

// initRequest is an IKE_SA_INIT request of pol with SPIi spi, nonce, an
// optional COOKIE and a Vendor ID of pad bytes.
func initRequest(t *testing.T, pol *Policy, spi uint64, nonce, cookie []byte, pad int) []byte {
	t.Helper()
	g := pol.IKEDH[0].ID
	dh, err := newDH(g, fixedReader{})
	if err != nil {
		t.Fatal(err)
	}
	m := &message{SPIi: spi, Exchange: exIKESAInit, Initiator: true}
	if cookie != nil {
		m.addNotify(nCookie, cookie)
	}
	m.SA = ikeOffer(pol, nil, g)
	m.KEGroup, m.KE, m.Nonce = g, dh.Public(), nonce
	pkt, err := encodePlain(m)
	if err != nil {
		t.Fatal(err)
	}
	if pad == 0 {
		return pkt
	}
	wm, err := wire.ParseMessage(pkt)
	if err != nil {
		t.Fatal(err)
	}
	wm.Payloads = append(wm.Payloads, &wire.VendorID{Data: make([]byte, pad)})
	return wm.Append(nil)
}

// TestHalfOpenBoundedPerAddress: a cookie proves an address, not a port.
// One address that got a cookie and sends the request again from 2,000
// ports gets maxHalfOpenPerAddr half-open SAs, not 2,000 (each held a DH
// key and the whole request, 133 MiB in all with 60 KB Vendor IDs); a
// request above maxInitRequest gets none.
func TestHalfOpenBoundedPerAddress(t *testing.T) {
	p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), func(c *CoreConfig) { c.CookieThreshold = 10 })
	b := p.b.core
	attacker := netip.MustParseAddr("192.0.2.50")
	to := netip.AddrPortFrom(addrB, 500)
	pol := b.responderPolicy(attacker)
	nonce := make([]byte, 32)
	const spi = 0x1122334455667788
	cookie := b.cookieFor(nonce, attacker, spi)
	pkt := initRequest(t, pol, spi, nonce, cookie, 4000)
	// The threshold is reached with requests spoofed from the real
	// peer's address (no cookie needed yet): they must not use up its
	// share.
	for i := 0; i < 20; i++ {
		b.HandlePacket(p.now, initRequest(t, pol, uint64(1000+i), nonce, nil, 0), netip.AddrPortFrom(addrA, uint16(1000+i)), to)
	}
	for port := 1; port <= 2000; port++ {
		b.HandlePacket(p.now, pkt, netip.AddrPortFrom(attacker, uint16(port)), to)
	}
	if n := b.halfOpenByAddr[attacker]; n != maxHalfOpenPerAddr {
		t.Errorf("the address holds %d half-open SAs, want %d", n, maxHalfOpenPerAddr)
	}
	if got := b.stats.snapshot().Failures.HalfOpenLimited; got != 2000-maxHalfOpenPerAddr {
		t.Errorf("HalfOpenLimited = %d, want %d", got, 2000-maxHalfOpenPerAddr)
	}
	const peerSPI = 0x5151
	b.HandlePacket(p.now, initRequest(t, pol, peerSPI, nonce, b.cookieFor(nonce, addrA, peerSPI), 0), netip.AddrPortFrom(addrA, 500), to)
	if b.halfOpen[halfOpenKey{netip.AddrPortFrom(addrA, 500), peerSPI}] == nil {
		t.Error("the peer's own request with its cookie was dropped after requests spoofed from its address")
	}
	before := len(b.halfOpen)
	big := initRequest(t, pol, 0x99, nonce, nil, maxInitRequest)
	b.HandlePacket(p.now, big, netip.MustParseAddrPort("203.0.113.9:500"), to)
	if len(b.halfOpen) != before {
		t.Error("an IKE_SA_INIT request above maxInitRequest made a half-open SA")
	}
	// The half-open SAs time out and the count follows them.
	p.run(time.Minute)
	if len(b.halfOpen) != 0 || len(b.halfOpenByAddr) != 0 {
		t.Errorf("after a minute: %d half-open SAs, %d addresses counted", len(b.halfOpen), len(b.halfOpenByAddr))
	}
}

// TestUnauthenticatedFragmentsBounded: whoever completes IKE_SA_INIT
// (no credentials needed) holds the keys of a half-open SA, and could
// make it buffer 64 fragments of 64 KiB before authenticating (3.8 MB
// held for 30 s, and a gigabyte allocated when decoded as Delete
// payloads of 1-byte SPIs). Fragments of an unauthenticated message
// stop at maxUnauthMessage, and Delete payloads take only the SPI sizes
// RFC 7296 allows.
func TestUnauthenticatedFragmentsBounded(t *testing.T) {
	p := seedPair(t, nil)
	p.net.filter = func(d datagram) bool { // IKE_AUTH never reaches b
		return d.to.Addr() == addrB && len(d.pkt) > 19 && d.pkt[18] == exIKEAuth
	}
	p.a.core.Start(p.now)
	p.run(100 * time.Millisecond)
	var sa *ikeSA
	for _, s := range p.a.core.sas {
		sa = s
	}
	if sa == nil || sa.out == nil || !sa.fragOK {
		t.Fatal("a holds no keyed SA with fragmentation negotiated")
	}
	var ps []wire.Payload
	for i := 0; i < 64; i++ {
		ps = append(ps, &wire.VendorID{Data: make([]byte, 60000)})
	}
	h := wire.Header{SPIi: sa.spiI, SPIr: sa.spiR, MajorVersion: 2, Exchange: exIKEAuth, Flags: wire.FlagInitiator, MessageID: 1}
	frags, err := sa.out.SealFragments(h, ps, 65000)
	if err != nil {
		t.Fatal(err)
	}
	var bsa *ikeSA
	for _, s := range p.b.core.sas {
		bsa = s
	}
	most := 0
	for _, f := range frags[:len(frags)-1] {
		p.b.core.HandlePacket(p.now, f, netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500))
		if bsa.frags != nil && bsa.frags.bytes > most {
			most = bsa.frags.bytes
		}
	}
	if most > maxUnauthMessage {
		t.Errorf("a half-open SA buffered %d bytes of fragments, bound %d", most, maxUnauthMessage)
	}
	if _, err := wire.ParsePayloads(wire.PayloadDelete, []byte{0, 0, 0, 12, 3, 1, 0, 4, 1, 2, 3, 4}); err == nil {
		t.Error("a Delete of ESP with 1-byte SPIs parsed")
	}
}

// TestOutboundSPICollision: peers choose our outbound SPIs, so one may
// pick an SPI another tunnel's outbound SA has (by chance on a large
// hub, or on purpose). The data plane refuses the install; the Child SA
// must then neither take the tunnel's traffic nor, when it goes, delete
// the other tunnel's SA under that SPI (it did: the other tunnel was
// left without an outbound SA), and a rekey brings it a usable SPI.
func TestOutboundSPICollision(t *testing.T) {
	p := seedPair(t, nil)
	var taken uint32
	p.a.dp.collide = func(sa childsa.SA) bool {
		if taken == 0 {
			taken = sa.SPI
			return true
		}
		return false
	}
	p.a.core.Start(p.now)
	p.run(10 * time.Second)
	if taken == 0 {
		t.Fatal("no outbound SA was installed")
	}
	if other, ok := p.a.dp.sas[dpKey{taken, false}]; !ok || other.Tunnel != "Tunnel9.0" {
		t.Errorf("the other tunnel's outbound SA %08x is gone: %+v", taken, other)
	}
	out := p.a.dp.outbound["Tunnel0.0"]
	if sa, ok := p.a.dp.sas[dpKey{out, false}]; out == taken || !ok || sa.Tunnel != "Tunnel0.0" {
		t.Errorf("Tunnel0.0's traffic leaves by %08x (%+v), want its own rekeyed SA", out, sa)
	}
}

// TestSelectorRangesArePrefixes: a traffic selector whose range is no
// prefix became no prefix at all, and a list left empty meant any
// address to the data plane (its check failed open). Ranges now become
// the prefixes that cover them exactly; a list of none is unacceptable.
func TestSelectorRangesArePrefixes(t *testing.T) {
	a := netip.MustParseAddr
	sel := func(s, e string) selector { return selector{StartAddr: a(s), EndAd: a(e), EndPort: 65535} }
	got := prefixes([]selector{sel("10.0.0.5", "10.0.0.9"), sel("0.0.0.0", "255.255.255.255"), sel("2001:db8::", "2001:db8::ffff"), sel("10.0.0.9", "10.0.0.5")})
	want := []string{"10.0.0.5/32", "10.0.0.6/31", "10.0.0.8/31", "0.0.0.0/0", "2001:db8::/112"}
	if len(got) != len(want) {
		t.Fatalf("prefixes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %v, want %s", i, got[i], want[i])
		}
	}
	if selectorsAcceptable([]selector{sel("10.0.0.9", "10.0.0.5")}) {
		t.Error("a selector list of only an inverted range is acceptable")
	}
	wide := sel("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe") // 254 prefixes
	if !selectorsAcceptable([]selector{wide}) || selectorsAcceptable([]selector{wide, wide}) {
		t.Errorf("%d prefixes acceptable: %v; twice as many: %v, want only the first (bound %d)",
			len(prefixes([]selector{wide})), selectorsAcceptable([]selector{wide}), selectorsAcceptable([]selector{wide, wide}), maxSelectorPrefixes)
	}
}

// TestForgedInitAnswers: nothing in an IKE_SA_INIT answer is
// authenticated. An answer from another address than the peer's
// (NO_PROPOSAL_CHOSEN, or a COOKIE that makes the real answer's AUTH
// fail on both ends, logged as a PSK mismatch) and a COOKIE longer than
// RFC 7296's 64 octets are ignored; a refusal or an answer without a
// proposal from the peer's own address (an attacker on the path, who saw
// our SPI) holds the request open for the peer's own answer (RFC 7296
// §2.21.1). Each time the real answer sets the SA up, in the same attempt.
func TestForgedInitAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		from netip.AddrPort
		typ  int
		data []byte
	}{
		{"NO_PROPOSAL_CHOSEN from elsewhere", netip.MustParseAddrPort("192.0.2.99:500"), nNoProposalChosen, nil},
		{"COOKIE from elsewhere", netip.MustParseAddrPort("192.0.2.99:500"), nCookie, []byte{1, 2, 3, 4}},
		{"64 KB COOKIE", netip.AddrPortFrom(addrB, 500), nCookie, make([]byte, 65000)},
		{"NO_PROPOSAL_CHOSEN from the peer's address", netip.AddrPortFrom(addrB, 500), nNoProposalChosen, nil},
		{"an answer without a proposal from the peer's address", netip.AddrPortFrom(addrB, 500), 0, nil},
	} {
		p := seedPair(t, nil)
		forged := false
		p.net.filter = func(d datagram) bool {
			if !forged && d.to.Addr() == addrB && len(d.pkt) > 19 && d.pkt[18] == exIKESAInit && d.pkt[19]&0x20 == 0 {
				forged = true
				h, _ := parseHeader(d.pkt)
				r := &message{SPIi: h.SPIi, SPIr: 0x5eed, Exchange: exIKESAInit, Response: true}
				if tc.typ != 0 {
					r.addNotify(tc.typ, tc.data)
				}
				pkt, _ := encodePlain(r)
				p.a.core.HandlePacket(p.now, pkt, tc.from, d.from)
			}
			return false
		}
		p.a.core.Start(p.now)
		p.run(3 * time.Second)
		st := p.a.core.stats.snapshot()
		if len(established(p.a)) != 1 || st.Failures.AuthFailed != 0 || st.Sent.IKESAInit != 1 {
			t.Errorf("%s: a holds %d IKE SAs after %d IKE_SA_INIT requests, failures %+v; want the real answer's SA in the first attempt",
				tc.name, len(established(p.a)), st.Sent.IKESAInit, st.Failures)
		}
	}
}
