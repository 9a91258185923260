// Command bgppeer runs soft-ix's tun and bgp packages on their own, for the
// namespace tests in integration/: it is not part of soft-ix.
//
//	bgppeer -config cfg.json [-map GigaEthernet1.0=lan0] [-mapped-addrs]
//
// The configuration is a config.Config encoded as JSON (the test builds it
// from structs). bgppeer applies it, starts BGP if the configuration has a
// "router bgp", prints "ready" and then answers one command per stdin line
// with one JSON line on stdout:
//
//	summary | routes A | advertised A | kernel | learned
//	tunnel NAME up|down | reload FILE | quit
//	install NEXTHOP PREFIX|COUNT... | remove PREFIX|COUNT...
//
// install and remove call tun.Manager's RouteInstaller methods directly; a
// number N instead of prefixes means N /24s from 10.100.0.0 on, and the
// answer is the time the call took.
//
// SIGTERM, "quit" or the end of stdin stop BGP and remove everything tun
// added. Logs go to stderr.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/internal/ixbgp"
	"github.com/soft-ix/soft-ix/internal/ixtun"
	"github.com/soft-ix/soft-ix/tun"
)

type mapFlag map[string]string

func (m mapFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m mapFlag) Set(s string) error {
	ix, linux, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want IXNAME=LINK, got %q", s)
	}
	m[ix] = linux
	return nil
}

func main() {
	cfgPath := flag.String("config", "", "configuration as JSON-encoded config.Config")
	mapping := mapFlag{}
	flag.Var(mapping, "map", "IXNAME=LINK mapping (repeatable)")
	mappedAddrs := flag.Bool("mapped-addrs", false, "put configured addresses on mapped links")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log, *cfgPath, mapping, *mappedAddrs); err != nil {
		log.Error("bgppeer", "err", err)
		os.Exit(1)
	}
}

func load(path string) (*config.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg config.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &cfg, nil
}

func run(log *slog.Logger, cfgPath string, mapping map[string]string, mappedAddrs bool) error {
	cfg, err := load(cfgPath)
	if err != nil {
		return err
	}
	mgr, err := tun.NewManager(log, mapping)
	if err != nil {
		return err
	}
	defer func() {
		if err := mgr.Cleanup(); err != nil {
			log.Error("cleanup", "err", err)
		}
	}()
	mgr.SetMappedAddresses(mappedAddrs)
	if err := mgr.Apply(ixtun.Config(cfg)); err != nil {
		log.Warn("apply", "err", err)
	}
	srv := bgp.New(bgp.Options{Log: log, Installer: mgr})
	defer srv.Stop()
	if cfg.BGP != nil {
		bc, err := ixbgp.Config(cfg)
		if err != nil {
			return err
		}
		if err := srv.Start(bc); err != nil {
			return err
		}
	}

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	out := json.NewEncoder(os.Stdout)
	fmt.Println("ready")
	for {
		select {
		case <-sigs:
			return nil
		case line, ok := <-lines:
			if !ok || line == "quit" {
				return nil
			}
			v, err := command(mgr, srv, line)
			if err != nil {
				v = map[string]string{"error": err.Error()}
			}
			out.Encode(v)
		}
	}
}

func command(mgr *tun.Manager, srv *bgp.Server, line string) (any, error) {
	ctx := context.Background()
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "summary":
		return srv.Summary(ctx)
	case "routes", "advertised":
		a, err := netip.ParseAddr(arg(1))
		if err != nil {
			return nil, err
		}
		if f[0] == "routes" {
			return srv.NeighborRoutes(ctx, a)
		}
		return srv.AdvertisedRoutes(ctx, a)
	case "kernel":
		return mgr.Routes()
	case "learned":
		return srv.LearnedRoutes(), nil
	case "install", "remove":
		rest := f[1:]
		var nh netip.Addr
		if f[0] == "install" {
			a, err := netip.ParseAddr(arg(1))
			if err != nil {
				return nil, err
			}
			nh, rest = a, f[2:]
		}
		ps, err := prefixes(rest)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if f[0] == "install" {
			err = mgr.InstallRoutes(nh, ps)
		} else {
			err = mgr.RemoveRoutes(ps)
		}
		return time.Since(start).String(), err
	case "tunnel":
		return "ok", mgr.SetTunnelUp(arg(1), arg(2) == "up")
	case "reload":
		cfg, err := load(arg(1))
		if err != nil {
			return nil, err
		}
		if err := mgr.Apply(ixtun.Config(cfg)); err != nil {
			return nil, err
		}
		if cfg.BGP == nil {
			srv.Stop()
			return "ok", nil
		}
		bc, err := ixbgp.Config(cfg)
		if err != nil {
			return nil, err
		}
		return "ok", srv.Reload(bc)
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}

// prefixes parses prefixes, or a count of generated /24s.
func prefixes(args []string) ([]netip.Prefix, error) {
	if len(args) == 1 {
		if n, err := strconv.Atoi(args[0]); err == nil {
			ps := make([]netip.Prefix, n)
			for i := range ps {
				ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + i/256), byte(i), 0}), 24)
			}
			return ps, nil
		}
	}
	var ps []netip.Prefix
	for _, a := range args {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}
