package esp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/testenv"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// filterPacket is what rxFilter sees of a packet: the kernel's view
// (device, packet type, EtherType) and the network-layer bytes.
type filterPacket struct {
	ifindex, pktType, proto uint32
	b                       []byte
}

// runFilter interprets the instructions rxFilter uses (x/net/bpf's VM
// lacks the kernel's extensions) and returns the filter's verdict.
func runFilter(t *testing.T, prog []bpf.Instruction, p filterPacket) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		switch ins := prog[pc].(type) {
		case bpf.RetConstant:
			return ins.Val
		case bpf.LoadExtension:
			switch ins.Num {
			case bpf.ExtInterfaceIndex:
				a = p.ifindex
			case bpf.ExtType:
				a = p.pktType
			case bpf.ExtProto:
				a = p.proto
			case bpf.ExtLen:
				a = uint32(len(p.b))
			default:
				t.Fatalf("extension %v", ins.Num)
			}
		case bpf.LoadAbsolute:
			end := int(ins.Off) + ins.Size
			if end > len(p.b) {
				return 0 // the kernel ends the program: no match
			}
			a = 0
			for _, c := range p.b[ins.Off:end] {
				a = a<<8 | uint32(c)
			}
		case bpf.JumpIf:
			var ok bool
			switch ins.Cond {
			case bpf.JumpEqual:
				ok = a == ins.Val
			case bpf.JumpLessOrEqual:
				ok = a <= ins.Val
			case bpf.JumpBitsSet:
				ok = a&ins.Val != 0
			default:
				t.Fatalf("condition %v", ins.Cond)
			}
			if ok {
				pc += int(ins.SkipTrue)
			} else {
				pc += int(ins.SkipFalse)
			}
		default:
			t.Fatalf("instruction %T", ins)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

// outerPacket returns an IP packet from src to dst with protocol proto
// and n bytes of payload, header checksum set.
func outerPacket(src, dst netip.Addr, proto byte, n int) []byte {
	if dst.Is6() {
		b := make([]byte, outerIPv6Header+n)
		b[0] = 0x60
		binary.BigEndian.PutUint16(b[4:6], uint16(n))
		b[6], b[7] = proto, 64
		s, d := src.As16(), dst.As16()
		copy(b[8:24], s[:])
		copy(b[24:40], d[:])
		return b
	}
	b := make([]byte, outerIPv4Header+n)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	b[6], b[8], b[9] = 0x40, 64, proto
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], ipv4Checksum(b[:20]))
	return b
}

func TestRxFilter(t *testing.T) {
	peer4, peer6 := netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("2001:db8:2::6")
	ours4 := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("203.0.113.94")}
	ours6 := []netip.Addr{netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::94")}
	devs := []rxDev{{2, "wan"}, {7, "lan"}}
	frag := func(b []byte, off uint16) []byte {
		binary.BigEndian.PutUint16(b[6:8], off)
		return b
	}
	type tc struct {
		name string
		p    filterPacket
		take bool
	}
	v4 := func(dst netip.Addr, proto byte, n int) []byte { return outerPacket(peer4, dst, proto, n) }
	v6 := func(dst netip.Addr, proto byte, n int) []byte { return outerPacket(peer6, dst, proto, n) }
	cases4 := []tc{
		{"esp to the second address", filterPacket{2, 0, unix.ETH_P_IP, v4(ours4[1], 50, 100)}, true},
		{"esp to the first address on the second device", filterPacket{7, 0, unix.ETH_P_IP, v4(ours4[0], 50, 1400)}, true},
		{"largest a frame holds", filterPacket{2, 0, unix.ETH_P_IP, v4(ours4[0], 50, rxFrameData-outerIPv4Header)}, true},
		{"one byte more", filterPacket{2, 0, unix.ETH_P_IP, v4(ours4[0], 50, rxFrameData-outerIPv4Header+1)}, false},
		{"other device", filterPacket{3, 0, unix.ETH_P_IP, v4(ours4[0], 50, 100)}, false},
		{"other host (promiscuous)", filterPacket{2, unix.PACKET_OTHERHOST, unix.ETH_P_IP, v4(ours4[0], 50, 100)}, false},
		{"broadcast", filterPacket{2, unix.PACKET_BROADCAST, unix.ETH_P_IP, v4(ours4[0], 50, 100)}, false},
		{"udp", filterPacket{2, 0, unix.ETH_P_IP, v4(ours4[0], 17, 100)}, false},
		{"esp in transit", filterPacket{2, 0, unix.ETH_P_IP, v4(netip.MustParseAddr("192.0.2.9"), 50, 100)}, false},
		{"first fragment", filterPacket{2, 0, unix.ETH_P_IP, frag(v4(ours4[0], 50, 100), 0x2000)}, false},
		{"later fragment", filterPacket{2, 0, unix.ETH_P_IP, frag(v4(ours4[0], 50, 100), 0x0010)}, false},
		{"DF only", filterPacket{2, 0, unix.ETH_P_IP, frag(v4(ours4[0], 50, 100), 0x4000)}, true},
		{"ipv6 EtherType", filterPacket{2, 0, unix.ETH_P_IPV6, v4(ours4[0], 50, 100)}, false},
		{"short", filterPacket{2, 0, unix.ETH_P_IP, v4(ours4[0], 50, 100)[:12]}, false},
	}
	cases6 := []tc{
		{"esp to the first address", filterPacket{2, 0, unix.ETH_P_IPV6, v6(ours6[0], 50, 100)}, true},
		{"esp to the second address", filterPacket{7, 0, unix.ETH_P_IPV6, v6(ours6[1], 50, 1400)}, true},
		{"differs in the last word", filterPacket{2, 0, unix.ETH_P_IPV6, v6(netip.MustParseAddr("2001:db8:1::95"), 50, 100)}, false},
		{"differs in the first word", filterPacket{2, 0, unix.ETH_P_IPV6, v6(netip.MustParseAddr("2001:db9:1::94"), 50, 100)}, false},
		{"extension header", filterPacket{2, 0, unix.ETH_P_IPV6, v6(ours6[0], 44, 100)}, false},
		{"ipv4 EtherType", filterPacket{2, 0, unix.ETH_P_IP, v6(ours6[0], 50, 100)}, false},
		{"other host", filterPacket{2, unix.PACKET_OTHERHOST, unix.ETH_P_IPV6, v6(ours6[0], 50, 100)}, false},
	}
	for _, fam := range []struct {
		v6    bool
		addrs []netip.Addr
		cases []tc
	}{{false, ours4, cases4}, {true, ours6, cases6}} {
		prog := rxFilter(rxClaim{addrs: fam.addrs, devs: devs}, fam.v6)
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatal(err)
		}
		for _, c := range fam.cases {
			if got := runFilter(t, prog, c.p) != 0; got != c.take {
				t.Errorf("v6=%v %s: taken %v, want %v", fam.v6, c.name, got, c.take)
			}
		}
		if got := runFilter(t, rxFilter(rxClaim{devs: devs}, fam.v6), fam.cases[0].p); got != 0 {
			t.Errorf("v6=%v: a claim without addresses takes packets", fam.v6)
		}
	}
}

// TestRxFilterLargestClaim: the longest filter still assembles (its
// jumps fit their 8 bits).
func TestRxFilterLargestClaim(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		var c rxClaim
		for i := 0; i < rxClaimMax; i++ {
			c.devs = append(c.devs, rxDev{index: i + 1})
			if v6 {
				c.addrs = append(c.addrs, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}))
			} else {
				c.addrs = append(c.addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
			}
		}
		prog := rxFilter(c, v6)
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatal(err)
		}
		last := c.addrs[len(c.addrs)-1]
		p := filterPacket{uint32(rxClaimMax), 0, unix.ETH_P_IP, outerPacket(netip.MustParseAddr("198.51.100.6"), last, 50, 64)}
		if v6 {
			p = filterPacket{uint32(rxClaimMax), 0, unix.ETH_P_IPV6, outerPacket(netip.MustParseAddr("2001:db8:2::6"), last, 50, 64)}
		}
		if runFilter(t, prog, p) == 0 {
			t.Errorf("v6=%v: the last address on the last device is not taken", v6)
		}
	}
}

// testRing is a ring in ordinary memory, frames written as the kernel
// writes them.
func testRing(v6 bool) *rxRing {
	return &rxRing{v6: v6, fd: -1, wake: -1, ring: make([]byte, rxFrames*rxFrameSize)}
}

// put writes b into frame i as the kernel would and hands it over.
func (r *rxRing) put(i int, b []byte) {
	h := r.frame(i)
	h.Net, h.Mac = rxFrameNet, rxFrameNet
	h.Len, h.Snaplen = uint32(len(b)), uint32(len(b))
	copy(r.ring[i*rxFrameSize+rxFrameNet:], b)
	atomic.StoreUint32(&h.Status, unix.TP_STATUS_USER)
}

func rxElems(n int) []*elem {
	elems := make([]*elem, n)
	for i := range elems {
		elems[i] = getRxElem(rxBufSize - rxOffset)
	}
	return elems
}

func TestRxRingDrain(t *testing.T) {
	peer, ours := netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("203.0.113.94")
	r := testRing(false)
	good := outerPacket(peer, ours, 50, 100)
	copy(good[20:], []byte{0, 0, 0x10, 0x01, 0, 0, 0, 1})
	padded := append(outerPacket(peer, ours, 50, 8), make([]byte, 18)...) // a 60-byte Ethernet minimum
	badSum := outerPacket(peer, ours, 50, 100)
	badSum[10] ^= 0xff
	long := outerPacket(peer, ours, 50, 100)
	binary.BigEndian.PutUint16(long[2:4], 200) // longer than what came
	// Start near the end of the ring: the reader wraps around.
	start := rxFrames - 2
	r.cur = start
	for i, b := range [][]byte{good, padded, badSum, long} {
		r.put((start+i)%rxFrames, b)
	}
	elems := rxElems(8)
	if n := r.drain(elems); n != 4 {
		t.Fatalf("drained %d frames, want 4", n)
	}
	if el := elems[0]; len(el.pkt) != 100 || el.src.Addr() != peer || el.dst.Addr() != ours || el.pktOff != rxOffset+20 || el.pkt[3] != 0x01 {
		t.Errorf("good packet: pkt %d bytes, %v -> %v, off %d", len(el.pkt), el.src, el.dst, el.pktOff)
	}
	if len(elems[1].pkt) != 8 {
		t.Errorf("padded packet: %d bytes of ESP, want 8 (padding past the total length kept)", len(elems[1].pkt))
	}
	if len(elems[2].pkt) != 0 || len(elems[3].pkt) != 0 {
		t.Errorf("bad checksum / bad length gave %d / %d bytes, want none", len(elems[2].pkt), len(elems[3].pkt))
	}
	for i := 0; i < 4; i++ {
		if s := r.frame((start + i) % rxFrames).Status; s != unix.TP_STATUS_KERNEL {
			t.Errorf("frame %d not handed back: status %#x", i, s)
		}
	}
	if r.cur != 2 || r.drain(elems) != 0 {
		t.Errorf("after the drain the reader is at %d, want 2, and the ring should be empty", r.cur)
	}

	r6 := testRing(true)
	peer6, ours6 := netip.MustParseAddr("2001:db8:2::6"), netip.MustParseAddr("2001:db8:1::94")
	r6.put(0, append(outerPacket(peer6, ours6, 50, 64), 0xee)) // one byte past the payload length
	r6.put(1, outerPacket(peer6, ours6, 43, 64))
	if n := r6.drain(elems); n != 2 {
		t.Fatalf("IPv6: drained %d, want 2", n)
	}
	if el := elems[0]; len(el.pkt) != 64 || el.src.Addr() != peer6 || el.dst.Addr() != ours6 || el.pktOff != rxOffset+40 {
		t.Errorf("IPv6 packet: pkt %d bytes, %v -> %v, off %d", len(el.pkt), el.src, el.dst, el.pktOff)
	}
	if len(elems[1].pkt) != 0 {
		t.Error("IPv6 with a routing header was taken as ESP")
	}
}

// TestRxRingNoAllocs guards the "0 allocations per packet" of the ring's
// receive path.
func TestRxRingNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector; test.sh runs this without -race")
	}
	r := testRing(false)
	pkt := outerPacket(netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("203.0.113.94"), 50, 1400)
	elems := rxElems(outerBatch)
	if a := testing.AllocsPerRun(100, func() {
		for i := 0; i < outerBatch; i++ {
			r.put((r.cur+i)%rxFrames, pkt)
		}
		r.drain(elems)
	}); a != 0 {
		t.Errorf("%v allocs per batch of %d packets", a, outerBatch)
	}
}

// BenchmarkRawESPReceive compares the CPU the host spends per received
// raw ESP packet of 1,400 bytes on the raw IP socket and on the packet
// ring (with its ingress drop rule): a packet socket sends batches of
// frames into one end of a veth pair, in a network namespace of the
// benchmark's own, and the reader takes them from the other end's
// address. CPU of the whole process (RUSAGE_SELF): the veth delivers in
// the sender's softirq, so the receive work of the kernel is counted
// with the reader's. Needs root:
//
//	go test -run XXX -bench RawESPReceive -benchmem ./esp/
func BenchmarkRawESPReceive(b *testing.B) {
	for _, mode := range []RawESPMode{RawESPSocket, RawESPPacket, rawESPXDP} {
		b.Run(string(mode), func(b *testing.B) { benchmarkRawESPReceive(b, mode) })
	}
}

// rxTestNet is a network namespace of the calling thread's own with a
// veth pair: rxA holds 192.0.2.1, the receiving address; frames sent on
// rxB reach it. The thread stays locked and ends with the test's
// goroutine, taking the namespace it entered with it.
type rxTestNet struct {
	ours, peer netip.Addr
	in         outerIO // the receiving socket: the raw socket, or with the ring
	sender     *packetIO
	fd         int // the sender's packet socket
	hop        *nextHop
}

func newRxTestNet(tb testing.TB, mode RawESPMode) *rxTestNet {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		testenv.Unavailable(tb, "needs root for a network namespace: %v", err)
	}
	n := &rxTestNet{ours: netip.MustParseAddr("192.0.2.1"), peer: netip.MustParseAddr("192.0.2.2")}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "rxA", "type", "veth", "peer", "name", "rxB"},
		{"addr", "add", "192.0.2.1/24", "dev", "rxA"},
		{"link", "set", "rxA", "up"},
		{"link", "set", "rxB", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	raw, err := listenRawESP(n.ours)
	if err != nil {
		tb.Fatal(err)
	}
	n.in = raw
	if mode == RawESPPacket {
		rx, err := openRxRing(false)
		if err != nil {
			tb.Fatal(err)
		}
		// Set in this thread: netlink and nftables talk to this namespace.
		c, err := claimOf(n.ours, false, linkByIndex)
		if err != nil || c.empty() {
			tb.Fatalf("claim %+v: %v", c, err)
		}
		if err := rx.setClaim(c); err != nil {
			tb.Fatal(err)
		}
		drop := newDropTable(false, nil)
		if err := drop.apply(c); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { drop.close() })
		p := newPacketIO(raw, false, -1, nil)
		p.rx, p.rawRx, p.rawFD = rx, raw, raw.rd.fd()
		n.in = p
	}
	if mode == rawESPXDP {
		a, err := net.InterfaceByName("rxA")
		if err != nil {
			tb.Fatal(err)
		}
		x, err := openXSK(a.Index, n.ours)
		if err != nil {
			tb.Fatal(err)
		}
		raw.close()
		n.in = x
	}
	tb.Cleanup(func() { n.in.close() })

	// The sender: frames from rxB to rxA's MAC, on a packet socket with
	// the next hop set by hand (the kernel routes 192.0.2.1 locally).
	fd, err := openPacketSocket()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	a, errA := net.InterfaceByName("rxA")
	bl, errB := net.InterfaceByName("rxB")
	if errA != nil || errB != nil {
		tb.Fatal(errA, errB)
	}
	hop := &nextHop{ifindex: bl.Index, mtu: 1500, src: n.peer}
	copy(hop.eth[0:6], a.HardwareAddr)
	copy(hop.eth[6:12], bl.HardwareAddr)
	hop.eth[12] = 0x08
	hops, _ := newTestResolver(netlinkLookup{}, n.peer)
	hops.hops.Store(&map[netip.Addr]*nextHop{n.ours: hop})
	n.sender = newPacketIO(&recordingOuter{}, false, fd, hops)
	n.fd, n.hop = fd, hop
	return n
}

// sendFrame sends the IP packet b to rxA as one Ethernet frame.
func (n *rxTestNet) sendFrame(tb testing.TB, b []byte) {
	frame := append(append([]byte(nil), n.hop.eth[:]...), b...)
	to := &unix.SockaddrLinklayer{Ifindex: n.hop.ifindex, Protocol: htons(unix.ETH_P_IP), Halen: 6}
	copy(to.Addr[:], n.hop.eth[0:6])
	if err := unix.Sendto(n.fd, frame, 0, to); err != nil {
		tb.Fatal(err)
	}
}

// sendWhole sends count ESP packets of size bytes to rxA in one batch.
func (n *rxTestNet) sendWhole(tb testing.TB, count, size int) {
	sizes := make([]int, count)
	for i := range sizes {
		sizes[i] = size
	}
	if _, err := n.sender.writeBatch(testElems(n.ours, sizes...)); err != nil {
		tb.Fatal(err)
	}
}

// sendESPFragments sends an ESP packet of espLen bytes to rxA as two
// IPv4 fragments, the first carrying split bytes of it.
func (n *rxTestNet) sendESPFragments(tb testing.TB, espLen, split int) {
	whole := outerPacket(n.peer, n.ours, 50, espLen)
	binary.BigEndian.PutUint32(whole[20:], 0x1001)
	frags := [][]byte{append([]byte(nil), whole[:20+split]...), append(append([]byte(nil), whole[:20]...), whole[20+split:]...)}
	for i, f := range frags {
		binary.BigEndian.PutUint16(f[2:4], uint16(len(f)))
		if i == 0 {
			binary.BigEndian.PutUint16(f[6:8], 0x2000) // more fragments
		} else {
			binary.BigEndian.PutUint16(f[6:8], uint16(split/8))
		}
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:12], ipv4Checksum(f[:20]))
		n.sendFrame(tb, f)
	}
}

// snmp returns the IPv4 counter name of the thread's namespace.
func (n *rxTestNet) snmp(tb testing.TB, name string) int64 {
	b, err := os.ReadFile("/proc/thread-self/net/snmp")
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Ip:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := range names {
			if names[i] == name && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	tb.Fatalf("no Ip %s", name)
	return 0
}

// TestRxRingAndRawSocket: with the ring claiming 192.0.2.1, whole ESP
// packets come from the ring and never reach the IP stack, while an ESP
// packet sent in two IPv4 fragments is left to the stack, reassembled
// and read from the raw socket by the same readBatch.
func TestRxRingAndRawSocket(t *testing.T) {
	n := newRxTestNet(t, RawESPPacket)
	// A read that waits for what never comes ends with the socket.
	watchdog := time.AfterFunc(10*time.Second, func() { n.in.close() })
	defer watchdog.Stop()
	in := rxElems(outerBatch)
	// Reads until want packets of size came.
	read := func(want, size int) int {
		got := 0
		for got < want {
			k, err := n.in.readBatch(in)
			if err != nil {
				t.Fatalf("after %d packets of %d bytes: %v", got, size, err)
			}
			for _, el := range in[:k] {
				if len(el.pkt) == size {
					got++
				}
			}
		}
		return got
	}
	before := n.snmp(t, "InReceives")
	n.sendWhole(t, 32, 1000)
	if got := read(32, 1000); got != 32 {
		t.Fatalf("%d of 32 whole packets read", got)
	}
	if d := n.snmp(t, "InReceives") - before; d != 0 {
		t.Errorf("Ip InReceives grew by %d: whole packets reached the IP stack", d)
	}

	n.sendESPFragments(t, 1200, 800)
	if got := read(1, 1200); got != 1 {
		t.Fatal("the fragmented packet did not come through the raw socket")
	}
}

// TestRxRingWatchedOnlyWhileParked: the ring's socket is in an epoll set
// while its reader parks, and out of it once the reader is back for more
// and finds packets waiting. A lasting entry would have the kernel run
// the set's wake-up (and the runtime poller's behind it) for every packet
// put in the ring.
func TestRxRingWatchedOnlyWhileParked(t *testing.T) {
	n := newRxTestNet(t, RawESPPacket)
	ring := n.in.(*packetIO).rx
	watchdog := time.AfterFunc(10*time.Second, func() { n.in.close() })
	defer watchdog.Stop()
	in := rxElems(outerBatch)
	read := make(chan error, 1)
	go func() {
		_, err := n.in.readBatch(in)
		read <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); !epollWatches(t, ring.fd); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reader of an empty ring never parked on it")
		}
	}
	n.sendWhole(t, 8, 1000)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	// The next read finds packets and takes the ring out of the set.
	n.sendWhole(t, 8, 1000)
	if _, err := n.in.readBatch(in); err != nil {
		t.Fatal(err)
	}
	if epollWatches(t, ring.fd) {
		t.Error("the ring is still in an epoll set while its reader finds packets")
	}
}

// epollWatches reports whether one of the process's epoll sets holds fd,
// by their /proc fdinfo.
func epollWatches(t *testing.T, fd int) bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(fd)
	for _, ent := range ents {
		if link, _ := os.Readlink("/proc/self/fd/" + ent.Name()); link != "anon_inode:[eventpoll]" {
			continue
		}
		info, _ := os.ReadFile("/proc/self/fdinfo/" + ent.Name())
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" && f[1] == want {
				return true
			}
		}
	}
	return false
}

func benchmarkRawESPReceive(b *testing.B, mode RawESPMode) {
	n := newRxTestNet(b, mode)
	ours, io, sender := n.ours, n.in, n.sender
	sizes := make([]int, sendBatchMax)
	for i := range sizes {
		sizes[i] = 1400
	}
	out := testElems(ours, sizes...)
	in := rxElems(outerBatch)
	// A lost batch must not hang the benchmark: reads fail once closed.
	watchdog := time.AfterFunc(time.Minute, func() { io.close() })
	defer watchdog.Stop()
	var before, after unix.Rusage
	received := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(out) * 1400))
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	for b.Loop() {
		if _, err := sender.writeBatch(out); err != nil {
			b.Fatal(err)
		}
		// Take what came; the socket's buffer or the ring hold a batch.
		deadline := time.Now().Add(time.Second)
		for got := 0; got < len(out) && time.Now().Before(deadline); {
			n, err := io.readBatch(in)
			if err != nil {
				b.Fatalf("after %d packets: %v", received, err)
			}
			for _, el := range in[:n] {
				if len(el.pkt) == 1400 {
					got++
				}
			}
			received += n
		}
	}
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	if received == 0 {
		b.Fatal("nothing received")
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(received), "cpu-ns/pkt")
}

// FuzzRxRingDrain: whatever bytes a frame holds, drain takes them without
// panicking, and a packet it lets through is ESP inside the frame's
// bytes, from the addresses of the outer header.
func FuzzRxRingDrain(f *testing.F) {
	peer, ours := netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("203.0.113.94")
	peer6, ours6 := netip.MustParseAddr("2001:db8:2::6"), netip.MustParseAddr("2001:db8:1::94")
	f.Add(false, outerPacket(peer, ours, 50, 40))
	f.Add(false, append(outerPacket(peer, ours, 50, 8), make([]byte, 18)...))
	opts := outerPacket(peer, ours, 50, 40)
	opts[0] = 0x46
	f.Add(false, opts)
	f.Add(true, outerPacket(peer6, ours6, 50, 40))
	f.Add(true, outerPacket(peer6, ours6, 0, 40))
	f.Add(false, []byte{0x45})
	r4, r6 := testRing(false), testRing(true)
	elems := rxElems(1)
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		if len(b) > rxFrameData {
			b = b[:rxFrameData]
		}
		r := r4
		if v6 {
			r = r6
		}
		r.put(r.cur, b)
		if n := r.drain(elems); n != 1 {
			t.Fatalf("drained %d", n)
		}
		el := elems[0]
		if len(el.pkt) == 0 {
			return
		}
		hl := el.pktOff - rxOffset
		if hl < 20 || hl+len(el.pkt) > len(b) || !bytes.Equal(el.pkt, b[hl:hl+len(el.pkt)]) {
			t.Fatalf("pkt of %d bytes at header length %d is not inside the %d-byte frame", len(el.pkt), hl, len(b))
		}
		if v6 != el.src.Addr().Is6() || v6 != el.dst.Addr().Is6() {
			t.Fatalf("addresses %v -> %v in a v6=%v ring", el.src, el.dst, v6)
		}
	})
}
