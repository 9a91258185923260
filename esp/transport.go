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

// batchWriter holds the reusable sendmmsg state of a socket. On UDP it
// sends runs of equal-sized datagrams to one peer as one UDP GSO message
// (UDP_SEGMENT), the way wireguard-go does, so the kernel walks its send
// path once per run instead of once per packet.
type batchWriter struct {
	mu    sync.Mutex
	gso   atomic.Bool
	msgs  []ipv4.Message
	bufs  [][]byte // iovecs of all messages, in packet order
	oob   [][]byte
	udp   []net.UDPAddr
	ip    []net.IPAddr
	addrs [][4]byte
}

// maxGSOSegments is the kernel's limit of segments per UDP GSO send.
const maxGSOSegments = 64

func newBatchWriter(gso bool) *batchWriter {
	w := &batchWriter{
		msgs:  make([]ipv4.Message, containerMax),
		bufs:  make([][]byte, containerMax),
		oob:   make([][]byte, containerMax),
		udp:   make([]net.UDPAddr, containerMax),
		ip:    make([]net.IPAddr, containerMax),
		addrs: make([][4]byte, containerMax),
	}
	for i := range w.oob {
		w.oob[i] = make([]byte, unix.CmsgSpace(2))
	}
	w.gso.Store(gso)
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
func (w *batchWriter) write(pc *ipv4.PacketConn, elems []*elem, udp bool) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent := 0
	for sent < len(elems) {
		chunk := elems[sent:min(len(elems), sent+containerMax)]
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

func (w *batchWriter) writeChunk(pc *ipv4.PacketConn, chunk []*elem, udp, gso bool) (int, error) {
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
				len(m.Buffers) < maxGSOSegments && (len(m.Buffers)+1)*len(first) <= 65000 {
				start := i - len(m.Buffers)
				m.Buffers = w.bufs[start : i+1]
				continue
			}
		}
		w.addrs[nm] = el.sa.remote.Addr().As4()
		m := &w.msgs[nm]
		m.Buffers = w.bufs[i : i+1]
		m.OOB = nil
		if udp {
			w.udp[nm].IP = w.addrs[nm][:]
			w.udp[nm].Port = int(el.sa.remote.Port())
			m.Addr = &w.udp[nm]
		} else {
			w.ip[nm].IP = w.addrs[nm][:]
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
		for _, m := range msgs[:max(n, 0)] {
			sent += len(m.Buffers)
		}
		if err != nil {
			clear(w.bufs[:len(chunk)])
			return sent, err
		}
		msgs = msgs[n:]
	}
	clear(w.bufs[:len(chunk)])
	return sent, nil
}

// udpIO is the UDP 4500 socket (RFC 3948), shared with IKE.
type udpIO struct {
	conn  *net.UDPConn
	pc    *ipv4.PacketConn
	local netip.AddrPort
	msgs  []ipv4.Message
	bufs  [][1][]byte
	w     *batchWriter
}

func listenUDP(local netip.AddrPort) (*udpIO, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, err
	}
	setSocketBuffers(conn)
	// The UDP checksum stays on although RFC 3948 §2.1 suggests zero:
	// the kernel refuses UDP GSO (UDP_SEGMENT) on sockets without it, and
	// receivers accept both.
	u := &udpIO{
		conn:  conn,
		pc:    ipv4.NewPacketConn(conn),
		local: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		msgs:  make([]ipv4.Message, outerBatch),
		bufs:  make([][1][]byte, outerBatch),
		w:     newBatchWriter(true),
	}
	// The destination address of IKE messages matters to ike (NAT
	// detection) when the socket is bound to the unspecified address.
	if err := u.pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		conn.Close()
		return nil, err
	}
	for i := range u.msgs {
		u.msgs[i].Buffers = u.bufs[i][:]
		u.msgs[i].OOB = ipv4.NewControlMessage(ipv4.FlagDst)
	}
	return u, nil
}

func (u *udpIO) readBatch(elems []*elem) (int, error) {
	k := min(len(elems), len(u.msgs))
	for i := 0; i < k; i++ {
		u.bufs[i][0] = elems[i].buf[rxOffset:]
		u.msgs[i].OOB = u.msgs[i].OOB[:cap(u.msgs[i].OOB)]
	}
	n, err := u.pc.ReadBatch(u.msgs[:k], 0)
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		m := &u.msgs[i]
		el := elems[i]
		el.pktOff = rxOffset
		el.pkt = el.buf[rxOffset : rxOffset+m.N]
		el.src = netip.AddrPort{}
		if a, ok := m.Addr.(*net.UDPAddr); ok {
			ap := a.AddrPort()
			el.src = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		el.dst = u.local
		if m.N >= 4 && el.pkt[0]|el.pkt[1]|el.pkt[2]|el.pkt[3] == 0 && m.NN > 0 {
			// IKE: find the local address it was sent to.
			var cm ipv4.ControlMessage
			if cm.Parse(m.OOB[:m.NN]) == nil && cm.Dst != nil {
				if d, ok := netip.AddrFromSlice(cm.Dst.To4()); ok {
					el.dst = netip.AddrPortFrom(d, u.local.Port())
				}
			}
		}
	}
	return n, nil
}

func (u *udpIO) writeBatch(elems []*elem) (int, error) {
	return u.w.write(u.pc, elems, true)
}

func (u *udpIO) writeTo(pkt []byte, src, dst netip.AddrPort) error {
	var cm *ipv4.ControlMessage
	if src.Addr().Is4() && !src.Addr().IsUnspecified() && u.local.Addr().IsUnspecified() {
		s := src.Addr().As4()
		cm = &ipv4.ControlMessage{Src: net.IP(s[:])}
	}
	_, err := u.pc.WriteTo(pkt, cm, net.UDPAddrFromAddrPort(dst))
	return err
}

func (u *udpIO) close() error { return u.conn.Close() }

// rawIO is a raw IPv4 socket for protocol 50. Linux hands received
// datagrams over with their IPv4 header; sent ones get it from the kernel.
type rawIO struct {
	conn *net.IPConn
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
	bufs [][1][]byte
	w    *batchWriter
}

func listenRawESP(local netip.Addr) (*rawIO, error) {
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
	}
	conn, err := net.ListenIP("ip4:50", &net.IPAddr{IP: net.IP(local.AsSlice())})
	if err != nil {
		return nil, err
	}
	setSocketBuffers(conn)
	r := &rawIO{
		conn: conn,
		pc:   ipv4.NewPacketConn(conn),
		msgs: make([]ipv4.Message, outerBatch),
		bufs: make([][1][]byte, outerBatch),
		w:    newBatchWriter(false),
	}
	for i := range r.msgs {
		r.msgs[i].Buffers = r.bufs[i][:]
	}
	return r, nil
}

func (r *rawIO) readBatch(elems []*elem) (int, error) {
	k := min(len(elems), len(r.msgs))
	for i := 0; i < k; i++ {
		r.bufs[i][0] = elems[i].buf[rxOffset:]
	}
	n, err := r.pc.ReadBatch(r.msgs[:k], 0)
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		el := elems[i]
		b := el.buf[rxOffset : rxOffset+r.msgs[i].N]
		el.pkt = el.pkt[:0]
		el.pktOff = rxOffset
		if len(b) < 20 || b[0]>>4 != 4 {
			continue // classify counts it as truncated
		}
		hl := int(b[0]&0xf) * 4
		if hl < 20 || hl > len(b) {
			continue
		}
		el.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), 0)
		el.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), 0)
		el.pktOff = rxOffset + hl
		el.pkt = b[hl:]
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
