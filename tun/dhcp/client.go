package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Config is what one client needs.
type Config struct {
	// Link is the Linux link the lease is for (the mapped WAN port).
	Link string
	// Hostname, when set, is sent as option 12, as an IX sends its own.
	Hostname string
	// OnLease is called with each new or changed lease, and with the zero
	// Lease when the lease is lost (NAK, expiry, release). Calls come one
	// at a time from the client's goroutine.
	OnLease func(Lease)
	Log     *slog.Logger

	// Retransmit is the first wait for an answer (doubled on each of
	// three tries); 0 means 2 s.
	Retransmit time.Duration
	// RetryMax caps the pause between attempts to obtain a lease when no
	// server answers; 0 means 60 s.
	RetryMax time.Duration
}

// Lease is what the server granted.
type Lease struct {
	Address  netip.Prefix // the leased address with the subnet's length
	Router   netip.Addr   // option 3, first router; invalid without one
	Server   netip.Addr   // server identifier (option 54)
	DNS      []netip.Addr // option 6
	Domain   string       // option 15
	Obtained time.Time    // when the last ACK arrived
	Duration time.Duration
	T1, T2   time.Duration // renewal and rebinding times, from Obtained
}

// Valid reports whether l is a lease (the zero Lease says "none").
func (l Lease) Valid() bool { return l.Address.IsValid() }

// Expires is when the lease runs out unless renewed.
func (l Lease) Expires() time.Time { return l.Obtained.Add(l.Duration) }

// Client holds the lease of one link. Its methods are safe for concurrent use.
type Client struct {
	cfg    Config
	nc     *nclient4.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	lease Lease
	raw   *nclient4.Lease // the last ACK, for renew, rebind and release
}

// Start opens the link's DHCP socket and begins obtaining a lease in the
// background.
func Start(cfg Config) (*Client, error) {
	ifc, err := net.InterfaceByName(cfg.Link)
	if err != nil {
		return nil, fmt.Errorf("dhcp: %s: %w", cfg.Link, err)
	}
	if len(ifc.HardwareAddr) == 0 {
		return nil, fmt.Errorf("dhcp: %s has no hardware address (a DHCP client needs an Ethernet link)", cfg.Link)
	}
	conn, err := listen(ifc)
	if err != nil {
		return nil, fmt.Errorf("dhcp: %s: %w (needs root or CAP_NET_RAW)", cfg.Link, err)
	}
	return startWithConn(cfg, conn, ifc.HardwareAddr)
}

// startWithConn runs the client over conn (DHCP payloads to and from
// port 67/68) for the hardware address hw.
func startWithConn(cfg Config, conn net.PacketConn, hw net.HardwareAddr) (*Client, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Retransmit <= 0 {
		cfg.Retransmit = 2 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	nc, err := nclient4.NewWithConn(conn, hw, nclient4.WithTimeout(cfg.Retransmit), nclient4.WithRetry(3))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dhcp: %s: %w", cfg.Link, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{cfg: cfg, nc: nc, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

// listen opens a datagram packet socket on the link (IP packets without
// the Ethernet header) that passes only unfragmented UDP to port 68.
func listen(ifc *net.Interface) (net.PacketConn, error) {
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 9, Size: 1}, // IP protocol
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 6},
		bpf.LoadAbsolute{Off: 6, Size: 2}, // flags and fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4},
		bpf.LoadMemShift{Off: 0},          // X = IP header length
		bpf.LoadIndirect{Off: 2, Size: 2}, // UDP destination port
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: nclient4.ClientPort, SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		return nil, err
	}
	pc, err := packet.Listen(ifc, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: prog})
	if err != nil {
		return nil, err
	}
	return nclient4.NewBroadcastUDPConn(pc, &net.UDPAddr{Port: nclient4.ClientPort}), nil
}

// Lease returns the current lease; false while there is none.
func (c *Client) Lease() (Lease, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lease, c.lease.Valid()
}

// Close stops the client and releases the lease it holds (the server may
// give the address to another host at once). OnLease is not called.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	c.mu.Lock()
	raw := c.raw
	c.raw, c.lease = nil, Lease{}
	c.mu.Unlock()
	var err error
	if raw != nil {
		err = c.release(raw)
		c.cfg.Log.Info("dhcp: lease released", "link", c.cfg.Link, "address", addrOf(raw.ACK.YourIPAddr))
	}
	if cerr := c.nc.Close(); err == nil {
		err = cerr
	}
	return err
}

// release sends a DHCPRELEASE to the server from the leased address, by
// unicast as RFC 2131 4.4.6 says. It goes through an ordinary UDP socket:
// the packet socket's datagrams leave from 0.0.0.0, which a server's
// kernel drops as a martian source when sent to a unicast address.
func (c *Client) release(raw *nclient4.Lease) error {
	req, err := dhcpv4.NewReleaseFromACK(raw.ACK, c.modifiers()...)
	if err != nil {
		return err
	}
	conn, err := net.DialUDP("udp4",
		&net.UDPAddr{IP: raw.ACK.YourIPAddr, Port: nclient4.ClientPort},
		&net.UDPAddr{IP: raw.ACK.ServerIdentifier(), Port: nclient4.ServerPort})
	if err != nil {
		return fmt.Errorf("dhcp: release: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write(req.ToBytes()); err != nil {
		return fmt.Errorf("dhcp: release: %w", err)
	}
	return nil
}

// run is the client's state machine: INIT (discover, request) until a
// lease is granted, BOUND until T1, RENEWING with its server until T2,
// REBINDING with any server until the lease expires; a NAK or expiry
// goes back to INIT.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		raw := c.acquire(ctx)
		if raw == nil {
			return
		}
		for raw != nil {
			raw = c.keep(ctx, raw)
		}
	}
}

// acquire runs DISCOVER/REQUEST until a lease is granted, pausing longer
// each time no server answers. It logs the first failure only, and the
// success. nil: the client is closing.
func (c *Client) acquire(ctx context.Context) *nclient4.Lease {
	pause := c.cfg.Retransmit
	failed := false
	for {
		raw, err := c.nc.Request(ctx, c.modifiers()...)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			if _, ok := c.accept(raw, "obtained"); ok {
				return raw
			}
			err = errors.New("the ACK carries no usable address")
		}
		if !failed {
			failed = true
			c.cfg.Log.Warn("dhcp: no lease yet, retrying", "link", c.cfg.Link, "err", err)
		}
		if !sleep(ctx, pause) {
			return nil
		}
		pause = min(pause*2, c.cfg.RetryMax)
	}
}

// keep holds a lease through renewal and rebinding. It returns the
// renewed lease, or nil when it is lost or the client is closing.
func (c *Client) keep(ctx context.Context, raw *nclient4.Lease) *nclient4.Lease {
	l, _ := c.Lease()
	t1, t2, end := l.Obtained.Add(l.T1), l.Obtained.Add(l.T2), l.Expires()
	if !sleepUntil(ctx, t1) {
		return nil
	}
	// RENEWING until T2 with the server that granted it, then REBINDING
	// with any server until the lease ends (RFC 2131 4.4.5): each retry
	// after half the time left, at least a retransmit time apart.
	for _, phase := range []struct {
		name     string
		until    time.Time
		anyServe bool
	}{{"renewed", t2, false}, {"rebound", end, true}} {
		for time.Now().Before(phase.until) {
			// An attempt (with its retransmissions) ends with the phase.
			actx, cancel := context.WithDeadline(ctx, phase.until)
			next, err := c.renew(actx, raw, phase.anyServe)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			var nak *nclient4.ErrNak
			switch {
			case err == nil:
				if _, ok := c.accept(next, phase.name); ok {
					return next
				}
			case errors.As(err, &nak):
				c.lose("the server refused the lease (NAK)", nak.Nak.Message())
				return nil
			}
			wait := max(time.Until(phase.until)/2, c.cfg.Retransmit)
			if !sleep(ctx, min(wait, time.Until(phase.until))) {
				return nil
			}
		}
	}
	c.lose("the lease expired", "")
	return nil
}

// renew sends a REQUEST for the lease held: to its server, or to any
// server (rebinding). Both go out as broadcasts on the packet socket,
// which also reaches a server on the link by unicast's path.
func (c *Client) renew(ctx context.Context, raw *nclient4.Lease, anyServer bool) (*nclient4.Lease, error) {
	if !anyServer {
		return c.nc.Renew(ctx, raw, c.modifiers()...)
	}
	req, err := dhcpv4.NewRenewFromAck(raw.ACK, c.modifiers()...)
	if err != nil {
		return nil, err
	}
	ack, err := c.nc.SendAndRead(ctx, c.nc.RemoteAddr(), req, nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	if err != nil {
		return nil, err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return nil, &nclient4.ErrNak{Offer: raw.Offer, Nak: ack}
	}
	// The new server's identity is in its ACK; renew with it from now on.
	return &nclient4.Lease{Offer: ack, ACK: ack, CreationTime: time.Now()}, nil
}

func (c *Client) modifiers() []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{dhcpv4.WithRequestedOptions(
		dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
		dhcpv4.OptionDomainName, dhcpv4.OptionIPAddressLeaseTime,
		dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue)}
	if c.cfg.Hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(c.cfg.Hostname)))
	}
	return mods
}

// accept makes raw the current lease and reports it (event says how it
// came: obtained, renewed, rebound). A renewal that changes nothing is
// logged at debug level only; OnLease hears of every change.
func (c *Client) accept(raw *nclient4.Lease, event string) (Lease, bool) {
	l, ok := leaseOf(raw.ACK)
	if !ok {
		return Lease{}, false
	}
	l.Obtained = raw.CreationTime
	c.mu.Lock()
	old := c.lease
	c.lease, c.raw = l, raw
	c.mu.Unlock()
	changed := old.Address != l.Address || old.Router != l.Router
	attrs := []any{"link", c.cfg.Link, "address", l.Address, "router", l.Router, "server", l.Server, "lease", l.Duration}
	if changed || event == "obtained" {
		if old.Valid() {
			attrs = append(attrs, "was", old.Address)
		}
		c.cfg.Log.Info("dhcp: lease "+event, attrs...)
	} else {
		c.cfg.Log.Debug("dhcp: lease "+event, attrs...)
	}
	if changed && c.cfg.OnLease != nil {
		c.cfg.OnLease(l)
	}
	return l, true
}

func (c *Client) lose(why, msg string) {
	c.mu.Lock()
	old := c.lease
	c.lease, c.raw = Lease{}, nil
	c.mu.Unlock()
	attrs := []any{"link", c.cfg.Link, "address", old.Address, "reason", why}
	if msg != "" {
		attrs = append(attrs, "message", msg)
	}
	c.cfg.Log.Warn("dhcp: lease lost", attrs...)
	if c.cfg.OnLease != nil {
		c.cfg.OnLease(Lease{})
	}
}

// leaseOf reads the lease an ACK grants. Missing T1/T2 take the RFC 2131
// defaults (half and seven eighths of the lease); a lease without a
// duration is taken as one day.
func leaseOf(ack *dhcpv4.DHCPv4) (Lease, bool) {
	a, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || a.IsUnspecified() {
		return Lease{}, false
	}
	bits := 32
	if m := ack.SubnetMask(); m != nil {
		if ones, size := m.Size(); size == 32 && ones > 0 {
			bits = ones
		}
	}
	l := Lease{Address: netip.PrefixFrom(a, bits), Domain: ack.DomainName()}
	if rs := ack.Router(); len(rs) > 0 {
		l.Router = addrOf(rs[0])
	}
	l.Server = addrOf(ack.ServerIdentifier())
	for _, d := range ack.DNS() {
		if a := addrOf(d); a.IsValid() {
			l.DNS = append(l.DNS, a)
		}
	}
	l.Duration = ack.IPAddressLeaseTime(24 * time.Hour)
	l.T1 = ack.IPAddressRenewalTime(l.Duration / 2)
	l.T2 = ack.IPAddressRebindingTime(l.Duration * 7 / 8)
	if l.T2 <= 0 || l.T2 > l.Duration {
		l.T2 = l.Duration * 7 / 8
	}
	if l.T1 <= 0 || l.T1 > l.T2 {
		l.T1 = l.T2 / 2
	}
	return l, true
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	return sleep(ctx, max(time.Until(t), 0))
}
