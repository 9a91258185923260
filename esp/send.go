package esp

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// The way out: a packet from the LAN to the peer, in the order it travels.
//
//  1. tunnel.readLoop reads a batch from the TUN device (holding no
//     buffers while the tunnel is idle, see readiness).
//  2. tunnel.outbound checks the packet against the current outbound SA
//     (traffic selectors), clamps the MSS of TCP SYNs and, with
//     pre-fragment, splits or refuses (ICMP) what would not fit the path
//     (preFragment, tooBig), for the configured MTU or a smaller one that
//     ICMP reported of the path (pmtu.go).
//  3. tunnel.seal frames it in place (ESP header, IV, padding) and gives
//     it the SA's next sequence number; tunnel.add and flush group packets
//     into containers, which tunnel.push puts on the shared crypto queue
//     and, in the same order, on the tunnel's send queue.
//  4. A crypto worker (pipeline.go) runs container.seal: encryption and
//     ICV, several packets of a container at once.
//  5. tunnel.sendLoop waits for each container in order and Engine.send
//     writes it to the raw ESP or UDP 4500 socket, joined with the
//     containers behind it into one sendmmsg (UDP GSO where it can).
//
// Small batches with nothing in flight are sealed and sent by the reader
// itself (inlineMax), saving two goroutine hand-offs of latency.

// readLoop reads batches from the TUN device, assigns sequence numbers in
// order and hands containers to the crypto workers and, in the same order,
// to sendLoop.
//
// A read needs a buffer for every segment the device may split a GSO
// packet into (BatchSize, 128 with offloads), each sized for the largest
// packet: 8 MiB of buffers per tunnel while the read blocks. So once the
// device has been idle for holdBuffers the loop gives them back to the
// shared pool and waits for the device to become readable holding none; a
// hub of 1,000 idle tunnels then holds no packet buffers at all. The
// buffers stay while packets keep coming: giving them back whenever the
// device was momentarily empty cost 5-10 % of a TCP stream's throughput
// and 80 us of ping RTT (e2e.sh, alternating runs), and the hold is a
// read deadline, so a tunnel idle past it has no timer running either.
func (t *tunnel) readLoop() {
	defer t.e.producers.Done()
	defer close(t.sendQueue)
	batch := t.dev.BatchSize()
	if batch < 1 {
		batch = 1
	}
	elems := make([]*elem, batch)
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	ready := newReadiness(t.dev)
	idle := ready != nil // holding no buffers
	failures := 0
	for {
		if idle {
			// Wait for a packet first. A closed device ends the loop here,
			// before buffers are taken for a read that cannot succeed
			// (128 of them, which an idle engine then returned to the
			// system at some cost); other errors fall through to Read,
			// which reports them.
			if err := ready.wait(); err != nil && t.deviceClosed(err) {
				break
			}
			ready.hold()
			idle = false
		}
		for i := range elems {
			if elems[i] == nil {
				elems[i] = getElem()
			}
			bufs[i] = elems[i].buf
		}
		n, err := t.dev.Read(bufs, sizes, txOffset)
		if err != nil {
			if t.deviceClosed(err) {
				break
			}
			if ready != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				releaseElems(elems)
				clear(bufs)
				ready.release()
				idle = true
				continue
			}
			if errors.Is(err, tun.ErrTooManySegments) {
				continue
			}
			failures++
			t.e.log.Debug("esp: TUN read", "tunnel", t.cfg.Name, "err", err)
			if failures%1000 == 0 {
				// Keep going, but do not spin on a persistent error.
				t.e.log.Warn("esp: TUN read keeps failing", "tunnel", t.cfg.Name, "err", err)
				time.Sleep(10 * time.Millisecond)
			}
			if n == 0 {
				continue
			}
		}
		failures = 0
		a := t.out.Load()
		var c *container
		for i := 0; i < n; i++ {
			pkt := elems[i].buf[txOffset : txOffset+sizes[i]]
			c = t.outbound(a, elems, i, pkt, c)
		}
		if c != nil {
			t.pending = append(t.pending, c)
		}
		t.flush()
		if ready != nil {
			ready.hold()
		}
	}
	releaseElems(elems)
}

// deviceClosed reports whether err, from the TUN device, means it was
// closed: the reader's end.
func (t *tunnel) deviceClosed(err error) bool {
	return t.closing.Load() || errors.Is(err, os.ErrClosed)
}

// releaseElems returns the elements still in elems to the pool.
func releaseElems(elems []*elem) {
	for i, el := range elems {
		if el != nil {
			putElem(el)
			elems[i] = nil
		}
	}
}

// holdBuffers is how long an idle tunnel's reader keeps its buffers.
const holdBuffers = time.Second

// readiness waits, through the runtime's poller, for a TUN device to have
// a packet without reading it, and bounds reads that hold buffers.
type readiness struct {
	f   *os.File
	rc  syscall.RawConn
	fds [1]unix.PollFd
	// poll is built once rather than per wait.
	poll func(fd uintptr) bool
}

// newReadiness returns nil for a device without a pollable file
// descriptor (test devices); readLoop then keeps its buffers.
func newReadiness(dev tun.Device) *readiness {
	f := dev.File()
	if f == nil || f.SetReadDeadline(time.Time{}) != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	r := &readiness{f: f, rc: rc}
	r.poll = func(fd uintptr) bool {
		r.fds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		n, err := unix.Poll(r.fds[:], 0)
		// On an error let the read that follows report it.
		return err != nil || n > 0
	}
	return r
}

// wait returns when a packet is waiting or the device is closed. No read
// deadline may be set.
func (r *readiness) wait() error { return r.rc.Read(r.poll) }

// hold lets reads block for holdBuffers from now before they fail with
// os.ErrDeadlineExceeded.
func (r *readiness) hold() { r.f.SetReadDeadline(time.Now().Add(holdBuffers)) }

// release removes the deadline, for wait.
func (r *readiness) release() { r.f.SetReadDeadline(time.Time{}) }

// outbound prepares the packet in elems[i] for SA a, taking the element
// into c (or new containers) when it is to be sent. It returns the
// container still being filled.
func (t *tunnel) outbound(a *sa, elems []*elem, i int, pkt []byte, c *container) *container {
	if a == nil || a.dead.Load() {
		t.e.stats.noOutboundSA.Add(1)
		return c
	}
	var nh byte
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		nh = protoIPv4
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		nh = protoIPv6
	default:
		a.counters.miscError.Add(1)
		return c
	}
	_, src, dst, err := innerAddrs(pkt, nh)
	if err != nil {
		a.counters.miscError.Add(1)
		return c
	}
	if !a.localTS.contains(src) || !a.remoteTS.contains(dst) {
		a.counters.tsUnacceptable.Add(1)
		return c
	}
	path := t.path.get()
	if t.mss4 != 0 {
		m4, m6 := t.mssFor(a, path)
		clampMSS(pkt, m4, m6)
	}
	if path > 0 || t.cfg.PreFragment && nh == protoIPv4 {
		outer := t.cfg.outerMTU()
		if path > 0 {
			outer = min(outer, path)
		}
		if limit := maxPayload(outer, a.ivLen, a.blk, a.icv, a.udp, a.v6); len(pkt) > limit {
			switch {
			case nh == protoIPv4 && t.cfg.PreFragment:
				return t.preFragment(a, elems, i, pkt, limit, c)
			case nh == protoIPv4 && pkt[6]&0x40 != 0, nh == protoIPv6 && limit >= minPathMTU6:
				t.tooBig(pkt, limit)
				return c
			}
			// Sent whole: it goes by the raw IP socket, whose kernel
			// path fragments the outer packet (writeFrames).
		}
	}
	el := elems[i]
	if !t.seal(a, el, len(pkt), nh) {
		return c
	}
	elems[i] = nil
	return t.add(c, a, el)
}

// seal assigns the next sequence number and frames the inner packet at
// el.buf[txOffset:txOffset+n] for sealing by a worker.
func (t *tunnel) seal(a *sa, el *elem, n int, nh byte) bool {
	seq := a.seq.Add(1)
	if seq > a.maxSeq() {
		// The counter must not wrap: the SA is finished (RFC 4303 §3.3.3).
		a.expireHard()
		return false
	}
	if !a.account(n) {
		return false
	}
	el.sa, el.seq = a, seq
	el.pkt = buildESP(el.buf, txOffset, n, a.spi, seq, a.ivLen, a.blk, nh)
	return true
}

func (t *tunnel) add(c *container, a *sa, el *elem) *container {
	if c == nil {
		c = getContainer(true)
		c.sa = a
	}
	c.elems = append(c.elems, el)
	if len(c.elems) == containerMax {
		t.pending = append(t.pending, c)
		return nil
	}
	return c
}

// inlineMax is the largest batch the reader seals and sends itself when
// nothing is queued (interactive traffic: lowest latency).
const inlineMax = 4

// flush hands the batch's containers to the workers and the sender, or,
// for one small container with nothing in flight, seals and sends it
// right here.
func (t *tunnel) flush() {
	if len(t.pending) == 1 && len(t.pending[0].elems) <= inlineMax && t.inflight.Load() == 0 {
		c := t.pending[0]
		c.mu.Lock()
		c.seal()
		t.e.send(c.sa, c.elems)
		putContainer(c)
	} else {
		for _, c := range t.pending {
			t.push(c)
		}
	}
	clear(t.pending)
	t.pending = t.pending[:0]
}

// push queues c for sending in order and for sealing by any worker; the
// worker unlocks it when done.
func (t *tunnel) push(c *container) {
	c.mu.Lock()
	t.inflight.Add(1)
	t.sendQueue <- c
	t.e.work <- c
}

// preFragment fragments the IPv4 packet in elems[i] so each fragment's ESP
// packet fits, or answers a DF packet with ICMP fragmentation needed.
func (t *tunnel) preFragment(a *sa, elems []*elem, i int, pkt []byte, limit int, c *container) *container {
	if pkt[6]&0x40 != 0 { // DF
		t.tooBig(pkt, limit)
		return c
	}
	var frags [maxFragments][]byte
	var sizes [maxFragments]int
	var fe [maxFragments]*elem
	need := fragmentCount(len(pkt), int(pkt[0]&0xf)*4, limit)
	if need <= 0 || need > maxFragments {
		a.counters.miscError.Add(1)
		return c
	}
	for k := 0; k < need; k++ {
		fe[k] = getElem()
		frags[k] = fe[k].buf[txOffset:]
	}
	n, err := fragmentIPv4(pkt, limit, frags[:need], sizes[:need])
	if err != nil {
		a.counters.miscError.Add(1)
		for k := 0; k < need; k++ {
			putElem(fe[k])
		}
		return c
	}
	for k := 0; k < n; k++ {
		if t.seal(a, fe[k], sizes[k], protoIPv4) {
			c = t.add(c, a, fe[k])
		} else {
			putElem(fe[k])
		}
	}
	for k := n; k < need; k++ {
		putElem(fe[k])
	}
	return c
}

// tooBig writes back into the TUN device the ICMP error that tells the
// sender of pkt the inner MTU mtu: destination unreachable, fragmentation
// needed for IPv4 (RFC 792, RFC 1191), packet too big for IPv6 (RFC 4443,
// RFC 8201).
func (t *tunnel) tooBig(pkt []byte, mtu int) {
	el := getElem()
	defer putElem(el)
	var n int
	if pkt[0]>>4 == 6 {
		n = buildPacketTooBig(el.buf[tunWriteOffset:], pkt, mtu)
	} else {
		n = buildFragNeeded(el.buf[tunWriteOffset:], pkt, mtu, t.cfg.ICMPSource)
	}
	if n == 0 {
		return
	}
	t.icmp[0] = el.buf[:tunWriteOffset+n]
	if _, err := t.dev.Write(t.icmp[:], tunWriteOffset); err != nil {
		t.e.stats.tunErrors.Add(1)
	}
	t.icmp[0] = nil
}

// sendLoop sends sealed containers in the order readLoop queued them.
// Containers already queued behind the first are waited for and sent with
// it in one sendmmsg (up to sendBatchMax packets), so a TUN GSO batch
// leaves in long GSO runs rather than one call per container.
func (t *tunnel) sendLoop() {
	defer t.e.consumers.Done()
	var (
		held  []*container
		elems = make([]*elem, 0, sendBatchMax+containerMax)
		carry *container // taken from the queue but for another socket
	)
	for {
		c := carry
		carry = nil
		if c == nil {
			var ok bool
			if c, ok = <-t.sendQueue; !ok {
				return
			}
		}
		c.mu.Lock()
		held = append(held[:0], c)
		elems = append(elems[:0], c.elems...)
		first := c.sa
		for len(elems) < sendBatchMax && len(t.sendQueue) > 0 {
			next, ok := <-t.sendQueue
			if !ok {
				break
			}
			next.mu.Lock()
			if next.sa.udp != first.udp || next.sa.v6 != first.v6 {
				next.mu.Unlock()
				carry = next
				break
			}
			held = append(held, next)
			elems = append(elems, next.elems...)
		}
		t.e.send(first, elems)
		clear(elems)
		for i, h := range held {
			putContainer(h)
			held[i] = nil
			t.inflight.Add(-1)
		}
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

// send writes the sealed packets elems, all of SAs that use the outer
// socket of a (UDP or raw, of its family), to that socket.
func (e *Engine) send(a *sa, elems []*elem) {
	o := e.outerFor(a.udp, a.v6).Load()
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
