package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/cli"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/internal/gcpace"
)

// daemon is the running soft-ix: the router and the answers to
// control-socket commands.
type daemon struct {
	opts *options
	log  *slog.Logger
	// load reads the config file; a field so tests can feed configs.
	load   func(path string) (*config.Config, []diagnostic, error)
	router *router.Router
	// started is when the daemon started ("show version" uptime).
	started time.Time
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
	if !reportUnenforced(stderr, router.Unenforced(cfg, o.maps), o.allowUnenforced) {
		log.Error("configuration has filter/NAPT lines soft-ix cannot enforce, not starting", "file", o.config, "flag", router.EnforcementFlag)
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

	r := router.New(cfg, o.routerOptions(), log)
	if err := r.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return exitFail
	}
	d := &daemon{opts: o, log: log, load: loadConfig, router: r, started: time.Now()}
	defer r.Stop()

	srv, err := ctl.Listen(o.socket, d, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFail
	}
	defer srv.Close()

	if o.metrics != "" {
		stop, err := serveMetrics(o.metrics, r, log)
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
	// Deferred: metrics, control socket, the router's parts in reverse order.
	return exitOK
}

// routerOptions are the flags that shape the router. parseArgs has
// checked --emulate.
func (o *options) routerOptions() router.Options {
	em, _ := o.emulator()
	return router.Options{
		Maps: o.maps, HostInterfaces: o.hostInterfaces, AllowUnenforced: o.allowUnenforced,
		ForceUDPEncap: o.forceUDPEncap, KeyLog: o.keylog, Emulator: em, RawESP: o.rawESP,
	}
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
	if lines := router.Unenforced(cfg, d.opts.maps); len(lines) > 0 {
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
	res := d.router.Reload(cfg)
	ch := res.Changes
	var b strings.Builder
	for _, diag := range diags {
		fmt.Fprintf(&b, "%s\n", diag)
	}
	switch {
	case ch.Empty():
		b.WriteString("Configuration reloaded, no changes.\n")
		return b.String(), true
	case res.Refused != nil:
		fmt.Fprintf(&b, "%% reload refused, the running configuration stays: %v\n", res.Refused)
		return b.String(), false
	case res.Unfiltered != nil:
		fmt.Fprintf(&b, "%% packet filters and NAPT not applied (%s): %v\n", router.EnforcementFlag, res.Unfiltered)
	}
	if res.Err != nil {
		// Partly applied: the router runs (and shows) what was asked for.
		fmt.Fprintf(&b, "%% reload applied with errors: %v\n", res.Err)
		return b.String(), false
	}
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
	if cmd.ID == cli.Reload || cmd.ID == cli.ClearIKESA || cmd.ID == cli.ClearBGP || cmd.ID == cli.ClearNAPT || cmd.ID == cli.Ping ||
		cmd.ID == cli.Traceroute {
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
	case cli.Traceroute:
		var b strings.Builder
		err := traceroute(ctx, &b, tracerouteRequest{Dest: cmd.Addr("dest"), Source: cmd.Addr("source")})
		return b.String(), err
	}

	r := d.router
	switch cmd.ID {
	case cli.ShowRunningConfig:
		return string(printConfig(r.Config())), nil
	case cli.ShowVersion:
		return show.Version(version(), time.Since(d.started)), nil
	case cli.ShowIKESA:
		return show.IKESAs(r.IKESAs()), nil
	case cli.ShowChildSA:
		return show.ChildSAs(r.ChildSAs()), nil
	case cli.ClearIKESA:
		n, err := r.ClearSA(cmd.Addr("peer"))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d IKE SA(s) cleared\n", n), nil
	case cli.ClearBGP:
		how := bgpReset(cmd.Words)
		n, err := r.ClearBGP(cmd.Addr("neighbor"), how)
		if err != nil {
			return "", err
		}
		if how == bgp.ResetHard {
			return fmt.Sprintf("%d BGP session(s) reset\n", n), nil
		}
		return fmt.Sprintf("%d BGP neighbor(s) soft reset\n", n), nil
	case cli.ShowBGPSummary:
		s, err := r.BGPSummary()
		if err != nil {
			return "", err
		}
		return show.BGPSummaryText(s), nil
	case cli.ShowBGPNeighbors:
		ns, err := r.BGPNeighbors(cmd.Addr("neighbor"))
		if err != nil {
			return "", err
		}
		return show.BGPNeighborsText(ns), nil
	case cli.ShowBGP, cli.ShowBGPRoutes, cli.ShowBGPAdvertised:
		// "show ip bgp" has no neighbor: the invalid address asks for the
		// whole table.
		routes, err := r.BGPRoutes(cmd.Addr("neighbor"), cmd.ID == cli.ShowBGPAdvertised)
		if err != nil {
			return "", err
		}
		return show.BGPRoutesText(routes), nil
	case cli.ShowIPRoute:
		routes, err := r.Routes()
		if err != nil {
			return "", err
		}
		return show.RoutesText(routes), nil
	case cli.ShowIPFilter, cli.ShowIPAccessList:
		dirs, lists, err := r.Filters()
		if err != nil {
			return "", err
		}
		if cmd.ID == cli.ShowIPFilter {
			return show.IPFilters(dirs), nil
		}
		return show.IPAccessLists(lists), nil
	case cli.ShowNAPT:
		ts, err := r.NAPT()
		if err != nil {
			return "", err
		}
		return show.NAPTTranslations(ts), nil
	case cli.ClearNAPT:
		n, err := r.ClearNAPT()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d NAPT translation(s) cleared\n", n), nil
	case cli.ShowDHCPLease:
		leases, bindings := r.DHCP()
		return show.DHCPLeases(leases, bindings, time.Now()), nil
	case cli.ShowInterfaces:
		return show.InterfacesText(r.Interfaces()), nil
	}
	return "", fmt.Errorf("not supported by the daemon")
}

// bgpReset reads the kind of reset from the canonical words of "clear ip
// bgp {* | A.B.C.D} [soft [in | out]]".
func bgpReset(words []string) bgp.Reset {
	if len(words) < 5 || words[4] != "soft" {
		return bgp.ResetHard
	}
	if len(words) == 6 {
		if words[5] == "in" {
			return bgp.ResetSoftIn
		}
		return bgp.ResetSoftOut
	}
	return bgp.ResetSoft
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
