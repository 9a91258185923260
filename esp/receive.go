package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"net"
	"os"
	"time"
)

// The way in: a packet from the peer to the LAN, in the order it travels.
//
//  1. outer.receiveLoop reads a batch from the raw ESP or UDP 4500 socket
//     (recvmmsg, UDP GRO runs split per datagram).
//  2. outer.classify hands IKE (non-ESP marker) to the IKE handler and
//     drops NAT keepalives, finds the SA by SPI and pre-checks the replay
//     window; outer.push puts containers on the shared crypto queue and,
//     in arrival order, on the socket's delivery queue.
//  3. A crypto worker (pipeline.go) runs container.open: ICV and
//     decryption, each run of packets of one SA in one batch call.
//  4. outer.deliverLoop takes opened containers in arrival order;
//     Engine.deliver updates the replay window (only after the ICV
//     verified), checks the traffic selectors and adds the packet to its
//     tunnel's batch; deliverContainers writes each batch to its TUN
//     device in one write, staged through groHeads where the device
//     coalesces (GRO).

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
	if el.src.Addr() != a.remote.Addr() && e.guard.blocked(el.src.Addr()) {
		e.stats.icvLimited.Add(1)
		return false
	}
	el.sa, el.seq = a, seq
	return true
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

// groHeads stages the packets of a TUN write in bufSize buffers when the
// device coalesces (GRO): wireguard-go's tun grows the first packet of a
// run in place by the payloads of the ones after it, which needs room
// that received packets in rxBufSize buffers do not have. Only a packet
// that starts a run needs it; the rest are read and left as they are. So
// stage follows the device's coalescing rules far enough to tell where
// runs start (groFlow) and moves only those packets. A packet it takes for
// a follower that then starts a run of its own is written uncoalesced,
// and the packets after it too: the device checks the room before it
// grows a packet, so a wrong guess costs coalescing, never data.
//
// The large buffers are taken from the engine's spares (getElem) for the
// write and given back after it, so they are the same few buffers the TUN
// reads use, and an idle engine gives them back to the heap (largeElems);
// forged packets are dropped before they get here.
type groHeads struct {
	elems []*elem
	flows []groFlow
	// index finds a flow by its key's hash: 1 + its place in flows, 0
	// where no flow is.
	index [groSlots]uint8
}

// groFlow is the run that a flow's last packet in a TUN write joined or
// started, as the device's GRO (wireguard-go's tun, offload_linux.go)
// coalesces it.
type groFlow struct {
	key groKey
	// ip is what the run's IP headers must share: the IPv4 TOS, flags and
	// TTL, or the IPv6 version and traffic class and the hop limit.
	ip [3]byte
	// opts are the TCP options of the run's first segment, which every
	// segment must repeat (in its packet, which outlives the stage).
	opts []byte
	// next is the sequence number of a TCP segment that would follow the
	// run, gso the run's payload size, length its IP length so far.
	next   uint32
	gso    int
	length int
	// ended: nothing more may be appended (a PSH segment, or one shorter
	// than gso, was).
	ended bool
}

// groKey is what makes packets one flow for the device's GRO: addresses,
// protocol and ports, and for TCP the acknowledgment number (segments
// that acknowledge different data are not coalesced).
type groKey struct {
	src, dst     [16]byte
	proto        uint8
	sport, dport uint16
	ack          uint32
}

// groMaxFlows bounds the flows stage follows in one write; a packet of a
// flow beyond them is moved as if it started a run. groSlots, the size of
// the hash index, leaves half of it free.
const (
	groMaxFlows = 127
	groSlots    = 256
)

// slot returns the index slot of k: its own, or the free one where it
// would go.
func (h *groHeads) slot(k *groKey) int {
	x := uint32(k.sport)<<16 | uint32(k.dport)
	x ^= k.ack ^ binary.LittleEndian.Uint32(k.src[:4]) ^ binary.LittleEndian.Uint32(k.src[12:])
	x ^= bits.RotateLeft32(binary.LittleEndian.Uint32(k.dst[:4])^binary.LittleEndian.Uint32(k.dst[12:]), 16)
	i := int(x*0x9e3779b1) >> 24 // Fibonacci hashing: the top 8 bits
	for h.index[i] != 0 && h.flows[h.index[i]-1].key != *k {
		i = (i + 1) % groSlots
	}
	return i
}

// stage moves the packets bufs (headroom included) of one TUN write that
// may start a run into large buffers. release must follow the write.
//
// Each buffer's capacity is cut to groMaxCap: GRO grows a packet as far
// as its buffer's capacity allows, and a large buffer holds more than an
// IP packet's 65,535 bytes. A run of, say, 49 segments of 1,338 bytes
// (an MSS of 1,350 with timestamps) would become one packet whose 16-bit
// length field wrapped, which the kernel trims to the wrapped length.
func (h *groHeads) stage(bufs [][]byte) {
	for i, b := range bufs {
		if cap(b) <= rxBufSize && h.startsRun(b[tunWriteOffset:]) {
			el := getElem()
			h.elems = append(h.elems, el)
			s := el.buf[:len(b)]
			copy(s, b)
			b = s
		}
		bufs[i] = b[:len(b):min(cap(b), groMaxCap)]
	}
}

// startsRun reports whether the device's GRO may grow pkt by later
// packets of the write: pkt is a TCP segment or UDP datagram of the kind
// the device coalesces, and it cannot be appended to its flow's run. It
// notes the run pkt joins or starts.
func (h *groHeads) startsRun(pkt []byte) bool {
	var f groFlow
	var l4 int
	switch {
	case len(pkt) >= 28 && pkt[0] == 0x45: // IPv4 without options, as the device requires
		if int(binary.BigEndian.Uint16(pkt[2:4])) != len(pkt) || binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0 {
			return false // a wrong length, or a fragment: never coalesced
		}
		l4 = 20
		copy(f.key.src[:], pkt[12:16])
		copy(f.key.dst[:], pkt[16:20])
		f.key.proto = pkt[9]
		f.ip = [3]byte{pkt[1], pkt[6] >> 5, pkt[8]}
	case len(pkt) >= 48 && pkt[0]>>4 == 6:
		if int(binary.BigEndian.Uint16(pkt[4:6])) != len(pkt)-40 {
			return false
		}
		l4 = 40
		copy(f.key.src[:], pkt[8:24])
		copy(f.key.dst[:], pkt[24:40])
		f.key.proto = pkt[6]
		f.ip = [3]byte{pkt[0], pkt[1] >> 4, pkt[7]}
	default:
		return false
	}
	f.key.sport = binary.BigEndian.Uint16(pkt[l4:])
	f.key.dport = binary.BigEndian.Uint16(pkt[l4+2:])
	var seq uint32
	var payload int
	psh := false
	switch f.key.proto {
	case protoTCP:
		if len(pkt) < l4+20 {
			return false
		}
		thl := int(pkt[l4+12]>>4) * 4
		flags := pkt[l4+13]
		if thl < 20 || len(pkt) < l4+thl || flags&^0x08 != 0x10 {
			return false // only ACK and PSH|ACK segments are coalesced
		}
		seq = binary.BigEndian.Uint32(pkt[l4+4:])
		f.key.ack = binary.BigEndian.Uint32(pkt[l4+8:])
		f.opts = pkt[l4+20 : l4+thl]
		payload = len(pkt) - l4 - thl
		psh = flags&0x08 != 0
	case protoUDP:
		payload = len(pkt) - l4 - 8
	default:
		return false
	}
	if payload <= 0 {
		return false // not coalesced, and its flow's run goes on
	}
	// pkt as a run of its own, unless it joins its flow's.
	f.next, f.gso, f.length, f.ended = seq+uint32(payload), payload, len(pkt), psh
	i := h.slot(&f.key)
	if n := h.index[i]; n != 0 {
		if h.flows[n-1].join(&f, seq) {
			return false
		}
		h.flows[n-1] = f
		return true
	}
	if len(h.flows) < groMaxFlows {
		h.flows = append(h.flows, f)
		h.index[i] = uint8(len(h.flows))
	}
	return true
}

// join appends the one-packet run f, whose packet has sequence number
// seq, to the run r of the same flow where the device would, and reports
// whether it did.
func (r *groFlow) join(f *groFlow, seq uint32) bool {
	// UDP datagrams carry no sequence number: any may follow.
	inOrder := f.key.proto == protoUDP || seq == r.next
	if r.ended || !inOrder || r.ip != f.ip || !bytes.Equal(r.opts, f.opts) ||
		f.gso > r.gso || r.length+f.gso > groMaxLen {
		return false
	}
	r.next += uint32(f.gso)
	r.length += f.gso
	r.ended = f.ended || f.gso < r.gso
	return true
}

// groMaxCap is the capacity of a buffer in a TUN write with GRO: the
// headroom and the largest IP packet, so a coalesced packet never
// outgrows its length field. wireguard-go subtracts the offset from a
// slice that already starts past it, so its largest packet is 65,519
// bytes; were it to count the offset once, 65,535 would still fit.
// Every packet here is shorter: it was inside an outer datagram.
const groMaxCap = tunWriteOffset + 65535

// groMaxLen is the longest packet the device grows a packet of a groMaxCap
// buffer to (the offset counted twice, as above).
const groMaxLen = groMaxCap - 2*tunWriteOffset

// release gives the buffers of the last stage back and forgets its flows
// (whose options point into the write's packets).
func (h *groHeads) release() {
	for i, el := range h.elems {
		putElem(el)
		h.elems[i] = nil
	}
	h.elems = h.elems[:0]
	clear(h.flows)
	h.flows = h.flows[:0]
	h.index = [groSlots]uint8{}
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
		heads.release()
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
		if el.src.Addr() != a.remote.Addr() {
			e.guard.failed(el.src.Addr())
		}
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
	// Authenticated and new, from another port or address than the
	// peer's: its NAT's mapping changed, and the peer is now reached
	// there (RFC 7296 §2.23: the last valid authenticated packet's).
	if a.udp && el.src != a.remote && el.src.Port() != 0 {
		a.peerMoved(el.src)
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
		m4, m6 := t.mssFor(a, t.path.get())
		clampMSS(inner, m4, m6)
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
