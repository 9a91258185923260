package esp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

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

// batchWriter holds the reusable sendmmsg state of a socket.
type batchWriter struct {
	mu    sync.Mutex
	msgs  []ipv4.Message
	bufs  [][1][]byte
	udp   []net.UDPAddr
	ip    []net.IPAddr
	addrs [][4]byte
}

func newBatchWriter() *batchWriter {
	w := &batchWriter{
		msgs:  make([]ipv4.Message, containerMax),
		bufs:  make([][1][]byte, containerMax),
		udp:   make([]net.UDPAddr, containerMax),
		ip:    make([]net.IPAddr, containerMax),
		addrs: make([][4]byte, containerMax),
	}
	for i := range w.msgs {
		w.msgs[i].Buffers = w.bufs[i][:]
	}
	return w
}

// write sends elems (at most containerMax) to their SAs' remote addresses.
func (w *batchWriter) write(pc *ipv4.PacketConn, elems []*elem, udp bool) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent := 0
	for sent < len(elems) {
		chunk := elems[sent:min(len(elems), sent+containerMax)]
		for i, el := range chunk {
			w.addrs[i] = el.sa.remote.Addr().As4()
			m := &w.msgs[i]
			m.Buffers[0] = el.pkt
			if udp {
				w.udp[i].IP = w.addrs[i][:]
				w.udp[i].Port = int(el.sa.remote.Port())
				m.Addr = &w.udp[i]
			} else {
				w.ip[i].IP = w.addrs[i][:]
				m.Addr = &w.ip[i]
			}
		}
		msgs := w.msgs[:len(chunk)]
		for len(msgs) > 0 {
			n, err := pc.WriteBatch(msgs, 0)
			if err != nil {
				clear(w.bufs[:len(chunk)])
				return sent + max(n, 0), err
			}
			msgs = msgs[n:]
			sent += n
		}
		for i := range chunk {
			w.bufs[i][0] = nil
		}
	}
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
	u := &udpIO{
		conn:  conn,
		pc:    ipv4.NewPacketConn(conn),
		local: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		msgs:  make([]ipv4.Message, outerBatch),
		bufs:  make([][1][]byte, outerBatch),
		w:     newBatchWriter(),
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
		w:    newBatchWriter(),
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
