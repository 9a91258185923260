package esp

import (
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// segment describes a TCP segment (or, with udp, a UDP datagram) of the
// flow 192.168.2.1:40000+sport -> 172.16.1.4:5201 for the GRO tests;
// zero values give an IPv4 ACK segment without options, TTL 64.
type segment struct {
	sport      uint16 // added to 40000
	seq, ack   uint32
	n          int  // payload bytes
	flags      byte // TCP flags beyond ACK (0x08 PSH, 0x01 FIN)
	noACK      bool // no ACK flag either
	ttl        byte // 0: 64
	tsval      uint32
	timestamps bool // a 12-byte timestamp option with tsval
	v6, udp    bool
	fragment   bool // IPv4 more-fragments set
}

func (g segment) build() []byte {
	l4 := 8
	if !g.udp {
		l4 = 20
		if g.timestamps {
			l4 = 32
		}
	}
	ttl := g.ttl
	if ttl == 0 {
		ttl = 64
	}
	var p []byte
	proto := byte(protoTCP)
	if g.udp {
		proto = protoUDP
	}
	if g.v6 {
		p = make([]byte, 40+l4+g.n)
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(l4+g.n))
		p[6], p[7] = proto, ttl
		copy(p[8:], net.ParseIP("2001:db8:2::1").To16())
		copy(p[24:], net.ParseIP("2001:db8:1::4").To16())
	} else {
		p = make([]byte, 20+l4+g.n)
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		p[6] = 0x40 // DF
		if g.fragment {
			p[6] |= 0x20
		}
		p[8], p[9] = ttl, proto
		copy(p[12:], []byte{192, 168, 2, 1})
		copy(p[16:], []byte{172, 16, 1, 4})
		binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	}
	t := p[len(p)-l4-g.n:]
	binary.BigEndian.PutUint16(t[0:], 40000+g.sport)
	binary.BigEndian.PutUint16(t[2:], 5201)
	for i := range g.n {
		t[l4+i] = byte(g.seq) + byte(i)
	}
	if g.udp {
		binary.BigEndian.PutUint16(t[4:], uint16(l4+g.n))
		binary.BigEndian.PutUint16(t[6:], l4Checksum(p))
		return p
	}
	binary.BigEndian.PutUint32(t[4:], g.seq)
	binary.BigEndian.PutUint32(t[8:], g.ack)
	t[12] = byte(l4/4) << 4
	t[13] = g.flags
	if !g.noACK {
		t[13] |= 0x10
	}
	binary.BigEndian.PutUint16(t[14:], 512)
	if g.timestamps {
		t[20], t[21], t[22], t[23] = 1, 1, 8, 10 // NOP, NOP, timestamps
		binary.BigEndian.PutUint32(t[24:], g.tsval)
	}
	binary.BigEndian.PutUint16(t[16:], l4Checksum(p))
	return p
}

// groDevice creates a TUN device with offloads in a network namespace of
// the test's own (the test's thread is locked to it) and a packet socket
// that reads what the kernel receives on it.
func groDevice(t *testing.T) (tun.Device, int) {
	runtime.LockOSThread() // the namespace ends with the test's thread
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		testenv.Unavailable(t, "needs root for a network namespace: %v", err)
	}
	dev, err := tun.CreateTUN("grotest0", 1500)
	if err != nil {
		testenv.Unavailable(t, "needs a TUN device: %v", err)
	}
	t.Cleanup(func() { dev.Close() })
	if dev.BatchSize() == 1 {
		testenv.Unavailable(t, "the TUN device came up without offloads, so it coalesces nothing")
	}
	if out, err := exec.Command("ip", "link", "set", "grotest0", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v: %s", err, out)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ifi, err := net.InterfaceByName("grotest0")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(500 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return dev, fd
}

// TestGROCoalescedFitsIPLength writes runs of TCP segments, staged as the
// receive path stages them, to a real TUN device with offloads, and reads
// what the kernel received with a packet socket on the device. Segment
// sizes whose coalesced run would pass 65,535 bytes (an IP packet's
// largest) by less than a large buffer's spare room must be cut into two
// packets, not written as one whose 16-bit length field wrapped: the
// kernel trims such a packet to the wrapped length and TCP loses the data.
func TestGROCoalescedFitsIPLength(t *testing.T) {
	dev, fd := groDevice(t)
	var heads groHeads
	buf := make([]byte, 1<<17)
	// Runs of 48 IPv4 TCP segments. Before the cap, the first 45 of 1460
	// bytes (an MSS of 1460 without timestamps), 46 of 1428 and 48 of 1368
	// coalesced into one packet of 65,536 to 65,760 bytes, whose length
	// field wrapped; 1000-byte segments never reached the limit.
	for _, seg := range []int{1460, 1428, 1368, 1000} {
		const count = 48
		bufs := make([][]byte, count)
		for i := range bufs {
			b := make([]byte, tunWriteOffset, rxBufSize)
			bufs[i] = append(b, segment{seq: uint32(1000 + i*seg), n: seg}.build()...)
		}
		heads.stage(bufs)
		_, err := dev.Write(bufs, tunWriteOffset)
		heads.release()
		if err != nil {
			t.Fatalf("segments of %d: TUN write: %v", seg, err)
		}
		got, packets := 0, 0
		for got < count*seg {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("segments of %d: %d of %d payload bytes arrived: %v", seg, got, count*seg, err)
			}
			p := buf[:n]
			if n < 40 || p[0] != 0x45 || p[9] != protoTCP {
				continue // not ours (the kernel's own packets on the device)
			}
			if total := int(binary.BigEndian.Uint16(p[2:])); total != n {
				t.Fatalf("segments of %d: the kernel got a %d-byte packet whose IP length says %d", seg, n, total)
			}
			got += n - 40
			packets++
		}
		if got != count*seg {
			t.Fatalf("segments of %d: %d payload bytes arrived, want %d", seg, got, count*seg)
		}
		// Coalesced up to 65,535 bytes: two packets at most.
		if packets > 2 {
			t.Fatalf("segments of %d: the kernel got %d packets, want the %d coalesced into 2 at most", seg, packets, count)
		}
	}
}

// groCases are TUN writes whose packets the device's GRO coalesces in
// different ways, with the packets that start a run (and so need room to
// grow) marked.
// groCase is a TUN write whose packets the device's GRO coalesces in a
// way of its own, with the packets that start a run (and so need room to
// grow) marked.
type groCase struct {
	name   string
	segs   []segment
	starts []bool
}

var groCases = []groCase{
	{"in order", []segment{{seq: 0, n: 1400}, {seq: 1400, n: 1400}, {seq: 2800, n: 1400}}, []bool{true, false, false}},
	{"PSH ends a run", []segment{{seq: 0, n: 1400}, {seq: 1400, n: 1400, flags: 0x08}, {seq: 2800, n: 1400}, {seq: 4200, n: 1400}},
		[]bool{true, false, true, false}},
	{"a shorter segment ends a run", []segment{{seq: 0, n: 1400}, {seq: 1400, n: 600}, {seq: 2000, n: 1400}}, []bool{true, false, true}},
	{"a longer segment cannot follow", []segment{{seq: 0, n: 600}, {seq: 600, n: 1400}, {seq: 2000, n: 1400}}, []bool{true, true, false}},
	{"a gap", []segment{{seq: 0, n: 1400}, {seq: 2800, n: 1400}, {seq: 4200, n: 1400}}, []bool{true, true, false}},
	{"two flows interleaved", []segment{{seq: 0, n: 1400}, {sport: 1, seq: 0, n: 1000}, {seq: 1400, n: 1400}, {sport: 1, seq: 1000, n: 1000}},
		[]bool{true, true, false, false}},
	{"acknowledgments differ", []segment{{seq: 0, n: 1400}, {seq: 1400, n: 1400, ack: 1}}, []bool{true, true}},
	{"TTLs differ", []segment{{seq: 0, n: 1400}, {seq: 1400, n: 1400, ttl: 63}}, []bool{true, true}},
	{"same timestamps", []segment{{seq: 0, n: 1388, timestamps: true, tsval: 7}, {seq: 1388, n: 1388, timestamps: true, tsval: 7}},
		[]bool{true, false}},
	{"timestamps differ", []segment{{seq: 0, n: 1388, timestamps: true, tsval: 7}, {seq: 1388, n: 1388, timestamps: true, tsval: 8}},
		[]bool{true, true}},
	{"a pure ACK and a FIN in between", []segment{{seq: 0, n: 1400}, {seq: 1400}, {seq: 1400, n: 10, flags: 0x01}, {seq: 1400, n: 1400}},
		[]bool{true, false, false, false}},
	{"not coalesced", []segment{{seq: 0, n: 1400, fragment: true}, {seq: 0, n: 1400, noACK: true}}, []bool{false, false}},
	{"IPv6", []segment{{v6: true, seq: 0, n: 1380}, {v6: true, seq: 1380, n: 1380}, {v6: true, seq: 2760, n: 1380}},
		[]bool{true, false, false}},
	{"UDP", []segment{{udp: true, n: 1400}, {udp: true, n: 1400}, {udp: true, n: 300}, {udp: true, n: 1400}},
		[]bool{true, false, false, true}},
	{"UDP over IPv6", []segment{{udp: true, v6: true, n: 1400}, {udp: true, v6: true, n: 1400}}, []bool{true, false}},
}

// groAllCases is groCases and two long runs of segments that grow past
// what a packet may grow to: 46 segments of 1,400 bytes fit in one, 47
// would pass 65,535 bytes; 50 of 1,284 fit, 51 would make 65,524 bytes,
// more than the 65,519 wireguard-go allows (groMaxLen).
func groAllCases() []groCase {
	cases := slices.Clone(groCases)
	for _, r := range []struct{ count, size, second int }{{48, 1400, 46}, {53, 1284, 50}} {
		c := groCase{name: fmt.Sprintf("%d segments of %d", r.count, r.size)}
		for i := range r.count {
			c.segs = append(c.segs, segment{seq: uint32(i * r.size), n: r.size})
			c.starts = append(c.starts, i == 0 || i == r.second)
		}
		cases = append(cases, c)
	}
	return cases
}

// groWrite lays segs out as the receive path does: each packet after
// tunWriteOffset bytes of headroom in an rxBufSize buffer.
func groWrite(segs []segment) [][]byte {
	bufs := make([][]byte, len(segs))
	for i, g := range segs {
		bufs[i] = append(make([]byte, tunWriteOffset, rxBufSize), g.build()...)
	}
	return bufs
}

// TestGROStageMovesRunStarts: stage moves into large buffers exactly the
// packets that start a run under the device's coalescing rules.
func TestGROStageMovesRunStarts(t *testing.T) {
	var h groHeads
	for _, c := range groAllCases() {
		bufs := groWrite(c.segs)
		h.stage(bufs)
		for i, b := range bufs {
			if moved := cap(b) > rxBufSize; moved != c.starts[i] {
				t.Errorf("%s: packet %d moved %v, want %v", c.name, i, moved, c.starts[i])
			}
		}
		h.release()
	}
}

// TestGROStageCoalescesAsMovingAll writes each case to a real TUN device
// with offloads twice, once with every packet in a large buffer and once
// staged, and compares what the kernel received: staging only the run
// starts must coalesce exactly as well.
func TestGROStageCoalescesAsMovingAll(t *testing.T) {
	dev, fd := groDevice(t)
	var all [][]segment
	for _, c := range groAllCases() {
		all = append(all, c.segs)
	}
	// One write of every case at once too, each on flows of its own.
	var mixed []segment
	for i, c := range groCases {
		for _, g := range c.segs {
			g.sport += uint16(10 * (i + 1))
			mixed = append(mixed, g)
		}
	}
	all = append(all, mixed)
	buf := make([]byte, 1<<17)
	// receive writes bufs and returns how many packets the kernel got for
	// them, once their payload bytes all arrived.
	receive := func(bufs [][]byte) int {
		want := 0
		for _, b := range bufs {
			want += groPayload(b[tunWriteOffset:])
		}
		// The write coalesces in place: count first.
		if _, err := dev.Write(bufs, tunWriteOffset); err != nil {
			t.Fatalf("TUN write: %v", err)
		}
		packets, got := 0, 0
		for got < want {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("%d of %d payload bytes arrived: %v", got, want, err)
			}
			p := buf[:n]
			if !groOurs(p) {
				continue // the kernel's own (neighbour discovery, reports)
			}
			packets++
			got += groPayload(p)
		}
		return packets
	}
	var h groHeads
	for i, segs := range all {
		ref := groWrite(segs)
		for j, b := range ref {
			ref[j] = append(make([]byte, 0, groMaxCap), b...)
		}
		wantPackets := receive(ref)
		staged := groWrite(segs)
		h.stage(staged)
		gotPackets := receive(staged)
		h.release()
		if gotPackets != wantPackets {
			t.Errorf("write %d (%d packets): the kernel got %d packets staged, %d with every packet moved", i, len(segs), gotPackets, wantPackets)
		}
	}
}

// groOurs reports whether p is from segment's source address.
func groOurs(p []byte) bool {
	switch p[0] >> 4 {
	case 4:
		return len(p) >= 20 && net.IP(p[12:16]).Equal(net.IPv4(192, 168, 2, 1))
	case 6:
		return len(p) >= 40 && net.IP(p[8:24]).Equal(net.ParseIP("2001:db8:2::1"))
	}
	return false
}

// groPayload is the transport payload's length of a segment packet p.
func groPayload(p []byte) int {
	l4, proto := 20, p[9]
	if p[0]>>4 == 6 {
		l4, proto = 40, p[6]
	}
	if proto == protoUDP {
		return len(p) - l4 - 8
	}
	return len(p) - l4 - int(p[l4+12]>>4)*4
}

// BenchmarkGROStage stages a TUN write of outerBatch 1,400-byte segments
// on 1 to outerBatch interleaved flows: the cost of following the runs
// against the copies of the packets that do not start one.
func BenchmarkGROStage(b *testing.B) {
	for _, flows := range []int{1, 8, outerBatch} {
		b.Run(fmt.Sprintf("flows=%d", flows), func(b *testing.B) {
			small := make([][]byte, outerBatch)
			for i := range small {
				p := segment{sport: uint16(i % flows), seq: uint32(i / flows * 1400), n: 1400}.build()
				small[i] = append(make([]byte, tunWriteOffset, rxBufSize), p...)
			}
			bufs := make([][]byte, outerBatch)
			var h groHeads
			b.SetBytes(int64(outerBatch * 1440))
			b.ReportAllocs()
			for b.Loop() {
				copy(bufs, small)
				h.stage(bufs)
				h.release()
			}
		})
	}
}
