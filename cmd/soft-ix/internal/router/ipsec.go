package router

// The IPsec half of the router: package esp's engine (one TUN device per
// tunnel, raw ESP and the UDP 4500 socket it shares with IKE) under
// package ike's Manager, which reaches the engine through dataPlane.
// IPv4 sockets open at the start; the IPv6 ones (UDP 500, UDP 4500, raw
// ESP) open once a configuration has a tunnel with an IPv6 peer, so an
// IPv4-only file runs exactly as before.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/internal/childsa"
	"github.com/soft-ix/soft-ix/tun"
)

// ipsecStack implements ipsecSide.
type ipsecStack struct {
	log    *slog.Logger
	eng    *esp.Engine
	dp     *dataPlane
	ike    atomic.Pointer[ike.Manager]
	udp500 *ikeSockets
	keylog *os.File
	ipv6   outerIPv6

	cancel context.CancelFunc
	done   chan struct{} // closed when the Manager's Run returns

	mu      sync.Mutex
	tunnels map[string]bool // TUN devices the engine runs

	opts Options // translates the file (Options.ikeConfig)
}

// startIPsec opens the outer sockets, creates a TUN device per tunnel and
// starts IKE (which initiates the connect-type auto tunnels).
func startIPsec(cfg *config.Config, o Options, log *slog.Logger, linux *tun.Manager) (*ipsecStack, error) {
	s := &ipsecStack{log: log, tunnels: map[string]bool{}, done: make(chan struct{}), opts: o}
	s.dp = newDataPlane(nil, linux, log)
	s.eng = esp.NewEngine(esp.Config{
		Logger: log,
		Events: s.dp,
		RawESP: esp.RawESPMode(o.RawESP),
		// The peer's last packets on an SA we delete may reach us after
		// its answer to the DELETE (see esp.Config.InboundGrace).
		InboundGrace: 2 * time.Second,
		// IKE on UDP 4500 goes to IKE's workers through their bounded
		// queue: ESP's receive loop never waits for an IKE exchange, a
		// DH computation or a tunnel's routes going up.
		IKEHandler: func(pkt []byte, src, dst netip.AddrPort) {
			if m := s.ike.Load(); m != nil {
				m.Deliver(pkt, src, dst) // it copies what it keeps
			}
		},
	})
	s.dp.eng = s.eng
	fail := func(err error) (*ipsecStack, error) {
		s.closeParts()
		return nil, err
	}
	if err := s.eng.OpenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 4500)); err != nil {
		return fail(PortError(4500, err))
	}
	if err := s.eng.OpenRawESP(netip.IPv4Unspecified()); err != nil {
		return fail(fmt.Errorf("%w (raw ESP needs root or CAP_NET_RAW)", err))
	}
	for _, ifc := range cfg.Tunnels() {
		if err := s.createTunnel(cfg, ifc); err != nil {
			return fail(err)
		}
	}
	u, err := listenIKE(500)
	if err != nil {
		return fail(err)
	}
	s.udp500 = u
	if err := s.openIPv6(cfg); err != nil {
		return fail(err)
	}
	if o.KeyLog != "" {
		f, err := os.OpenFile(o.KeyLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fail(fmt.Errorf("--keylog: %w", err))
		}
		s.keylog = f
		log.Warn("writing IKE and ESP keys for Wireshark; lab use only", "file", o.KeyLog)
		// 0600 applies only to a file OpenFile creates; say so when an
		// existing one lets others read the keys.
		if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("--keylog file is readable by others", "file", o.KeyLog, "mode", fi.Mode().Perm().String())
		}
	}
	var tuning ike.CoreConfig
	ic, err := o.ikeConfig(cfg, &tuning)
	if err != nil {
		return fail(err)
	}
	mc := ike.ManagerConfig{Config: ic, DataPlane: s.dp, Transport: ikeTransport{u, s.eng}, Logger: log, Tuning: tuning}
	mc.Tuning.ForceUDPEncap = o.ForceUDPEncap
	if o.ForceUDPEncap {
		log.Info("ESP goes in UDP 4500 on every tunnel whose peer supports NAT traversal (--force-udp-encap)")
	}
	if s.keylog != nil {
		mc.KeyLog = s.keylog
	}
	m, err := ike.NewManager(mc)
	if err != nil {
		return fail(err)
	}
	s.ike.Store(m)
	s.dp.events.Store(m)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go serveIKE(u.v4, s.deliverIKE)
	go func() {
		defer close(s.done)
		// Routes follow tunnel state until IKE has stopped (its last
		// DELETEs take tunnels down), then once more.
		rctx, stopRoutes := context.WithCancel(context.Background())
		routesDone := make(chan struct{})
		go func() { s.dp.applyRoutes(rctx); close(routesDone) }()
		if err := m.Run(ctx); err != nil {
			log.Error("ikev2 stopped", "err", err)
		}
		stopRoutes()
		<-routesDone
	}()
	return s, nil
}

// createTunnel creates the TUN device of ifc. tunnelESPConfig sizes
// its MTU (and the adjust-mss auto value) for the tunnel's child proposals
// and the interface it leaves by.
func (s *ipsecStack) createTunnel(cfg *config.Config, ifc *config.Interface) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.eng.CreateTunnel(tunnelESPConfig(cfg, ifc)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: no /dev/net/tun (modprobe tun, or docker run --device /dev/net/tun)", err)
		}
		return err
	}
	s.tunnels[ifc.Name] = true
	return nil
}

func (s *ipsecStack) removeTunnel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tunnels[name] {
		return
	}
	delete(s.tunnels, name)
	if err := s.eng.RemoveTunnel(name); err != nil {
		s.log.Warn("removing tunnel device", "tunnel", name, "err", err)
	}
}

// prepare creates the TUN devices of tunnels a reload adds or changes
// (and the IPv6 sockets when it brings the first IPv6 peer); it runs
// before tun.Apply so the devices get their addresses and routes.
func (s *ipsecStack) prepare(cfg *config.Config, ch config.Changes) error {
	var errs []error
	if err := s.openIPv6(cfg); err != nil {
		errs = append(errs, err)
	}
	for _, name := range append(append([]string{}, ch.TunnelsChanged...), ch.TunnelsAdded...) {
		ifc := cfg.Interface(name)
		if ifc == nil {
			continue
		}
		s.removeTunnel(name) // settings such as MTU and MSS come with the device
		if err := s.createTunnel(cfg, ifc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reload hands the new config to IKE: changed tunnels are renegotiated,
// others keep their SAs. Devices of removed tunnels go afterwards.
func (s *ipsecStack) Reload(cfg *config.Config, ch config.Changes) error {
	ic, err := s.opts.ikeConfig(cfg, nil)
	if err != nil {
		return err
	}
	err = s.ike.Load().Reload(ic, append(append([]string{}, ch.TunnelsChanged...), ch.TunnelsRemoved...))
	for _, name := range ch.TunnelsRemoved {
		s.removeTunnel(name)
	}
	return err
}

func (s *ipsecStack) IKESAs() []show.IKESA {
	var out []show.IKESA
	for _, sa := range s.ike.Load().IKESAs() {
		if sa.State != ike.StateEstablished {
			continue
		}
		// "NAT-T : on" while NAT traversal is in use, forced or not.
		out = append(out, show.IKESA{
			Interface: sa.Tunnel, SPII: sa.SPIi, SPIR: sa.SPIr, RemainLifetime: sa.RemainLifetime,
			Serial: sa.Serial, Initiator: sa.Initiator, Local: sa.LocalAddr, Peer: sa.PeerAddr,
			PeerID: sa.PeerID, Enc: sa.Enc, Hash: sa.Integ, PRF: sa.PRF, DH: sa.DH, NATDetected: sa.NATDetected || sa.UDPEncap,
		})
	}
	return out
}

func (s *ipsecStack) ChildSAs() []show.ChildSA {
	var out []show.ChildSA
	for _, c := range s.ike.Load().ChildSAs() {
		hash := c.Hash
		if hash == "" {
			hash = "NONE" // AEAD: integrity is part of the cipher
		}
		out = append(out, show.ChildSA{
			Interface: c.Tunnel, PeerID: c.PeerID, IKESPII: c.IKESPIi, IKESPIR: c.IKESPIr, IKESerial: c.IKESerial,
			Local: c.LocalAddr.Addr(), Peer: c.PeerAddr.Addr(), Enc: c.Enc, Hash: hash,
			RemainLifetime: c.RemainLifetime, AntiReplay: c.AntiReplay, Outbound: c.Outbound,
			Out: c.Out, In: c.In, SPIIn: c.InSPI, SPIOut: c.OutSPI,
		})
	}
	return out
}

func (s *ipsecStack) ClearSA(peer netip.Addr) (int, error) { return s.ike.Load().ClearSA(peer), nil }

// TunnelUp reports whether the tunnel has an outbound SA: the IX shows a
// tunnel interface up only then.
func (s *ipsecStack) TunnelUp(name string) bool { return s.dp.up(name) }

func (s *ipsecStack) syncTunnelRoutes(names []string) { s.dp.syncRoutes(names) }

func (s *ipsecStack) setRawESP(mode esp.RawESPMode) error { return s.eng.SetRawESPMode(mode) }

// Stats implements ipsecStatser for the metrics.
func (s *ipsecStack) Stats() IKEStats {
	s.dp.mu.Lock()
	st := IKEStats{ChildSAsInstalled: s.dp.installs, Rekeys: s.dp.rekeys}
	s.dp.mu.Unlock()
	if m := s.ike.Load(); m != nil {
		st.IKE = m.Stats()
	}
	e := s.eng.Stats()
	st.DataPlaneDrops = map[string]uint64{
		"unknown_spi":     e.UnknownSPI,
		"truncated":       e.Truncated,
		"no_outbound_sa":  e.NoOutboundSA,
		"send_error":      e.SendErrors,
		"tun_write_error": e.TUNErrors,
		"icv_limited":     e.ICVLimited,
		"ring_full":       e.RingDrops,
	}
	st.PathMTUUpdates, st.PathMTUIgnored = e.PathMTUUpdates, e.PathMTUIgnored
	return st
}

// Close sends IKE DELETEs (the Manager does on the end of Run), then stops
// the data plane and removes its TUN devices.
func (s *ipsecStack) Close() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.closeParts()
	return nil
}

func (s *ipsecStack) closeParts() {
	if s.udp500 != nil {
		s.udp500.close()
	}
	s.eng.Close()
	if s.keylog != nil {
		s.keylog.Close()
	}
}

// dataPlane is ike.DataPlane on the esp engine. It also tells tun when a
// tunnel gains its first or loses its last outbound SA, so routes out of
// the tunnel follow its state as on the IX.
//
// ike calls InstallSA and DeleteSA under its Manager's lock, so they only
// note which tunnels changed; a goroutine of dataPlane's own (applyRoutes)
// brings the kernel's routes to the tunnels' current state through netlink,
// outside every IKE and ESP lock. Route changes (which can re-add every
// BGP route of a tunnel) thus never hold up IKE, and a tunnel that flaps
// faster than netlink answers ends in its last state.
type dataPlane struct {
	eng    *esp.Engine
	linux  *tun.Manager
	log    *slog.Logger
	events atomic.Pointer[ike.Manager] // set once the Manager exists

	mu       sync.Mutex
	outbound map[string]map[uint32]bool // tunnel -> installed outbound SPIs
	tunnelOf map[uint32]string          // outbound SPI -> tunnel
	installs uint64                     // outbound SAs installed
	rekeys   uint64                     // ... while the tunnel had one (make-before-break)
	changed  map[string]bool            // tunnels whose routes applyRoutes must bring up to date

	wake chan struct{} // applyRoutes has work (capacity 1)
	// applying serialises route changes (applyRoutes, syncRoutes), so the
	// state read last is the state applied last.
	applying sync.Mutex
}

// newDataPlane returns a dataPlane on eng; call applyRoutes in a goroutine
// of its own.
func newDataPlane(eng *esp.Engine, linux *tun.Manager, log *slog.Logger) *dataPlane {
	return &dataPlane{eng: eng, linux: linux, log: log, outbound: map[string]map[uint32]bool{},
		changed: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// applyRoutes brings the routes of changed tunnels to their state until
// ctx ends, then once more, so the last change before a stop is applied.
func (d *dataPlane) applyRoutes(ctx context.Context) {
	for {
		select {
		case <-d.wake:
			d.applyChanged()
		case <-ctx.Done():
			d.applyChanged()
			return
		}
	}
}

func (d *dataPlane) applyChanged() {
	d.applying.Lock()
	defer d.applying.Unlock()
	d.mu.Lock()
	names := make([]string, 0, len(d.changed))
	for name := range d.changed {
		names = append(names, name)
	}
	clear(d.changed)
	d.setUpLocked(names)
}

// noteChanged marks tunnel name for applyRoutes; d.mu is held.
func (d *dataPlane) noteChanged(name string) {
	d.changed[name] = true
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// The engine is ike's data plane as it is, and ike hears its lifetime
// events: both sides speak internal/childsa. dataPlane wraps the engine
// only to follow which tunnels are up.
var (
	_ ike.DataPlane  = (*esp.Engine)(nil)
	_ ike.DataPlane  = (*dataPlane)(nil)
	_ childsa.Events = (*ike.Manager)(nil)
)

func (d *dataPlane) InstallSA(sa childsa.SA) error {
	err := d.eng.InstallSA(sa)
	if err != nil || sa.Inbound {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tunnelOf == nil {
		d.tunnelOf = map[uint32]string{}
	}
	set := d.outbound[sa.Tunnel]
	if set == nil {
		set = map[uint32]bool{}
		d.outbound[sa.Tunnel] = set
	}
	d.installs++
	if len(set) > 0 {
		d.rekeys++
	}
	set[sa.SPI] = true
	d.tunnelOf[sa.SPI] = sa.Tunnel
	if len(set) == 1 {
		d.noteChanged(sa.Tunnel)
	}
	return nil
}

func (d *dataPlane) SetOutbound(tunnel string, spi uint32) error {
	return d.eng.SetOutbound(tunnel, spi)
}

func (d *dataPlane) DeleteSA(spi uint32, inbound bool) error {
	err := d.eng.DeleteSA(spi, inbound)
	if inbound {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	name, ok := d.tunnelOf[spi]
	if !ok {
		return err
	}
	delete(d.tunnelOf, spi)
	set := d.outbound[name]
	delete(set, spi)
	if len(set) == 0 {
		d.noteChanged(name)
	}
	return err
}

func (d *dataPlane) Counters(spi uint32, inbound bool) (childsa.Counters, bool) {
	return d.eng.Counters(spi, inbound)
}

func (d *dataPlane) setTunnelUp(name string, up bool) {
	if d.linux == nil {
		return
	}
	if err := d.linux.SetTunnelUp(name, up); err != nil {
		d.log.Warn("tunnel routes", "tunnel", name, "up", up, "err", err)
	}
}

// syncRoutes sets the Linux side's state of each tunnel from its
// outbound SAs now (a reload calls it, outside IKE's lock, and expects the
// routes in place when it returns).
func (d *dataPlane) syncRoutes(names []string) {
	d.applying.Lock()
	defer d.applying.Unlock()
	d.mu.Lock()
	d.setUpLocked(names)
}

// setUpLocked reads whether each tunnel of names has an outbound SA, with
// d.mu held, releases d.mu and then sets the tunnels' routes: netlink is
// never called under the lock IKE's events take.
func (d *dataPlane) setUpLocked(names []string) {
	up := make([]bool, len(names))
	for i, name := range names {
		up[i] = len(d.outbound[name]) > 0
	}
	d.mu.Unlock()
	for i, name := range names {
		d.setTunnelUp(name, up[i])
	}
}

func (d *dataPlane) up(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.outbound[name]) > 0
}

// SoftExpired, HardExpired and PeerMoved pass the engine's SA events to IKE.
func (d *dataPlane) SoftExpired(spi uint32, inbound bool) {
	if m := d.events.Load(); m != nil {
		m.SoftExpired(spi, inbound)
	}
}

func (d *dataPlane) HardExpired(spi uint32, inbound bool) {
	if m := d.events.Load(); m != nil {
		m.HardExpired(spi, inbound)
	}
}

func (d *dataPlane) PeerMoved(spi uint32, from netip.AddrPort) {
	if m := d.events.Load(); m != nil {
		m.PeerMoved(spi, from)
	}
}

// ikeTransport sends IKE on UDP 500 from the daemon's own socket and on
// UDP 4500 through the engine, which owns that port (ESP-in-UDP and IKE
// share it, told apart by the non-ESP marker).
type ikeTransport struct {
	udp500 *ikeSockets
	eng    *esp.Engine
}

func (t ikeTransport) Send(pkt []byte, from, to netip.AddrPort) error {
	if from.Port() == 4500 || to.Port() == 4500 {
		// ike hands over the bare message; the engine adds the non-ESP
		// marker.
		return t.eng.SendIKE(pkt, from, to)
	}
	return t.udp500.send(pkt, from, to)
}

// SendNATKeepalive implements ike.NATKeepaliveSender: the 0xFF keepalive
// leaves the shared UDP 4500 socket without marker.
func (t ikeTransport) SendNATKeepalive(from, to netip.AddrPort) error {
	return t.eng.SendNATKeepalive(from, to)
}

// ikeSockets are the UDP 500 sockets: IPv4 from the start, IPv6 once
// openIPv6 has opened it. Each learns its datagrams' destination address
// (IP_PKTINFO, IPV6_PKTINFO) so IKE answers from the address it was asked
// on (ike.Socket).
type ikeSockets struct {
	v4 *ike.Socket
	v6 atomic.Pointer[ike.Socket]
}

func listenIKE(port uint16) (*ikeSockets, error) {
	s, err := ike.ListenSocket(netip.IPv4Unspecified(), port) // buffers for floods included
	if err != nil {
		return nil, PortError(int(port), err)
	}
	return &ikeSockets{v4: s}, nil
}

// serveIKE reads s until it is closed and hands each datagram to handle,
// which must copy what it keeps (Manager.Deliver does). It reads up to 16
// datagrams per system call: under a flood of forged IKE_SA_INIT requests
// a reader that cannot keep up has the kernel drop a legitimate peer's
// request with the flood (issue 14).
func serveIKE(s *ike.Socket, handle func(pkt []byte, from, to netip.AddrPort)) {
	r := s.NewBatchReader(16)
	for {
		if err := r.Read(handle); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
	}
}

// send sends pkt from the socket of to's family.
func (u *ikeSockets) send(pkt []byte, from, to netip.AddrPort) error {
	s := u.v4
	if isIPv6(to.Addr()) {
		if s = u.v6.Load(); s == nil {
			return fmt.Errorf("no IPv6 IKE socket open for %v", to)
		}
	}
	return s.WriteTo(pkt, from.Addr(), to)
}

func (u *ikeSockets) close() {
	u.v4.Close()
	if s := u.v6.Load(); s != nil {
		s.Close()
	}
}

// deliverIKE passes an IKE datagram to the Manager's workers once there is
// one (the IPv6 socket may open before it exists).
func (s *ipsecStack) deliverIKE(pkt []byte, from, to netip.AddrPort) {
	if m := s.ike.Load(); m != nil {
		m.Deliver(pkt, from, to)
	}
}

// PortError explains a failed bind of an IKE port.
func PortError(port int, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("UDP port %d is in use: another IKE daemon runs here (strongSwan charon, libreswan pluto, another soft-ix?): stop it, e.g. systemctl stop strongswan", port)
	case errors.Is(err, syscall.EACCES), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("UDP port %d needs root or CAP_NET_BIND_SERVICE: %w", port, err)
	}
	return err
}
