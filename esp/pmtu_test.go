package esp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// outerESP4 returns the start of an outer IPv4 ESP packet from src to dst
// with spi and seq, as an ICMP error quotes it (IP header and 8 bytes).
// With udp it is ESP in UDP 4500 -> dport instead, quoted 16 bytes deep.
func outerESP4(src, dst netip.Addr, udp bool, dport uint16, spi, seq uint32) []byte {
	p := make([]byte, 20, 36)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], 1500)
	p[6] = 0x40 // DF
	p[8], p[9] = 64, protoESP
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	if udp {
		p[9] = protoUDP
		p = binary.BigEndian.AppendUint16(p, 4500)
		p = binary.BigEndian.AppendUint16(p, dport)
		p = append(p, 0x05, 0xc8, 0, 0) // length, checksum
	}
	p = binary.BigEndian.AppendUint32(p, spi)
	return binary.BigEndian.AppendUint32(p, seq)
}

// outerESP6 is outerESP4 for IPv6 outer addresses.
func outerESP6(src, dst netip.Addr, spi, seq uint32) []byte {
	p := make([]byte, 40, 48)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], 1460)
	p[6], p[7] = protoESP, 64
	s, d := src.As16(), dst.As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	p = binary.BigEndian.AppendUint32(p, spi)
	return binary.BigEndian.AppendUint32(p, seq)
}

// fragNeeded4 is an ICMP fragmentation needed from router with next-hop
// MTU mtu quoting q, as a raw IPv4 ICMP socket reads it (IP header first).
func fragNeeded4(router netip.Addr, mtu int, q []byte) []byte {
	p := make([]byte, 28, 28+len(q))
	p[0] = 0x45
	p[8], p[9] = 64, protoICMP
	r := router.As4()
	copy(p[12:], r[:])
	p[20], p[21] = 3, 4
	binary.BigEndian.PutUint16(p[26:], uint16(mtu))
	p = append(p, q...)
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	return p
}

// packetTooBig6 is an ICMPv6 packet too big as a raw ICMPv6 socket reads
// it (no IPv6 header).
func packetTooBig6(mtu int, q []byte) []byte {
	p := make([]byte, 8, 8+len(q))
	p[0] = 2
	binary.BigEndian.PutUint32(p[4:], uint32(mtu))
	return append(p, q...)
}

func TestParseTooBig(t *testing.T) {
	me, peer, router := netip4("192.0.2.1"), netip4("198.51.100.6"), netip4("203.0.113.1")
	r, ok := parseTooBig(fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 0x1001, 7)), false)
	if !ok || r.mtu != 1400 || r.router != router || r.dst != peer || r.udp || r.spi != 0x1001 || r.seq != 7 {
		t.Fatalf("raw ESP: %+v %v", r, ok)
	}
	r, ok = parseTooBig(fragNeeded4(router, 1400, outerESP4(me, peer, true, 4501, 0x1001, 7)), false)
	if !ok || !r.udp || r.dport != 4501 || r.spi != 0x1001 || r.seq != 7 {
		t.Fatalf("ESP in UDP: %+v %v", r, ok)
	}
	me6, peer6 := netip.MustParseAddr("2001:db8:1::94"), netip.MustParseAddr("2001:db8:2::6")
	r, ok = parseTooBig(packetTooBig6(1400, outerESP6(me6, peer6, 0x1001, 7)), true)
	if !ok || r.mtu != 1400 || r.dst != peer6 || r.spi != 0x1001 || r.seq != 7 {
		t.Fatalf("IPv6: %+v %v", r, ok)
	}

	bad := map[string][]byte{
		"IKE in UDP 4500 (zero marker)":  fragNeeded4(router, 1400, outerESP4(me, peer, true, 4500, 0, 0)),
		"quote cut after the ESP SPI":    fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 1, 1)[:24]),
		"quote cut after the UDP header": fragNeeded4(router, 1400, outerESP4(me, peer, true, 4500, 1, 1)[:28]),
		"not a fragmentation needed": func() []byte {
			p := fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 1, 1))
			p[21] = 1 // host unreachable
			return p
		}(),
		"a later fragment": func() []byte {
			q := outerESP4(me, peer, false, 0, 1, 1)
			q[7] = 10
			return fragNeeded4(router, 1400, q)
		}(),
		"about TCP": func() []byte {
			q := outerESP4(me, peer, false, 0, 1, 1)
			q[9] = protoTCP
			return fragNeeded4(router, 1400, q)
		}(),
		"empty": {},
	}
	for name, b := range bad {
		if r, ok := parseTooBig(b, false); ok {
			t.Errorf("%s: taken: %+v", name, r)
		}
	}
	if _, ok := parseTooBig(packetTooBig6(1400, outerESP6(me6, peer6, 1, 1))[:20], true); ok {
		t.Error("IPv6 with a cut quote taken")
	}
}

// pathMTUPair is a raw ESP (or UDP) test pair with AES-CBC/HMAC-SHA256
// whose A side has sent one packet to B, so its SA's sequence number is 1.
func pathMTUPair(t *testing.T, udp bool, tc TunnelConfig) (*testPeer, *testPeer) {
	t.Helper()
	tc.EncrID, tc.EncrKeyBits, tc.IntegID = childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128
	a, b := newTestPair(t, udp, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, tc)
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 100, 1)
	recv(t, b.tun)
	return a, b
}

// TestPathMTUFromICMP: an ICMP fragmentation needed that quotes A's
// latest ESP packet lowers A's path MTU, within bounds; forged ones that
// miss its SPI, peer, port or sequence number, or do not lower it, are
// counted and change nothing.
func TestPathMTUFromICMP(t *testing.T) {
	a, _ := pathMTUPair(t, false, TunnelConfig{PreFragment: true})
	me, peer, router := a.outer.local.Addr(), netip4("198.51.100.6"), netip4("203.0.113.1")
	path := a.e.paths["Tunnel0.0"]

	forged := map[string][]byte{
		"another SPI":                fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 0x2002, 1)),
		"another peer":               fragNeeded4(router, 1400, outerESP4(me, netip4("198.51.100.7"), false, 0, 0x1001, 1)),
		"ESP in UDP for a raw SA":    fragNeeded4(router, 1400, outerESP4(me, peer, true, 4500, 0x1001, 1)),
		"a sequence number not sent": fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 0x1001, 5)),
		"a sequence number too old":  fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 0x1001, uint32(1<<32+1-seqSlack))),
		"not below the configured":   fragNeeded4(router, 1500, outerESP4(me, peer, false, 0, 0x1001, 1)),
	}
	for name, b := range forged {
		before := a.e.Stats().PathMTUIgnored
		a.e.notePathMTU(b, false)
		if path.get() != 0 || a.e.Stats().PathMTUIgnored != before+1 {
			t.Errorf("%s: path MTU %d, ignored %d -> %d", name, path.get(), before, a.e.Stats().PathMTUIgnored)
		}
	}

	a.e.notePathMTU(fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 0x1001, 1)), false)
	if path.get() != 1400 || a.e.Stats().PathMTUUpdates != 1 {
		t.Fatalf("path MTU %d after a report of 1400, updates %d", path.get(), a.e.Stats().PathMTUUpdates)
	}
	// A larger value does not raise it; a tiny one is held at IPv4's 576.
	a.e.notePathMTU(fragNeeded4(router, 1450, outerESP4(me, peer, false, 0, 0x1001, 1)), false)
	if path.get() != 1400 {
		t.Fatalf("raised to %d", path.get())
	}
	a.e.notePathMTU(fragNeeded4(router, 68, outerESP4(me, peer, false, 0, 0x1001, 1)), false)
	if path.get() != minPathMTU4 {
		t.Fatalf("path MTU %d after a report of 68, want %d", path.get(), minPathMTU4)
	}
}

// TestPathMTUFromICMPUDP: for ESP in UDP the quote must carry the peer's
// port too.
func TestPathMTUFromICMPUDP(t *testing.T) {
	a, _ := pathMTUPair(t, true, TunnelConfig{})
	me, peer, router := a.outer.local.Addr(), netip4("198.51.100.6"), netip4("203.0.113.1")
	a.e.notePathMTU(fragNeeded4(router, 1400, outerESP4(me, peer, true, 4501, 0x1001, 1)), false)
	if got := a.e.paths["Tunnel0.0"].get(); got != 0 {
		t.Fatalf("another port lowered the path MTU to %d", got)
	}
	a.e.notePathMTU(fragNeeded4(router, 1400, outerESP4(me, peer, true, 4500, 0x1001, 1)), false)
	if got := a.e.paths["Tunnel0.0"].get(); got != 1400 {
		t.Fatalf("path MTU %d, want 1400", got)
	}
}

// TestPathMTUInner: with the path MTU lowered, inner IPv4 is fragmented to
// fit it (pre-fragment) or answered with the inner MTU (DF), and "ip tcp
// adjust-mss auto" clamps SYNs in both directions to it.
func TestPathMTUInner(t *testing.T) {
	a, b := pathMTUPair(t, false, TunnelConfig{PreFragment: true, AdjustMSS: MSSAuto, ICMPSource: netip4("192.168.2.254")})
	me, peer := a.outer.local.Addr(), netip4("198.51.100.6")
	a.e.notePathMTU(fragNeeded4(netip4("203.0.113.1"), 1400, outerESP4(me, peer, false, 0, 0x1001, 1)), false)
	limit := maxPayload(1400, 16, 16, 16, false, false)

	checkPreFragment(t, a, b, ipv4UDP("192.168.2.1", "172.16.1.4", 1400, 9), limit)

	want := uint16(limit - 40)
	a.tun.toEngine <- tcpSYN("192.168.2.1", "172.16.1.4", 0x02, []byte{2, 4, 0x05, 0xb4})
	if got := recv(t, b.tun); mssOf(got) != want || l4Checksum(got) != 0 {
		t.Fatalf("outbound SYN: mss %d, want %d", mssOf(got), want)
	}
	// B has learned nothing: its SYN-ACK leaves with its own clamp and
	// is clamped again by A on the way in.
	b.tun.toEngine <- tcpSYN("172.16.1.4", "192.168.2.1", 0x12, []byte{2, 4, 0x05, 0xb4})
	if got := recv(t, a.tun); mssOf(got) != want || l4Checksum(got) != 0 {
		t.Fatalf("inbound SYN-ACK: mss %d, want %d", mssOf(got), want)
	}
}

// TestPathMTUInnerNoPreFragment: without pre-fragment a DF packet too big
// for the lowered path is answered with ICMP, an IPv6 one with packet too
// big, and one without DF is sent whole (its outer packet is the kernel's
// to fragment).
func TestPathMTUInnerNoPreFragment(t *testing.T) {
	a, b := pathMTUPair(t, false, TunnelConfig{})
	me, peer := a.outer.local.Addr(), netip4("198.51.100.6")
	a.e.notePathMTU(fragNeeded4(netip4("203.0.113.1"), 1400, outerESP4(me, peer, false, 0, 0x1001, 1)), false)
	limit := maxPayload(1400, 16, 16, 16, false, false)

	pkt := ipv4UDP("192.168.2.1", "172.16.1.4", 1400, 9)
	a.tun.toEngine <- pkt
	if got := recv(t, b.tun); !bytes.Equal(got, pkt) {
		t.Fatal("the packet without DF did not cross whole")
	}
	a.tun.toEngine <- withDF(pkt)
	if icmp := recv(t, a.tun); icmp[20] != 3 || icmp[21] != 4 || int(binary.BigEndian.Uint16(icmp[26:])) != limit {
		t.Fatalf("not frag-needed with MTU %d: %x", limit, icmp[:28])
	}

	v6 := ipv6UDPPacket("2001:db8:a::1", "2001:db8:b::1", 1400)
	a.tun.toEngine <- v6
	ptb := recv(t, a.tun)
	if ptb[0]>>4 != 6 || ptb[6] != protoICMPv6 || ptb[40] != 2 || int(binary.BigEndian.Uint32(ptb[44:])) != limit {
		t.Fatalf("not packet too big with MTU %d: %x", limit, ptb[:48])
	}
	if !bytes.Equal(ptb[24:40], v6[8:24]) || !bytes.Equal(ptb[48:], v6[:len(ptb)-48]) {
		t.Fatal("packet too big to the wrong host or with the wrong quote")
	}
	if checksum(ptb[40:], pseudoHeader6(ptb[8:24], ptb[24:40], len(ptb)-40, protoICMPv6)) != 0 {
		t.Fatal("bad ICMPv6 checksum")
	}
	select {
	case p := <-b.tun.fromEngine:
		t.Fatalf("a packet crossed: %x", p[:20])
	case <-time.After(20 * time.Millisecond):
	}
}

// ipv6UDPPacket builds an IPv6/UDP packet of n bytes in all.
func ipv6UDPPacket(src, dst string, n int) []byte {
	p := make([]byte, n)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(n-40))
	p[6], p[7] = 17, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	binary.BigEndian.PutUint16(p[40:], 5000)
	binary.BigEndian.PutUint16(p[42:], 5001)
	binary.BigEndian.PutUint16(p[44:], uint16(n-40))
	return p
}

// TestPathMTULapses: a learned value holds for its time, a confirming
// report restarts it, and then the configured MTU holds again.
func TestPathMTULapses(t *testing.T) {
	var p pathMTU
	var lapsed atomic.Int32
	if !p.lower(1400, 50*time.Millisecond, func() { lapsed.Add(1) }) || p.get() != 1400 {
		t.Fatal("not lowered")
	}
	time.Sleep(30 * time.Millisecond)
	if p.lower(1400, 50*time.Millisecond, func() { lapsed.Add(1) }) {
		t.Fatal("a confirming report counted as a change")
	}
	time.Sleep(30 * time.Millisecond)
	if p.get() != 1400 {
		t.Fatal("lapsed although confirmed")
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.get() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p.get() != 0 || lapsed.Load() != 1 {
		t.Fatalf("path MTU %d, lapsed %d times", p.get(), lapsed.Load())
	}
	p.stop()
}

// TestPacketTooBigNotForErrors: never an ICMPv6 error about an ICMPv6
// error, or to an unspecified or multicast source.
func TestPacketTooBigNotForErrors(t *testing.T) {
	b := make([]byte, 1500)
	errPkt := ipv6UDPPacket("2001:db8:a::1", "2001:db8:b::1", 100)
	errPkt[6], errPkt[40] = protoICMPv6, 1 // destination unreachable
	if buildPacketTooBig(b, errPkt, 1280) != 0 {
		t.Error("ICMPv6 error answered")
	}
	echo := append([]byte(nil), errPkt...)
	echo[40] = 128
	if buildPacketTooBig(b, echo, 1280) == 0 {
		t.Error("echo request not answered")
	}
	for _, src := range []string{"::", "ff02::1"} {
		p := ipv6UDPPacket(src, "2001:db8:b::1", 100)
		if buildPacketTooBig(b, p, 1280) != 0 {
			t.Errorf("answered to %s", src)
		}
	}
}

// FuzzPathMTU feeds arbitrary ICMP messages of either family to an
// engine with a live raw ESP and a live UDP SA: nothing panics, and no
// message lowers a path MTU below the family's minimum or at all unless
// it quotes one of those SAs.
func FuzzPathMTU(f *testing.F) {
	me, peer, router := netip4("192.0.2.1"), netip4("198.51.100.6"), netip4("203.0.113.1")
	f.Add(fragNeeded4(router, 1400, outerESP4(me, peer, false, 0, 0x1001, 1)), false)
	f.Add(fragNeeded4(router, 68, outerESP4(me, peer, true, 4500, 0x1002, 1)), false)
	f.Add(fragNeeded4(router, 1400, outerESP4(me, peer, true, 4500, 0, 0)), false)
	f.Add(packetTooBig6(1280, outerESP6(netip.MustParseAddr("2001:db8:1::94"), netip.MustParseAddr("2001:db8:2::6"), 0x1001, 1)), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		e := NewEngine(Config{Workers: 1})
		defer e.Close()
		for _, c := range []struct {
			spi    uint32
			tunnel string
			udp    bool
		}{{0x1001, "Tunnel0.0", false}, {0x1002, "Tunnel1.0", true}} {
			out, _ := testSAPair(t, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
			out.SPI, out.Tunnel, out.UDPEncap = c.spi, c.tunnel, c.udp
			out.Local, out.Remote = mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500")
			if err := e.InstallSA(out); err != nil {
				t.Fatal(err)
			}
			if err := e.AttachTunnel(TunnelConfig{Name: c.tunnel}, newFakeTUN()); err != nil {
				t.Fatal(err)
			}
			e.sas.get(saKey{c.spi, false}).seq.Store(1)
		}
		r, ok := parseTooBig(b, v6)
		e.notePathMTU(b, v6)
		for name, p := range e.paths {
			m := p.get()
			if m == 0 {
				continue
			}
			if !ok || (r.spi != 0x1001 && r.spi != 0x1002) {
				t.Fatalf("%s lowered to %d by a message that quotes no SA of ours", name, m)
			}
			if m < minPathMTU4 || m >= 1500 {
				t.Fatalf("%s lowered to %d", name, m)
			}
		}
	})
}
