package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw ESP sent as Ethernet frames on an AF_PACKET socket (issue 16). A raw
// IP socket takes each packet through the kernel's output path (route
// lookup, netfilter, neighbour, qdisc); here the engine writes the outer
// IP and Ethernet headers itself and hands a whole batch to the WAN
// device's driver in one sendmmsg, past the qdisc (PACKET_QDISC_BYPASS).
// What it sends is byte for byte what the raw socket would: nothing
// changes for the peer. Received raw ESP comes from a packet ring
// (packetrx.go), the raw socket taking what the ring leaves to the IP
// stack.
//
// The way out of a raw ESP packet on this path:
//
//  1. packetIO.writeBatch takes the sealed packets of a tunnel's batch and
//     looks up each peer's next hop (nexthop.go): device, source address,
//     Ethernet header. Peers without one, packets larger than the device's
//     MTU (the kernel fragments them) and IPv6 extension cases go to the
//     raw socket.
//  2. frameHeader writes the Ethernet and outer IP header of each packet
//     into the message's header buffer; the ESP packet is the message's
//     second iovec (no copy).
//  3. One sendmmsg on the packet socket sends them all; the kernel builds
//     one skb per message and gives it to the driver.
//
// Where the mechanism is missing (no CAP_NET_RAW for packet sockets, a
// kernel without AF_PACKET or nftables) OpenRawESP falls back to the raw
// socket for that direction and says so in the log; resolver logs why a
// peer is not sent as frames.

// RawESPMode chooses how raw ESP (IP protocol 50) leaves the host.
type RawESPMode string

const (
	// RawESPAuto sends Ethernet frames on a packet socket and receives
	// from a packet ring where it can, else uses the raw IP socket. The
	// zero value means RawESPAuto.
	RawESPAuto RawESPMode = "auto"
	// RawESPSocket sends through the raw IP socket only.
	RawESPSocket RawESPMode = "socket"
	// RawESPPacket is RawESPAuto but fails OpenRawESP when the packet
	// socket or the ring cannot be set up.
	RawESPPacket RawESPMode = "packet"
)

// ParseRawESPMode parses the name of a mode ("" is RawESPAuto).
func ParseRawESPMode(s string) (RawESPMode, error) {
	switch m := RawESPMode(s); m {
	case "", RawESPAuto:
		return RawESPAuto, nil
	case RawESPSocket, RawESPPacket:
		return m, nil
	}
	return "", fmt.Errorf("raw ESP mode %q: want auto, socket or packet", s)
}

const (
	ethHeader = 14
	// frameHeaderMax is the largest header frameHeader writes.
	frameHeaderMax = ethHeader + outerIPv6Header
	// ipTTL is the TTL / hop limit of sent packets, Linux's default.
	ipTTL = 64
)

// packetIO is the raw ESP outer socket with frames sent on a packet
// socket and received from a ring; raw carries what cannot go as a frame
// and receives what the ring leaves to the IP stack.
type packetIO struct {
	raw outerIO // the raw IP socket (rawIO)
	fd  int
	// rx is the receive ring, nil when receiving is the raw socket's
	// alone; claim keeps its filter and drop rule, rawRx and rawFD are
	// raw as a *rawIO and its descriptor, for the ring's wait.
	rx    *rxRing
	claim *rxClaimer
	rawRx *rawIO
	rawFD int
	hops  *resolver
	v6    bool
	// send is sendmmsg, replaced by tests.
	send func(fd int, msgs []mmsghdr) (int, error)

	mu    sync.Mutex // one writer at a time: the buffers below are shared
	hdrs  [][frameHeaderMax]byte
	iovs  [][2]unix.Iovec
	names []unix.RawSockaddrLinklayer
	msgs  []mmsghdr
	rest  []*elem // packets for the raw socket
	id    uint16  // IPv4 identification
	fdErr error   // set once the packet socket failed for good
}

// openPacketSocket opens the send-only packet socket with the qdisc
// bypassed.
func openPacketSocket() (int, error) {
	// Protocol 0: the socket receives nothing.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("PACKET_QDISC_BYPASS: %w", err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffer)
	}
	return fd, nil
}

// newPacketIO sends raw's packets (of IPv6 peers when v6) as frames on
// fd, next hops from hops.
func newPacketIO(raw outerIO, v6 bool, fd int, hops *resolver) *packetIO {
	p := &packetIO{
		raw:   raw,
		fd:    fd,
		hops:  hops,
		v6:    v6,
		send:  sendmmsg,
		hdrs:  make([][frameHeaderMax]byte, sendBatchMax),
		iovs:  make([][2]unix.Iovec, sendBatchMax),
		names: make([]unix.RawSockaddrLinklayer, sendBatchMax),
		msgs:  make([]mmsghdr, sendBatchMax),
		rest:  make([]*elem, 0, sendBatchMax),
	}
	for i := range p.msgs {
		h := &p.msgs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&p.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(p.names[i]))
		h.Iov = &p.iovs[i][0]
		h.SetIovlen(2)
		p.iovs[i][0].Base = &p.hdrs[i][0]
	}
	return p
}

// readBatch implements outerIO: the ring where there is one, and the raw
// socket.
func (p *packetIO) readBatch(elems []*elem) (int, error) {
	if p.rx == nil {
		return p.raw.readBatch(elems)
	}
	return p.rx.readBatch(elems, p.rawRx, p.rawFD)
}

func (p *packetIO) rxSize() int { return p.raw.rxSize() }

func (p *packetIO) writeTo(pkt []byte, src, dst netip.AddrPort) error {
	return p.raw.writeTo(pkt, src, dst)
}

func (p *packetIO) close() error {
	var errs []error
	if p.claim != nil {
		errs = append(errs, p.claim.stop())
	}
	if p.rx != nil {
		errs = append(errs, p.rx.close())
	}
	if p.hops != nil {
		p.hops.stop()
	}
	p.mu.Lock()
	if p.fd >= 0 {
		errs = append(errs, unix.Close(p.fd))
	}
	p.fd = -1
	p.mu.Unlock()
	if p.raw != nil {
		errs = append(errs, p.raw.close())
	}
	return errors.Join(errs...)
}

// writeBatch implements outerIO: frames for peers with a next hop, the
// raw socket for the rest.
func (p *packetIO) writeBatch(elems []*elem) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent := 0
	var errs error
	for len(elems) > 0 {
		chunk := elems[:min(len(elems), sendBatchMax)]
		elems = elems[len(chunk):]
		n, err := p.writeFrames(chunk)
		sent += n
		if err != nil {
			errs = err
		}
		if len(p.rest) > 0 {
			n, err := p.raw.writeBatch(p.rest)
			sent += n
			if err != nil {
				errs = err
			}
			clear(p.rest)
			p.rest = p.rest[:0]
		}
	}
	return sent, errs
}

// writeFrames sends the packets of chunk that can go as frames in one
// sendmmsg and appends the others to p.rest.
func (p *packetIO) writeFrames(chunk []*elem) (int, error) {
	nm := 0
	for _, el := range chunk {
		var h *nextHop
		if p.fd >= 0 && p.fdErr == nil {
			h = p.hops.lookup(el.sa.remote.Addr())
		}
		size := len(el.pkt) + outerHeader(p.v6)
		if h == nil || size > h.mtu || !el.sa.pathAllows(size) {
			p.rest = append(p.rest, el)
			continue
		}
		hl := frameHeader(p.hdrs[nm][:], h, el.sa.remote.Addr(), len(el.pkt), p.id)
		p.id++
		iov := &p.iovs[nm]
		iov[0].SetLen(hl)
		iov[1].Base = &el.pkt[0]
		iov[1].SetLen(len(el.pkt))
		name := &p.names[nm]
		name.Family = unix.AF_PACKET
		name.Protocol = htons(binary.BigEndian.Uint16(h.eth[12:14]))
		name.Ifindex = int32(h.ifindex)
		name.Halen = 6
		copy(name.Addr[:6], h.eth[0:6])
		nm++
	}
	sent := 0
	var err error
	for sent < nm {
		n, e := p.send(p.fd, p.msgs[sent:nm])
		sent += n // what went before an error went
		if e != nil {
			err = e
			if e == unix.EPERM || e == unix.EAFNOSUPPORT || e == unix.ENODEV {
				// Nothing more will go through this socket (a
				// device gone is re-resolved; these are not).
				p.fdErr = e
			}
			break
		}
	}
	for i := 0; i < nm; i++ {
		p.iovs[i][1].Base = nil // do not keep packet buffers alive
	}
	if err != nil {
		err = fmt.Errorf("sendmmsg on packet socket: %w", err)
	}
	return sent, err
}

// htons converts a host-order 16-bit value to network order (the
// protocol field of sockaddr_ll).
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return *(*uint16)(unsafe.Pointer(&b[0]))
}

// frameHeader writes into b the Ethernet header of h and the outer IP
// header of an ESP packet of n bytes from h.src to dst, and returns the
// header's length. The IP header is what Linux writes for a raw socket:
// no options, DF set (path MTU discovery), TTL 64, TOS 0.
func frameHeader(b []byte, h *nextHop, dst netip.Addr, n int, id uint16) int {
	copy(b[:ethHeader], h.eth[:])
	ip := b[ethHeader:]
	if dst.Is4() {
		ip = ip[:outerIPv4Header]
		ip[0] = 0x45
		ip[1] = 0
		binary.BigEndian.PutUint16(ip[2:4], uint16(outerIPv4Header+n))
		binary.BigEndian.PutUint16(ip[4:6], id)
		ip[6], ip[7] = 0x40, 0 // DF
		ip[8] = ipTTL
		ip[9] = unix.IPPROTO_ESP
		ip[10], ip[11] = 0, 0
		s := h.src.As4()
		copy(ip[12:16], s[:])
		d := dst.As4()
		copy(ip[16:20], d[:])
		binary.BigEndian.PutUint16(ip[10:12], ipv4Checksum(ip))
		return ethHeader + outerIPv4Header
	}
	ip = ip[:outerIPv6Header]
	ip[0], ip[1], ip[2], ip[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(ip[4:6], uint16(n))
	ip[6] = unix.IPPROTO_ESP
	ip[7] = ipTTL
	s := h.src.As16()
	copy(ip[8:24], s[:])
	d := dst.As16()
	copy(ip[24:40], d[:])
	return ethHeader + outerIPv6Header
}

// ipv4Checksum is the header checksum of the IPv4 header h (with its
// checksum field zero).
func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// openRawESPIO opens the raw ESP outer socket of local in mode: a packetIO
// where frames can be sent or received (auto, packet), else the raw
// socket alone. drop is the engine's drop rule table of local's family.
func openRawESPIO(local netip.Addr, mode RawESPMode, drop *dropTable, log *slog.Logger) (outerIO, bool, error) {
	raw, err := listenRawESP(local)
	if err != nil {
		return nil, false, err
	}
	if mode == RawESPSocket || local.IsLoopback() {
		// The rule of a ring this socket replaces (SetRawESPMode), or of
		// a killed run on a kernel without owned tables, would take the
		// raw socket's packets away.
		if err := drop.apply(rxClaim{}); err != nil {
			log.Warn("esp: removing the ESP drop rule table", "table", drop.name(), "err", err)
		}
		return raw, raw.v6, nil
	}
	fail := func(what string, err error) (outerIO, bool, error) {
		raw.close()
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	p := newPacketIO(raw, raw.v6, -1, nil)
	fd, err := openPacketSocket()
	if err != nil {
		if mode == RawESPPacket {
			return fail("packet socket", err)
		}
		why := err.Error()
		if errors.Is(err, syscall.EPERM) {
			why = "no CAP_NET_RAW for a packet socket: " + why
		}
		log.Info("esp: raw ESP is sent through the raw IP socket only", "local", local, "why", why)
	} else {
		p.fd = fd
		p.hops = newResolver(netlinkLookup{}, local, log)
		p.hops.start(netlinkEvents)
		log.Info("esp: raw ESP is sent as Ethernet frames on a packet socket where the next hop is known", "local", local)
	}
	if err := p.openRx(local, drop, log); err != nil {
		if mode == RawESPPacket {
			p.close()
			return nil, false, fmt.Errorf("packet ring: %w", err)
		}
		log.Info("esp: raw ESP is received on the raw IP socket only", "local", local, "why", err.Error())
	}
	if p.fd < 0 && p.rx == nil {
		return raw, raw.v6, nil
	}
	return p, raw.v6, nil
}

// openRx sets up the receive ring and its claim, with its drop rule in
// drop.
func (p *packetIO) openRx(local netip.Addr, drop *dropTable, log *slog.Logger) error {
	raw, ok := p.raw.(*rawIO)
	if !ok {
		return errors.New("no raw socket")
	}
	rx, err := openRxRing(raw.v6)
	if err != nil {
		return err
	}
	claim, err := startClaimer(rx, local, drop, log)
	if err != nil {
		rx.close()
		return err
	}
	p.rx, p.claim, p.rawRx, p.rawFD = rx, claim, raw, raw.rd.fd()
	return nil
}
