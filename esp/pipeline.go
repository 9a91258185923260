package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
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
	elemPool      = sync.Pool{New: func() any { return &elem{buf: make([]byte, bufSize)} }}
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
func getElem() *elem { return elemPool.Get().(*elem) }

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
		elemPool.Put(el)
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

// seal seals every packet of an outbound container.
func (c *container) seal() {
	jobs := c.jobs[:0]
	for _, el := range c.elems {
		jobs = append(jobs, sealJob{b: el.pkt, seq: el.seq})
	}
	c.sa.suite.sealBatch(jobs)
	for i, el := range c.elems {
		el.pkt = jobs[i].out
	}
	c.jobs = jobs
}

// open verifies and decrypts every packet of an inbound container, each
// run of packets of one SA in one openBatch call.
func (c *container) open() {
	for i := 0; i < len(c.elems); {
		a := c.elems[i].sa
		jobs, idx := c.ojobs[:0], c.oidx[:0]
		for ; i < len(c.elems) && c.elems[i].sa == a; i++ {
			el := c.elems[i]
			if el.res = precheckOpen(a, el.pkt); el.res == openOK {
				jobs = append(jobs, openJob{b: el.pkt, seq: el.seq})
				idx = append(idx, i)
			}
		}
		a.suite.openBatch(jobs)
		for k := range jobs {
			el := c.elems[idx[k]]
			el.inner, el.nh, el.res = finishOpen(jobs[k].pt, jobs[k].err)
		}
		clear(jobs)
		c.ojobs, c.oidx = jobs[:0], idx[:0]
	}
}

// send writes the sealed packets elems, all of SAs on the UDP socket or
// all on the raw one, to the outer socket.
func (e *Engine) send(udp bool, elems []*elem) {
	var o *outer
	if udp {
		o = e.udp.Load()
	} else {
		o = e.raw.Load()
	}
	if o == nil {
		e.stats.sendErrors.Add(uint64(len(elems)))
		return
	}
	n, err := o.io.writeBatch(elems)
	if err != nil {
		e.stats.sendErrors.Add(uint64(len(elems) - n))
		e.log.Debug("esp: send", "err", err)
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
// local (normally 0.0.0.0:4500) and starts its receive loops.
func (e *Engine) OpenUDP(local netip.AddrPort) error {
	io, err := listenUDP(local)
	if err != nil {
		return fmt.Errorf("esp: listen udp %v: %w", local, err)
	}
	if err := e.attachOuter(io, true); err != nil {
		io.close()
		return err
	}
	return nil
}

// OpenRawESP opens a raw IP protocol 50 socket on local (may be the
// unspecified address) for ESP without UDP encapsulation.
func (e *Engine) OpenRawESP(local netip.Addr) error {
	io, err := listenRawESP(local)
	if err != nil {
		return fmt.Errorf("esp: listen ip4:50 %v: %w", local, err)
	}
	if err := e.attachOuter(io, false); err != nil {
		io.close()
		return err
	}
	return nil
}

func (e *Engine) attachOuter(io outerIO, udp bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("esp: engine closed")
	}
	p := &e.raw
	if udp {
		p = &e.udp
	}
	if p.Load() != nil {
		return errors.New("esp: outer socket already open")
	}
	o := &outer{e: e, io: io, udp: udp, rxQueue: make(chan *container, 32)}
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
	o := e.udp.Load()
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
	o := e.udp.Load()
	if o == nil {
		return errors.New("esp: SendNATKeepalive: no UDP socket open")
	}
	if err := o.io.writeTo([]byte{0xff}, src, dst); err != nil {
		return fmt.Errorf("esp: NAT keepalive to %v: %w", dst, err)
	}
	return nil
}

// receiveLoop reads batches, sorts out IKE and keepalives, finds the SA of
// each ESP packet and queues containers for the workers and deliverLoop.
func (o *outer) receiveLoop() {
	e := o.e
	defer e.producers.Done()
	defer close(o.rxQueue)
	elems := make([]*elem, outerBatch)
	failures := 0
	last := o.io.rxSize()
	for {
		size := o.io.rxSize()
		if size > last {
			last = size
			e.log.Info("esp: a datagram too large for the receive buffers arrived and was dropped; the socket now receives into 64 KiB buffers",
				"udp", o.udp, "was", rxBufSize-rxOffset)
		}
		for i, el := range elems {
			if el != nil && len(el.buf)-rxOffset < size {
				putElem(el)
				el = nil
			}
			if el == nil {
				elems[i] = getRxElem(size)
			}
		}
		n, err := o.io.readBatch(elems)
		if err != nil {
			if o.closing.Load() || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				break
			}
			failures++
			e.log.Debug("esp: outer read", "err", err)
			if failures%1000 == 0 {
				// Keep going, but do not spin on a persistent error.
				e.log.Warn("esp: outer socket read keeps failing", "err", err)
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		failures = 0
		var c *container
		for i := 0; i < n; i++ {
			if !o.classify(elems[i]) {
				continue
			}
			if c == nil {
				c = getContainer(false)
			}
			c.elems = append(c.elems, elems[i])
			elems[i] = nil
			if len(c.elems) == containerMax {
				o.push(c)
				c = nil
			}
		}
		if c != nil {
			if len(c.elems) <= inlineMax && o.inflight.Load() == 0 {
				// Nothing queued: open and deliver here, in order.
				c.mu.Lock()
				c.open()
				o.one[0] = c
				o.batches = o.deliverContainers(o.one[:], o.batches, &o.heads)
				o.one[0] = nil
			} else {
				o.push(c)
			}
		}
	}
	for _, el := range elems {
		if el != nil {
			putElem(el)
		}
	}
}

func (o *outer) push(c *container) {
	c.mu.Lock()
	o.inflight.Add(1)
	o.rxQueue <- c
	o.e.work <- c
}

// classify handles IKE and keepalives on UDP and looks up the SA and
// replay state of an ESP packet. It reports whether el goes on to the
// workers.
func (o *outer) classify(el *elem) bool {
	e := o.e
	p := el.pkt
	if o.udp {
		if len(p) == 1 && p[0] == 0xff {
			e.stats.keepalives.Add(1) // NAT keepalive, RFC 3948 §2.3
			return false
		}
		if len(p) >= 4 && p[0]|p[1]|p[2]|p[3] == 0 {
			e.stats.ikePackets.Add(1)
			if e.ike != nil {
				e.ike(p[4:], el.src, el.dst)
			}
			return false
		}
	}
	if len(p) < espHeaderLen {
		e.stats.truncated.Add(1)
		return false
	}
	a := e.lookup(binary.BigEndian.Uint32(p), true)
	if a == nil {
		e.stats.unknownSPI.Add(1)
		// The peer still uses an SA we no longer have (deleted, or never
		// agreed): IX shows that as "invalid sa" on the tunnel's SA.
		if b := e.peerSA(el.src.Addr()); b != nil {
			b.counters.invalidSA.Add(1)
		}
		return false
	}
	if a.dead.Load() {
		a.counters.invalidSA.Add(1)
		return false
	}
	seq := a.replay.inferSeq(binary.BigEndian.Uint32(p[4:]), a.esn)
	if !a.replay.check(seq) {
		a.counters.replayDetected.Add(1)
		return false
	}
	el.sa, el.seq = a, seq
	return true
}

// tunBatch collects the packets for one tunnel's TUN write.
type tunBatch struct {
	t    *tunnel
	bufs [][]byte
}

// deliverLoop takes opened containers in arrival order, moves the replay
// window, checks the inner packet and writes batches to the TUN devices.
// Containers already queued behind the first are waited for and written
// with it (up to outerBatch packets), so the TUN device's GRO sees longer
// runs of one flow per write.
func (o *outer) deliverLoop() {
	e := o.e
	defer e.consumers.Done()
	var batches []tunBatch
	var held []*container
	var heads groHeads
	for c := range o.rxQueue {
		c.mu.Lock()
		held = append(held[:0], c)
		n := len(c.elems)
		for n < outerBatch && len(o.rxQueue) > 0 {
			next, ok := <-o.rxQueue
			if !ok {
				break
			}
			next.mu.Lock()
			held = append(held, next)
			n += len(next.elems)
		}
		batches = o.deliverContainers(held, batches, &heads)
		clear(held)
		o.inflight.Add(-int32(len(held)))
	}
}

// groHeads holds bufSize buffers for the packets of a TUN write when the
// device coalesces (GRO): it grows the first packet of a flow in place by
// the payloads of the ones after it, which needs room that received
// packets in rxBufSize buffers do not have. Copying them here keeps GRO
// while only one set of large buffers exists per delivering goroutine,
// however many received packets wait in the queues (and forged ones are
// dropped before they get here).
type groHeads struct{ bufs [][]byte }

// stage moves the packets bufs (headroom included) of one TUN write into
// large buffers where they lack room. The buffers are reused by the next
// write, so stage must not be called again before the write returns.
func (h *groHeads) stage(bufs [][]byte) {
	for i, b := range bufs {
		if cap(b) > rxBufSize {
			continue // already in a large buffer
		}
		for len(h.bufs) <= i {
			h.bufs = append(h.bufs, make([]byte, bufSize))
		}
		s := h.bufs[i][:len(b)]
		copy(s, b)
		bufs[i] = s
	}
}

// deliverContainers delivers the opened packets of the locked containers
// cs to their TUN devices and releases the containers. heads is the
// caller's scratch for GRO.
func (o *outer) deliverContainers(cs []*container, batches []tunBatch, heads *groHeads) []tunBatch {
	e := o.e
	for _, c := range cs {
		for _, el := range c.elems {
			batches = e.deliver(el, batches)
		}
	}
	for i := range batches {
		b := &batches[i]
		if len(b.bufs) == 0 {
			continue
		}
		if b.t.gro && len(b.bufs) > 1 {
			heads.stage(b.bufs)
		}
		if _, err := b.t.dev.Write(b.bufs, tunWriteOffset); err != nil && !b.t.closing.Load() {
			e.stats.tunErrors.Add(1)
			e.log.Debug("esp: TUN write", "tunnel", b.t.cfg.Name, "err", err)
		}
		clear(b.bufs)
		b.bufs = b.bufs[:0]
	}
	for _, c := range cs {
		putContainer(c)
	}
	if len(batches) > 8 {
		// Forget tunnels that may have been removed meanwhile.
		clear(batches)
		batches = batches[:0]
	}
	return batches
}

// deliver finishes one opened inbound packet and adds it to the TUN batch
// of its tunnel. Every drop is counted on the SA.
func (e *Engine) deliver(el *elem, batches []tunBatch) []tunBatch {
	a := el.sa
	cnt := &a.counters
	switch el.res {
	case openTruncated:
		cnt.packetTruncated.Add(1)
		return batches
	case openIntegrity:
		cnt.integrityFailure.Add(1)
		return batches
	case openCipher:
		cnt.cipherFailure.Add(1)
		return batches
	}
	// The ICV verified: now the window may move (RFC 4303 §3.4.3).
	if !a.replay.update(el.seq) {
		cnt.replayDetected.Add(1)
		return batches
	}
	switch el.res {
	case openPadding:
		cnt.invalidPadding.Add(1)
		return batches
	case openProtocol:
		cnt.unknownProtocol.Add(1)
		return batches
	case openDummy:
		return batches // RFC 4303 §2.6: dropped quietly
	}
	inner, src, dst, err := innerAddrs(el.inner, el.nh)
	switch err {
	case nil:
	case errTruncated:
		cnt.packetTruncated.Add(1)
		return batches
	default:
		cnt.unknownProtocol.Add(1)
		return batches
	}
	if !a.remoteTS.contains(src) || !a.localTS.contains(dst) {
		cnt.tsUnacceptable.Add(1)
		return batches
	}
	t := e.tunnel(a.tunnel)
	if t == nil {
		cnt.miscError.Add(1)
		return batches
	}
	if !a.account(len(inner)) {
		return batches
	}
	if t.mss4 != 0 {
		clampMSS(inner, t.mss4, t.mss6)
	}
	start := el.pktOff + espHeaderLen + a.ivLen
	buf := el.buf[start-tunWriteOffset : start+len(inner)]
	for i := range batches {
		if batches[i].t == t {
			batches[i].bufs = append(batches[i].bufs, buf)
			return batches
		}
	}
	return append(batches, tunBatch{t: t, bufs: append(make([][]byte, 0, outerBatch), buf)})
}
