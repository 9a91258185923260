package dhcp

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeServer answers the client over an in-memory net.PacketConn: the
// client's writes reach serve, its replies come back through ReadFrom.
// mode says how it answers REQUESTs of a lease it granted.
type fakeServer struct {
	mu     sync.Mutex
	mode   string // "ack", "nak", "silent"
	addr   net.IP // what it grants
	lease  time.Duration
	counts map[dhcpv4.MessageType]int

	in     chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeServer(addr string, lease time.Duration) *fakeServer {
	return &fakeServer{mode: "ack", addr: net.ParseIP(addr).To4(), lease: lease, counts: map[dhcpv4.MessageType]int{},
		in: make(chan []byte, 16), closed: make(chan struct{})}
}

func (s *fakeServer) set(mode, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.addr = mode, net.ParseIP(addr).To4()
}

func (s *fakeServer) count(t dhcpv4.MessageType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[t]
}

// WriteTo is the client sending: the server answers at once.
func (s *fakeServer) WriteTo(b []byte, _ net.Addr) (int, error) {
	req, err := dhcpv4.FromBytes(b)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.counts[req.MessageType()]++
	mode, addr, lease := s.mode, s.addr, s.lease
	s.mu.Unlock()
	var typ dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		// A request for another address than the one granted now: NAK.
		want := req.RequestedIPAddress()
		if want == nil || want.IsUnspecified() {
			want = req.ClientIPAddr
		}
		switch {
		case mode == "silent":
			return len(b), nil
		case mode == "nak" || !want.Equal(addr):
			typ = dhcpv4.MessageTypeNak
		default:
			typ = dhcpv4.MessageTypeAck
		}
	default:
		return len(b), nil
	}
	if mode == "silent" {
		return len(b), nil
	}
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 51, 100, 1)))}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods, dhcpv4.WithYourIP(addr), dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithRouter(net.IPv4(198, 51, 100, 1)), dhcpv4.WithLeaseTime(uint32(lease/time.Second)))
	}
	reply, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		return 0, err
	}
	select {
	case s.in <- reply.ToBytes():
	default:
	}
	return len(b), nil
}

func (s *fakeServer) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-s.in:
		return copy(b, p), &net.UDPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 67}, nil
	case <-s.closed:
		return 0, nil, net.ErrClosed
	}
}

func (s *fakeServer) Close() error                     { s.once.Do(func() { close(s.closed) }); return nil }
func (s *fakeServer) LocalAddr() net.Addr              { return &net.UDPAddr{Port: 68} }
func (s *fakeServer) SetDeadline(time.Time) error      { return nil }
func (s *fakeServer) SetReadDeadline(time.Time) error  { return nil }
func (s *fakeServer) SetWriteDeadline(time.Time) error { return nil }
func (s *fakeServer) setMode(mode string)              { s.mu.Lock(); s.mode = mode; s.mu.Unlock() }
func (s *fakeServer) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leases collects what OnLease reports.
type leases struct {
	mu  sync.Mutex
	got []Lease
}

func (l *leases) add(x Lease) { l.mu.Lock(); l.got = append(l.got, x); l.mu.Unlock() }
func (l *leases) last() (Lease, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.got) == 0 {
		return Lease{}, 0
	}
	return l.got[len(l.got)-1], len(l.got)
}

func startFake(t *testing.T, srv *fakeServer) (*Client, *leases) {
	t.Helper()
	ls := &leases{}
	hw, _ := net.ParseMAC("02:00:00:00:00:01")
	c, err := startWithConn(Config{Link: "fake0", OnLease: ls.add, Retransmit: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}, srv, hw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ls
}

// TestClientRenewsAndFollowsNAK: a lease is obtained and renewed at T1
// without a new OnLease; a NAK on renewal drops it (OnLease with the zero
// Lease) and the client obtains the server's new address.
func TestClientRenewsAndFollowsNAK(t *testing.T) {
	srv := newFakeServer("198.51.100.50", 2*time.Second)
	c, ls := startFake(t, srv)
	srv.waitFor(t, "the first lease", func() bool { l, _ := ls.last(); return l.Valid() })
	if l, _ := c.Lease(); l.Address != netip.MustParsePrefix("198.51.100.50/24") || l.Router != netip.MustParseAddr("198.51.100.1") || l.T1 != time.Second {
		t.Fatalf("lease %+v", l)
	}
	// T1 is 1 s: a renewal (a second REQUEST) follows, and changes nothing.
	srv.waitFor(t, "a renewal", func() bool { return srv.count(dhcpv4.MessageTypeRequest) >= 2 })
	if _, n := ls.last(); n != 1 {
		t.Errorf("%d OnLease calls after a renewal, want 1", n)
	}
	// The server moves the client: the next renewal is refused.
	srv.set("ack", "198.51.100.51")
	srv.waitFor(t, "the lease after the NAK", func() bool {
		l, _ := ls.last()
		return l.Address.Addr() == netip.MustParseAddr("198.51.100.51")
	})
	ls.mu.Lock()
	sawLoss := false
	for _, l := range ls.got {
		sawLoss = sawLoss || !l.Valid()
	}
	ls.mu.Unlock()
	if !sawLoss {
		t.Errorf("no loss reported between the two leases")
	}
}

// TestClientLeaseExpires: a server that stops answering lets the lease
// run out (renewing, then rebinding, in vain); the client reports the loss
// and keeps asking, and a server that answers again gives a new lease.
func TestClientLeaseExpires(t *testing.T) {
	srv := newFakeServer("198.51.100.50", 2*time.Second)
	c, ls := startFake(t, srv)
	srv.waitFor(t, "the first lease", func() bool { l, _ := ls.last(); return l.Valid() })
	srv.setMode("silent")
	srv.waitFor(t, "the lease to expire", func() bool { _, ok := c.Lease(); return !ok })
	if l, _ := ls.last(); l.Valid() {
		t.Errorf("no loss reported at expiry")
	}
	if srv.count(dhcpv4.MessageTypeRequest) < 3 {
		t.Errorf("%d REQUESTs before expiry: want renewing and rebinding attempts", srv.count(dhcpv4.MessageTypeRequest))
	}
	srv.setMode("ack")
	srv.waitFor(t, "a new lease", func() bool { _, ok := c.Lease(); return ok })
}
