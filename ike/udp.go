package ike

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// UDPTransport is the standalone socket layer: UDP 500 and UDP 4500
// (NAT-T) sockets for IPv4 and IPv6, used when package esp does not own
// port 4500 (the test peers; the daemon reads UDP 500 with its own Socket
// and gets UDP 4500's IKE from esp, both through Manager.Deliver). It learns each packet's destination address (IP_PKTINFO,
// IPV6_PKTINFO) so replies and NAT detection use the address the peer
// really targeted, and sends from the address the core chooses.
type UDPTransport struct {
	// fam holds the sockets of IPv4 (0) and IPv6 (1); a nil ike means
	// that family has none.
	fam       [2]udpFamily
	ikePort   uint16
	nattPort  uint16
	closeOnce sync.Once
}

type udpFamily struct{ ike, natt *Socket }

// family is the index into UDPTransport.fam of a's family.
func family(a netip.Addr) int {
	if a.Is6() && !a.Is4In6() {
		return 1
	}
	return 0
}

// ListenUDP opens the IKE and NAT-T sockets on addr and ports ikePort and
// nattPort (500 and 4500 when zero). An unspecified addr opens them on all
// IPv4 addresses and, where the host has IPv6, on all IPv6 addresses too;
// an address opens them on that address only.
func ListenUDP(addr netip.Addr, ikePort, nattPort uint16) (*UDPTransport, error) {
	if ikePort == 0 {
		ikePort = 500
	}
	if nattPort == 0 {
		nattPort = 4500
	}
	t := &UDPTransport{ikePort: ikePort, nattPort: nattPort}
	addrs := []netip.Addr{addr}
	if !addr.IsValid() || addr.IsUnspecified() {
		addrs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	}
	for _, a := range addrs {
		f := &t.fam[family(a)]
		var err error
		f.ike, err = ListenSocket(a, ikePort)
		if err == nil {
			if f.natt, err = ListenSocket(a, nattPort); err != nil {
				f.ike.Close()
				f.ike = nil
			}
		}
		if err != nil {
			if len(addrs) > 1 && a.Is6() && noIPv6(err) {
				continue // a host without IPv6: IPv4 only
			}
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// noIPv6 reports whether err says the host has no IPv6 (disabled or not
// built): then a socket on all addresses is IPv4 only.
func noIPv6(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EPROTONOSUPPORT)
}

// Send implements Transport: the socket is chosen by to's family and
// from's port, the source address set from from's address when it is
// specified.
func (t *UDPTransport) Send(pkt []byte, from, to netip.AddrPort) error {
	f := &t.fam[family(to.Addr())]
	s := f.ike
	if from.Port() == t.nattPort {
		s = f.natt
		pkt = append(make([]byte, 4, 4+len(pkt)), pkt...) // non-ESP marker
	}
	if s == nil {
		return fmt.Errorf("ike: no UDP socket for %v", to)
	}
	return s.WriteTo(pkt, from.Addr(), to)
}

// SendNATKeepalive implements NATKeepaliveSender.
func (t *UDPTransport) SendNATKeepalive(from, to netip.AddrPort) error {
	s := t.fam[family(to.Addr())].natt
	if s == nil {
		return fmt.Errorf("ike: no NAT-T socket for %v", to)
	}
	return s.WriteTo([]byte{0xff}, from.Addr(), to)
}

// Serve reads all sockets and passes IKE packets to handle (the non-ESP
// marker stripped on the NAT-T port; NAT keepalives and ESP-in-UDP
// dropped) until ctx ends or the sockets close.
func (t *UDPTransport) Serve(ctx context.Context, handle func(pkt []byte, from, to netip.AddrPort)) error {
	errc := make(chan error, 4)
	n := 0
	for _, f := range t.fam {
		for _, s := range []*Socket{f.ike, f.natt} {
			if s != nil {
				n++
				go func() { errc <- t.read(s, s == f.natt, handle) }()
			}
		}
	}
	select {
	case <-ctx.Done():
		t.Close()
	case err := <-errc:
		t.Close()
		n--
		for ; n > 0; n-- {
			<-errc
		}
		return err
	}
	for ; n > 0; n-- {
		<-errc
	}
	return nil
}

func (t *UDPTransport) read(s *Socket, natt bool, handle func(pkt []byte, from, to netip.AddrPort)) error {
	buf := make([]byte, 65536)
	for {
		n, from, to, err := s.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		pkt := buf[:n]
		if natt {
			if n == 1 && pkt[0] == 0xff {
				continue // NAT keepalive (RFC 3948 §2.3)
			}
			if n < 4 || pkt[0]|pkt[1]|pkt[2]|pkt[3] != 0 {
				continue // ESP in UDP: not ours without package esp
			}
			pkt = pkt[4:]
		}
		handle(append([]byte(nil), pkt...), from, to)
	}
}

// Close closes all sockets.
func (t *UDPTransport) Close() error {
	t.closeOnce.Do(func() {
		for _, f := range t.fam {
			for _, s := range []*Socket{f.ike, f.natt} {
				if s != nil {
					s.Close()
				}
			}
		}
	})
	return nil
}

// Socket is one IKE UDP socket, IPv4 or IPv6: it learns each datagram's
// destination address (IP_PKTINFO, IPV6_PKTINFO), so IKE answers from the
// address it was asked on and NAT detection hashes the address the peer
// targeted, and it sends from a chosen source address.
type Socket struct {
	conn *net.UDPConn
	pc4  *ipv4.PacketConn // one of pc4 and pc6 is set, by the family
	pc6  *ipv6.PacketConn
	port uint16
}

// ListenSocket opens an IKE socket on addr (an IPv4 or IPv6 address, may
// be unspecified; invalid means all IPv4 addresses) and port, with the
// buffers of SetSocketBuffers.
func ListenSocket(addr netip.Addr, port uint16) (*Socket, error) {
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	network := "udp4"
	if family(addr) == 1 {
		network = "udp6"
	}
	ap := netip.AddrPortFrom(addr.Unmap(), port)
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("ike: listen udp %s: %w", ap, err)
	}
	SetSocketBuffers(c)
	s := &Socket{conn: c, port: uint16(c.LocalAddr().(*net.UDPAddr).Port)}
	if network == "udp6" {
		s.pc6 = ipv6.NewPacketConn(c)
		err = s.pc6.SetControlMessage(ipv6.FlagDst, true)
	} else {
		s.pc4 = ipv4.NewPacketConn(c)
		err = s.pc4.SetControlMessage(ipv4.FlagDst, true)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ike: packet info on %s: %w", ap, err)
	}
	return s, nil
}

// ReadFrom reads one datagram into buf and returns its length, source and
// destination (the socket's own address when the kernel gave none).
func (s *Socket) ReadFrom(buf []byte) (n int, from, to netip.AddrPort, err error) {
	var src net.Addr
	var dst net.IP
	if s.pc6 != nil {
		var cm *ipv6.ControlMessage
		n, cm, src, err = s.pc6.ReadFrom(buf)
		if cm != nil {
			dst = cm.Dst
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, src, err = s.pc4.ReadFrom(buf)
		if cm != nil {
			dst = cm.Dst
		}
	}
	if err != nil {
		return 0, from, to, err
	}
	if ua, ok := src.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	to = netip.AddrPortFrom(s.LocalAddr().Addr(), s.port)
	if a, ok := netip.AddrFromSlice(dst); ok {
		to = netip.AddrPortFrom(a.Unmap(), s.port)
	}
	return n, from, to, nil
}

// BatchReader reads a Socket up to a batch of datagrams per system call
// (recvmmsg) into buffers of its own.
type BatchReader struct {
	s    *Socket
	msgs []ipv4.Message // the same type as ipv6.Message
}

// NewBatchReader returns a reader of up to n datagrams per call. Its
// buffers are 64 KiB each, but only what arrives is ever touched.
func (s *Socket) NewBatchReader(n int) *BatchReader {
	r := &BatchReader{s: s, msgs: make([]ipv4.Message, n)}
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{make([]byte, 65536)}
		if s.pc6 != nil {
			r.msgs[i].OOB = ipv6.NewControlMessage(ipv6.FlagDst)
		} else {
			r.msgs[i].OOB = ipv4.NewControlMessage(ipv4.FlagDst)
		}
	}
	return r
}

// Read waits for datagrams and calls handle for each one it read, with its
// source and destination (as ReadFrom gives them). pkt is valid only
// during the call.
func (r *BatchReader) Read(handle func(pkt []byte, from, to netip.AddrPort)) error {
	var n int
	var err error
	if r.s.pc6 != nil {
		n, err = r.s.pc6.ReadBatch(r.msgs, 0)
	} else {
		n, err = r.s.pc4.ReadBatch(r.msgs, 0)
	}
	if err != nil {
		return err
	}
	local := r.s.LocalAddr().Addr()
	for i := range r.msgs[:n] {
		m := &r.msgs[i]
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		ap := ua.AddrPort()
		from := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		var dst net.IP
		if r.s.pc6 != nil {
			var cm ipv6.ControlMessage
			if cm.Parse(m.OOB[:m.NN]) == nil {
				dst = cm.Dst
			}
		} else {
			var cm ipv4.ControlMessage
			if cm.Parse(m.OOB[:m.NN]) == nil {
				dst = cm.Dst
			}
		}
		to := netip.AddrPortFrom(local, r.s.port)
		if a, ok := netip.AddrFromSlice(dst); ok {
			to = netip.AddrPortFrom(a.Unmap(), r.s.port)
		}
		handle(m.Buffers[0][:m.N], from, to)
	}
	return nil
}

// WriteTo sends pkt to to, from the source address from when it is
// specified and of the socket's family (else the kernel chooses).
func (s *Socket) WriteTo(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	ua := net.UDPAddrFromAddrPort(to)
	setSrc := from.IsValid() && !from.IsUnspecified()
	if s.pc6 != nil {
		var cm *ipv6.ControlMessage
		if setSrc && family(from) == 1 {
			cm = &ipv6.ControlMessage{Src: from.AsSlice()}
		}
		_, err := s.pc6.WriteTo(pkt, cm, ua)
		return err
	}
	var cm *ipv4.ControlMessage
	if setSrc && from.Unmap().Is4() {
		cm = &ipv4.ControlMessage{Src: from.Unmap().AsSlice()}
	}
	_, err := s.pc4.WriteTo(pkt, cm, ua)
	return err
}

// LocalAddr returns the address and port the socket is bound to.
func (s *Socket) LocalAddr() netip.AddrPort {
	ap := s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Conn returns the socket's connection (for its options).
func (s *Socket) Conn() *net.UDPConn { return s.conn }

// Close closes the socket.
func (s *Socket) Close() error { return s.conn.Close() }

// SocketBuffer is the receive and send buffer size asked for on IKE
// sockets, the size package esp asks for on its outer sockets. The
// kernel's default (rmem_default, about 208 KiB) holds only some hundreds
// of datagrams: an IKE_SA_INIT flood fills it, the kernel then drops the
// legitimate peer's messages with the rest, and each drop costs the peer
// a retransmission timeout (2 s or more). Memory is only charged while
// datagrams wait, so a large buffer costs nothing at idle.
const SocketBuffer = 4 << 20

// SetSocketBuffers asks for SocketBuffer as receive and send buffer of c.
// SO_RCVBUFFORCE and SO_SNDBUFFORCE go past net.core.rmem_max and
// wmem_max with CAP_NET_ADMIN; without it the plain options get what
// those limits allow. It is best effort: an IKE socket with a smaller
// buffer still works.
func SetSocketBuffers(c syscall.Conn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, SocketBuffer) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, SocketBuffer)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, SocketBuffer) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, SocketBuffer)
		}
	})
}

// RouteSource returns the kernel's source address for the route to peer,
// found by connecting a UDP socket (no packet is sent).
func RouteSource(peer netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 500)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}
