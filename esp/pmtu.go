package esp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Path MTU towards a peer (RFC 4301 §8.2, RFC 1191, RFC 8201).
//
// A tunnel sizes its packets for TunnelConfig.OuterMTU, the MTU of the
// device its peer is reached through. A smaller link further on (a PPPoE
// or tunnelled segment between the branch and Azure) drops our ESP
// packets, which carry DF, and answers with an ICMP fragmentation needed
// (IPv6: packet too big). The kernel would act on it for its own sockets,
// but ESP sent as frames on a packet socket never meets the kernel's
// route cache, and inner packets sized for the device would be lost for
// good: a path MTU black hole in which pings of some sizes and every full
// TCP segment vanish.
//
// So the engine reads those ICMP errors itself (icmpWatch, a raw ICMP
// socket per family filtered to that one type), takes one only when it
// quotes an ESP packet of ours that could have been sent lately (the
// outbound SA's SPI, its peer's address and port, a sequence number at
// most seqSlack behind the SA's; an off-path forger has to guess all of
// them), and lowers the tunnel's path MTU, never below the family's
// minimum. While it is lowered the tunnel sizes inner packets for it: IPv4
// with pre-fragment is fragmented before encryption, IPv4 with DF and IPv6
// are answered with ICMP carrying the inner MTU so the sender's own path
// MTU discovery adapts, "ip tcp adjust-mss auto" clamps to it, and what is
// still too large (IPv4 without DF and pre-fragment, IPv6 below 1280) goes
// whole through the raw IP socket, whose kernel path fragments the outer
// packet. After pathMTUExpiry without a new report the configured MTU
// holds again, as RFC 1191 §6.3 suggests, so a path that has grown is used
// whole.

// pathMTUExpiry is how long a learned path MTU holds without a new report
// (RFC 1191 §6.3 suggests ten minutes; Linux's default too).
const pathMTUExpiry = 10 * time.Minute

// seqSlack is how far behind the SA's last sequence number a quoted one
// may be: at 130,000 packets a second, eight seconds of traffic, far
// beyond any ICMP's round trip.
const seqSlack = 1 << 20

// Minimum path MTUs accepted from ICMP: an IPv4 host must take 576-byte
// datagrams (RFC 791), every IPv6 link carries 1280 bytes (RFC 8200).
const (
	minPathMTU4 = 576
	minPathMTU6 = 1280
)

// pathMTU is what ICMP has said about the path to one tunnel's peer. The
// engine keeps one per tunnel name for its life, like the tunnel's
// outbound SA pointer, so a rekeyed SA and a recreated tunnel keep it.
type pathMTU struct {
	mtu   atomic.Int32 // the learned outer MTU; 0: none, the configured one holds
	mu    sync.Mutex   // serializes lower and expiry
	timer *time.Timer
}

// get returns the learned path MTU, or 0.
func (p *pathMTU) get() int {
	if p == nil {
		return 0
	}
	return int(p.mtu.Load())
}

// lower records mtu for ttl if it is below what is known and reports
// whether it was; a report that confirms the value restarts its ttl.
// expired is called (without locks) when a value lapses.
func (p *pathMTU) lower(mtu int, ttl time.Duration, expired func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := int(p.mtu.Load())
	if cur != 0 && cur < mtu {
		return false
	}
	if p.timer == nil {
		p.timer = time.AfterFunc(ttl, func() {
			p.mu.Lock()
			p.mtu.Store(0)
			p.mu.Unlock()
			expired()
		})
	} else {
		p.timer.Reset(ttl)
	}
	p.mtu.Store(int32(mtu))
	return cur != mtu
}

// stop ends the expiry timer (Engine.Close).
func (p *pathMTU) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
	}
}

// pathAllows reports whether an outer packet of size bytes fits the path
// MTU that ICMP reported for SA a's tunnel, if any.
func (a *sa) pathAllows(size int) bool {
	m := a.path.get()
	return m == 0 || size <= m
}

// pathLocked returns the path MTU record of tunnel, creating it. e.mu is
// held.
func (e *Engine) pathLocked(tunnel string) *pathMTU {
	p := e.paths[tunnel]
	if p == nil {
		p = new(pathMTU)
		e.paths[tunnel] = p
	}
	return p
}

// tooBig is what an ICMP fragmentation needed or packet too big message
// says about the packet it quotes.
type tooBig struct {
	mtu    int
	router netip.Addr // the ICMP's source (IPv4 only: a raw ICMPv6 socket reads no header)
	dst    netip.Addr // the quoted packet's destination
	udp    bool       // the quoted packet is ESP in UDP
	dport  uint16     // its UDP destination port
	spi    uint32
	seq    uint32
}

// parseTooBig parses b, as a raw ICMP socket of the family reads it (IPv4
// with its IP header, ICMPv6 without), as a fragmentation needed / packet
// too big message quoting the start of an ESP or ESP-in-UDP packet.
func parseTooBig(b []byte, v6 bool) (tooBig, bool) {
	var r tooBig
	var q []byte // the quoted packet
	if v6 {
		if len(b) < 8 || b[0] != 2 || b[1] != 0 { // packet too big
			return r, false
		}
		r.mtu = int(min(binary.BigEndian.Uint32(b[4:8]), 1<<16))
		q = b[8:]
	} else {
		if len(b) < 20 || b[0]>>4 != 4 {
			return r, false
		}
		hl := int(b[0]&0xf) * 4
		if hl < 20 || len(b) < hl+8 || b[hl] != 3 || b[hl+1] != 4 { // fragmentation needed
			return r, false
		}
		r.router = netip.AddrFrom4([4]byte(b[12:16]))
		r.mtu = int(binary.BigEndian.Uint16(b[hl+6:]))
		q = b[hl+8:]
	}
	var proto byte
	var rest []byte
	if v6 {
		if len(q) < 40 || q[0]>>4 != 6 {
			return r, false
		}
		proto = q[6]
		r.dst = netip.AddrFrom16([16]byte(q[24:40]))
		rest = q[40:]
	} else {
		if len(q) < 20 || q[0]>>4 != 4 {
			return r, false
		}
		hl := int(q[0]&0xf) * 4
		if hl < 20 || len(q) < hl || binary.BigEndian.Uint16(q[6:])&0x1fff != 0 {
			return r, false // a later fragment quotes no ESP header
		}
		proto = q[9]
		r.dst = netip.AddrFrom4([4]byte(q[16:20]))
		rest = q[hl:]
	}
	switch proto {
	case protoESP:
	case protoUDP:
		if len(rest) < 8 {
			return r, false
		}
		r.udp = true
		r.dport = binary.BigEndian.Uint16(rest[2:4])
		rest = rest[8:]
	default:
		return r, false
	}
	if len(rest) < 8 {
		return r, false
	}
	r.spi = binary.BigEndian.Uint32(rest[0:4])
	r.seq = binary.BigEndian.Uint32(rest[4:8])
	return r, r.spi != 0 // SPI 0 in UDP is the IKE marker
}

// notePathMTU acts on one ICMP error read by an icmpWatch.
func (e *Engine) notePathMTU(b []byte, v6 bool) {
	r, ok := parseTooBig(b, v6)
	if !ok {
		return // another ICMP error, or one about a packet not ESP
	}
	a := e.sas.get(saKey{r.spi, false})
	if a == nil || a.path == nil || a.udp != r.udp || a.v6 != v6 || a.remote.Addr().Unmap() != r.dst.Unmap() ||
		(r.udp && a.remote.Port() != r.dport) || uint32(a.seq.Load())-r.seq >= seqSlack {
		e.stats.pathMTUIgnored.Add(1)
		return
	}
	t := e.tunnel(a.tunnel)
	if t == nil {
		e.stats.pathMTUIgnored.Add(1)
		return
	}
	floor := minPathMTU4
	if v6 {
		floor = minPathMTU6
	}
	mtu := max(r.mtu, floor)
	if mtu >= t.cfg.outerMTU() {
		e.stats.pathMTUIgnored.Add(1)
		return
	}
	name, peer := t.cfg.Name, a.remote.Addr()
	if !a.path.lower(mtu, pathMTUExpiry, func() {
		e.log.Info("esp: the learned path MTU lapsed; the configured MTU holds again", "tunnel", name)
	}) {
		return
	}
	e.stats.pathMTUUpdates.Add(1)
	args := []any{"tunnel", name, "peer", peer, "path_mtu", mtu,
		"inner_mtu", maxPayload(mtu, a.ivLen, a.blk, a.icv, a.udp, a.v6)}
	if r.router.IsValid() {
		args = append(args, "router", r.router)
	}
	e.log.Info("esp: path MTU towards the peer lowered by ICMP", args...)
}

// watchPathMTU opens the family's icmpWatch with its first outer socket.
// Without one (no CAP_NET_RAW) tunnels keep their configured MTU, as
// before, and the log says so.
func (e *Engine) watchPathMTU(v6 bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	w := &e.icmp4
	if v6 {
		w = &e.icmp6
	}
	if *w != nil {
		return
	}
	var err error
	if *w, err = e.openICMPWatch(v6); err != nil {
		e.log.Warn("esp: no ICMP socket: the path MTU towards peers is not learned", "ipv6", v6, "err", err)
	}
}

// icmpWatch reads the fragmentation needed (IPv4) or packet too big (IPv6)
// errors that reach the host, for notePathMTU.
type icmpWatch struct {
	f    *os.File
	done chan struct{}
}

// openICMPWatch opens the family's raw ICMP socket, filtered in the kernel
// to the one message type, and starts its reader.
func (e *Engine) openICMPWatch(v6 bool) (*icmpWatch, error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	if v6 {
		var f unix.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = ^uint32(0) // a set bit blocks the type
		}
		f.Data[0] &^= 1 << 2 // packet too big
		err = unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f)
	} else {
		err = unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, ^(1 << 3)) // destination unreachable
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	w := &icmpWatch{f: os.NewFile(uintptr(fd), "icmp"), done: make(chan struct{})}
	go w.loop(e, v6)
	return w, nil
}

func (w *icmpWatch) loop(e *Engine, v6 bool) {
	defer close(w.done)
	var buf [1500]byte
	for {
		n, err := w.f.Read(buf[:])
		if errors.Is(err, os.ErrClosed) {
			return
		}
		if err != nil {
			// A transient error (ENOBUFS and the like): wait a moment
			// rather than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e.notePathMTU(buf[:n], v6)
	}
}

func (w *icmpWatch) close() error {
	err := w.f.Close()
	<-w.done
	return err
}
