// Package dhcpd is the DHCPv4 server of an IX LAN port ("ip dhcp binding
// PROFILE" under "ip dhcp enable"): it hands out addresses from a pool,
// with fixed assignments by hardware address, and the router, DNS and
// domain options of the profile (RFC 2131, section 4.3). The protocol work
// is github.com/insomniacslk/dhcp's server4 and message codec; this
// package keeps the bindings.
//
// Bindings live in memory: a restart forgets them, and a client whose
// address is then given to another finds out at its next renewal (NAK).
package dhcpd

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Config is what one server needs: the link it answers on and the
// profile bound to it, with the interface's defaults already applied.
type Config struct {
	Link string
	// Address is the server's own address on the link; its prefix is the
	// subnet served.
	Address netip.Prefix
	// First and Last bound the pool (both inside the subnet).
	First, Last netip.Addr
	// MaskBits is the subnet mask handed out (option 1).
	MaskBits int
	Router   netip.Addr   // option 3; invalid: none
	DNS      []netip.Addr // option 6
	Domain   string       // option 15
	Lease    time.Duration
	// Fixed maps hardware addresses (as net.HardwareAddr.String writes
	// them) to the address that client always gets.
	Fixed map[string]netip.Addr
	Log   *slog.Logger
}

// Binding is an address the server has given to a client.
type Binding struct {
	Addr     netip.Addr
	MAC      string
	Hostname string
	Expires  time.Time
	Fixed    bool
}

// offerHold is how long an offered address stays reserved for the client
// it was offered to.
const offerHold = 30 * time.Second

// Server answers DHCP on one link. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	srv  *server4.Server
	done chan struct{}

	mu       sync.Mutex
	bindings map[netip.Addr]*Binding // by address; offered ones too
	offered  map[netip.Addr]bool
}

// Start opens UDP port 67 on the link and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if !cfg.Address.Addr().Is4() || !cfg.First.IsValid() || !cfg.Last.IsValid() || cfg.Last.Less(cfg.First) {
		return nil, fmt.Errorf("dhcpd: %s: need an IPv4 address and a pool", cfg.Link)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 24 * time.Hour
	}
	s := &Server{cfg: cfg, done: make(chan struct{}), bindings: map[netip.Addr]*Binding{}, offered: map[netip.Addr]bool{}}
	srv, err := server4.NewServer(cfg.Link, &net.UDPAddr{Port: dhcpv4.ServerPort}, s.handle)
	if err != nil {
		return nil, fmt.Errorf("dhcpd: %s: %w", cfg.Link, err)
	}
	s.srv = srv
	go func() {
		defer close(s.done)
		srv.Serve()
	}()
	cfg.Log.Info("dhcp server: serving", "link", cfg.Link, "pool", cfg.First.String()+"-"+cfg.Last.String(), "fixed", len(cfg.Fixed))
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Bindings lists the addresses given out and not expired, by address.
func (s *Server) Bindings() []Binding {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []Binding
	for a, b := range s.bindings {
		if !s.offered[a] && b.Expires.After(now) {
			out = append(out, *b)
		}
	}
	slices.SortFunc(out, func(x, y Binding) int { return x.Addr.Compare(y.Addr) })
	return out
}

// handle answers one message; what it cannot use it ignores.
func (s *Server) handle(conn net.PacketConn, peer net.Addr, req *dhcpv4.DHCPv4) {
	if req.OpCode != dhcpv4.OpcodeBootRequest || len(req.ClientHWAddr) != 6 {
		return
	}
	mac := req.ClientHWAddr.String()
	var reply *dhcpv4.DHCPv4
	var err error
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		a, ok := s.offer(mac, requested(req), req.HostName())
		if !ok {
			s.cfg.Log.Warn("dhcp server: pool exhausted", "link", s.cfg.Link, "client", mac)
			return
		}
		reply, err = s.reply(req, dhcpv4.MessageTypeOffer, a)
	case dhcpv4.MessageTypeRequest:
		if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(net.IP(s.cfg.Address.Addr().AsSlice())) {
			s.forget(mac) // the client took another server's offer
			return
		}
		want := requested(req)
		a, ok := s.bind(mac, want, req.HostName())
		if !ok {
			if !s.cfg.Address.Contains(want) {
				return // not ours to refuse (RFC 2131 4.3.2, INIT-REBOOT elsewhere)
			}
			s.cfg.Log.Info("dhcp server: request refused (NAK)", "link", s.cfg.Link, "client", mac, "requested", want)
			reply, err = dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(s.cfg.Address.Addr().AsSlice()))))
			break
		}
		reply, err = s.reply(req, dhcpv4.MessageTypeAck, a)
	case dhcpv4.MessageTypeRelease:
		s.release(mac, addrOf(req.ClientIPAddr))
		return
	case dhcpv4.MessageTypeDecline:
		s.decline(mac, requested(req))
		return
	case dhcpv4.MessageTypeInform:
		reply, err = s.reply(req, dhcpv4.MessageTypeAck, netip.Addr{})
	default:
		return
	}
	if err != nil {
		s.cfg.Log.Warn("dhcp server: reply", "link", s.cfg.Link, "err", err)
		return
	}
	if _, err := conn.WriteTo(reply.ToBytes(), destination(req, reply)); err != nil {
		s.cfg.Log.Debug("dhcp server: send", "link", s.cfg.Link, "err", err)
	}
}

// destination is where a reply goes (RFC 2131 4.1): to the relay, to
// the client's own address when it has one, else broadcast (the client
// cannot answer ARP for an address it does not have yet).
func destination(req, reply *dhcpv4.DHCPv4) net.Addr {
	switch {
	case req.GatewayIPAddr != nil && !req.GatewayIPAddr.IsUnspecified():
		return &net.UDPAddr{IP: req.GatewayIPAddr, Port: dhcpv4.ServerPort}
	case reply.MessageType() != dhcpv4.MessageTypeNak && req.ClientIPAddr != nil && !req.ClientIPAddr.IsUnspecified():
		return &net.UDPAddr{IP: req.ClientIPAddr, Port: dhcpv4.ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
}

// requested is the address a client asks for: option 50, else ciaddr.
func requested(req *dhcpv4.DHCPv4) netip.Addr {
	if a := addrOf(req.RequestedIPAddress()); a.IsValid() && !a.IsUnspecified() {
		return a
	}
	if a := addrOf(req.ClientIPAddr); a.IsValid() && !a.IsUnspecified() {
		return a
	}
	return netip.Addr{}
}

func (s *Server) reply(req *dhcpv4.DHCPv4, t dhcpv4.MessageType, a netip.Addr) (*dhcpv4.DHCPv4, error) {
	self := net.IP(s.cfg.Address.Addr().AsSlice())
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(t),
		dhcpv4.WithServerIP(self),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(self)),
		dhcpv4.WithNetmask(net.CIDRMask(s.cfg.MaskBits, 32)),
	}
	if a.IsValid() {
		mods = append(mods, dhcpv4.WithYourIP(net.IP(a.AsSlice())), dhcpv4.WithLeaseTime(uint32(s.cfg.Lease/time.Second)))
	}
	if s.cfg.Router.IsValid() {
		mods = append(mods, dhcpv4.WithRouter(net.IP(s.cfg.Router.AsSlice())))
	}
	if len(s.cfg.DNS) > 0 {
		var ips []net.IP
		for _, d := range s.cfg.DNS {
			ips = append(ips, net.IP(d.AsSlice()))
		}
		mods = append(mods, dhcpv4.WithDNS(ips...))
	}
	if s.cfg.Domain != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDomainName(s.cfg.Domain)))
	}
	return dhcpv4.NewReplyFromRequest(req, mods...)
}

// offer picks an address for a DISCOVER and holds it for the client.
func (s *Server) offer(mac string, want netip.Addr, host string) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.pick(mac, want)
	if !ok {
		return a, false
	}
	if b := s.bindings[a]; b == nil || b.MAC != mac || s.offered[a] {
		s.bindings[a] = &Binding{Addr: a, MAC: mac, Hostname: host, Expires: time.Now().Add(offerHold), Fixed: s.cfg.Fixed[mac] == a}
		s.offered[a] = true
	}
	return a, true
}

// bind grants a REQUEST: the address must be the one pick gives this
// client (its fixed one, its binding, or a free one it asks for).
func (s *Server) bind(mac string, want netip.Addr, host string) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.pick(mac, want)
	if !ok || (want.IsValid() && a != want) {
		return netip.Addr{}, false
	}
	old := s.bindings[a]
	s.bindings[a] = &Binding{Addr: a, MAC: mac, Hostname: host, Expires: time.Now().Add(s.cfg.Lease), Fixed: s.cfg.Fixed[mac] == a}
	if old == nil || old.MAC != mac || s.offered[a] {
		s.cfg.Log.Info("dhcp server: address bound", "link", s.cfg.Link, "client", mac, "address", a, "hostname", host, "fixed", s.cfg.Fixed[mac] == a)
	} else {
		s.cfg.Log.Debug("dhcp server: binding renewed", "link", s.cfg.Link, "client", mac, "address", a)
	}
	delete(s.offered, a)
	return a, true
}

// pick chooses the address for mac: its fixed assignment; else the
// address it holds; else the one it asks for if that is free; else the
// first free one of the pool. Called with s.mu held.
func (s *Server) pick(mac string, want netip.Addr) (netip.Addr, bool) {
	if a, ok := s.cfg.Fixed[mac]; ok {
		return a, true
	}
	for a, b := range s.bindings {
		if b.MAC == mac && s.free(a, mac) {
			return a, true
		}
	}
	if want.IsValid() && s.free(want, mac) {
		return want, true
	}
	for a := s.cfg.First; a.IsValid() && !s.cfg.Last.Less(a); a = a.Next() {
		if s.free(a, mac) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// free reports whether a may go to mac: in the pool, not the server's,
// nobody's fixed address, not held by another client.
func (s *Server) free(a netip.Addr, mac string) bool {
	if a.Less(s.cfg.First) || s.cfg.Last.Less(a) || a == s.cfg.Address.Addr() || !s.cfg.Address.Contains(a) {
		return false
	}
	for m, f := range s.cfg.Fixed {
		if f == a && !strings.EqualFold(m, mac) {
			return false
		}
	}
	b := s.bindings[a]
	return b == nil || b.MAC == mac || b.Expires.Before(time.Now())
}

func (s *Server) forget(mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, b := range s.bindings {
		if b.MAC == mac && s.offered[a] {
			delete(s.bindings, a)
			delete(s.offered, a)
		}
	}
}

func (s *Server) release(mac string, a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bindings[a]; b != nil && b.MAC == mac {
		delete(s.bindings, a)
		delete(s.offered, a)
		s.cfg.Log.Info("dhcp server: address released", "link", s.cfg.Link, "client", mac, "address", a)
	}
}

// decline takes an address a client found in use out of the pool for a
// lease time (RFC 2131 4.3.3).
func (s *Server) decline(mac string, a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bindings[a]; b != nil && b.MAC == mac {
		s.bindings[a] = &Binding{Addr: a, MAC: "declined", Expires: time.Now().Add(s.cfg.Lease)}
		delete(s.offered, a)
		s.cfg.Log.Warn("dhcp server: address declined (in use by another host)", "link", s.cfg.Link, "client", mac, "address", a)
	}
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}
