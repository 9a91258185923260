package esp

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// bufSize fits the largest IP packet plus headroom: what the TUN
	// device hands over with GSO, a UDP GRO run, and a TUN write's GRO
	// head (the device coalesces later packets of a flow into it).
	bufSize = 65536 + 256
	// rxBufSize fits one outer datagram from a path with a 1500-byte MTU
	// (a 1500-byte inner packet grows by at most about 110 bytes of
	// IP, UDP and ESP framing) with room to spare. Received datagrams
	// wait in queues before their ICV is checked, so under a flood of
	// forged packets a 64 KiB buffer each would cost 30 times the memory
	// (issue 14: RSS grew by 80-97 MiB in a 10 s flood). A socket that
	// sees a larger datagram moves to bufSize (see outerIO.rxSize).
	rxBufSize = 2048
	// txOffset is the headroom before an inner packet read from the TUN:
	// room for the ESP header and the largest IV, so sealing is in place.
	txOffset = 32
	// rxOffset is the headroom before received outer data.
	rxOffset = 32
	// tunWriteOffset is the offset passed to tun.Device.Write; it leaves
	// room for the virtio net header of offloaded writes.
	tunWriteOffset = 16
	// containerMax is the number of packets one crypto job carries; small
	// enough that one TUN batch spreads over several workers.
	containerMax = 16
	// outerBatch is the number of datagrams per recvmmsg.
	outerBatch = 128
	// sendBatchMax is the most packets one sendmmsg carries: the sender
	// joins consecutive sealed containers up to it, so UDP GSO runs can
	// reach the kernel's 64 KiB limit (44 full-sized ESP packets) instead
	// of ending with each 16-packet container.
	sendBatchMax = 64
	// maxFragments bounds the fragments of one pre-fragmented packet.
	maxFragments = 64
)

// elem is one packet on its way through the engine, in a pooled buffer.
type elem struct {
	buf    []byte
	pkt    []byte // ESP packet: to send (outbound) or as received (inbound)
	pktOff int    // offset of pkt in buf (inbound)
	inner  []byte // decrypted inner packet (inbound)
	nh     byte
	res    openResult
	seq    uint64
	sa     *sa
	src    netip.AddrPort // outer addresses (inbound)
	dst    netip.AddrPort
}

// container is a group of packets of one crypto job. It sits in two queues
// at once: the shared work queue and an ordered per-tunnel (outbound) or
// per-socket (inbound) queue. The producer locks mu, the worker unlocks it
// when the crypto is done, and the ordered consumer locks it to wait.
type container struct {
	mu       sync.Mutex
	outbound bool
	sa       *sa // outbound: the SA of every packet
	elems    []*elem
	jobs     []sealJob
	ojobs    []openJob
	oidx     []int
}

var (
	bigElems      largeElems
	rxElemPool    = sync.Pool{New: func() any { return &elem{buf: make([]byte, rxBufSize)} }}
	containerPool = sync.Pool{New: func() any {
		return &container{
			elems: make([]*elem, 0, containerMax),
			jobs:  make([]sealJob, 0, containerMax),
			ojobs: make([]openJob, 0, containerMax),
			oidx:  make([]int, 0, containerMax),
		}
	}}
)

// getElem returns an element with a bufSize buffer.
func getElem() *elem { return bigElems.get() }

// largeElems keeps the spare elements with bufSize buffers. Unlike a
// sync.Pool it does not drop them at every collection, for what that
// costs in resident memory: a 64 KiB buffer is resident only as far as
// packets were written into it, but one the runtime allocates again from
// memory the heap used before is zeroed whole, and the runtime keeps
// memory it freed resident while the heap is below its goal (twice a live
// heap that is mostly such buffers). A pool emptied by each collection
// (the runtime forces one every 2 minutes) so turned the few spares of a
// busy tunnel into 72 KiB of RSS each, cycle after cycle: the 30-minute
// soak's RSS grew 6-7 % while the live heap did not (issue 14). The spares
// go back to the heap only when an interval of holdBuffers passed without
// any being taken (every reader idle and holding none, see readiness), or,
// on a busy engine, those beyond sparesKept that the interval did not need.
type largeElems struct {
	mu    sync.Mutex
	free  []*elem
	taken bool // an element was taken since the last trim
	least int  // the fewest spares since the last trim
	armed bool // trim is scheduled
	timer *time.Timer
	// released is when an idle trim last returned memory to the system,
	// with release (debug.FreeOSMemory when nil; tests count calls).
	released time.Time
	release  func()
}

// An idle trim that dropped at least releaseMin spares returns the freed
// memory to the system, at most once per releaseEvery.
const (
	releaseMin   = 64
	releaseEvery = 10 * time.Second
)

// sparesKept is how many spare large elements a busy engine keeps beyond
// what the last interval used: two TUN read batches.
const sparesKept = 256

func (s *largeElems) get() *elem {
	s.mu.Lock()
	s.taken = true
	n := len(s.free)
	if n == 0 {
		s.least = 0
		s.mu.Unlock()
		return &elem{buf: make([]byte, bufSize)}
	}
	el := s.free[n-1]
	s.free[n-1] = nil
	s.free = s.free[:n-1]
	s.least = min(s.least, n-1)
	s.mu.Unlock()
	return el
}

func (s *largeElems) put(el *elem) {
	s.mu.Lock()
	s.free = append(s.free, el)
	if !s.armed {
		s.armed = true
		s.least = len(s.free)
		if s.timer == nil {
			s.timer = time.AfterFunc(holdBuffers, s.trim)
		} else {
			s.timer.Reset(holdBuffers)
		}
	}
	s.mu.Unlock()
}

// trim gives back the spares the last interval did not need, as above.
func (s *largeElems) trim() {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := 0
	switch {
	case !s.taken:
		drop = len(s.free) // idle: all
	case s.least > sparesKept:
		drop = s.least - sparesKept
	}
	// The oldest spares are at the bottom of the stack.
	n := copy(s.free, s.free[drop:])
	clear(s.free[n:])
	s.free = s.free[:n]
	if n == 0 {
		s.free = nil // the backing array of a large burst goes too
	}
	if !s.taken && drop >= releaseMin && time.Since(s.released) >= releaseEvery {
		// The engine went idle after a burst: hand the memory to the
		// system now. The runtime's scavenger would keep it, since the
		// heap's goal counts the TUN devices' untouched GRO tables
		// (internal/gcpace): a hub of 1,000 tunnels that each carried
		// one ping kept 600-680 MiB resident (hub.sh traffic_rss_mib).
		s.released = time.Now()
		release := s.release
		if release == nil {
			release = debug.FreeOSMemory
		}
		go release()
	}
	s.taken, s.least = false, n
	s.armed = n > 0
	if s.armed {
		s.timer.Reset(holdBuffers)
	}
}

// getRxElem returns an element for a datagram of up to size bytes (after
// rxOffset): a small one when it fits.
func getRxElem(size int) *elem {
	if size <= rxBufSize-rxOffset {
		return rxElemPool.Get().(*elem)
	}
	return getElem()
}

// putElem returns el to the pool of its buffer size.
func putElem(el *elem) {
	el.sa, el.pkt, el.inner = nil, nil, nil
	if len(el.buf) == bufSize {
		bigElems.put(el)
	} else {
		rxElemPool.Put(el)
	}
}

func getContainer(outbound bool) *container {
	c := containerPool.Get().(*container)
	c.outbound = outbound
	return c
}

func putContainer(c *container) {
	for i, el := range c.elems {
		putElem(el)
		c.elems[i] = nil
	}
	c.elems = c.elems[:0]
	c.jobs = c.jobs[:0]
	c.sa = nil
	c.mu.Unlock()
	containerPool.Put(c)
}

// cryptoWorker seals or opens containers from the shared work queue.
func (e *Engine) cryptoWorker() {
	defer e.consumers.Done()
	for c := range e.work {
		if c.outbound {
			c.seal()
		} else {
			c.open()
		}
		c.mu.Unlock()
	}
}

// outerIO is an outer socket: UDP 4500 or raw IP protocol 50.
type outerIO interface {
	// readBatch receives up to len(elems) datagrams, setting pkt, pktOff,
	// src and dst of each element; pkt starts at the ESP header (or the
	// non-ESP marker on UDP). It may swap elements of elems for others.
	// A datagram too large for its element's buffer is left with an
	// empty pkt (counted as truncated).
	readBatch(elems []*elem) (int, error)
	// rxSize is the largest datagram readBatch needs room for in the
	// elements it is given (after rxOffset): small until a larger
	// datagram came.
	rxSize() int
	// writeBatch sends each element's pkt to its SA's remote address.
	writeBatch(elems []*elem) (int, error)
	// writeTo sends one datagram from src to dst (UDP only, for IKE).
	writeTo(pkt []byte, src, dst netip.AddrPort) error
	close() error
}

// outer runs the receive side of one outer socket.
type outer struct {
	e       *Engine
	io      outerIO
	udp     bool
	local   netip.Addr // the raw ESP socket's (see SetRawESPMode)
	rxQueue chan *container
	closing atomic.Bool
	// inflight counts queued containers not yet delivered; see
	// tunnel.inflight.
	inflight atomic.Int32
	// batches, one and heads are the receive loop's scratch for inline
	// delivery.
	batches []tunBatch
	one     [1]*container
	heads   groHeads
}

// OpenUDP opens the UDP socket for RFC 3948 encapsulated ESP and IKE on
// local (normally 0.0.0.0:4500) and starts its receive loops. An IPv6
// local address ([::]:4500) opens the socket of SAs with IPv6 outer
// addresses; each family has one.
func (e *Engine) OpenUDP(local netip.AddrPort) error {
	io, err := listenUDP(local)
	if err != nil {
		return fmt.Errorf("esp: listen udp %v: %w", local, err)
	}
	if err := e.attachOuter(io, true, io.v6, netip.Addr{}); err != nil {
		io.close()
		return err
	}
	e.watchPathMTU(io.v6)
	return nil
}

// OpenRawESP opens a raw IP protocol 50 socket on local (may be the
// unspecified address) for ESP without UDP encapsulation; an IPv6 address
// (::) opens the one of SAs with IPv6 outer addresses. Config.RawESP
// chooses whether packets leave as Ethernet frames (afpacket.go).
func (e *Engine) OpenRawESP(local netip.Addr) error {
	e.rawSwitch.Lock()
	defer e.rawSwitch.Unlock()
	e.mu.Lock()
	mode, err := ParseRawESPMode(string(e.rawESP))
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("esp: %w", err)
	}
	io, v6, err := openRawESPIO(local, mode, e.dropFor(local), e.log)
	if err != nil {
		return fmt.Errorf("esp: listen raw ESP (IP protocol 50) on %v: %w", local, err)
	}
	if err := e.attachOuter(io, false, v6, local); err != nil {
		io.close()
		return err
	}
	e.watchPathMTU(v6)
	return nil
}

// SetRawESPMode reopens the open raw ESP sockets in mode, and opens later
// ones in it. The new socket is open before the old one closes, so no
// packet meets a host without one (one received by both during the swap
// is dropped as a replay). The router moves raw ESP to the raw IP socket
// when a reload adds packet filters, which frames and the ring would
// bypass, and back when they are gone.
func (e *Engine) SetRawESPMode(mode RawESPMode) error {
	mode, err := ParseRawESPMode(string(mode))
	if err != nil {
		return fmt.Errorf("esp: %w", err)
	}
	e.rawSwitch.Lock()
	defer e.rawSwitch.Unlock()
	e.mu.Lock()
	e.rawESP = mode
	e.mu.Unlock()
	for _, v6 := range []bool{false, true} {
		p := e.outerFor(false, v6)
		old := p.Load()
		if old == nil {
			continue
		}
		// The new socket sets the family's drop rule (or clears it);
		// the old one's claimer must not undo that as it closes.
		oldClaim := old.claimer()
		if oldClaim != nil {
			oldClaim.handOver(true)
		}
		io, _, err := openRawESPIO(old.local, mode, e.dropFor(old.local), e.log)
		if err != nil {
			if oldClaim != nil {
				oldClaim.handOver(false)
			}
			return fmt.Errorf("esp: reopen raw ESP (IP protocol 50) on %v: %w", old.local, err)
		}
		if err := e.replaceOuter(old, io, false, v6, old.local); err != nil {
			io.close()
			return err
		}
		e.closedRingDrops.Add(old.ringDrops())
		old.close()
	}
	return nil
}

// outerFor returns where the engine keeps its UDP (udp) or raw ESP socket
// of the IPv4 or (v6) IPv6 family.
func (e *Engine) outerFor(udp, v6 bool) *atomic.Pointer[outer] {
	switch {
	case udp && v6:
		return &e.udp6
	case udp:
		return &e.udp
	case v6:
		return &e.raw6
	}
	return &e.raw
}

// attachOuter starts the loops of io as the engine's UDP (udp) or raw
// ESP socket of a family; local is a raw ESP socket's address.
func (e *Engine) attachOuter(io outerIO, udp, v6 bool, local netip.Addr) error {
	return e.replaceOuter(nil, io, udp, v6, local)
}

// replaceOuter is attachOuter in the place of old (nil: none), which the
// caller then closes.
func (e *Engine) replaceOuter(old *outer, io outerIO, udp, v6 bool, local netip.Addr) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("esp: engine closed")
	}
	p := e.outerFor(udp, v6)
	if p.Load() != old {
		return errors.New("esp: outer socket already open")
	}
	o := &outer{e: e, io: io, udp: udp, local: local, rxQueue: make(chan *container, 32)}
	p.Store(o)
	e.producers.Add(1)
	e.consumers.Add(1)
	go o.receiveLoop()
	go o.deliverLoop()
	return nil
}

func (o *outer) close() error {
	o.closing.Store(true)
	return o.io.close()
}

// SendIKE sends an IKE message on the shared UDP 4500 socket, prefixed
// with the non-ESP marker (RFC 3948 §2.2).
func (e *Engine) SendIKE(pkt []byte, src, dst netip.AddrPort) error {
	o := e.outerFor(true, isIPv6(dst.Addr())).Load()
	if o == nil {
		return errors.New("esp: SendIKE: no UDP socket open")
	}
	b := make([]byte, 4+len(pkt))
	copy(b[4:], pkt)
	if err := o.io.writeTo(b, src, dst); err != nil {
		return fmt.Errorf("esp: SendIKE to %v: %w", dst, err)
	}
	return nil
}

// SendNATKeepalive sends a NAT keepalive (a single 0xFF byte, RFC 3948
// §2.3) from the UDP socket to dst; ike calls it periodically when it
// detected a NAT in front of this host.
func (e *Engine) SendNATKeepalive(src, dst netip.AddrPort) error {
	o := e.outerFor(true, isIPv6(dst.Addr())).Load()
	if o == nil {
		return errors.New("esp: SendNATKeepalive: no UDP socket open")
	}
	if err := o.io.writeTo([]byte{0xff}, src, dst); err != nil {
		return fmt.Errorf("esp: NAT keepalive to %v: %w", dst, err)
	}
	return nil
}
