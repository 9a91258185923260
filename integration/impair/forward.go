package impair

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Forwarder runs one Link per TUN device: it reads what the kernel routes
// into the device, and writes each packet back into the same device at
// the send time the Link gives it, for the kernel to forward.
type Forwarder struct {
	params atomic.Pointer[Params]
	links  []*fwdLink
}

type fwdLink struct {
	name string
	dev  *os.File
	link *Link
	wake chan struct{} // a packet was pushed: the writer may sleep less
}

// NewForwarder attaches to the existing TUN devices named (created with
// `ip tuntap add NAME mode tun`, which the caller routes into) and starts
// with p. Link i draws its random stream from seed+i.
func NewForwarder(devices []string, seed uint64, p Params) (*Forwarder, error) {
	f := &Forwarder{}
	f.params.Store(&p)
	for i, name := range devices {
		dev, err := openTUN(name)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.links = append(f.links, &fwdLink{
			name: name, dev: dev, link: NewLink(seed+uint64(i), f.params.Load),
			wake: make(chan struct{}, 1),
		})
	}
	return f, nil
}

// openTUN attaches to the TUN device name, without packet information
// headers, non-blocking so that Close ends a pending read.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("impair: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("impair: %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("impair: attach to TUN %s: %w", name, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("impair: %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun:"+name), nil
}

// Params returns the parameters in force.
func (f *Forwarder) Params() Params { return *f.params.Load() }

// Set replaces the parameters; the next packet of every link sees them.
func (f *Forwarder) Set(p Params) { f.params.Store(&p) }

// Run forwards until ctx ends or a device fails.
func (f *Forwarder) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2*len(f.links))
	var wg sync.WaitGroup
	for _, l := range f.links {
		wg.Add(2)
		go func() { defer wg.Done(); errc <- l.read(ctx) }()
		go func() { defer wg.Done(); errc <- l.write(ctx) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	for _, l := range f.links {
		l.dev.Close() // ends the blocked reads
	}
	wg.Wait()
	return err
}

// Close releases the devices (Run does too).
func (f *Forwarder) Close() {
	for _, l := range f.links {
		l.dev.Close()
	}
}

func (l *fwdLink) read(ctx context.Context) error {
	buf := make([]byte, 65535)
	for {
		n, err := l.dev.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("impair: read %s: %w", l.name, err)
		}
		// The Link keeps the packet until its send time: a copy of what
		// arrived, so a long queue does not pin 64 KiB per packet.
		l.link.Push(time.Now(), append([]byte(nil), buf[:n]...))
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (l *fwdLink) write(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		pkt, wait := l.link.Pop(time.Now())
		if pkt != nil {
			if _, err := l.dev.Write(pkt); err != nil {
				if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
					return nil
				}
				// The kernel refusing one packet (no route, a full
				// queue) is what a router does too: count it as lost.
				l.link.Stats.Overflow.Add(1)
			}
			continue
		}
		if wait == 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		case <-timer.C:
		}
	}
}

// StatsLine prints every link's counters on one line, "NAME.in=N
// NAME.out=N ...", in device order.
func (f *Forwarder) StatsLine() string {
	var b strings.Builder
	for i, l := range f.links {
		if i > 0 {
			b.WriteByte(' ')
		}
		s := &l.link.Stats
		for j, c := range []struct {
			k string
			v *atomic.Int64
		}{
			{"in", &s.In}, {"out", &s.Out}, {"lost", &s.Lost}, {"blackholed", &s.Blackholed},
			{"duplicated", &s.Duplicated}, {"corrupted", &s.Corrupted}, {"reordered", &s.Reordered},
			{"overflow", &s.Overflow},
		} {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s.%s=%d", l.name, c.k, c.v.Load())
		}
		fmt.Fprintf(&b, " %s.queued=%d", l.name, l.link.Len())
	}
	return b.String()
}
