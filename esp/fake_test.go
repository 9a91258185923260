package esp

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"
)

// fakeTUN is a channel-backed tun.Device with batches, in the manner of
// wireguard-go's tun/tuntest.
type fakeTUN struct {
	toEngine   chan []byte // packets the engine reads (routed into the tunnel)
	fromEngine chan []byte // packets the engine writes
	closed     chan struct{}
	once       sync.Once
	events     chan tun.Event

	// Of writes of several packets: how many, and the least room the
	// first packet had to grow in (it starts a run: GRO coalesces the
	// later packets of its flow into it).
	mu          sync.Mutex
	multiWrites int
	minHeadRoom int
}

func newFakeTUN() *fakeTUN {
	return &fakeTUN{
		toEngine:   make(chan []byte, 1024),
		fromEngine: make(chan []byte, 4096),
		closed:     make(chan struct{}),
		events:     make(chan tun.Event),
	}
}

func (t *fakeTUN) File() *os.File { return nil }

func (t *fakeTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var p []byte
	select {
	case <-t.closed:
		return 0, os.ErrClosed
	case p = <-t.toEngine:
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n][offset:], p)
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case p = <-t.toEngine:
		default:
			return n, nil
		}
	}
}

func (t *fakeTUN) Write(bufs [][]byte, offset int) (int, error) {
	if len(bufs) > 1 {
		t.mu.Lock()
		t.multiWrites++
		if r := cap(bufs[0]) - offset; t.minHeadRoom == 0 || r < t.minHeadRoom {
			t.minHeadRoom = r
		}
		t.mu.Unlock()
	}
	for i, b := range bufs {
		select {
		case <-t.closed:
			return i, os.ErrClosed
		case t.fromEngine <- append([]byte(nil), b[offset:]...):
		}
	}
	return len(bufs), nil
}

func (t *fakeTUN) MTU() (int, error)        { return 1400, nil }
func (t *fakeTUN) Name() (string, error)    { return "Tunnel0.0", nil }
func (t *fakeTUN) Events() <-chan tun.Event { return t.events }
func (t *fakeTUN) BatchSize() int           { return 8 }
func (t *fakeTUN) Close() error             { t.once.Do(func() { close(t.closed) }); return nil }

// fakeOuter is a channel-backed outer socket, like wireguard-go's
// conn/bindtest. Two of them are wired to each other by fakeOuterPair.
type fakeOuter struct {
	local  netip.AddrPort
	in     chan fakeDgram
	peer   *fakeOuter
	closed chan struct{}
	once   sync.Once
	// big: a datagram did not fit; like rawIO, larger buffers from then.
	big bool
	// maxBuf is the largest element buffer readBatch was given.
	maxBuf atomic.Int64
}

func (f *fakeOuter) rxSize() int {
	if f.big {
		return bufSize - rxOffset
	}
	return rxBufSize - rxOffset
}

type fakeDgram struct {
	b        []byte
	src, dst netip.AddrPort
}

func fakeOuterPair(a, b netip.AddrPort) (*fakeOuter, *fakeOuter) {
	x := &fakeOuter{local: a, in: make(chan fakeDgram, 4096), closed: make(chan struct{})}
	y := &fakeOuter{local: b, in: make(chan fakeDgram, 4096), closed: make(chan struct{})}
	x.peer, y.peer = y, x
	return x, y
}

func (f *fakeOuter) readBatch(elems []*elem) (int, error) {
	var d fakeDgram
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	case d = <-f.in:
	}
	n := 0
	for {
		el := elems[n]
		if l := int64(len(el.buf)); l > f.maxBuf.Load() {
			f.maxBuf.Store(l)
		}
		m := copy(el.buf[rxOffset:], d.b)
		el.pktOff = rxOffset
		el.pkt = el.buf[rxOffset : rxOffset+m]
		if m < len(d.b) {
			el.pkt = el.pkt[:0] // truncated, as the kernel would
			f.big = true
		}
		el.src, el.dst = d.src, d.dst
		n++
		if n == len(elems) {
			return n, nil
		}
		select {
		case d = <-f.in:
		default:
			return n, nil
		}
	}
}

func (f *fakeOuter) writeBatch(elems []*elem) (int, error) {
	for i, el := range elems {
		if err := f.writeTo(el.pkt, f.local, el.sa.remote); err != nil {
			return i, err
		}
	}
	return len(elems), nil
}

func (f *fakeOuter) writeTo(pkt []byte, src, dst netip.AddrPort) error {
	select {
	case <-f.closed:
		return net.ErrClosed
	case f.peer.in <- fakeDgram{append([]byte(nil), pkt...), src, dst}:
		return nil
	}
}

func (f *fakeOuter) close() error { f.once.Do(func() { close(f.closed) }); return nil }

// inject hands a datagram to the engine as if it came from the peer.
func (f *fakeOuter) inject(b []byte) {
	f.in <- fakeDgram{append([]byte(nil), b...), f.peer.local, f.local}
}
