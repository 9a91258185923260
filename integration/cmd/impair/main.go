// Command impair is the lab's impairment element (package
// integration/impair): run inside the internet router's namespace, it
// forwards what policy routing sends into the named TUN devices, with
// loss, delay and jitter, reordering, duplication, corruption, a rate
// limit or a blackhole, changeable while it runs through a control socket.
//
//	impair -tun imp-ix -tun imp-az -control /run/impair.sock [-seed N] [SETTING...]
//	impair ctl /run/impair.sock set loss=1% delay=30ms jitter=10ms
//	impair ctl /run/impair.sock stats
//
// SETTINGs are the control protocol's key=value pairs (see
// impair.Params.Apply) and set the starting parameters. nslab's
// Scenario.Impair creates the devices and routes and starts it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/soft-ix/soft-ix/integration/impair"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ctl" {
		if len(os.Args) < 4 {
			fmt.Fprintln(os.Stderr, "usage: impair ctl SOCKET set|show|stats [KEY=VALUE...]")
			os.Exit(2)
		}
		out, err := impair.Control(os.Args[2], strings.Join(os.Args[3:], " "))
		if err != nil {
			fmt.Fprintln(os.Stderr, "impair:", err)
			os.Exit(1)
		}
		fmt.Println(out)
		return
	}
	var tuns listFlag
	flag.Var(&tuns, "tun", "TUN device to forward through (repeatable; one per direction)")
	control := flag.String("control", "", "Unix control socket path (required)")
	seed := flag.Uint64("seed", 1, "seed of the random decisions (device i uses seed+i)")
	flag.Parse()
	if len(tuns) == 0 || *control == "" {
		fmt.Fprintln(os.Stderr, "impair: -tun and -control are required")
		os.Exit(2)
	}
	if err := run(tuns, *control, *seed, flag.Args()); err != nil {
		slog.Error("impair", "err", err)
		os.Exit(1)
	}
}

func run(tuns []string, control string, seed uint64, settings []string) error {
	p, err := impair.Params{}.Apply(settings...)
	if err != nil {
		return err
	}
	f, err := impair.NewForwarder(tuns, seed, p)
	if err != nil {
		return err
	}
	os.Remove(control) // a socket file left by an earlier, killed run
	l, err := net.Listen("unix", control)
	if err != nil {
		f.Close()
		return err
	}
	defer os.Remove(control)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go f.Serve(ctx, l)
	slog.Info("impair: forwarding", "tun", tuns, "seed", seed, "params", p.String())
	err = f.Run(ctx)
	slog.Info("impair: stopped", "stats", f.StatsLine())
	return err
}
