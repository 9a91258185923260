package nslab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netns"
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
	Longest  time.Duration // longest time without an arrival
	Lost     int           // datagrams sent in the window that never arrived
	Received int
}

func (g ProbeGap) String() string {
	return fmt.Sprintf("longest gap %v, %d lost, %d received", g.Longest.Round(time.Millisecond), g.Lost, g.Received)
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
		return nil, fmt.Errorf("nslab: probe receiver: %w", err)
	}
	err = from.do(func() (err error) {
		p.send, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(srcA, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(dstA, uint16(port))))
		return err
	})
	if err != nil {
		p.recv.Close()
		return nil, fmt.Errorf("nslab: probe sender: %w", err)
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

func (p *Probe) receive() {
	defer p.wg.Done()
	buf := make([]byte, 64)
	for {
		n, err := p.recv.Read(buf)
		if err != nil {
			return // closed
		}
		if n < 8 {
			continue
		}
		a := probeArrival{binary.BigEndian.Uint64(buf), time.Now()}
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

// Gap measures the window from since to until: the longest stretch
// without an arrival (counting from since and up to until), and the
// datagrams sent in the window that have not arrived (by the time Gap is
// called, so it should be called a moment after until).
func (p *Probe) Gap(since, until time.Time) ProbeGap {
	p.mu.Lock()
	var in []time.Time
	arrived := map[uint64]bool{}
	for _, a := range p.arrivals {
		arrived[a.seq] = true
		if !a.at.Before(since) && !a.at.After(until) {
			in = append(in, a.at)
		}
	}
	g := ProbeGap{Received: len(in)}
	for i, at := range p.sentAt {
		if !at.Before(since) && !at.After(until) && !arrived[uint64(i+1)] {
			g.Lost++
		}
	}
	p.mu.Unlock()
	sort.Slice(in, func(i, j int) bool { return in[i].Before(in[j]) })
	last := since
	for _, at := range in {
		if d := at.Sub(last); d > g.Longest {
			g.Longest = d
		}
		last = at
	}
	if d := until.Sub(last); d > g.Longest {
		g.Longest = d
	}
	return g
}

// WaitFlowing waits until datagrams arrive again: n in a row within
// timeout.
func (p *Probe) WaitFlowing(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		since := time.Now()
		time.Sleep(time.Duration(n) * p.Interval)
		if g := p.Gap(since, time.Now()); g.Received >= n/2 && g.Longest < 5*p.Interval+50*time.Millisecond {
			return nil
		}
	}
	return errors.New("nslab: probe: no traffic arrives")
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
