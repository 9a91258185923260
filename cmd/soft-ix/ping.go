package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
)

const (
	defaultPingCount = 5
	defaultPingSize  = 56
	pingTimeout      = 2 * time.Second // per echo request
	pingInterval     = time.Second
)

// pingRequest is "ping DEST [source SRC] [count N] [size N]".
type pingRequest struct {
	Dest, Source netip.Addr
	Count, Size  int
}

var pingIDs atomic.Uint32

// ping sends ICMP echo requests from req.Source (when given) through the
// kernel routing of this namespace, as the IX does, writing IX-format lines
// to w as replies arrive. ok reports whether any reply came back.
func ping(ctx context.Context, w io.Writer, req pingRequest) (ok bool, err error) {
	if !req.Dest.Is4() {
		return false, fmt.Errorf("ping: %s is not an IPv4 address", req.Dest)
	}
	conn, err := icmp.ListenPacket("ip4:icmp", listenAddr(req.Source))
	if err != nil {
		return false, probeSocketError("ping", req.Source, err)
	}
	defer conn.Close()
	pc := conn.IPv4PacketConn()
	if err := pc.SetControlMessage(ipv4.FlagTTL, true); err != nil {
		return false, fmt.Errorf("ping: %w", err)
	}
	src := req.Source
	if !src.IsValid() {
		src = routeSource(req.Dest)
	}
	// Stop reading at once when the daemon shuts down or the client goes.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	id := int(uint32(os.Getpid())+pingIDs.Add(1)) & 0xffff
	payload := make([]byte, req.Size)
	for i := range payload {
		payload[i] = byte(i)
	}
	fmt.Fprint(w, show.PingHeader(src, req.Dest, req.Size))
	var rtts []time.Duration
	sent := 0
	buf := make([]byte, 65536)
	dst := &net.IPAddr{IP: req.Dest.AsSlice()}
	for seq := 0; seq < req.Count && ctx.Err() == nil; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
		wb, _ := msg.Marshal(nil)
		start := time.Now()
		if _, err := pc.WriteTo(wb, nil, dst); err != nil {
			fmt.Fprintf(w, "sendto: %v\n", err)
			sent++
			continue
		}
		sent++
		got := false
		deadline := start.Add(pingTimeout)
		for !got && ctx.Err() == nil {
			conn.SetReadDeadline(deadline)
			n, cm, peer, err := pc.ReadFrom(buf)
			if err != nil {
				break // timeout or closed
			}
			rm, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || rm.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			echo, okEcho := rm.Body.(*icmp.Echo)
			if !okEcho || echo.ID != id || echo.Seq != seq {
				continue
			}
			rtt := time.Since(start)
			from, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
			ttl := 0
			if cm != nil {
				ttl = cm.TTL
			}
			fmt.Fprint(w, show.PingReply(n, from.Unmap(), seq, ttl, rtt))
			rtts = append(rtts, rtt)
			got = true
		}
		if !got && ctx.Err() == nil {
			fmt.Fprint(w, show.PingTimeout(seq))
		}
		if seq+1 < req.Count {
			if wait := time.Until(start.Add(pingInterval)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		}
	}
	fmt.Fprint(w, show.PingStats(req.Dest, sent, rtts))
	return len(rtts) > 0, nil
}

// listenAddr is the address to bind a probe socket to: source, or any.
func listenAddr(source netip.Addr) string {
	if source.IsValid() {
		return source.String()
	}
	return "0.0.0.0"
}

// probeSocketError explains why cmd (ping, traceroute) could not open its
// socket: a source that is not ours, or missing privileges.
func probeSocketError(cmd string, source netip.Addr, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("source address %s is not an address of this router", source)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s needs root or CAP_NET_RAW: %w", cmd, err)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// routeSource is the address the kernel would send from towards dest.
// Connecting a UDP socket sends nothing.
func routeSource(dest netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dest, 9)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}
