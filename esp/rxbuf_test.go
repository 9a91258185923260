package esp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// TestReceiveBuffersBySize: received datagrams land in rxBufSize buffers,
// not 64 KiB ones (issue 14: memory under a flood), yet the TUN writes of
// several packets still give the packet that starts a run (here the first:
// one flow) 64 KiB of room, so the device's GRO can coalesce. A datagram
// larger than a small buffer is lost and counted, and the socket moves to
// large buffers, so the next one arrives.
func TestReceiveBuffersBySize(t *testing.T) {
	for _, udp := range []bool{false, true} {
		a, b := newTestPair(t, udp, childsa.EncrAESGCM16, 128, childsa.IntegNone, false, TunnelConfig{})
		const count = 400
		for i := 0; i < count; i++ {
			a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 1300, uint32(i))
		}
		for i := 0; i < count; i++ {
			if got := recv(t, b.tun); binary.BigEndian.Uint32(got[28:]) != uint32(i) {
				t.Fatalf("udp=%v: packet %d out of order", udp, i)
			}
		}
		if m := b.outer.maxBuf.Load(); m > rxBufSize {
			t.Errorf("udp=%v: received into %d-byte buffers, want at most %d", udp, m, rxBufSize)
		}
		b.tun.mu.Lock()
		multi, room := b.tun.multiWrites, b.tun.minHeadRoom
		b.tun.mu.Unlock()
		t.Logf("udp=%v: %d TUN writes of several packets, least room of the first %d", udp, multi, room)
		if multi > 0 && room < 65535 {
			t.Errorf("udp=%v: the first packet of one of %d multi-packet writes had %d bytes of room, want 64 KiB for GRO", udp, multi, room)
		}

		// A 3000-byte inner packet: the first is lost (truncated), the
		// socket switches to large buffers, the second arrives.
		big := ipv4UDP("192.168.2.1", "172.16.1.4", 3000, 77)
		a.tun.toEngine <- big
		deadline := time.Now().Add(5 * time.Second)
		for b.e.Stats().Truncated != 1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := b.e.Stats().Truncated; n != 1 {
			t.Fatalf("udp=%v: truncated %d, want 1", udp, n)
		}
		a.tun.toEngine <- big
		if got := recv(t, b.tun); !bytes.Equal(got, big) {
			t.Fatalf("udp=%v: the large packet after the switch differs", udp)
		}
		if m := b.outer.maxBuf.Load(); m != bufSize {
			t.Errorf("udp=%v: after a large datagram buffers are %d bytes, want %d", udp, m, bufSize)
		}
	}
}

// TestUDPReadBatchSmallElements: on the real UDP socket single datagrams
// are copied into the caller's small elements, while the socket's own
// ring keeps its large buffers for GRO runs; a datagram too large for a
// small element still arrives whole.
func TestUDPReadBatchSmallElements(t *testing.T) {
	rx, err := listenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		testenv.Unavailable(t, "no UDP on loopback: %v", err)
	}
	defer rx.close()
	tx, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(rx.local))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	sizes := []int{1400, 5000, 60, 1900}
	var sent [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		binary.BigEndian.PutUint32(p, 0x1001)
		sent = append(sent, p)
		if _, err := tx.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]*elem, 8)
	for i := range got {
		got[i] = getRxElem(0)
	}
	rx.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	seen := 0
	for seen < len(sent) {
		n, err := rx.readBatch(got)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got[:n] {
			if !bytes.Equal(g.pkt, sent[seen]) {
				t.Fatalf("datagram %d: %d bytes, want %d", seen, len(g.pkt), len(sent[seen]))
			}
			want := rxBufSize // copied into the caller's element
			if len(sent[seen]) > rxBufSize-rxOffset {
				want = bufSize // the ring's element, swapped out
			}
			if len(g.buf) != want {
				t.Fatalf("datagram %d (%d bytes) handed over in a %d-byte buffer, want %d", seen, len(sent[seen]), len(g.buf), want)
			}
			seen++
		}
	}
	for i, el := range rx.rx {
		if len(el.buf) != bufSize {
			t.Fatalf("ring element %d has a %d-byte buffer, want %d for GRO", i, len(el.buf), bufSize)
		}
	}
}

// TestRawESPTruncated: a raw ESP datagram larger than a small buffer is
// reported empty (counted as truncated) and moves the socket to large
// buffers, over IPv4 and IPv6.
func TestRawESPTruncated(t *testing.T) {
	testenv.RequireRoot(t) // raw sockets
	for _, lo := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
		r, err := listenRawESP(lo)
		if err != nil {
			testenv.Unavailable(t, "raw socket on %v: %v", lo, err)
		}
		defer r.close()
		if r.rxSize() != rxBufSize-rxOffset {
			t.Fatalf("rxSize %d at start", r.rxSize())
		}
		el := getElem()
		el.pkt = el.buf[txOffset : txOffset+3000]
		for i := range el.pkt {
			el.pkt[i] = byte(i)
		}
		binary.BigEndian.PutUint32(el.pkt, 0x1001)
		el.sa = &sa{remote: netip.AddrPortFrom(lo, 0), v6: lo.Is6()}
		send := func() {
			if n, err := r.writeBatch([]*elem{el}); err != nil || n != 1 {
				t.Fatal(n, err)
			}
		}
		send()
		r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		small := []*elem{getRxElem(0)}
		if n, err := r.readBatch(small); err != nil || n != 1 || len(small[0].pkt) != 0 {
			t.Fatalf("%v: oversize datagram: n %d err %v pkt %d bytes, want an empty one", lo, n, err, len(small[0].pkt))
		}
		if r.rxSize() != bufSize-rxOffset {
			t.Fatalf("%v: rxSize %d after a truncated datagram", lo, r.rxSize())
		}
		send()
		large := []*elem{getRxElem(r.rxSize())}
		if n, err := r.readBatch(large); err != nil || n != 1 || !bytes.Equal(large[0].pkt, el.pkt) {
			t.Fatalf("%v: after the switch: n %d err %v, %d bytes", lo, n, err, len(large[0].pkt))
		}
	}
}

// TestGROHeadsNoAllocs: staging a TUN write costs no allocation once the
// large buffers exist (the packet path allocates none), and the packets
// that start a run get the room to grow.
func TestGROHeadsNoAllocs(t *testing.T) {
	var h groHeads
	// Runs of 16 segments on outerBatch/16 flows, interleaved.
	var packets [][]byte
	for i := range outerBatch {
		packets = append(packets, segment{sport: uint16(i % 16), seq: uint32(i / 16 * 1400), n: 1400}.build())
	}
	small := make([][]byte, outerBatch)
	for i, p := range packets {
		small[i] = append(make([]byte, tunWriteOffset, rxBufSize), p...)
	}
	bufs := make([][]byte, outerBatch)
	fill := func() { copy(bufs, small) }
	fill()
	h.stage(bufs)
	h.release()
	if n := testing.AllocsPerRun(100, func() { fill(); h.stage(bufs); h.release() }); n != 0 {
		t.Fatalf("%v allocations per staged write", n)
	}
	fill()
	h.stage(bufs)
	for i, b := range bufs {
		if want := i < 16; (cap(b) == groMaxCap) != want || len(b) != tunWriteOffset+1440 {
			t.Fatalf("packet %d: len %d cap %d, want a large buffer %v", i, len(b), cap(b), want)
		}
	}
	h.release()
}

// TestLargeElemsTrim: spare large buffers survive collections while they
// are used, a busy engine keeps sparesKept beyond what an interval needed,
// and an interval in which none was taken gives all of them back.
func TestLargeElemsTrim(t *testing.T) {
	var s largeElems
	var els []*elem
	for range sparesKept + 100 {
		els = append(els, s.get())
	}
	for _, el := range els {
		s.put(el)
	}
	runtime.GC()
	runtime.GC()
	s.mu.Lock()
	if n := len(s.free); n != sparesKept+100 {
		t.Errorf("%d spares after two collections, want %d", n, sparesKept+100)
	}
	s.mu.Unlock()
	s.trim() // the interval that took them all out: nothing to give back
	// Busy: one taken and put back in an interval. The interval's least
	// spares were all but one, so all but sparesKept of those go.
	s.put(s.get())
	s.trim()
	s.mu.Lock()
	if n := len(s.free); n != sparesKept+1 {
		t.Errorf("%d spares after a busy interval, want %d", n, sparesKept+1)
	}
	s.mu.Unlock()
	// Idle: nothing taken in an interval. The spares go, and the memory
	// goes back to the system (once per releaseEvery).
	released := make(chan struct{}, 4)
	s.mu.Lock()
	s.release = func() { released <- struct{}{} }
	s.mu.Unlock()
	s.trim()
	s.mu.Lock()
	if n := len(s.free); n != 0 || s.armed {
		t.Errorf("%d spares (trim armed %v) after an idle interval, want none", n, s.armed)
	}
	s.mu.Unlock()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("an idle trim of sparesKept+1 spares returned no memory to the system")
	}
	for range releaseMin {
		s.put(s.get())
	}
	s.trim() // busy
	s.trim() // idle again, within releaseEvery
	select {
	case <-released:
		t.Error("memory returned twice within releaseEvery")
	case <-time.After(100 * time.Millisecond):
	}
}
