package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/testenv"
	"golang.org/x/net/ipv4"
)

// TestUDPTransportLoopback sends a container of ESP packets over real UDP
// sockets on 127.0.0.1 and on ::1 (as one UDP GSO message where the
// kernel can) and checks each arrives as its own datagram, byte for byte,
// RFC 3948 style: the UDP payload is the ESP packet, starting with the SPI.
func TestUDPTransportLoopback(t *testing.T) {
	for _, lo := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(lo, func(t *testing.T) { testUDPTransportLoopback(t, mustAP(lo)) })
	}
}

func testUDPTransportLoopback(t *testing.T, lo netip.AddrPort) {
	rx, err := listenUDP(lo)
	if err != nil {
		testenv.Unavailable(t, "no UDP on loopback %v: %v", lo, err)
	}
	defer rx.close()
	tx, err := listenUDP(lo)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.close()
	if rx.v6 != lo.Addr().Is6() {
		t.Fatalf("%v opened a socket of the other family", lo)
	}
	a := &sa{remote: rx.local, v6: rx.v6}
	var elems []*elem
	for i := 0; i < containerMax; i++ {
		el := getElem()
		n := 1400
		if i == containerMax-1 {
			n = 300 // a shorter last one may ride in the same GSO message
		}
		if i == 5 {
			n = 900 // breaks the run: a new message
		}
		el.pkt = el.buf[txOffset : txOffset+n]
		binary.BigEndian.PutUint32(el.pkt, 0x1001)
		binary.BigEndian.PutUint32(el.pkt[4:], uint32(i+1))
		for k := 8; k < n; k++ {
			el.pkt[k] = byte(i + k)
		}
		el.sa = a
		elems = append(elems, el)
	}
	if n, err := tx.writeBatch(elems); err != nil || n != len(elems) {
		t.Fatalf("writeBatch: %d, %v", n, err)
	}
	// A small batch makes readBatch carry coalesced runs across calls;
	// small elements as the receive loop passes (segments are copied).
	got := make([]*elem, 3)
	for i := range got {
		got[i] = getRxElem(0)
	}
	seen := 0
	deadline := time.Now().Add(5 * time.Second)
	for seen < len(elems) && time.Now().Before(deadline) {
		rx.conn.SetReadDeadline(deadline)
		n, err := rx.readBatch(got)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got[:n] {
			want := elems[seen]
			if !bytes.Equal(g.pkt, want.pkt) {
				t.Fatalf("datagram %d: %d bytes, want %d (seq %d)", seen, len(g.pkt), len(want.pkt), binary.BigEndian.Uint32(g.pkt[4:]))
			}
			if g.src != tx.local {
				t.Fatalf("source %v, want %v", g.src, tx.local)
			}
			seen++
		}
	}
	if seen != len(elems) {
		t.Fatalf("received %d of %d", seen, len(elems))
	}
	if !tx.w.gso.Load() {
		t.Log("UDP GSO fell back to plain sendmmsg on loopback")
	}
	t.Logf("UDP GRO on receive: %v, coalesced buffers: %d", rx.gro, rx.coalesced)
}

// TestIKEOverUDPLoopback checks the non-ESP marker on the shared socket.
func TestIKEOverUDPLoopback(t *testing.T) {
	rx, err := listenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		testenv.Unavailable(t, "no UDP on loopback: %v", err)
	}
	defer rx.close()
	e := NewEngine(Config{Workers: 1})
	defer e.Close()
	if err := e.OpenUDP(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	local := e.udp.Load().io.(*udpIO).local
	if err := e.SendIKE([]byte{0xaa, 0xbb}, local, rx.local); err != nil {
		t.Fatal(err)
	}
	got := []*elem{getElem()}
	rx.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rx.readBatch(got); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if !bytes.Equal(got[0].pkt, []byte{0, 0, 0, 0, 0xaa, 0xbb}) || got[0].dst.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("got %x to %v", got[0].pkt, got[0].dst)
	}
}

// TestRawESPLoopback sends ESP as IP protocol 50 to 127.0.0.1 and reads it
// back with the IPv4 header stripped, and as next header 50 to ::1, where
// the socket delivers no IP header: the ESP header starts at rxOffset and
// the source comes from the message's name.
func TestRawESPLoopback(t *testing.T) {
	testenv.RequireRoot(t) // raw sockets
	for _, c := range []struct {
		lo  netip.Addr
		off int
	}{{netip4("127.0.0.1"), rxOffset + 20}, {netip.IPv6Loopback(), rxOffset}} {
		r, err := listenRawESP(c.lo)
		if err != nil {
			testenv.Unavailable(t, "raw socket on %v: %v", c.lo, err)
		}
		defer r.close()
		if r.v6 != c.lo.Is6() {
			t.Fatalf("%v opened a raw socket of the other family", c.lo)
		}
		el := getElem()
		el.pkt = append(el.buf[txOffset:txOffset], 0, 0, 0x10, 0x01, 0, 0, 0, 1, 9, 9, 9, 9)
		el.sa = &sa{remote: netip.AddrPortFrom(c.lo, 0), v6: r.v6}
		if n, err := r.writeBatch([]*elem{el}); err != nil || n != 1 {
			t.Fatal(n, err)
		}
		got := []*elem{getElem()}
		r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, err := r.readBatch(got)
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 && bytes.Equal(got[0].pkt, el.pkt) {
				break
			}
		}
		if got[0].src.Addr() != c.lo || got[0].pktOff != c.off {
			t.Fatalf("%v: src %v off %d", c.lo, got[0].src, got[0].pktOff)
		}
	}
}

// TestMmsgConnErrors: a message addressed to the other family is refused
// before anything is sent, and a closed socket gives an error, not a
// write on whatever descriptor took its number.
func TestMmsgConnErrors(t *testing.T) {
	u, err := listenUDP(mustAP("127.0.0.1:0"))
	if err != nil {
		testenv.Unavailable(t, "no UDP on loopback: %v", err)
	}
	pkt := []byte{0, 0, 0x10, 0x01, 0, 0, 0, 1}
	msgs := []ipv4.Message{{Buffers: [][]byte{pkt}, Addr: &net.UDPAddr{IP: net.ParseIP("::1"), Port: 4500}}}
	if n, err := u.pc.WriteBatch(msgs, 0); err == nil || n != 0 {
		t.Errorf("IPv6 address on an IPv4 socket: %d, %v", n, err)
	}
	msgs[0].Addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(u.local.Port())}
	if n, err := u.pc.WriteBatch(msgs, 0); err != nil || n != 1 {
		t.Fatalf("to itself: %d, %v", n, err)
	}
	u.close()
	if n, err := u.pc.WriteBatch(msgs, 0); !errors.Is(err, net.ErrClosed) || n != 0 {
		t.Errorf("after close: %d, %v", n, err)
	}
}
