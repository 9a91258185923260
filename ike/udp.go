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
	"golang.org/x/sys/unix"
)

// UDPTransport is the standalone socket layer: UDP 500 and UDP 4500
// (NAT-T) sockets for IPv4, used when package esp does not own port 4500.
// It learns each packet's destination address (IP_PKTINFO) so replies and
// NAT detection use the address the peer really targeted, and sends from
// the address the core chooses.
type UDPTransport struct {
	ike, natt *ipv4.PacketConn // natt nil: another component owns the NAT-T port
	ikePort   uint16
	nattPort  uint16
	nattSend  Transport // sends from the NAT-T port when natt is nil
	closeOnce sync.Once
}

// ListenUDP opens the IKE and NAT-T sockets on addr (unspecified: all
// addresses) and ports ikePort and nattPort (500 and 4500 when zero).
func ListenUDP(addr netip.Addr, ikePort, nattPort uint16) (*UDPTransport, error) {
	if ikePort == 0 {
		ikePort = 500
	}
	if nattPort == 0 {
		nattPort = 4500
	}
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	open := func(port uint16) (*ipv4.PacketConn, error) {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
		if err != nil {
			return nil, fmt.Errorf("ike: listen udp %s: %w", netip.AddrPortFrom(addr, port), err)
		}
		SetSocketBuffers(c)
		pc := ipv4.NewPacketConn(c)
		if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("ike: IP_PKTINFO: %w", err)
		}
		return pc, nil
	}
	t := &UDPTransport{ikePort: ikePort, nattPort: nattPort}
	var err error
	if t.ike, err = open(ikePort); err != nil {
		return nil, err
	}
	if t.natt, err = open(nattPort); err != nil {
		t.ike.Close()
		return nil, err
	}
	return t, nil
}

// Send implements Transport: the socket is chosen by from's port and the
// source address set from from's address when it is specified.
func (t *UDPTransport) Send(pkt []byte, from, to netip.AddrPort) error {
	pc := t.ike
	if from.Port() == t.nattPort {
		if t.natt == nil {
			return t.nattSend.Send(pkt, from, to)
		}
		pc = t.natt
		pkt = append(make([]byte, 4, 4+len(pkt)), pkt...) // non-ESP marker
	}
	var cm *ipv4.ControlMessage
	if a := from.Addr(); a.IsValid() && !a.IsUnspecified() && a.Is4() {
		cm = &ipv4.ControlMessage{Src: a.AsSlice()}
	}
	_, err := pc.WriteTo(pkt, cm, net.UDPAddrFromAddrPort(to))
	return err
}

// SendNATKeepalive implements NATKeepaliveSender.
func (t *UDPTransport) SendNATKeepalive(from, to netip.AddrPort) error {
	if t.natt == nil {
		if ks, ok := t.nattSend.(NATKeepaliveSender); ok {
			return ks.SendNATKeepalive(from, to)
		}
		return nil
	}
	var cm *ipv4.ControlMessage
	if a := from.Addr(); a.IsValid() && !a.IsUnspecified() && a.Is4() {
		cm = &ipv4.ControlMessage{Src: a.AsSlice()}
	}
	_, err := t.natt.WriteTo([]byte{0xff}, cm, net.UDPAddrFromAddrPort(to))
	return err
}

// Serve reads both sockets and passes IKE packets to handle (the non-ESP
// marker stripped on the NAT-T port; NAT keepalives and ESP-in-UDP
// dropped) until ctx ends or the sockets close.
func (t *UDPTransport) Serve(ctx context.Context, handle func(pkt []byte, from, to netip.AddrPort)) error {
	errc := make(chan error, 2)
	n := 1
	go func() { errc <- t.read(t.ike, t.ikePort, false, handle) }()
	if t.natt != nil {
		n++
		go func() { errc <- t.read(t.natt, t.nattPort, true, handle) }()
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

func (t *UDPTransport) read(pc *ipv4.PacketConn, port uint16, natt bool, handle func(pkt []byte, from, to netip.AddrPort)) error {
	buf := make([]byte, 65536)
	for {
		n, cm, src, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		ua, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		from := ua.AddrPort()
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		var to netip.AddrPort
		if cm != nil && cm.Dst != nil {
			a, _ := netip.AddrFromSlice(cm.Dst.To4())
			to = netip.AddrPortFrom(a, port)
		} else {
			to = netip.AddrPortFrom(netip.IPv4Unspecified(), port)
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

// Close closes both sockets.
func (t *UDPTransport) Close() error {
	t.closeOnce.Do(func() {
		t.ike.Close()
		if t.natt != nil {
			t.natt.Close()
		}
	})
	return nil
}

// ListenIKEOnly opens only the IKE port (500 when zero) for when another
// component (package esp) owns the NAT-T port: packets the core sends from
// nattPort go through natt, and that component passes the IKE packets it
// receives there to Manager.HandlePacket.
func ListenIKEOnly(addr netip.Addr, ikePort, nattPort uint16, natt Transport) (*UDPTransport, error) {
	if ikePort == 0 {
		ikePort = 500
	}
	if nattPort == 0 {
		nattPort = 4500
	}
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, ikePort)))
	if err != nil {
		return nil, fmt.Errorf("ike: listen udp %s: %w", netip.AddrPortFrom(addr, ikePort), err)
	}
	SetSocketBuffers(c)
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("ike: IP_PKTINFO: %w", err)
	}
	return &UDPTransport{ike: pc, ikePort: ikePort, nattPort: nattPort, nattSend: natt}, nil
}

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
