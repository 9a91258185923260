package esp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// socketBuffer is the send and receive buffer asked for on outer sockets,
// so bursts from a whole TUN batch are not dropped.
const socketBuffer = 4 << 20

func setSocketBuffers(c syscall.Conn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		// The FORCE variants pass rmem_max when running as root.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffer)
		}
	})
}

// batchConn is the batched sending of an outer socket: mmsgConn
// (sendmmsg.go) on the UDP and raw IP sockets, with x/net's message type
// for either family. Receiving goes through batchReader (recvmmsg.go),
// which allocates nothing.
type batchConn interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchWriter holds the reusable sendmmsg state of a socket. On UDP it
// sends runs of equal-sized datagrams to one peer as one UDP GSO message
// (UDP_SEGMENT), the way wireguard-go does, so the kernel walks its send
// path once per run instead of once per packet.
type batchWriter struct {
	mu  sync.Mutex
	gso atomic.Bool
	// gsoMaxSeg is one more than the largest segment UDP GSO may carry:
	// lowered when the kernel refuses a segment larger than the path MTU.
	gsoMaxSeg int
	msgs      []ipv4.Message
	bufs      [][]byte // iovecs of all messages, in packet order
	oob       [][]byte
	udp       []net.UDPAddr
	ip        []net.IPAddr
	addrs     [][16]byte // the messages' destination addresses (4 bytes used for IPv4)
}

// maxGSOSegments is the kernel's limit of segments per UDP GSO send.
const maxGSOSegments = 64

func newBatchWriter(gso bool) *batchWriter {
	w := &batchWriter{
		msgs:  make([]ipv4.Message, sendBatchMax),
		bufs:  make([][]byte, sendBatchMax),
		oob:   make([][]byte, sendBatchMax),
		udp:   make([]net.UDPAddr, sendBatchMax),
		ip:    make([]net.IPAddr, sendBatchMax),
		addrs: make([][16]byte, sendBatchMax),
	}
	for i := range w.oob {
		w.oob[i] = make([]byte, unix.CmsgSpace(2))
	}
	w.gso.Store(gso)
	w.gsoMaxSeg = 1 << 16
	return w
}

// setGSO writes a UDP_SEGMENT control message for segment size size.
func setGSO(b []byte, size uint16) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = size // host byte order
}

// write sends elems to their SAs' remote addresses and reports how many
// packets went out.
func (w *batchWriter) write(pc batchConn, elems []*elem, udp bool) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent := 0
	for sent < len(elems) {
		chunk := elems[sent:min(len(elems), sent+sendBatchMax)]
		gso := w.gso.Load() && udp
		n, err := w.writeChunk(pc, chunk, udp, gso)
		if err != nil && gso {
			switch {
			case errors.Is(err, unix.EIO):
				// No checksum offload on the way out: UDP GSO cannot work.
				w.gso.Store(false)
			case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EMSGSIZE):
				// A segment larger than the path MTU: the kernel
				// fragments single datagrams but not GSO segments.
			default:
				sent += n
				return sent, err
			}
			var m int
			m, err = w.writeChunk(pc, chunk[n:], udp, false)
			n += m
		}
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (w *batchWriter) writeChunk(pc batchConn, chunk []*elem, udp, gso bool) (int, error) {
	nm := 0
	for i, el := range chunk {
		w.bufs[i] = el.pkt
		if nm > 0 && gso {
			// Join the previous message if it goes to the same peer, all
			// its segments have this packet's size, and limits allow.
			m := &w.msgs[nm-1]
			first := m.Buffers[0]
			last := m.Buffers[len(m.Buffers)-1]
			if el.sa.remote == chunk[i-1].sa.remote && len(el.pkt) <= len(first) && len(last) == len(first) &&
				len(first) < w.gsoMaxSeg && len(m.Buffers) < maxGSOSegments && (len(m.Buffers)+1)*len(first) <= 65000 {
				start := i - len(m.Buffers)
				m.Buffers = w.bufs[start : i+1]
				continue
			}
		}
		ip := w.addr(nm, el.sa.remote.Addr())
		m := &w.msgs[nm]
		m.Buffers = w.bufs[i : i+1]
		m.OOB = nil
		if udp {
			w.udp[nm].IP = ip
			w.udp[nm].Port = int(el.sa.remote.Port())
			m.Addr = &w.udp[nm]
		} else {
			w.ip[nm].IP = ip
			m.Addr = &w.ip[nm]
		}
		nm++
	}
	for i := 0; i < nm; i++ {
		m := &w.msgs[i]
		if len(m.Buffers) > 1 {
			setGSO(w.oob[i], uint16(len(m.Buffers[0])))
			m.OOB = w.oob[i]
		}
	}
	sent := 0
	msgs := w.msgs[:nm]
	for len(msgs) > 0 {
		n, err := pc.WriteBatch(msgs, 0)
		n = max(n, 0)
		for _, m := range msgs[:n] {
			sent += len(m.Buffers)
		}
		if err == nil && n == 0 {
			err = errors.New("sendmmsg sent nothing")
		}
		if err != nil {
			if n < len(msgs) && len(msgs[n].Buffers) > 1 &&
				(errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EMSGSIZE)) {
				// Segments this large exceed the path MTU: stop
				// joining them (the kernel fragments single datagrams).
				w.gsoMaxSeg = min(w.gsoMaxSeg, len(msgs[n].Buffers[0]))
			}
			clear(w.bufs[:len(chunk)])
			return sent, err
		}
		msgs = msgs[n:]
	}
	clear(w.bufs[:len(chunk)])
	return sent, nil
}

// addr stores a as the destination of message nm and returns it as the
// 4- or 16-byte net.IP the socket's family takes, without allocating.
func (w *batchWriter) addr(nm int, a netip.Addr) net.IP {
	if a.Is4() {
		b := a.As4()
		copy(w.addrs[nm][:4], b[:])
		return w.addrs[nm][:4]
	}
	w.addrs[nm] = a.As16()
	return w.addrs[nm][:]
}

// udpIO is the UDP 4500 socket (RFC 3948), shared with IKE.
type udpIO struct {
	conn  *net.UDPConn
	pc    batchConn
	pc4   *ipv4.PacketConn // one of pc4 and pc6 is set, by the family
	pc6   *ipv6.PacketConn
	v6    bool
	local netip.AddrPort
	rd    *batchReader
	w     *batchWriter

	// With UDP GRO the kernel hands over runs of datagrams coalesced into
	// one buffer; rx holds the last recvmmsg's elements until readBatch
	// has split all of them into the caller's elements.
	gro      bool
	rx       []*elem
	rxMeta   []rxMeta
	rxN, rxI int
	rxOff    int // offset of the next segment in rx[rxI]
	// coalesced counts received buffers that held several datagrams.
	coalesced int
}

// rxMeta describes one received (possibly coalesced) datagram.
type rxMeta struct {
	n, gso   int
	src, dst netip.AddrPort
}

// listenUDP opens the UDP socket on local, an IPv4 or (IPv6 only, without
// mapped IPv4) an IPv6 address.
func listenUDP(local netip.AddrPort) (*udpIO, error) {
	v6 := isIPv6(local.Addr())
	network := "udp4"
	if v6 {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, err
	}
	setSocketBuffers(conn)
	// The UDP checksum stays on although RFC 3948 §2.1 suggests zero:
	// the kernel refuses UDP GSO (UDP_SEGMENT) on sockets without it, and
	// receivers accept both.
	u := &udpIO{
		conn:   conn,
		v6:     v6,
		local:  conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		w:      newBatchWriter(true),
		rx:     make([]*elem, outerBatch),
		rxMeta: make([]rxMeta, outerBatch),
	}
	for i := range u.rx {
		u.rx[i] = getElem()
	}
	// UDP GRO: runs sent with GSO (and coalesced by a GRO-capable NIC)
	// arrive in one buffer, saving the kernel's per-datagram receive work.
	if rc, err := conn.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			u.gro = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1) == nil
		})
	}
	// The destination address of IKE messages matters to ike (NAT
	// detection) when the socket is bound to the unspecified address.
	var oob int
	if v6 {
		u.pc6 = ipv6.NewPacketConn(conn)
		u.pc, err = u.pc6, u.pc6.SetControlMessage(ipv6.FlagDst, true)
		oob = len(ipv6.NewControlMessage(ipv6.FlagDst))
	} else {
		u.pc4 = ipv4.NewPacketConn(conn)
		u.pc, err = u.pc4, u.pc4.SetControlMessage(ipv4.FlagDst, true)
		oob = len(ipv4.NewControlMessage(ipv4.FlagDst))
	}
	if err == nil {
		u.pc, err = newMmsgConn(conn, v6)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if u.rd, err = newBatchReader(conn, outerBatch, oob+unix.CmsgSpace(4)); err != nil {
		conn.Close()
		return nil, err
	}
	return u, nil
}

func (u *udpIO) readBatch(elems []*elem) (int, error) {
	if u.rxI >= u.rxN {
		if err := u.receive(); err != nil {
			return 0, err
		}
	}
	out := 0
	for u.rxI < u.rxN && out < len(elems) {
		m := &u.rxMeta[u.rxI]
		if m.gso == 0 || m.n <= m.gso {
			// A single datagram: copied into the caller's (small)
			// element, so the ring keeps its 64 KiB buffers for GRO
			// runs; a large element is swapped instead, and a datagram
			// too large for the caller's takes the ring's element,
			// which gets a new one.
			el := elems[out]
			switch r := u.rx[u.rxI]; {
			case len(el.buf) == len(r.buf):
				u.rx[u.rxI], elems[out] = el, r
				el = r
			case m.n <= len(el.buf)-rxOffset:
				copy(el.buf[rxOffset:], r.buf[rxOffset:rxOffset+m.n])
			default:
				putElem(el)
				u.rx[u.rxI], elems[out] = getElem(), r
				el = r
			}
			el.pktOff = rxOffset
			el.pkt = el.buf[rxOffset : rxOffset+m.n]
			el.src, el.dst = m.src, m.dst
			out++
			u.rxI++
			continue
		}
		// Coalesced: copy each segment into an element of its own.
		src := u.rx[u.rxI].buf[rxOffset : rxOffset+m.n]
		for u.rxOff < m.n && out < len(elems) {
			seg := src[u.rxOff:min(u.rxOff+m.gso, m.n)]
			el := elems[out]
			if len(seg) > len(el.buf)-rxOffset {
				putElem(el)
				el = getElem()
				elems[out] = el
			}
			copy(el.buf[rxOffset:], seg)
			el.pktOff = rxOffset
			el.pkt = el.buf[rxOffset : rxOffset+len(seg)]
			el.src, el.dst = m.src, m.dst
			out++
			u.rxOff += m.gso
		}
		if u.rxOff >= m.n {
			u.rxI++
			u.rxOff = 0
		}
	}
	return out, nil
}

// rxSize implements outerIO: datagrams arrive in u.rx, and readBatch
// copies them out or swaps elements when they are larger.
func (u *udpIO) rxSize() int { return rxBufSize - rxOffset }

// receive runs one recvmmsg into u.rx and records what came in.
func (u *udpIO) receive() error {
	k := len(u.rx)
	for i := 0; i < k; i++ {
		u.rd.setBuffer(i, u.rx[i].buf[rxOffset:])
	}
	n, err := u.rd.read(k)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		size, oob := u.rd.size(i), u.rd.control(i)
		meta := &u.rxMeta[i]
		*meta = rxMeta{n: size, src: u.rd.source(i), dst: u.local}
		if u.gro && len(oob) > 0 {
			meta.gso = groSize(oob)
			if meta.gso > 0 && meta.n > meta.gso {
				u.coalesced++
			}
		}
		p := u.rx[i].buf[rxOffset : rxOffset+size]
		ike := size >= 4 && p[0]|p[1]|p[2]|p[3] == 0
		if (ike || u.coalescedAt(meta)) && len(oob) > 0 {
			// IKE (possibly inside a coalesced run): find the local
			// address it was sent to.
			if d, ok := u.dstOf(oob); ok {
				meta.dst = netip.AddrPortFrom(d, u.local.Port())
			}
		}
	}
	u.rxN, u.rxI, u.rxOff = n, 0, 0
	return nil
}

// dstOf returns the destination address of a received datagram from its
// control messages (IP_PKTINFO or IPV6_PKTINFO).
func (u *udpIO) dstOf(oob []byte) (netip.Addr, bool) {
	var dst net.IP
	if u.v6 {
		var cm ipv6.ControlMessage
		if cm.Parse(oob) == nil {
			dst = cm.Dst
		}
	} else {
		var cm ipv4.ControlMessage
		if cm.Parse(oob) == nil {
			dst = cm.Dst.To4()
		}
	}
	d, ok := netip.AddrFromSlice(dst)
	return d.Unmap(), ok
}

// coalescedAt reports whether the datagram described by m holds several.
func (u *udpIO) coalescedAt(m *rxMeta) bool { return m.gso > 0 && m.n > m.gso }

// groSize returns the segment size of a UDP_GRO control message in oob,
// or 0 if there is none.
func groSize(oob []byte) int {
	for len(oob) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO {
			data := oob[unix.CmsgLen(0):l]
			switch {
			case len(data) >= 4:
				return int(*(*int32)(unsafe.Pointer(&data[0])))
			case len(data) >= 2:
				return int(*(*uint16)(unsafe.Pointer(&data[0])))
			}
			return 0
		}
		oob = oob[min(len(oob), unix.CmsgSpace(l-unix.CmsgLen(0))):]
	}
	return 0
}

func (u *udpIO) writeBatch(elems []*elem) (int, error) {
	return u.w.write(u.pc, elems, true)
}

func (u *udpIO) writeTo(pkt []byte, src, dst netip.AddrPort) error {
	setSrc := !src.Addr().IsUnspecified() && u.local.Addr().IsUnspecified()
	if u.v6 {
		var cm *ipv6.ControlMessage
		if setSrc && src.Addr().Is6() {
			cm = &ipv6.ControlMessage{Src: src.Addr().AsSlice()}
		}
		_, err := u.pc6.WriteTo(pkt, cm, net.UDPAddrFromAddrPort(dst))
		return err
	}
	var cm *ipv4.ControlMessage
	if setSrc && src.Addr().Is4() {
		s := src.Addr().As4()
		cm = &ipv4.ControlMessage{Src: net.IP(s[:])}
	}
	_, err := u.pc4.WriteTo(pkt, cm, net.UDPAddrFromAddrPort(dst))
	return err
}

// close closes the socket; the receive loop (the only reader of u.rx)
// ends with it, so the rx elements are simply left to the GC.
func (u *udpIO) close() error { return u.conn.Close() }

// rawIO is a raw IPv4 or IPv6 socket for protocol 50. Linux hands
// received IPv4 datagrams over with their IPv4 header, but IPv6 ones
// without theirs (RFC 3542 §3): there the ESP header comes first and the
// source address comes from the message's name. Sent ones get their
// header from the kernel in both families.
type rawIO struct {
	conn *net.IPConn
	pc   batchConn
	v6   bool
	rd   *batchReader
	w    *batchWriter
	// big is set once a datagram did not fit a small buffer (a path with
	// a large MTU, or IP reassembly): from then on it gets bufSize ones.
	big bool
}

// listenRawESP opens the raw ESP socket on local, an IPv4 or IPv6 address
// (invalid: all IPv4 addresses).
func listenRawESP(local netip.Addr) (*rawIO, error) {
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
	}
	v6 := isIPv6(local)
	network := "ip4:50"
	if v6 {
		network = "ip6:50"
	}
	conn, err := net.ListenIP(network, &net.IPAddr{IP: net.IP(local.Unmap().AsSlice())})
	if err != nil {
		return nil, err
	}
	setSocketBuffers(conn)
	pc, err := newMmsgConn(conn, v6)
	if err != nil {
		conn.Close()
		return nil, err
	}
	r := &rawIO{
		conn: conn,
		pc:   pc,
		v6:   v6,
		w:    newBatchWriter(false),
	}
	if r.rd, err = newBatchReader(conn, outerBatch, 0); err != nil {
		conn.Close()
		return nil, err
	}
	return r, nil
}

// rxSize implements outerIO.
func (r *rawIO) rxSize() int {
	if r.big {
		return bufSize - rxOffset
	}
	return rxBufSize - rxOffset
}

func (r *rawIO) readBatch(elems []*elem) (int, error) {
	return r.read(elems, true)
}

// readNow is readBatch without the wait: 0 when nothing is queued.
func (r *rawIO) readNow(elems []*elem) (int, error) {
	return r.read(elems, false)
}

func (r *rawIO) read(elems []*elem, wait bool) (int, error) {
	k := min(len(elems), outerBatch)
	for i := 0; i < k; i++ {
		r.rd.setBuffer(i, elems[i].buf[rxOffset:])
	}
	var n int
	var err error
	if wait {
		n, err = r.rd.read(k)
	} else {
		n, err = r.rd.readNow(k)
	}
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		el := elems[i]
		b := el.buf[rxOffset : rxOffset+r.rd.size(i)]
		el.pkt = el.pkt[:0]
		el.pktOff = rxOffset
		if r.rd.truncated(i) {
			r.big = true // this one is lost (counted as truncated)
			continue
		}
		if r.v6 {
			r.fromName(el, r.rd.source(i).Addr(), b)
			continue
		}
		if len(b) < 20 || b[0]>>4 != 4 {
			continue // classify counts it as truncated
		}
		hl := int(b[0]&0xf) * 4
		if hl < 20 || hl > len(b) {
			continue
		}
		el.setOuter(netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), b, hl, len(b))
	}
	return n, nil
}

func (r *rawIO) writeBatch(elems []*elem) (int, error) {
	return r.w.write(r.pc, elems, false)
}

func (r *rawIO) writeTo([]byte, netip.AddrPort, netip.AddrPort) error {
	return errors.New("raw ESP socket carries no IKE")
}

func (r *rawIO) close() error { return r.conn.Close() }
