package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Probe is a numbered stream of UDP datagrams from one namespace to
// another, one every Interval; the receiving end notes when each arrives.
// Gap then says how long the path was interrupted in a window: the
// longest time without an arrival, and how many were lost. Both sockets
// live in their namespaces, the loops in this process.
type Probe struct {
	Interval time.Duration

	send, recv *net.UDPConn
	done       chan struct{}
	wg         sync.WaitGroup

	mu       sync.Mutex
	arrivals []probeArrival
	sentAt   []time.Time // sentAt[i]: when datagram i+1 left
}

type probeArrival struct {
	seq uint64
	at  time.Time
}

// ProbeGap is what Probe.Gap measured in a window.
type ProbeGap struct {
	// Longest is the longest interruption: for each run of lost probes,
	// the time between sending the delivered probes before and after it
	// (or the window's end). It is 0 without losses. Send times make it
	// blind to the receiver being slow to read, and a stalled sender
	// sends nothing it could lose.
	Longest  time.Duration
	Lost     int           // datagrams sent in the window that never arrived
	Received int           // datagrams sent in the window that arrived
	MaxDelay time.Duration // longest time from sending to the kernel receiving one
}

func (g ProbeGap) String() string {
	return fmt.Sprintf("interrupted %v, %d lost, %d received, max delay %v", g.Longest.Round(time.Millisecond), g.Lost, g.Received,
		g.MaxDelay.Round(time.Millisecond))
}

// StartProbe sends from src in from to dst:port in to, every interval.
func StartProbe(from *Namespace, src string, to *Namespace, dst string, port int, interval time.Duration) (*Probe, error) {
	srcA, err := netip.ParseAddr(src)
	if err != nil {
		return nil, err
	}
	dstA, err := netip.ParseAddr(dst)
	if err != nil {
		return nil, err
	}
	p := &Probe{Interval: interval, done: make(chan struct{})}
	err = to.do(func() (err error) {
		p.recv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(dstA, uint16(port))))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: probe receiver: %w", err)
	}
	err = from.do(func() (err error) {
		p.send, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(srcA, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(dstA, uint16(port))))
		return err
	})
	if err != nil {
		p.recv.Close()
		return nil, fmt.Errorf("netlab: probe sender: %w", err)
	}
	// Arrival times are the kernel's (SO_TIMESTAMPNS), not when this
	// process got around to reading: a busy machine delays the reader,
	// not the packets.
	if err := setTimestamping(p.recv); err != nil {
		p.recv.Close()
		p.send.Close()
		return nil, fmt.Errorf("netlab: probe receiver: %w", err)
	}
	p.wg.Add(2)
	go p.receive()
	go p.transmit()
	return p, nil
}

func (p *Probe) transmit() {
	defer p.wg.Done()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	var buf [8]byte
	for seq := uint64(1); ; seq++ {
		binary.BigEndian.PutUint64(buf[:], seq)
		now := time.Now()
		p.send.Write(buf[:]) // errors (no route for a moment) are a lost probe
		p.mu.Lock()
		p.sentAt = append(p.sentAt, now)
		p.mu.Unlock()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

func setTimestamping(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// kernelTime is the SO_TIMESTAMPNS time in oob, or now.
func kernelTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				return time.Unix(ts.Unix())
			}
		}
	}
	return time.Now()
}

func (p *Probe) receive() {
	defer p.wg.Done()
	buf := make([]byte, 64)
	oob := make([]byte, 128)
	for {
		n, oobn, _, _, err := p.recv.ReadMsgUDP(buf, oob)
		if err != nil {
			return // closed
		}
		if n < 8 {
			continue
		}
		a := probeArrival{binary.BigEndian.Uint64(buf), kernelTime(oob[:oobn])}
		p.mu.Lock()
		p.arrivals = append(p.arrivals, a)
		p.mu.Unlock()
	}
}

// Sent is the number of datagrams sent so far.
func (p *Probe) Sent() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.sentAt))
}

// Gap measures the datagrams sent from since to until (call it a moment
// after until, so the last ones have arrived): see ProbeGap.
func (p *Probe) Gap(since, until time.Time) ProbeGap {
	p.mu.Lock()
	defer p.mu.Unlock()
	arrived := map[uint64]time.Time{}
	for _, a := range p.arrivals {
		arrived[a.seq] = a.at
	}
	var g ProbeGap
	last := since // send time of the last delivered probe
	lost := false // in a run of lost probes
	for i, sent := range p.sentAt {
		if sent.Before(since) || sent.After(until) {
			continue
		}
		at, ok := arrived[uint64(i+1)]
		if !ok {
			g.Lost++
			lost = true
			continue
		}
		g.Received++
		g.MaxDelay = max(g.MaxDelay, at.Sub(sent))
		if lost {
			g.Longest = max(g.Longest, sent.Sub(last))
			lost = false
		}
		last = sent
	}
	if lost {
		g.Longest = max(g.Longest, until.Sub(last))
	}
	return g
}

// WaitFlowing waits until datagrams arrive again: n intervals in which
// at least n/2 arrive, the last of them lately.
func (p *Probe) WaitFlowing(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		since := time.Now()
		time.Sleep(time.Duration(n) * p.Interval)
		p.mu.Lock()
		got, lastAt := 0, time.Time{}
		for _, a := range p.arrivals {
			if a.at.After(since) {
				got++
				lastAt = a.at
			}
		}
		p.mu.Unlock()
		if got >= n/2 && time.Since(lastAt) < 5*p.Interval+50*time.Millisecond {
			return nil
		}
	}
	return errors.New("netlab: probe: no traffic arrives")
}

// Close stops the stream.
func (p *Probe) Close() {
	close(p.done)
	p.send.Close()
	p.recv.Close()
	p.wg.Wait()
}

// do runs f with the calling goroutine's thread in ns, so the sockets f
// opens belong to ns. The thread returns to this process's namespace
// afterwards, or is discarded if it cannot.
func (ns *Namespace) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- f()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		} // else the thread ends with this goroutine, still locked
	}()
	return <-errc
}
