package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeLinks is a linkLookup with a routing table, devices and neighbours
// set by the test.
type fakeLinks struct {
	mu     sync.Mutex
	routes map[netip.Addr]fakeRoute
	links  map[int]fakeLink
	neighs map[netip.Addr]net.HardwareAddr
	// neighDumps counts neighbours calls.
	neighDumps int
}

type fakeRoute struct {
	ifindex int
	gw, src netip.Addr
}

type fakeLink struct {
	name  string
	mac   net.HardwareAddr
	mtu   int
	ether bool
}

func (f *fakeLinks) route(dst netip.Addr) (int, netip.Addr, netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.routes[dst]
	if !ok {
		return 0, netip.Addr{}, netip.Addr{}, errors.New("network is unreachable")
	}
	return r.ifindex, r.gw, r.src, nil
}

func (f *fakeLinks) link(ifindex int) (string, net.HardwareAddr, int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[ifindex]
	if !ok {
		return "", nil, 0, false, errors.New("no such device")
	}
	return l.name, l.mac, l.mtu, l.ether, nil
}

func (f *fakeLinks) neighbours(ifindex int, v6 bool) (map[netip.Addr]net.HardwareAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.neighDumps++
	t := map[netip.Addr]net.HardwareAddr{}
	for ip, mac := range f.neighs {
		if ip.Is4() != v6 && mac != nil {
			t[ip] = mac
		}
	}
	return t, nil
}

var (
	testWANMAC    = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	testGWMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	testFramePeer = netip.MustParseAddr("198.51.100.6")
	testGW        = netip.MustParseAddr("203.0.113.1")
	testSrc       = netip.MustParseAddr("203.0.113.94")
)

// newFakeLinks is a WAN (ifindex 2, Ethernet) with a default gateway whose
// neighbour entry is resolved, a TUN device (ifindex 3) and a route to
// testFramePeer through the gateway.
func newFakeLinks() *fakeLinks {
	return &fakeLinks{
		routes: map[netip.Addr]fakeRoute{testFramePeer: {2, testGW, testSrc}},
		links: map[int]fakeLink{
			2: {"wan", testWANMAC, 1500, true},
			3: {"tun0", nil, 1400, false},
		},
		neighs: map[netip.Addr]net.HardwareAddr{testGW: testGWMAC},
	}
}

// logBuffer collects log lines for tests that check what was logged.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// resolve finds the next hop of peer in a round of its own.
func (r *resolver) resolve(peer netip.Addr) (*nextHop, error) {
	return r.resolveWith(newRoundLookup(r.lk), peer)
}

func newTestResolver(lk linkLookup, local netip.Addr) (*resolver, *logBuffer) {
	var lb logBuffer
	return newResolver(lk, local, slog.New(slog.NewTextHandler(&lb, nil))), &lb
}

// TestResolverOneNeighbourDumpPerRound: a hub's peers on one WAN, each
// its own neighbour, cost one neighbour table dump per resolving round,
// not one per peer.
func TestResolverOneNeighbourDumpPerRound(t *testing.T) {
	f := newFakeLinks()
	r, _ := newTestResolver(f, netip.IPv4Unspecified())
	const peers = 300
	for i := range peers {
		p := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		f.routes[p] = fakeRoute{2, netip.Addr{}, testSrc}
		f.neighs[p] = net.HardwareAddr{2, 0, 0, 1, byte(i >> 8), byte(i)}
		r.lookup(p)
	}
	r.resolveAll()
	if n := len(*r.hops.Load()); n != peers {
		t.Fatalf("%d of %d peers resolved", n, peers)
	}
	if h := (*r.hops.Load())[netip.AddrFrom4([4]byte{198, 18, 1, 2})]; h == nil || h.eth[4] != 1 || h.eth[5] != 2 {
		t.Errorf("198.18.1.2's next hop %+v, want its own MAC", h)
	}
	if f.neighDumps != 1 {
		t.Errorf("%d neighbour table dumps for %d peers in one round, want 1", f.neighDumps, peers)
	}
}

// TestResolverNeighbourMatters: a neighbour entry's state changes that
// leave its address as the next hop has it wake nothing; a new address,
// its loss, or any change while a peer is unresolved do.
func TestResolverNeighbourMatters(t *testing.T) {
	f := newFakeLinks()
	r, _ := newTestResolver(f, netip.IPv4Unspecified())
	r.lookup(testFramePeer)
	r.resolveAll()
	if r.lookup(testFramePeer) == nil {
		t.Fatal("no next hop")
	}
	other := netip.MustParseAddr("203.0.113.9")
	for _, c := range []struct {
		ip     netip.Addr
		mac    net.HardwareAddr
		usable bool
		want   bool
	}{
		{testGW, testGWMAC, true, false},                            // reachable <-> stale
		{testGW, net.HardwareAddr{2, 0, 0, 0, 0, 0x22}, true, true}, // the gateway's MAC changed
		{testGW, nil, false, true},                                  // failed or deleted
		{other, net.HardwareAddr{2, 0, 0, 0, 0, 0x33}, true, false}, // not a next hop
		{netip.AddrFrom16(testGW.As16()), testGWMAC, true, false},   // v4-mapped form
	} {
		if got := r.neighbourMatters(c.ip, c.mac, c.usable); got != c.want {
			t.Errorf("neighbour %v %v usable %v: matters %v, want %v", c.ip, c.mac, c.usable, got, c.want)
		}
	}
	// A peer on link whose entry the kernel has not resolved waits for
	// it: that entry appearing matters, another one does not.
	onLink := netip.MustParseAddr("203.0.113.8")
	f.mu.Lock()
	f.routes[onLink] = fakeRoute{2, netip.Addr{}, testSrc}
	f.mu.Unlock()
	r.lookup(onLink)
	if !r.neighbourMatters(other, nil, true) {
		t.Error("a neighbour change with a new peer queued does not matter")
	}
	r.resolveAll()
	if r.neighbourMatters(other, net.HardwareAddr{2, 0, 0, 0, 0, 0x33}, true) {
		t.Error("a neighbour no unresolved peer waits for matters")
	}
	if !r.neighbourMatters(onLink, net.HardwareAddr{2, 0, 0, 0, 0, 0x44}, true) {
		t.Error("the neighbour an unresolved peer waits for does not matter")
	}
}

func TestResolverNextHop(t *testing.T) {
	f := newFakeLinks()
	r, _ := newTestResolver(f, netip.IPv4Unspecified())
	h, err := r.resolve(testFramePeer)
	if err != nil {
		t.Fatal(err)
	}
	want := [ethHeader]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	if h.eth != want || h.ifindex != 2 || h.mtu != 1500 || h.src != testSrc {
		t.Errorf("next hop %+v, want Ethernet header %x, ifindex 2, MTU 1500, source %v", h, want, testSrc)
	}

	// A peer on link: its own neighbour entry.
	onLink := netip.MustParseAddr("203.0.113.7")
	f.routes[onLink] = fakeRoute{ifindex: 2, src: testSrc}
	f.neighs[onLink] = net.HardwareAddr{2, 0, 0, 0, 0, 7}
	if h, err := r.resolve(onLink); err != nil || h.eth[5] != 7 {
		t.Errorf("on-link peer: %+v, %v; want its own MAC", h, err)
	}

	// A socket bound to an address sends from it.
	bound := netip.MustParseAddr("203.0.113.95")
	r2, _ := newTestResolver(f, bound)
	if h, err := r2.resolve(testFramePeer); err != nil || h.src != bound {
		t.Errorf("bound socket: %+v, %v; want source %v", h, err, bound)
	}
}

func TestResolverFallbackReasons(t *testing.T) {
	f := newFakeLinks()
	f.routes[netip.MustParseAddr("192.0.2.1")] = fakeRoute{ifindex: 3, src: testSrc}
	f.routes[netip.MustParseAddr("192.0.2.2")] = fakeRoute{ifindex: 2, gw: netip.MustParseAddr("203.0.113.2"), src: testSrc}
	f.routes[netip.MustParseAddr("192.0.2.3")] = fakeRoute{ifindex: 2, gw: testGW}
	f.routes[netip.MustParseAddr("192.0.2.4")] = fakeRoute{ifindex: 9, gw: testGW, src: testSrc}
	r, _ := newTestResolver(f, netip.IPv4Unspecified())
	for _, c := range []struct{ peer, want string }{
		{"192.0.2.9", "no route"},
		{"192.0.2.1", "device tun0 is not an Ethernet device"},
		{"192.0.2.2", "neighbour 203.0.113.2 on wan not resolved yet"},
		{"192.0.2.3", "no source address"},
		{"192.0.2.4", "device 9"},
	} {
		h, err := r.resolve(netip.MustParseAddr(c.peer))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %+v, %v; want an error saying %q", c.peer, h, err, c.want)
		}
	}
}

// TestResolverFollowsChanges: an unresolved peer goes through the raw
// socket, with one log line saying why, until a change (here a new
// neighbour entry and a wake-up, as a netlink event gives) resolves it;
// a neighbour that goes away takes it back to the raw socket.
func TestResolverFollowsChanges(t *testing.T) {
	f := newFakeLinks()
	delete(f.neighs, testGW)
	r, lb := newTestResolver(f, netip.IPv4Unspecified())
	r.start(nil)
	defer r.stop()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, lb)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if r.lookup(testFramePeer) != nil {
		t.Fatal("a next hop before the neighbour is resolved")
	}
	waitFor("the reason logged", func() bool { return strings.Contains(lb.String(), "not resolved yet") })
	r.wake()
	time.Sleep(250 * time.Millisecond) // a retry for the same reason logs nothing
	if n := strings.Count(lb.String(), "raw IP socket"); n != 1 {
		t.Errorf("the reason logged %d times, want once:\n%s", n, lb)
	}

	f.mu.Lock()
	f.neighs[testGW] = testGWMAC
	f.mu.Unlock()
	r.wake()
	waitFor("the next hop", func() bool { return r.lookup(testFramePeer) != nil })
	if !strings.Contains(lb.String(), "Ethernet frames") {
		t.Errorf("no log line for the peer going out as frames:\n%s", lb)
	}

	f.mu.Lock()
	delete(f.neighs, testGW)
	f.mu.Unlock()
	r.wake()
	waitFor("the next hop to go", func() bool { return r.lookup(testFramePeer) == nil })
}

// testFrameHeader writes the frame header of an n-byte ESP packet from
// src to dst with IP ID id, and checks its length.
func testFrameHeader(t *testing.T, src, dst netip.Addr, n int, id uint16, wantLen int) []byte {
	t.Helper()
	h := &nextHop{ifindex: 2, mtu: 1500, src: src}
	copy(h.eth[:], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	if src.Is6() {
		h.eth[12], h.eth[13] = 0x86, 0xdd
	}
	var b [frameHeaderMax]byte
	if got := frameHeader(b[:], h, dst, n, id); got != wantLen {
		t.Fatalf("header length %d, want %d", got, wantLen)
	}
	return b[:wantLen]
}

func TestFrameHeaderIPv4(t *testing.T) {
	b := testFrameHeader(t, testSrc, testFramePeer, 1000, 0x1234, 34)
	want := []byte{
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0x03, 0xfc, 0x12, 0x34, 0x40, 0, 64, 50, 0, 0,
		203, 0, 113, 94, 198, 51, 100, 6,
	}
	got := append([]byte(nil), b...)
	got[24], got[25] = 0, 0 // checksum checked below
	if !bytes.Equal(got, want) {
		t.Errorf("header\n got %x\nwant %x", got, want)
	}
	if c := ipv4Checksum(b[ethHeader:]); c != 0 {
		t.Errorf("header does not verify: checksum over it is %#04x, want 0", c)
	}
}

func TestFrameHeaderIPv6(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:1::6")
	ip := testFrameHeader(t, src, dst, 1000, 0, 54)[ethHeader:]
	if ip[0] != 0x60 || binary.BigEndian.Uint16(ip[4:6]) != 1000 || ip[6] != 50 || ip[7] != 64 ||
		netip.AddrFrom16([16]byte(ip[8:24])) != src || netip.AddrFrom16([16]byte(ip[24:40])) != dst {
		t.Errorf("IPv6 header %x", ip)
	}
}

// recordingOuter is an outer socket that keeps what it is asked to send.
type recordingOuter struct {
	sent [][]byte
}

func (r *recordingOuter) readBatch([]*elem) (int, error) { return 0, errors.New("not for reading") }
func (r *recordingOuter) rxSize() int                    { return rxBufSize - rxOffset }
func (r *recordingOuter) writeTo([]byte, netip.AddrPort, netip.AddrPort) error {
	return errors.New("no IKE")
}
func (r *recordingOuter) close() error { return nil }
func (r *recordingOuter) writeBatch(elems []*elem) (int, error) {
	for _, el := range elems {
		r.sent = append(r.sent, append([]byte(nil), el.pkt...))
	}
	return len(elems), nil
}

// sentFrame is one message handed to the fake sendmmsg.
type sentFrame struct {
	frame []byte
	name  unix.RawSockaddrLinklayer
}

// newTestPacketIO is a packetIO whose next hops are resolved from f at
// once and whose sendmmsg records the frames (when frames is not nil).
func newTestPacketIO(t testing.TB, f *fakeLinks, raw outerIO, frames *[]sentFrame) *packetIO {
	r, _ := newTestResolver(f, netip.IPv4Unspecified())
	for p := range f.routes {
		r.lookup(p)
	}
	r.resolveAll()
	p := newPacketIO(raw, false, 0, r)
	p.send = func(fd int, msgs []mmsghdr) (int, error) {
		if frames == nil {
			return len(msgs), nil
		}
		for _, m := range msgs {
			var fr []byte
			for _, iov := range unsafe.Slice(m.hdr.Iov, m.hdr.Iovlen) {
				fr = append(fr, unsafe.Slice(iov.Base, iov.Len)...)
			}
			*frames = append(*frames, sentFrame{fr, *(*unix.RawSockaddrLinklayer)(unsafe.Pointer(m.hdr.Name))})
		}
		return len(msgs), nil
	}
	return p
}

func testElems(peer netip.Addr, sizes ...int) []*elem {
	a := &sa{remote: netip.AddrPortFrom(peer, 0)}
	var elems []*elem
	for i, n := range sizes {
		el := &elem{buf: make([]byte, n), sa: a}
		el.pkt = el.buf
		el.pkt[0] = byte(i + 1)
		elems = append(elems, el)
	}
	return elems
}

func TestPacketIOWriteBatch(t *testing.T) {
	f := newFakeLinks()
	unresolved := netip.MustParseAddr("192.0.2.1")
	f.routes[unresolved] = fakeRoute{ifindex: 3, src: testSrc} // the TUN device
	var frames []sentFrame
	raw := &recordingOuter{}
	p := newTestPacketIO(t, f, raw, &frames)

	elems := testElems(testFramePeer, 100, 1480, 1481) // the last one exceeds the MTU
	elems = append(elems, testElems(unresolved, 60)...)
	n, err := p.writeBatch(elems)
	if err != nil || n != 4 {
		t.Fatalf("writeBatch: %d, %v; want 4 sent", n, err)
	}
	if len(frames) != 2 {
		t.Fatalf("%d frames, want 2 (the packets to the resolved peer within the MTU)", len(frames))
	}
	for i, fr := range frames {
		size := []int{100, 1480}[i]
		if len(fr.frame) != 34+size || fr.frame[34] != byte(i+1) {
			t.Errorf("frame %d: %d bytes starting %x, want 34+%d with packet %d", i, len(fr.frame), fr.frame[:min(40, len(fr.frame))], size, i+1)
		}
		if got := binary.BigEndian.Uint16(fr.frame[16:18]); got != uint16(20+size) {
			t.Errorf("frame %d: IP total length %d, want %d", i, got, 20+size)
		}
		nm := fr.name
		if nm.Family != unix.AF_PACKET || nm.Ifindex != 2 || nm.Halen != 6 || !bytes.Equal(nm.Addr[:6], testGWMAC) ||
			nm.Protocol != htons(unix.ETH_P_IP) {
			t.Errorf("frame %d: address %+v", i, nm)
		}
	}
	if len(raw.sent) != 2 || len(raw.sent[0]) != 1481 || len(raw.sent[1]) != 60 {
		t.Errorf("raw socket got %d packets, want the 1481-byte one and the unresolved peer's", len(raw.sent))
	}
	for i := range p.iovs {
		if p.iovs[i][1].Base != nil {
			t.Fatalf("message %d still points at a packet buffer", i)
		}
	}
}

// TestPacketIONoAllocs guards the "0 allocations per packet" of the
// frame path.
func TestPacketIONoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector; test.sh runs this without -race")
	}
	p := newTestPacketIO(t, newFakeLinks(), &recordingOuter{}, nil)
	sizes := make([]int, sendBatchMax)
	for i := range sizes {
		sizes[i] = 1400
	}
	elems := testElems(testFramePeer, sizes...)
	if a := testing.AllocsPerRun(100, func() { p.writeBatch(elems) }); a != 0 {
		t.Errorf("%v allocs per batch of %d packets", a, len(elems))
	}
}

// BenchmarkPacketIOWriteBatch is the frame path of one sendmmsg of 64
// packets, without the system call (go test -bench PacketIO -benchmem).
func BenchmarkPacketIOWriteBatch(b *testing.B) {
	p := newTestPacketIO(b, newFakeLinks(), &recordingOuter{}, nil)
	sizes := make([]int, sendBatchMax)
	for i := range sizes {
		sizes[i] = 1400
	}
	elems := testElems(testFramePeer, sizes...)
	b.ReportAllocs()
	b.SetBytes(int64(len(elems) * 1400))
	for b.Loop() {
		p.writeBatch(elems)
	}
}

// BenchmarkRawESPSend compares the CPU the sending thread spends per
// packet on the raw IP socket, on the packet socket (sendmmsg) and on a
// packet socket's mapped send ring (txring, an experiment; see
// txRingSender): batches of 64
// ESP packets of 1,400 bytes through a veth pair in a network namespace of
// the benchmark's own (the far end drops them: no address, and a next hop
// MAC that is not its own). CPU time of the thread (RUSAGE_THREAD), not
// wall time, so that other load on the machine matters less; the veth's
// receive work runs in the sender's softirq and is counted for both.
// Needs root:
//
//	go test -run XXX -bench RawESPSend -benchmem ./esp/
func BenchmarkRawESPSend(b *testing.B) {
	for _, mode := range []RawESPMode{RawESPSocket, RawESPPacket, "txring"} {
		b.Run(string(mode), func(b *testing.B) { benchmarkRawESPSend(b, mode) })
	}
}

func benchmarkRawESPSend(b *testing.B, mode RawESPMode) {
	{
		// The thread stays locked and ends with the benchmark's
		// goroutine, taking the namespace it entered with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			b.Skipf("needs root for a network namespace: %v", err)
		}
		peer := netip.MustParseAddr("192.0.2.2")
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"link", "add", "rawespA", "type", "veth", "peer", "name", "rawespB"},
			{"addr", "add", "192.0.2.1/24", "dev", "rawespA"},
			{"link", "set", "rawespA", "up"},
			{"link", "set", "rawespB", "up"},
			{"neigh", "add", peer.String(), "lladdr", "02:00:00:00:00:99", "nud", "permanent", "dev", "rawespA"},
		} {
			// ip joins the namespace of the thread that starts it.
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				b.Fatalf("ip %v: %v: %s", args, err, out)
			}
		}
		raw, err := listenRawESP(netip.IPv4Unspecified())
		if err != nil {
			b.Fatal(err)
		}
		defer raw.close()
		send := raw.writeBatch
		if mode != RawESPSocket {
			r, _ := newTestResolver(netlinkLookup{}, netip.IPv4Unspecified())
			r.lookup(peer)
			r.resolveAll() // in this thread: netlink asks this namespace
			hop := r.lookup(peer)
			if hop == nil {
				b.Fatal("next hop not resolved")
			}
			if mode == RawESPPacket {
				fd, err := openPacketSocket()
				if err != nil {
					b.Fatal(err)
				}
				p := newPacketIO(raw, false, fd, r)
				defer p.close()
				send = p.writeBatch
			} else {
				t, err := openTxRingSender(hop)
				if err != nil {
					b.Fatal(err)
				}
				defer t.close()
				send = t.writeBatch
			}
		}
		sizes := make([]int, sendBatchMax)
		for i := range sizes {
			sizes[i] = 1400
		}
		elems := testElems(peer, sizes...)
		var before, after unix.Rusage
		b.ReportAllocs()
		b.SetBytes(int64(len(elems) * 1400))
		unix.Getrusage(unix.RUSAGE_THREAD, &before)
		for b.Loop() {
			if _, err := send(elems); err != nil {
				b.Fatal(err)
			}
		}
		unix.Getrusage(unix.RUSAGE_THREAD, &after)
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(elems)), "cpu-ns/pkt")
	}
}

// TestSendmmsgWaitsForRoom: sendmmsg's first, non-blocking try finds a
// full send buffer and falls back to the blocking call, which returns
// once the peer made room, with the message sent and no error.
func TestSendmmsgWaitsForRoom(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	payload := make([]byte, 512)
	filled := 0
	for ; filled < 10000; filled++ {
		if err := unix.Sendmsg(fds[0], payload, nil, nil, unix.MSG_DONTWAIT); err == unix.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if filled == 10000 {
		t.Fatal("the send buffer never filled")
	}
	iov := unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	msgs := make([]mmsghdr, 1)
	msgs[0].hdr.Iov = &iov
	msgs[0].hdr.SetIovlen(1)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := sendmmsg(fds[0], msgs)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("sendmmsg returned %d, %v on a full buffer", r.n, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	buf := make([]byte, 1024)
	for i := 0; i <= filled; i++ {
		if _, err := unix.Read(fds[1], buf); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if r.n != 1 || r.err != nil {
				t.Fatalf("sendmmsg returned %d, %v", r.n, r.err)
			}
			return
		default:
		}
	}
	select {
	case r := <-done:
		if r.n != 1 || r.err != nil {
			t.Fatalf("sendmmsg returned %d, %v", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sendmmsg still blocked after the buffer drained")
	}
}
