package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Raw ESP received from a memory-mapped packet ring (issue 16). On the
// raw IP socket every ESP packet costs the kernel a trip up the IP stack
// (ip_rcv, a route lookup, local delivery, a clone for the raw socket, a
// socket queue) and the reader a share of a recvmmsg. Here the packet is
// copied into a ring shared with the daemon as the device receives it,
// before the IP stack, and the stack's copy is dropped right after by
// an nftables netdev ingress rule (ingressdrop.go); the reader takes
// packets out of the ring without a system call while it is not empty.
//
// The way in of a raw ESP packet on this path:
//
//  1. The device receives the packet; the kernel's packet tap runs the
//     ring's classic BPF filter (rxFilter): our device, addressed to this
//     host, ESP to one of our addresses, not a fragment, not larger than
//     a ring frame. A match is copied into the next free frame.
//  2. The ingress hook's rule (ingressdrop.go), the same test as the
//     filter, drops the packet before the IP stack sees it.
//  3. rxRing.drain copies the packets of all ready frames into the
//     receive loop's elements, checks their outer header as ip_rcv
//     would, and gives the frames back to the kernel.
//
// Fragments, packets larger than a frame, IPv6 packets with extension
// headers and ESP to addresses the claim does not cover (claim.go) take
// the IP stack and reach the raw socket, which is still read: packetIO
// waits on both (readBatch in afpacket.go).
//
// TPACKET_V2 rather than V3: V3 hands over a block only when it is full
// or its timer (at least a millisecond) ends, which would add up to that
// much to every ping; V2 hands over each frame as it is written.

const (
	// rxFrameSize is the size of one ring frame; with TPACKET_V2 and
	// SOCK_DGRAM the packet starts rxFrameNet bytes into it (the frame
	// header, a sockaddr_ll, 16 bytes of room, aligned).
	rxFrameSize = 2048
	rxFrameNet  = 80
	// rxFrameData is the largest packet a frame holds whole; larger ones
	// are left to the IP stack (the filter and the drop rule test it).
	rxFrameData = rxFrameSize - rxFrameNet
	// rxFrames is the number of frames: 8 MiB, what the kernel makes of
	// the outer sockets' 4 MiB receive buffer (it doubles the value for
	// its overhead), so that a burst the raw socket would have queued
	// finds room here too.
	rxFrames = 2 * socketBuffer / rxFrameSize
	// rxClaimMax bounds the addresses and devices the filter tests.
	rxClaimMax = 64
)

// rxRing is a TPACKET_V2 receive ring on a packet socket.
type rxRing struct {
	v6 bool

	// mu is held by the reader while it touches the ring (also while it
	// waits) and by close while it unmaps it; ctl guards fd against
	// setClaim racing with close.
	mu     sync.Mutex
	ctl    sync.Mutex
	fd     int
	ring   []byte
	cur    int // next frame to look at
	wake   int // eventfd that ends a wait (close)
	closed atomic.Bool
	// pollfds is ready's poll set: the ring, the raw socket, wake.
	pollfds [3]unix.PollFd
	// ep is an epoll set of the same three (the ring only while the
	// reader parks, see wait), itself waited for through the runtime's
	// poller (epConn): the reader parks as on any socket,
	// instead of holding a thread in poll(2) that must win its P back
	// when it wakes (made on the first wait, when the raw socket is known).
	ep       *os.File
	epfd     int  // ep's descriptor
	watched  bool // the ring is in ep (see wait)
	epConn   syscall.RawConn
	epEvents [3]unix.EpollEvent
	epN      int   // events epReady found
	epErr    error // epReady's epoll_wait error
	epReady  func(uintptr) bool
	// sinceRaw counts drains since the raw socket was last looked at.
	sinceRaw int
	// naps is how many more times the reader naps rather than parks when
	// it finds the ring empty (see readBatch).
	naps int
	// dropped sums the kernel's drop counts, which reset when read.
	dropped atomic.Uint64
}

// openRxRing opens the receive ring of the family (v6), filtering out
// everything until setClaim.
func openRxRing(v6 bool) (*rxRing, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, err
	}
	r := &rxRing{v6: v6, fd: fd, wake: -1}
	fail := func(what string, err error) (*rxRing, error) {
		r.release()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// Nothing passes until the claim is known; set before the ring, so
	// nothing is queued meanwhile.
	if err := r.attach(rejectAll); err != nil {
		return fail("SO_ATTACH_FILTER", err)
	}
	// The tap would clone every packet the host sends to test it:
	// received ones are all the ring wants.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	if r.ring, err = mapPacketRing(fd, unix.PACKET_RX_RING, rxFrameSize, rxFrames); err != nil {
		return fail("receive ring", err)
	}
	if r.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fail("eventfd", err)
	}
	r.pollfds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	r.pollfds[1] = unix.PollFd{Fd: -1, Events: unix.POLLIN}
	r.pollfds[2] = unix.PollFd{Fd: int32(r.wake), Events: unix.POLLIN}
	return r, nil
}

// mapPacketRing gives the packet socket fd a TPACKET_V2 ring (opt
// PACKET_RX_RING or PACKET_TX_RING) of frames frames of frameSize bytes,
// in blocks of 64 KiB, and maps it.
func mapPacketRing(fd, opt, frameSize, frames int) ([]byte, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return nil, fmt.Errorf("PACKET_VERSION: %w", err)
	}
	const block = 1 << 16
	req := unix.TpacketReq{Block_size: block, Block_nr: uint32(frames * frameSize / block), Frame_size: uint32(frameSize), Frame_nr: uint32(frames)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, opt, &req); err != nil {
		return nil, fmt.Errorf("ring request: %w", err)
	}
	ring, err := unix.Mmap(fd, 0, frames*frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return ring, nil
}

// rejectAll is the filter of a ring that claims nothing.
var rejectAll = []bpf.Instruction{bpf.RetConstant{Val: 0}}

// attach replaces the socket's filter with prog.
func (r *rxRing) attach(prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	f := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		f[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]})
}

// setClaim makes the ring take what c claims (nothing for the zero
// claim).
func (r *rxRing) setClaim(c rxClaim) error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	if r.closed.Load() {
		return net.ErrClosed
	}
	return r.attach(rxFilter(c, r.v6))
}

// rxFilter is the classic BPF program that takes what c claims: packets
// received on one of c's devices, addressed to this host (not seen in
// promiscuous mode or looped back), ESP without fragmentation or IPv6
// extension headers to one of c's addresses, at most rxFrameData bytes.
// The socket is SOCK_DGRAM, so offsets count from the network header.
// Each test rejects right after it, so no jump is longer than the
// address or device list.
func rxFilter(c rxClaim, v6 bool) []bpf.Instruction {
	if len(c.addrs) == 0 || len(c.devs) == 0 {
		return rejectAll
	}
	reject := bpf.RetConstant{Val: 0}
	accept := bpf.RetConstant{Val: 1 << 16}
	p := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtInterfaceIndex}}
	for i, d := range c.devs {
		// Matched: skip the devices after this one and the reject.
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(d.index), SkipTrue: uint8(len(c.devs) - i)})
	}
	p = append(p, reject,
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_HOST, SkipTrue: 1}, reject,
		bpf.LoadExtension{Num: bpf.ExtLen},
		bpf.JumpIf{Cond: bpf.JumpLessOrEqual, Val: rxFrameData, SkipTrue: 1}, reject,
		bpf.LoadExtension{Num: bpf.ExtProto})
	if !v6 {
		p = append(p,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipTrue: 1}, reject,
			bpf.LoadAbsolute{Off: 9, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_ESP, SkipTrue: 1}, reject,
			// More fragments or a fragment offset: the stack reassembles.
			bpf.LoadAbsolute{Off: 6, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipFalse: 1}, reject,
			bpf.LoadAbsolute{Off: 16, Size: 4})
		for _, a := range c.addrs {
			b := a.As4()
			p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: binary.BigEndian.Uint32(b[:]), SkipFalse: 1}, accept)
		}
		return append(p, reject)
	}
	p = append(p,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipTrue: 1}, reject,
		bpf.LoadAbsolute{Off: 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_ESP, SkipTrue: 1}, reject)
	for _, a := range c.addrs {
		b := a.As16()
		// Four words; a mismatch skips to the next address's block.
		for w := 0; w < 4; w++ {
			p = append(p,
				bpf.LoadAbsolute{Off: uint32(24 + 4*w), Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: binary.BigEndian.Uint32(b[4*w:]), SkipFalse: uint8(2*(3-w) + 1)})
		}
		p = append(p, accept)
	}
	return append(p, reject)
}

// drops returns how many packets the filter took that found the ring
// full, since the ring opened.
func (r *rxRing) drops() uint64 {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	if r.fd >= 0 {
		if st, err := unix.GetsockoptTpacketStats(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			r.dropped.Add(uint64(st.Drops))
		}
	}
	return r.dropped.Load()
}

// frame returns the header of frame i.
func (r *rxRing) frame(i int) *unix.Tpacket2Hdr {
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.ring[i*rxFrameSize]))
}

// drain moves the packets of the ready frames into elems (at most
// len(elems)) and hands the frames back. It does not wait. Packets with
// a bad outer header come back with an empty pkt, which classify counts
// as truncated and drops.
func (r *rxRing) drain(elems []*elem) int {
	n := 0
	for n < len(elems) {
		h := r.frame(r.cur)
		if atomic.LoadUint32(&h.Status)&unix.TP_STATUS_USER == 0 {
			break
		}
		el := elems[n]
		el.pkt = el.pkt[:0]
		el.pktOff = rxOffset
		start := r.cur*rxFrameSize + int(h.Net)
		size := int(h.Snaplen)
		if int(h.Net) == rxFrameNet && size == int(h.Len) && size <= len(el.buf)-rxOffset {
			b := el.buf[rxOffset : rxOffset+size]
			copy(b, r.ring[start:start+size])
			r.parse(el, b)
		}
		atomic.StoreUint32(&h.Status, unix.TP_STATUS_KERNEL)
		r.cur = (r.cur + 1) % rxFrames
		n++
	}
	return n
}

// parse checks the outer header of the IP packet b in el as the IP
// stack would for local delivery, and sets el's addresses and pkt.
func (r *rxRing) parse(el *elem, b []byte) bool {
	if r.v6 {
		if len(b) < outerIPv6Header || b[0]>>4 != 6 || b[6] != unix.IPPROTO_ESP {
			return false
		}
		n := outerIPv6Header + int(binary.BigEndian.Uint16(b[4:6]))
		if n > len(b) {
			return false
		}
		el.setOuter(netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40])), b, outerIPv6Header, n)
		return true
	}
	if len(b) < outerIPv4Header || b[0]>>4 != 4 {
		return false
	}
	hl := int(b[0]&0xf) * 4
	n := int(binary.BigEndian.Uint16(b[2:4]))
	// The frame may hold Ethernet padding past the total length.
	if hl < outerIPv4Header || n < hl || n > len(b) || b[9] != unix.IPPROTO_ESP || ipv4Checksum(b[:hl]) != 0 {
		return false
	}
	el.setOuter(netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), b, hl, n)
	return true
}

// setOuter makes b[hl:n], received at rxOffset of el's buffer, el's ESP
// packet from src to dst.
func (el *elem) setOuter(src, dst netip.Addr, b []byte, hl, n int) {
	el.src = netip.AddrPortFrom(src, 0)
	el.dst = netip.AddrPortFrom(dst, 0)
	el.pktOff = rxOffset + hl
	el.pkt = b[hl:n]
}

// readBatch fills elems from the ring, else from the raw socket raw,
// waiting for either when both are empty. rawFD is raw's descriptor, for
// the wait. The raw socket is also looked at every 64 batches while the
// ring keeps delivering, so what reaches it (fragments) is not starved.
func (r *rxRing) readBatch(elems []*elem, raw *rawIO, rawFD int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched {
		r.unwatch()
	}
	for {
		if r.closed.Load() {
			return 0, net.ErrClosed
		}
		if n := r.drain(elems); n > 0 {
			if n > 1 {
				r.naps = rxNaps
			}
			if r.sinceRaw++; r.sinceRaw < 64 {
				return n, nil
			}
			r.sinceRaw = 0
			if ev, _ := r.ready(rawFD, 0); ev&2 != 0 {
				// Give the raw socket its turn next call: the ring's
				// batch is returned now.
				r.sinceRaw = 64
			}
			return n, nil
		}
		if r.sinceRaw >= 64 {
			r.sinceRaw = 0
			if n, err := raw.readNow(elems); n > 0 || err != nil {
				return n, err
			}
		}
		if r.naps > 0 {
			r.naps--
			// The goroutines the last batch woke (crypto workers, the
			// ordered delivery) wait in this P's run queue: run them
			// before the nap, which would leave them there until the
			// runtime takes the P from the sleeping thread (see rxNap).
			runtime.Gosched()
			unix.Nanosleep(&rxNap, nil)
			continue
		}
		ev, err := r.wait(rawFD)
		switch {
		case err != nil:
			return 0, err
		case ev&4 != 0:
			return 0, net.ErrClosed
		case ev&8 != 0:
			// A pending socket error (a device gone) would make every
			// poll return at once: reading it clears it.
			unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		case ev&2 != 0:
			if n, err := raw.readNow(elems); n > 0 || err != nil {
				return n, err
			}
		}
	}
}

// While packets come faster than the reader takes them (a drain found
// more than one), an empty ring makes it nap up to rxNaps times for rxNap
// before it parks. A parked reader costs the sender a wake-up of the
// reader's thread for the first packet after each park, through two epoll
// sets and most often across CPUs: at 130,000 packets a second the
// reader parked 23,000 times a second, each park taking six packets, and
// the wake-ups were 4 % of the machine (integration/bench profile.sh).
// A nap of 100 us lets a dozen packets gather for one timer wake-up on
// the reader's own CPU instead. A lone packet (a ping) does not start the
// naps, so it still finds the reader parked and is taken at once.
// esp/bench/ab.sh, 5 alternating rounds (2026-12-06): raw CBC 1342 -> 1448
// Mbit/s, raw GCM 1236 -> 1382 (ahead in 4 and 5 of 5); naps of 50 us, 200
// us or four naps of 100 us did no better.
//
// Each nap first yields the P (runtime.Gosched): a nap is a system call,
// and the goroutines woken for the batch just read would otherwise wait in
// the P's run queue until the runtime's monitor hands the P of the
// sleeping thread to another thread (20 us at the earliest, a thread
// wake-up each time). esp/bench/ab.sh, 5 alternating rounds (2026-12-06):
// raw CBC 1628 -> 1811 Mbit/s, raw GCM 1652 -> 1876, CPU 164 -> 160 %.
// A nap that holds the P (a raw system call) was no faster than this
// (CBC 1767 against 1897, GCM 2044 against 1832) and would stall a
// one-P process for the whole nap.
var rxNap = unix.Timespec{Nsec: 100_000}

const rxNaps = 2

// ready polls the ring, the raw socket rawFD and the wake eventfd for up
// to timeout milliseconds (-1: until one is ready) and returns a bit set:
// 1 ring, 2 raw socket, 4 closing.
func (r *rxRing) ready(rawFD int, timeout int) (int, error) {
	fds := &r.pollfds
	fds[1].Fd = int32(rawFD)
	for i := range fds {
		fds[i].Revents = 0
	}
	for {
		_, err := unix.Poll(fds[:], timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("poll: %w", err)
		}
		break
	}
	ev := 0
	for i, f := range fds {
		if f.Revents != 0 {
			ev |= 1 << i
		}
	}
	return ev, nil
}

// wait parks the goroutine until one of the ring, the raw socket rawFD
// and the wake eventfd is ready and returns a bit set as ready does, with
// 8 added for an error pending on the ring's socket. The epoll set's
// events say which: one epoll_wait before the park and one after it are
// the wait's only system calls besides adding the ring to the set.
func (r *rxRing) wait(rawFD int) (int, error) {
	if r.ep == nil {
		if err := r.openEpoll(rawFD); err != nil {
			return 0, err
		}
	}
	// The ring is in the set only from a park to the reader's next call
	// (unwatch): an epoll entry on its socket makes the kernel run the
	// set's wake-up (and the runtime poller's behind it) for every
	// packet it puts in the ring, also while the reader drains it.
	// Added now, a frame that came since the last drain makes the set
	// readable at once.
	if !r.watched {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(r.fd)}
		if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, r.fd, &ev); err != nil && err != unix.EEXIST {
			return 0, fmt.Errorf("epoll: %w", err)
		}
		r.watched = true
	}
	r.epN, r.epErr = 0, nil
	if err := r.epConn.Read(r.epReady); err != nil {
		return 0, err
	}
	if r.epErr != nil {
		return 0, fmt.Errorf("epoll: %w", r.epErr)
	}
	ev := 0
	for _, e := range r.epEvents[:r.epN] {
		switch int(e.Fd) {
		case r.fd:
			ev |= 1
			if e.Events&unix.EPOLLERR != 0 {
				ev |= 8
			}
		case rawFD:
			ev |= 2
		case r.wake:
			ev |= 4
		}
	}
	return ev, nil
}

// unwatch takes the ring out of the epoll set, where the last park left
// it. readBatch calls it on its next call, not right after the wake-up,
// so the removal does not delay the packets that ended the park.
func (r *rxRing) unwatch() {
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, r.fd, nil); err == nil || err == unix.ENOENT {
		r.watched = false
	}
}

// openEpoll makes the epoll set of rawFD and wake; wait adds the ring.
func (r *rxRing) openEpoll(rawFD int) error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	for _, fd := range []int{rawFD, r.wake} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(epfd)
			return fmt.Errorf("epoll: %w", err)
		}
	}
	unix.SetNonblock(epfd, true)
	r.epfd = epfd
	r.ep = os.NewFile(uintptr(epfd), "packet ring epoll")
	if r.epConn, err = r.ep.SyscallConn(); err != nil {
		return err
	}
	// Ready when the set has an event; false makes the runtime wait for
	// the epoll descriptor to become readable.
	r.epReady = func(uintptr) bool {
		for {
			n, err := unix.EpollWait(epfd, r.epEvents[:], 0)
			if err == unix.EINTR {
				continue
			}
			r.epN, r.epErr = n, err
			return n > 0 || err != nil
		}
	}
	return nil
}

// close ends a wait in readBatch and releases the ring once the reader
// let go of it.
func (r *rxRing) close() error {
	if r.closed.Swap(true) {
		return nil
	}
	var one [8]byte
	one[0] = 1 // host byte order on little-endian machines; any nonzero will do
	unix.Write(r.wake, one[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctl.Lock()
	defer r.ctl.Unlock()
	return r.release()
}

// release unmaps the ring and closes its descriptors.
func (r *rxRing) release() error {
	var errs error
	if r.ring != nil {
		errs = unix.Munmap(r.ring)
		r.ring = nil
	}
	if r.ep != nil {
		r.ep.Close()
		r.ep = nil
		r.watched = false
	}
	if r.wake >= 0 {
		unix.Close(r.wake)
		r.wake = -1
	}
	if r.fd >= 0 {
		errs = errors.Join(errs, unix.Close(r.fd))
		r.fd = -1
	}
	return errs
}
