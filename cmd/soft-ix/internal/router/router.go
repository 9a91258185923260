// Package router is soft-ix's router: it composes the Linux side (package
// tun, its DHCP client and server and the nft packet filter), IPsec (ike
// driving esp) and BGP from an IX configuration (package config), applies
// a reload's difference, stops, and shows its state in the terms of
// package show. Package main around it has the flags, the control socket
// and the CLI, as gobgpd's main drives GoBGP's config adapter.
//
// The router reaches each part through one of the small interfaces below
// (linuxSide, ipsecSide, bgpSide, firewallSide), so it is tested with
// fakes and each package can change behind its adapter. The translations
// of the IX model live beside it: internal/ixike, internal/ixbgp and
// internal/ixtun, firewall.go (nft), lan.go (dhcpd), espconfig.go (esp).
package router

// This file starts, reloads and stops the parts.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	stdmaps "maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azemu"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/internal/ixtun"
	"github.com/soft-ix/soft-ix/tun"
	"github.com/soft-ix/soft-ix/tun/dhcp"
	"github.com/soft-ix/soft-ix/tun/dhcpd"
	"github.com/soft-ix/soft-ix/tun/nft"
)

// linuxSide is the Linux half (package tun): IX interfaces as Linux
// devices, their addresses and MTUs, static routes, forwarding.
// Apply is idempotent and changes only what differs from the running state.
type linuxSide interface {
	Apply(cfg *config.Config) error
	// Routes is the main routing table with IX interface names.
	Routes() ([]show.Route, error)
	// SetTunnelUp withdraws (or restores) the routes out of a tunnel.
	SetTunnelUp(name string, up bool) error
	Cleanup() error
}

// ipsecSide is IKEv2 (package ike) driving the ESP data plane (package esp).
type ipsecSide interface {
	IKESAs() []show.IKESA
	ChildSAs() []show.ChildSA
	// ClearSA deletes the IKE SAs with peer (all when peer is invalid) and
	// returns how many it deleted; auto-connect tunnels then renegotiate.
	ClearSA(peer netip.Addr) (int, error)
	// prepare creates the devices of added and changed tunnels before the
	// Linux side is applied; Reload then renegotiates changed tunnels only.
	prepare(cfg *config.Config, ch config.Changes) error
	Reload(cfg *config.Config, ch config.Changes) error
	// TunnelUp reports whether the tunnel has an outbound SA.
	TunnelUp(name string) bool
	// syncTunnelRoutes tells the Linux side, for each tunnel named,
	// whether it has an outbound SA, atomically with SA installs and
	// deletes (which tell it too).
	syncTunnelRoutes(names []string)
	// setRawESP reopens the raw ESP sockets in mode (see rawESPFor).
	setRawESP(mode esp.RawESPMode) error
	Close() error
}

// bgpSide is the BGP speaker (package bgp).
type bgpSide interface {
	Summary() (show.BGPSummary, error)
	// NeighborRoutes lists what a neighbor sent, or what is sent to it;
	// with an invalid neighbor address, every path of the table ("show ip
	// bgp").
	NeighborRoutes(neighbor netip.Addr, advertised bool) (show.BGPRoutes, error)
	// Clear resets the session with neighbor, or with every neighbor when
	// neighbor is invalid, and returns how many it reset.
	Clear(neighbor netip.Addr, how bgp.Reset) (int, error)
	// Reload applies a changed "router bgp"; unchanged sessions stay up.
	Reload(cfg *config.Config) error
	Close() error
}

// firewallSide is the kernel's packet filter and NAPT (package tun/nft):
// one table soft-ix owns, replaced whole.
type firewallSide interface {
	Apply(nft.Config) error
	Remove() error
	Counters() (map[string]nft.Counter, error)
}

// nftFirewall is firewallSide on the real kernel, in the table nft.Table.
type nftFirewall struct{}

func (nftFirewall) Apply(c nft.Config) error                  { return nft.Apply(c) }
func (nftFirewall) Remove() error                             { return nft.Remove("") }
func (nftFirewall) Counters() (map[string]nft.Counter, error) { return nft.Counters("") }

// Options are what the daemon's flags add to a configuration.
type Options struct {
	// Maps names the Linux link playing each mapped IX GigaEthernet (--map).
	Maps map[string]string
	// HostInterfaces leaves the address, MTU and admin state of mapped
	// GigaEthernets to the host (--host-interfaces; see
	// tun.Manager.SetMappedAddresses), and runs no DHCP client on them.
	HostInterfaces bool
	// AllowUnenforced runs a configuration whose filter or NAPT lines
	// soft-ix cannot enforce (see Unenforced) and keeps running when the
	// kernel refuses the packet filter (--allow-unenforced).
	AllowUnenforced bool
	// ForceUDPEncap carries ESP in UDP 4500 without a NAT
	// (--force-udp-encap; see ike.CoreConfig.ForceUDPEncap).
	ForceUDPEncap bool
	// KeyLog is a file IKE and ESP keys are appended to for Wireshark
	// (--keylog); "" writes none.
	KeyLog string
	// Emulator, when not nil, runs the configuration as one instance of an
	// Azure VPN Gateway (--emulate azure).
	Emulator *azemu.Config
	// RawESP is how raw ESP moves (--raw-esp, whose default is "auto";
	// see esp.RawESPMode): "" or "socket" the raw IP socket, "auto" or
	// "packet" Ethernet frames on a packet socket and a receive ring,
	// which the packet filters do not see (see rawESPMode).
	RawESP string
}

// Router is the running router: the configuration it runs and its parts.
// ipsec is nil while the config has no tunnels; tests run with fakes and
// nils. Its methods are safe for concurrent use.
type Router struct {
	log  *slog.Logger
	opts Options

	// cmdMu serialises a reload against the commands that read the
	// configuration and the parts.
	cmdMu sync.Mutex

	fw    firewallSide
	linux linuxSide
	ipsec ipsecSide
	bgp   bgpSide

	// fwRefs names the IX entry behind each nft rule ID, for the counters.
	fwRefs map[string]ruleRef
	// frames is set when the ESP engine sends raw ESP as Ethernet frames,
	// past the host's netfilter output hooks: a reload may then not add
	// packet filters or NAPT (see rawESPMode).
	frames bool

	// The WAN DHCP clients (see wan.go). mu orders lease changes with
	// reloads; cfg is the file's configuration the router runs, to which
	// the leases applied are added (see effective). cfg changes with both
	// cmdMu and mu held, so either lock is enough to read it.
	mu        sync.Mutex
	cfg       *config.Config
	stopped   bool
	dhcp      map[string]dhcpClient // by IX interface name
	leases    *wanLeases
	applied   map[string]dhcp.Lease // the leases in the effective configuration
	startDHCP func(dhcp.Config) (dhcpClient, error)
	stopWAN   chan struct{}

	// The LAN's DHCP servers (see lan.go), with the configuration each
	// runs, by IX interface name.
	servers   map[string]*dhcpd.Server
	serverCfg map[string]dhcpd.Config
}

// New returns the router for cfg with nothing started yet: Start starts
// it; until then it answers as a router without any part running.
func New(cfg *config.Config, o Options, log *slog.Logger) *Router {
	return &Router{
		log: log, opts: o, cfg: cfg, dhcp: map[string]dhcpClient{}, leases: newWANLeases(), applied: map[string]dhcp.Lease{},
		startDHCP: func(c dhcp.Config) (dhcpClient, error) { return dhcp.Start(c) },
		stopWAN:   make(chan struct{}),
		servers:   map[string]*dhcpd.Server{}, serverCfg: map[string]dhcpd.Config{},
	}
}

// setFirewall makes the kernel's filter and NAPT table what cfg asks
// for, in one atomic step; a config without any removes the table (and
// so what a crashed run left). On error the kernel keeps the table it
// had. The lines firewall cannot translate are left out here: whether to
// run without them was decided before (see Unenforced).
func (r *Router) setFirewall(cfg *config.Config, maps map[string]string) error {
	if r.fw == nil {
		return nil
	}
	rules, refs, _ := firewall(cfg, maps)
	if !hasRules(rules) {
		r.fwRefs = nil
		if err := r.fw.Remove(); err != nil {
			// Nothing to enforce: a kernel without nftables has no
			// leftover table either.
			r.log.Warn("removing the packet filter table", "err", err)
		}
		return nil
	}
	if err := r.fw.Apply(rules); err != nil {
		return fmt.Errorf("packet filters and NAPT: %w", err)
	}
	r.fwRefs = refs
	r.log.Info("packet filters and NAPT installed", "table", "ip "+nft.Table, "chains", len(rules.Chains), "masquerade", rules.Masquerade, "forwards", len(rules.Forwards))
	return nil
}

// Start builds and starts everything the configuration asks for, in
// dependency order: the packet filter, the netlink manager, the ESP engine
// with its TUN devices and IKE on top of it, then the Linux side applied to
// those devices, then BGP (whose session runs through the tunnel). On
// error whatever was started is stopped again.
func (r *Router) Start() error {
	cfg, o, log := r.cfg, r.opts, r.log
	r.fw = nftFirewall{}
	for _, line := range plan(cfg, o.Maps, o.HostInterfaces) {
		log.Info("configured", "what", line)
	}
	for _, i := range cfg.Interfaces {
		dev, ok := o.Maps[i.Name]
		switch {
		case !ok || i.Kind != config.KindGigaEthernet:
		case o.HostInterfaces:
			log.Info("left to the host (--host-interfaces)", "interface", i.Name, "linux", dev, "file says", addrText(i))
		}
	}
	var err error
	if o.RawESP, err = r.rawESPMode(cfg); err != nil {
		return err
	}
	// The filters first: no interface is configured, no route installed
	// before the WAN is filtered as the file says.
	if err := r.setFirewall(cfg, o.Maps); err != nil {
		if !o.AllowUnenforced {
			return fmt.Errorf("%w (the filters cannot be enforced; %s runs without them)", err, EnforcementFlag)
		}
		log.Warn("running without packet filters and NAPT", "err", err, "flag", EnforcementFlag)
	}
	tm, err := tun.NewManager(log, o.Maps)
	if err != nil {
		r.Stop()
		return err
	}
	r.linux = linuxAdapter{tm}
	// The IX file owns the ports it names, unless the host says otherwise.
	tm.SetMappedAddresses(!o.HostInterfaces)

	if len(cfg.Tunnels()) > 0 {
		// esp.Engine (a TUN device per tunnel, raw ESP, UDP 4500 shared
		// with IKE) under ike.Manager; the devices exist before Apply.
		ip, err := startIPsec(effective(cfg, nil), o, log, tm)
		if err != nil {
			r.Stop()
			return err
		}
		r.ipsec = ip
	}
	// Without a lease yet: a dhcp interface has no address, its dhcp
	// routes wait (see effective).
	if err := r.linux.Apply(effective(cfg, nil)); err != nil {
		// Partial trouble is logged and retried by later Applies; the
		// daemon keeps running.
		log.Warn("interfaces and routes applied with errors", "err", err)
	}
	// A route whose next hop is not reachable yet (the WAN's address or
	// link comes later, from the host or a lease) goes in when it is.
	if err := tm.Watch(); err != nil {
		log.Warn("routes will not follow address and link changes", "err", err)
	}
	r.syncTunnels(cfg)
	// The WAN's DHCP clients, once Apply has brought their links up.
	r.mu.Lock()
	r.syncDHCP(cfg)
	r.syncDHCPServers(cfg)
	r.mu.Unlock()
	go r.followLeases(r.stopWAN)

	bs := bgp.New(bgp.Options{Log: log, Installer: tm})
	r.bgp = bgpAdapter{bs, o.bgpConfig}
	if cfg.BGP != nil {
		bc, err := o.bgpConfig(cfg)
		if err == nil {
			err = bs.Start(bc)
		}
		if err != nil {
			r.Stop()
			return fmt.Errorf("bgp: %w", err)
		}
	}
	return nil
}

// syncTunnels withdraws the routes out of tunnels without an SA (on the
// IX a route into a down tunnel is not used), and restores the others.
// With IPsec running the decision is IPsec's, taken under its lock: a
// "down" read here could otherwise land after an SA installed meanwhile
// had brought the routes up, and leave them withdrawn for good.
func (r *Router) syncTunnels(cfg *config.Config) {
	if r.linux == nil {
		return
	}
	var names []string
	for _, t := range cfg.Tunnels() {
		names = append(names, t.Name)
	}
	if r.ipsec != nil {
		r.ipsec.syncTunnelRoutes(names)
		return
	}
	for _, name := range names {
		if err := r.linux.SetTunnelUp(name, false); err != nil {
			r.log.Warn("tunnel routes", "tunnel", name, "err", err)
		}
	}
}

// linuxAdapter is tun.Manager in IX terms: it translates the
// configuration for tun and shows tun's routes as the IX does.
type linuxAdapter struct{ *tun.Manager }

func (a linuxAdapter) Apply(cfg *config.Config) error { return a.Manager.Apply(ixtun.Config(cfg)) }

func (a linuxAdapter) Routes() ([]show.Route, error) {
	rs, err := a.Manager.Routes()
	if err != nil {
		return nil, err
	}
	return routesView(rs), nil
}

// routesView shows tun's routes (sorted by prefix, then kernel metric) as
// the IX does.
func routesView(rs []tun.RouteInfo) []show.Route {
	var out []show.Route
	first := 0 // index of the first route of r's prefix
	for i, r := range rs {
		sr := show.Route{Prefix: r.Prefix, NextHop: r.Gateway, Interface: r.Interface, Metric: r.Metric, Age: r.Age}
		if r.Blackhole {
			sr.Interface = "Null0.0" // the IX's discard interface
		}
		// rs is sorted by prefix, then kernel metric: the kernel forwards
		// by the first of a prefix (and its equal-cost siblings, one
		// ECMP route), the IX counts the others as hidden.
		if rs[first].Prefix != r.Prefix {
			first = i
		}
		sr.Hidden = rs[first].Metric != r.Metric
		switch r.Source {
		case tun.SourceConnected:
			sr.Code, sr.Metric = show.Connected, 1
		case tun.SourceStatic:
			// tun uses the IX distance as the kernel metric.
			sr.Code, sr.Distance, sr.Metric = show.Static, r.Metric, int(max(r.RouteMetric, 1))
		case tun.SourceBGP:
			sr.Code, sr.Distance, sr.Metric = show.BGP, tun.BGPMetric, 0
		default:
			// Routes the host added (e.g. a default route on the WAN):
			// IX would know them as static routes, shown [1/1].
			sr.Code, sr.Distance, sr.Metric = show.Static, 1, 1
		}
		out = append(out, sr)
	}
	return out
}

// bgpAdapter turns bgp.Server's data into the show structs.
type bgpAdapter struct {
	s         *bgp.Server
	translate func(*config.Config) (bgp.Config, error) // options.bgpConfig
}

func (a bgpAdapter) Summary() (show.BGPSummary, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := a.s.Summary(ctx)
	if err != nil {
		return show.BGPSummary{}, err
	}
	out := show.BGPSummary{RouterID: s.RouterID, LocalAS: s.LocalAS, ASPathEntries: s.ASPathEntries}
	for _, n := range s.Neighbors {
		out.Neighbors = append(out.Neighbors, show.BGPNeighbor{
			Addr: n.Addr, AS: n.RemoteAS, MsgRcvd: n.MsgRcvd, MsgSent: n.MsgSent, UpDown: n.UpDown, State: n.State,
			LocalAS: n.LocalAS, Description: n.Description, RouterID: n.RouterID,
			HoldTime: n.HoldTime, Keepalive: n.Keepalive, ConfHoldTime: n.ConfHoldTime, ConfKeepalive: n.ConfKeepalive,
			Sent: show.BGPMessages(n.Sent), Rcvd: show.BGPMessages(n.Rcvd), LocalAddr: n.LocalAddr,
			Received: n.PrefixesReceived, Accepted: n.PrefixesAccepted, Advertised: n.PrefixesAdvertised, Drops: n.Drops,
		})
	}
	return out, nil
}

func (a bgpAdapter) Clear(neighbor netip.Addr, how bgp.Reset) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.s.Clear(ctx, neighbor, how)
}

func (a bgpAdapter) NeighborRoutes(neighbor netip.Addr, advertised bool) (show.BGPRoutes, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var t bgp.RouteTable
	var err error
	switch {
	case !neighbor.IsValid():
		t, err = a.s.Table(ctx)
	case advertised:
		t, err = a.s.AdvertisedRoutes(ctx, neighbor)
	default:
		t, err = a.s.NeighborRoutes(ctx, neighbor)
	}
	if err != nil {
		return show.BGPRoutes{}, err
	}
	out := show.BGPRoutes{TableVersion: t.TableVersion, RouterID: t.RouterID, LocalAS: t.LocalAS}
	for _, r := range t.Routes {
		sr := show.BGPRoute{Prefix: r.Prefix, NextHop: r.NextHop, ASPath: r.ASPath, Valid: r.Valid, Best: r.Best}
		if r.MED != nil {
			sr.Metric, sr.HasMetric = *r.MED, true
		}
		if r.LocalPref != nil {
			sr.LocalPref, sr.HasLocPref = *r.LocalPref, true
		}
		if r.Origin != "" {
			sr.Origin = r.Origin[0]
		}
		out.Routes = append(out.Routes, sr)
	}
	return out, nil
}

// Reload translates the new "router bgp" for the speaker; a configuration
// without one stops it.
func (a bgpAdapter) Reload(cfg *config.Config) error {
	if cfg.BGP == nil {
		a.s.Stop()
		return nil
	}
	bc, err := a.translate(cfg)
	if err != nil {
		return err
	}
	return a.s.Reload(bc)
}

func (a bgpAdapter) Close() error { a.s.Stop(); return nil }

// ReloadResult is what a reload did.
type ReloadResult struct {
	// Changes is the difference from the running configuration to the
	// new one; it drives the reload, and its Commands tell the operator.
	Changes config.Changes
	// Refused is why nothing was applied: the kernel refused the new
	// packet filter. The running configuration stays.
	Refused error
	// Unfiltered is why, under Options.AllowUnenforced, the new packet
	// filter was not applied; the rest was.
	Unfiltered error
	// Err is what went wrong applying the rest: the router runs the new
	// configuration as far as it could.
	Err error
}

// Reload makes the router run cfg: it applies the difference from the
// running configuration (config.Diff), the packet filter first, since a
// filter set the kernel refuses leaves the old one in place (one batch)
// and so the whole running configuration.
func (r *Router) Reload(cfg *config.Config) ReloadResult {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	res := ReloadResult{Changes: config.Diff(r.cfg, cfg)}
	if res.Changes.Empty() {
		r.mu.Lock()
		r.cfg = cfg
		r.mu.Unlock()
		return res
	}
	if res.Changes.FiltersChanged {
		// Raw ESP leaves frames before the filters go in, and comes back
		// only once they are out: frames never pass a filter.
		filtered := r.filtered(cfg)
		if filtered {
			if err := r.rawESPFor(true); err != nil {
				res.Refused = err
				return res
			}
		}
		if err := r.setFirewall(cfg, r.opts.Maps); err != nil {
			if !r.opts.AllowUnenforced {
				r.rawESPFor(r.filtered(r.cfg))
				res.Refused = err
				return res
			}
			res.Unfiltered = err
		}
		if !filtered {
			r.rawESPFor(false)
		}
	}
	res.Err = r.reload(cfg, res.Changes)
	return res
}

// reload applies the changes ch that lead to cfg: new tunnel devices
// first, then the Linux side, then IKE (only changed tunnels are
// renegotiated) and BGP (unchanged sessions stay up).
func (r *Router) reload(cfg *config.Config, ch config.Changes) error {
	o := r.opts
	// A part that fails does not stop the others: the router runs cfg from
	// now on, so interfaces, routes and BGP follow it even when IPsec
	// cannot start.
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = cfg
	fileCfg := cfg
	// Clients of interfaces no longer on dhcp stop (and release their
	// lease from its address) before the interfaces change; then the
	// parts run the file with the leases still held (see effective).
	r.syncDHCP(fileCfg)
	cfg = effective(cfg, r.applied)
	defer r.syncDHCPServers(fileCfg)
	var errs []error
	switch la, ok := r.linux.(linuxAdapter); {
	case r.ipsec == nil && len(cfg.Tunnels()) > 0 && !ok:
		errs = append(errs, errors.New("ikev2: no Linux side to route tunnels"))
	case r.ipsec == nil && len(cfg.Tunnels()) > 0:
		var err error
		if o.RawESP, err = r.rawESPMode(cfg); err != nil {
			errs = append(errs, fmt.Errorf("ikev2: %w", err))
			break
		}
		ip, err := startIPsec(cfg, o, r.log, la.Manager)
		if err != nil {
			errs = append(errs, fmt.Errorf("ikev2: %w", err))
			break
		}
		r.ipsec = ip
	case r.ipsec != nil:
		if err := r.ipsec.prepare(cfg, ch); err != nil {
			errs = append(errs, fmt.Errorf("tunnels: %w", err))
		}
	}
	if r.linux != nil {
		if err := r.linux.Apply(cfg); err != nil {
			errs = append(errs, fmt.Errorf("interfaces and routes: %w", err))
		}
	}
	if r.ipsec != nil {
		if err := r.ipsec.Reload(cfg, ch); err != nil {
			errs = append(errs, fmt.Errorf("ikev2: %w", err))
		}
	}
	r.syncTunnels(cfg)
	if r.bgp != nil && ch.BGPChanged {
		if err := r.bgp.Reload(fileCfg); err != nil {
			errs = append(errs, fmt.Errorf("bgp: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Stop stops the parts in reverse order of start and removes what they
// added to the system.
func (r *Router) Stop() {
	// The DHCP clients first: their releases still leave from the
	// leased addresses.
	r.mu.Lock()
	r.stopped = true
	clients := r.dhcp
	r.dhcp = nil
	r.mu.Unlock()
	if r.stopWAN != nil {
		close(r.stopWAN)
		r.stopWAN = nil
	}
	for ix, cl := range clients {
		if err := cl.Close(); err != nil {
			r.log.Warn("dhcp: release", "interface", ix, "err", err)
		}
	}
	r.mu.Lock()
	r.closeDHCPServers()
	r.mu.Unlock()
	if r.bgp != nil {
		sessions := false
		if s, err := r.bgp.Summary(); err == nil {
			for _, n := range s.Neighbors {
				sessions = sessions || n.State == "ESTABLISHED"
			}
		}
		if err := r.bgp.Close(); err != nil {
			r.log.Error("stopping bgp", "err", err)
		}
		if sessions && r.ipsec != nil {
			// Close ended each session with a NOTIFICATION that is still on
			// its way through a tunnel (TUN device, ESP); deleting the
			// tunnels at once lost it, and a peer kept routing to us until
			// we came back or its hold timer ran out (soft-ix lab --active-active --events
			// maintenance).
			time.Sleep(bgpFarewell)
		}
	}
	if r.ipsec != nil {
		if err := r.ipsec.Close(); err != nil {
			r.log.Error("stopping ikev2", "err", err)
		}
	}
	if r.linux != nil {
		if err := r.linux.Cleanup(); err != nil {
			r.log.Error("removing interfaces and routes", "err", err)
		}
	}
	if r.fw != nil {
		if err := r.fw.Remove(); err != nil {
			r.log.Error("removing the packet filter table", "err", err)
		}
	}
}

// bgpFarewell is how long the daemon lets BGP's last messages leave
// through the tunnels before it deletes them.
const bgpFarewell = 200 * time.Millisecond

// plan describes in words what cfg makes soft-ix do.
func plan(cfg *config.Config, maps map[string]string, hostInterfaces bool) []string {
	var out []string
	for _, i := range cfg.Interfaces {
		switch i.Kind {
		case config.KindGigaEthernet:
			if dev, ok := maps[i.Name]; ok && hostInterfaces {
				continue // logged as left to the host, not as configured
			} else if ok {
				out = append(out, fmt.Sprintf("%s on Linux %s %s", i.Name, dev, addrText(i)))
			} else {
				out = append(out, fmt.Sprintf("%s not mapped (add --map %s=DEV), left alone", i.Name, i.Name))
			}
		case config.KindLoopback:
			out = append(out, fmt.Sprintf("%s as a dummy link %s", i.Name, addrText(i)))
		case config.KindTunnel:
			t := i.Tunnel
			peer := "any"
			if t != nil && t.Peer.IsValid() {
				peer = t.Peer.String()
			}
			out = append(out, fmt.Sprintf("%s as a TUN device %s, IKEv2/ESP with peer %s", i.Name, addrText(i), peer))
		}
	}
	for _, i := range cfg.Interfaces {
		dev := linkOf(i, maps)
		if dev == "" {
			continue
		}
		if i.NAPT {
			out = append(out, fmt.Sprintf("NAPT out of %s (masquerade on Linux %s)", i.Name, dev))
		}
		for _, f := range i.Filters {
			out = append(out, fmt.Sprintf("%s on %s (Linux %s)", strings.Join(f.Words(), " "), i.Name, dev))
		}
	}
	for _, i := range cfg.Interfaces {
		if dev, ok := maps[i.Name]; ok && i.DHCP && !hostInterfaces {
			out = append(out, fmt.Sprintf("DHCP client on %s (Linux %s): address%s from the lease", i.Name, dev,
				map[bool]string{true: " and default route", false: ""}[i.DHCPReceiveDefault]))
		}
	}
	servers := dhcpServers(cfg, maps)
	for _, ix := range slices.Sorted(stdmaps.Keys(servers)) {
		sc := servers[ix]
		out = append(out, fmt.Sprintf("DHCP server on %s (Linux %s): profile %s, pool %s-%s, %d fixed", ix, sc.Link,
			cfg.Interface(ix).DHCPBinding, sc.First, sc.Last, len(sc.Fixed)))
	}
	for _, i := range cfg.Interfaces {
		if _, ok := servers[i.Name]; !ok && cfg.DHCPServer && i.DHCPBinding != "" {
			out = append(out, fmt.Sprintf("no DHCP server on %s: soft-ix runs no Linux interface for it (add --map %s=DEV)", i.Name, i.Name))
		}
	}
	for _, r := range cfg.Routes {
		if r.DHCP {
			out = append(out, fmt.Sprintf("route %s via the DHCP lease's router on %s", r.Prefix, r.Interface))
			continue
		}
		via := r.Interface
		if r.NextHop.IsValid() {
			via = r.NextHop.String()
		}
		out = append(out, fmt.Sprintf("route %s via %s", r.Prefix, via))
	}
	if b := cfg.BGP; b != nil {
		for _, n := range b.Neighbors {
			out = append(out, fmt.Sprintf("BGP AS %d session with %s AS %d", b.ASN, n.Addr, n.RemoteAS))
		}
		for _, p := range b.Networks {
			out = append(out, fmt.Sprintf("BGP announces %s", p))
		}
	}
	return out
}

func addrText(i *config.Interface) string {
	switch {
	case i.Address.IsValid():
		return i.Address.String()
	case i.DHCP:
		return "dhcp"
	case i.Unnumbered != "":
		return "unnumbered " + i.Unnumbered
	}
	return "without address"
}

// tunnelUp reports whether a tunnel has an SA; false without IPsec.
func (r *Router) tunnelUp(name string) bool {
	return r.ipsec != nil && r.ipsec.TunnelUp(name)
}
