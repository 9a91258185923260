package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
)

const (
	tracerouteMaxHops = 30
	// tracerouteSilent ends a trace after this many hops in a row without
	// any answer: the answer comes whole at the end, not hop by hop, and
	// a destination that never answers would otherwise hold the command
	// for all 30 hops (3 minutes).
	tracerouteSilent  = 8
	tracerouteProbes  = 3               // probes per hop
	tracerouteTimeout = 2 * time.Second // per probe
	traceroutePort    = 33434           // first destination port, as traditional traceroute
)

// tracerouteRequest is "traceroute DEST [source SRC]".
type tracerouteRequest struct {
	Dest, Source netip.Addr
}

// traceroute sends UDP probes to req.Dest with growing TTLs, from
// req.Source when given, through the kernel routing of this namespace (so
// through a tunnel as the router's own traffic goes), and writes one line
// per hop as its probes are answered: by ICMP time exceeded from a router
// on the way, port unreachable from the destination.
func traceroute(ctx context.Context, w io.Writer, req tracerouteRequest) error {
	if !req.Dest.Is4() {
		return fmt.Errorf("traceroute: %s is not an IPv4 address", req.Dest)
	}
	// The ICMP errors come to any of our addresses.
	icmpConn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return probeSocketError("traceroute", req.Source, err)
	}
	defer icmpConn.Close()
	udp, err := net.ListenPacket("udp4", net.JoinHostPort(listenAddr(req.Source), "0"))
	if err != nil {
		return probeSocketError("traceroute", req.Source, err)
	}
	defer udp.Close()
	udpConn := ipv4.NewPacketConn(udp)
	ourPort := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	stop := context.AfterFunc(ctx, func() { icmpConn.SetReadDeadline(time.Now()) })
	defer stop()

	fmt.Fprint(w, show.TracerouteHeader(req.Dest, tracerouteMaxHops, 20+8+12))
	payload := make([]byte, 12)
	buf := make([]byte, 1500)
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(req.Dest, 0))
	probe, silent := 0, 0
	for ttl := 1; ttl <= tracerouteMaxHops && ctx.Err() == nil; ttl++ {
		hop := show.TracerouteHop{TTL: ttl}
		for i := 0; i < tracerouteProbes && ctx.Err() == nil; i++ {
			port := uint16(traceroutePort + probe)
			probe++
			dst.Port = int(port)
			if err := udpConn.SetTTL(ttl); err != nil {
				return fmt.Errorf("traceroute: %w", err)
			}
			start := time.Now()
			if _, err := udpConn.WriteTo(payload, nil, dst); err != nil {
				hop.Probes = append(hop.Probes, show.TracerouteProbe{Error: err.Error()})
				continue
			}
			p := waitProbe(icmpConn, buf, req.Dest, ourPort, port, start)
			hop.Probes = append(hop.Probes, p)
			if p.From.IsValid() && (p.From == req.Dest || p.Unreachable != "") {
				hop.Last = true
			}
		}
		fmt.Fprint(w, show.TracerouteHopLine(hop))
		if hop.Last {
			break
		}
		silent++
		for _, p := range hop.Probes {
			if p.From.IsValid() {
				silent = 0
			}
		}
		if silent == tracerouteSilent {
			fmt.Fprintf(w, "(no answer from %d hops in a row: stopped)\n", silent)
			break
		}
	}
	return nil
}

// waitProbe reads ICMP errors until one quotes the probe (our source
// port, its destination port and address) or tracerouteTimeout passes.
func waitProbe(conn *icmp.PacketConn, buf []byte, dest netip.Addr, srcPort, dstPort uint16, start time.Time) show.TracerouteProbe {
	deadline := start.Add(tracerouteTimeout)
	for {
		conn.SetReadDeadline(deadline)
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			return show.TracerouteProbe{} // timeout, or the command ends
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil {
			continue
		}
		var quoted []byte
		switch b := m.Body.(type) {
		case *icmp.TimeExceeded:
			quoted = b.Data
		case *icmp.DstUnreach:
			quoted = b.Data
		default:
			continue
		}
		if !quotesProbe(quoted, dest, srcPort, dstPort) {
			continue
		}
		from, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
		p := show.TracerouteProbe{From: from.Unmap(), RTT: time.Since(start)}
		if m.Type == ipv4.ICMPTypeDestinationUnreachable && m.Code != 3 { // 3: port unreachable, the destination's answer
			p.Unreachable = unreachableMark(m.Code)
		}
		return p
	}
}

// quotesProbe reports whether an ICMP error's quoted datagram is our
// probe: UDP to dest:dstPort from srcPort.
func quotesProbe(q []byte, dest netip.Addr, srcPort, dstPort uint16) bool {
	if len(q) < 20 || q[0]>>4 != 4 || q[9] != syscall.IPPROTO_UDP {
		return false
	}
	ihl := int(q[0]&0x0f) * 4
	if ihl < 20 || len(q) < ihl+4 {
		return false
	}
	d, _ := netip.AddrFromSlice(q[16:20])
	return d == dest && binary.BigEndian.Uint16(q[ihl:]) == srcPort && binary.BigEndian.Uint16(q[ihl+2:]) == dstPort
}

// unreachableMark is traceroute's mark for an ICMP destination unreachable
// code other than port unreachable.
func unreachableMark(code int) string {
	switch code {
	case 0:
		return "!N"
	case 1:
		return "!H"
	case 2:
		return "!P"
	case 4:
		return "!F"
	case 13:
		return "!X"
	}
	return fmt.Sprintf("!<%d>", code)
}
