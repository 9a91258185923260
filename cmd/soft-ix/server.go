package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/cli"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/internal/gcpace"
)

// daemon is the running soft-ix: the loaded config, its components, and the
// answers to control-socket commands.
type daemon struct {
	opts *options
	log  *slog.Logger
	// load reads the config file; a field so tests can feed configs.
	load func(path string) (*config.Config, []diagnostic, error)

	mu    sync.Mutex // serialises reload against commands reading cfg/comps
	cfg   *config.Config
	comps *components
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(o *options, w io.Writer) *slog.Logger {
	level, _ := parseLevel(o.logLevel)
	ho := &slog.HandlerOptions{Level: level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// runDaemon is "soft-ix -c FILE": load, start, serve until a signal.
func runDaemon(o *options, stderr io.Writer) int {
	log := newLogger(o, stderr)
	cfg, diags, err := loadConfig(o.config)
	if err != nil || cfg == nil {
		printDiags(stderr, diags, err)
		log.Error("configuration not usable, not starting", "file", o.config)
		return exitFail
	}
	for _, d := range diags {
		log.Warn("configuration", "diagnostic", d.String())
	}
	if !reportUnenforced(stderr, unenforced(cfg, o.maps), o.allowUnenforced) {
		log.Error("configuration has filter/NAPT lines soft-ix cannot enforce, not starting", "file", o.config, "flag", enforcementFlag)
		return exitFail
	}
	if err := preflight(cfg, o); err != nil {
		log.Error("cannot start", "err", err)
		return exitFail
	}

	// Signals are caught from here on, so one arriving during the start
	// is handled (with a clean stop) once the start is done.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	// The collector's goal follows the real live heap, not the TUN
	// devices' untouched GRO tables (see gcpace).
	paceCtx, stopPacing := context.WithCancel(context.Background())
	defer stopPacing()
	go gcpace.Run(paceCtx)

	comps, err := startComponents(cfg, o, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFail
	}
	d := &daemon{opts: o, log: log, load: loadConfig, cfg: cfg, comps: comps}
	defer comps.close()

	srv, err := ctl.Listen(o.socket, d, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFail
	}
	defer srv.Close()

	if o.metrics != "" {
		stop, err := serveMetrics(o.metrics, d, log)
		if err != nil {
			log.Error("cannot start", "err", err)
			return exitFail
		}
		defer stop()
	}

	log.Info("soft-ix running", "config", o.config, "hostname", hostname(cfg), "socket", o.socket, "pid", os.Getpid())
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			out, ok := d.reload()
			if ok {
				log.Info("reload on SIGHUP done", "result", strings.TrimSpace(out))
			} else {
				log.Error("reload on SIGHUP refused", "result", strings.TrimSpace(out))
			}
			continue
		}
		log.Info("stopping", "signal", sig.String())
		break
	}
	// Deferred: metrics, control socket, components in reverse order.
	return exitOK
}

func hostname(cfg *config.Config) string {
	if cfg == nil || cfg.Hostname == "" {
		return "Router"
	}
	return cfg.Hostname
}

// reload re-reads the config file and applies the difference. A config
// that does not load is refused and the running one stays.
func (d *daemon) reload() (string, bool) {
	cfg, diags, err := d.load(d.opts.config)
	if err != nil || cfg == nil {
		var b strings.Builder
		fmt.Fprintf(&b, "%% reload refused, the running configuration stays:\n")
		printDiags(&b, diags, err)
		return b.String(), false
	}
	if lines := unenforced(cfg, d.opts.maps); len(lines) > 0 {
		var b strings.Builder
		if !d.opts.allowUnenforced {
			fmt.Fprintf(&b, "%% reload refused, the running configuration stays:\n")
		}
		if !reportUnenforced(&b, lines, d.opts.allowUnenforced) {
			return b.String(), false
		}
		for _, l := range lines {
			d.log.Warn("configuration", "unenforced", l.String())
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := config.Diff(d.cfg, cfg)
	var b strings.Builder
	for _, diag := range diags {
		fmt.Fprintf(&b, "%s\n", diag)
	}
	if ch.Empty() {
		d.cfg = cfg
		b.WriteString("Configuration reloaded, no changes.\n")
		return b.String(), true
	}
	if ch.FiltersChanged {
		// Before anything else changes: a filter set the kernel refuses
		// leaves the old one in place (one batch), and so the whole
		// running configuration.
		if err := d.comps.setFirewall(cfg, d.opts.maps); err != nil {
			if !d.opts.allowUnenforced {
				fmt.Fprintf(&b, "%% reload refused, the running configuration stays: %v\n", err)
				return b.String(), false
			}
			fmt.Fprintf(&b, "%% packet filters and NAPT not applied (%s): %v\n", enforcementFlag, err)
		}
	}
	if err := d.comps.reload(cfg, ch, d.opts); err != nil {
		d.cfg = cfg // partly applied: show what was asked for
		fmt.Fprintf(&b, "%% reload applied with errors: %v\n", err)
		return b.String(), false
	}
	d.cfg = cfg
	b.WriteString("Configuration reloaded:\n")
	for _, l := range ch.Commands {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	if len(ch.TunnelsChanged) > 0 {
		fmt.Fprintf(&b, "  tunnels renegotiated: %s\n", strings.Join(ch.TunnelsChanged, ", "))
	}
	return b.String(), true
}

// Handle runs one control-socket command.
func (d *daemon) Handle(ctx context.Context, args []string) ctl.Response {
	cmd, err := cli.Parse(args)
	if err != nil {
		return ctl.Response{Output: err.Error() + "\n", Status: exitUsage}
	}
	if cmd.ID == cli.Reload || cmd.ID == cli.ClearIKESA || cmd.ID == cli.Ping {
		d.log.Info("control command", "command", strings.Join(cmd.Words, " "))
	}
	out, err := d.run(ctx, cmd)
	if err == errSilentFailure {
		return ctl.Response{Output: out, Status: exitFail}
	}
	if err != nil {
		return ctl.Response{Output: out + "% " + err.Error() + "\n", Status: exitFail}
	}
	return ctl.Response{Output: out}
}

// errSilentFailure makes a command exit 1 when its output already says why.
var errSilentFailure = errors.New("failed")

// errNotRunning answers commands whose component the config does not start
// (or that this build lacks).
func errNotRunning(what string) error {
	return fmt.Errorf("%s is not running", what)
}

func (d *daemon) run(ctx context.Context, cmd *cli.Command) (string, error) {
	switch cmd.ID {
	case cli.Reload:
		out, ok := d.reload()
		if !ok {
			return out, fmt.Errorf("reload failed")
		}
		return out, nil
	case cli.Ping:
		return d.ping(ctx, cmd)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.comps
	switch cmd.ID {
	case cli.ShowRunningConfig:
		return string(printConfig(d.cfg)), nil
	case cli.ShowIKESA:
		if c.ipsec == nil {
			return show.IKESAs(nil), nil
		}
		return show.IKESAs(c.ipsec.IKESAs()), nil
	case cli.ShowChildSA:
		if c.ipsec == nil {
			return show.ChildSAs(nil), nil
		}
		return show.ChildSAs(c.ipsec.ChildSAs()), nil
	case cli.ClearIKESA:
		if c.ipsec == nil {
			return "", errNotRunning("IKEv2")
		}
		n, err := c.ipsec.ClearSA(cmd.Addr("peer"))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d IKE SA(s) cleared\n", n), nil
	case cli.ShowBGPSummary:
		if c.bgp == nil {
			return "", errNotRunning("BGP")
		}
		s, err := c.bgp.Summary()
		if err != nil {
			return "", err
		}
		return show.BGPSummaryText(s), nil
	case cli.ShowBGP, cli.ShowBGPRoutes, cli.ShowBGPAdvertised:
		if c.bgp == nil {
			return "", errNotRunning("BGP")
		}
		// "show ip bgp" has no neighbor: the invalid address asks for the
		// whole table.
		r, err := c.bgp.NeighborRoutes(cmd.Addr("neighbor"), cmd.ID == cli.ShowBGPAdvertised)
		if err != nil {
			return "", err
		}
		return show.BGPRoutesText(r), nil
	case cli.ShowIPRoute:
		if c.linux == nil {
			return "", errNotRunning("routing")
		}
		routes, err := c.linux.Routes()
		if err != nil {
			return "", err
		}
		if c.bgp != nil {
			bgpNextHops(c.bgp, routes)
		}
		return show.RoutesText(routes), nil
	case cli.ShowIPFilter, cli.ShowIPAccessList:
		dirs, lists, err := c.filterViews(d.cfg)
		if err != nil {
			return "", err
		}
		if cmd.ID == cli.ShowIPFilter {
			return show.IPFilters(dirs), nil
		}
		return show.IPAccessLists(lists), nil
	case cli.ShowNAPT:
		la, ok := c.linux.(linuxAdapter)
		if !ok {
			return "", errNotRunning("the Linux side")
		}
		ts, err := la.Translations()
		if err != nil {
			return "", err
		}
		return show.NAPTTranslations(naptView(ts)), nil
	case cli.ShowDHCPLease:
		return show.DHCPLeases(c.dhcpLeases(), c.dhcpBindings(), time.Now()), nil
	case cli.ShowInterfaces:
		// With the leased addresses of the dhcp interfaces.
		return show.InterfacesText(interfaceStates(d.comps.withLeases(d.cfg), d.opts.maps, d.comps.tunnelUp)), nil
	}
	return "", fmt.Errorf("not supported by the daemon")
}

// ping runs outside the lock: it takes seconds.
func (d *daemon) ping(ctx context.Context, cmd *cli.Command) (string, error) {
	var b strings.Builder
	ok, err := ping(ctx, &b, pingRequest{
		Dest:   cmd.Addr("dest"),
		Source: cmd.Addr("source"),
		Count:  cmd.Int("count", defaultPingCount),
		Size:   cmd.Int("size", defaultPingSize),
	})
	if err != nil {
		return b.String(), err
	}
	if !ok {
		return b.String(), errSilentFailure // the statistics say it
	}
	return b.String(), nil
}

// bgpNextHops fills in the BGP next hop of B routes: the kernel has them as
// device routes out of the tunnel, the IX shows "via NEXTHOP, Tunnel0.0".
func bgpNextHops(b bgpSide, routes []show.Route) {
	var nextHop map[netip.Prefix]netip.Addr
	for i, r := range routes {
		if r.Code != show.BGP || r.NextHop.IsValid() {
			continue
		}
		if nextHop == nil {
			nextHop = map[netip.Prefix]netip.Addr{}
			sum, err := b.Summary()
			if err != nil {
				return
			}
			for _, n := range sum.Neighbors {
				t, err := b.NeighborRoutes(n.Addr, false)
				if err != nil {
					continue
				}
				for _, br := range t.Routes {
					if _, seen := nextHop[br.Prefix]; br.Best || !seen {
						nextHop[br.Prefix] = br.NextHop
					}
				}
			}
		}
		routes[i].NextHop = nextHop[r.Prefix]
	}
}
