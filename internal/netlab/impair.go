package netlab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ImpairPackage is the import path of the impairment program.
const ImpairPackage = "github.com/soft-ix/soft-ix/integration/cmd/impair"

// impair is the impairment program, $IMPAIR_BIN or built.
var impair = Program{Package: ImpairPackage, EnvVar: "IMPAIR_BIN"}

// ImpairBinary returns the impairment program: $IMPAIR_BIN, else one built
// with `go build` once per process (see Program); RemoveBuiltImpair
// deletes it. The program is run, never linked: the daemon only names it.
func ImpairBinary() (string, error) { return impair.Path() }

// RemoveBuiltImpair deletes the program ImpairBinary built, if any.
func RemoveBuiltImpair() { impair.RemoveBuilt() }

// Impairment is the impairment program (integration/cmd/impair) on the
// internet router's path: every packet the router forwards between the IX
// side and the Azure side goes through it.
type Impairment struct {
	Proc   *Proc
	Socket string // its control socket
	ns     *Namespace
	rules  [][]string // the `ip rule` arguments that divert into it
}

// The TUN devices and routing tables of the impairment, one per direction.
var impairDirs = []struct{ from, dev, table string }{
	{"ix", "imp-ix", "201"},    // IX -> Azure
	{"azure", "imp-az", "202"}, // Azure -> IX
}

// Impair puts the impairment program on the path between the IX and the
// Azure gateway: in the internet namespace, policy routing sends what
// arrives on either link into a TUN device per direction, the program
// (seeded with seed) impairs it and writes it back, and the kernel
// forwards it on. The settings are the program's key=value pairs (e.g.
// "loss=1%", "delay=30ms", "jitter=10ms", "reorder=1%", "dup=0.5%",
// "corrupt=0.1%", "rate=10mbit", "blackhole=on"); they apply to both
// directions and can be changed with Set while traffic flows. Traffic to
// the router's own addresses is not impaired. The lab stops the program
// on Close; Remove puts plain forwarding back earlier.
func (s *Scenario) Impair(seed uint64, settings ...string) (*Impairment, error) {
	bin, err := ImpairBinary()
	if err != nil {
		return nil, err
	}
	ns := s.Internet
	im := &Impairment{ns: ns, Socket: ns.Lab().Path("impair.sock")}
	args := []string{bin, "-control", im.Socket, "-seed", strconv.FormatUint(seed, 10)}
	for _, d := range impairDirs {
		if err := ns.IP("tuntap", "add", "dev", d.dev, "mode", "tun"); err != nil {
			return nil, fmt.Errorf("netlab: impair: %w", err)
		}
		if err := ns.IP("link", "set", d.dev, "up"); err != nil {
			return nil, fmt.Errorf("netlab: impair: %w", err)
		}
		args = append(args, "-tun", d.dev)
	}
	im.Proc, err = ns.Start("impair", nil, append(args, settings...)...)
	if err != nil {
		return nil, err
	}
	ns.Lab().AddDumper("impair stats", func() (string, error) { return im.ctl("stats") })
	if err := WaitFor(10*time.Second, "impair control socket", func() error {
		if exited, werr := im.Proc.Exited(); exited {
			return fmt.Errorf("impair exited (%v): %s", werr, strings.TrimSpace(im.Proc.Log()))
		}
		_, err := im.ctl("show")
		return err
	}); err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	// Divert only once the program holds the devices, so the path never
	// goes dark in between.
	for _, d := range impairDirs {
		if err := ns.IP("route", "add", "default", "dev", d.dev, "table", d.table); err != nil {
			return nil, fmt.Errorf("netlab: impair: %w", err)
		}
		rule := []string{"iif", d.from, "lookup", d.table, "pref", "1000"}
		if err := ns.IP(append([]string{"rule", "add"}, rule...)...); err != nil {
			return nil, fmt.Errorf("netlab: impair: %w", err)
		}
		im.rules = append(im.rules, rule)
	}
	return im, nil
}

// ctl runs `impair ctl SOCKET LINE...` and returns its answer.
func (im *Impairment) ctl(line ...string) (string, error) {
	bin, err := ImpairBinary()
	if err != nil {
		return "", err
	}
	out, err := Command(context.Background(), nil, bin, append([]string{"ctl", im.Socket}, line...)...)
	return strings.TrimSpace(out), err
}

// Set changes the impairment's settings (see Scenario.Impair; "clear"
// resets all) and returns the parameters now in force.
func (im *Impairment) Set(settings ...string) (string, error) {
	return im.ctl(append([]string{"set"}, settings...)...)
}

// Stats returns the program's counters, keyed "DEV.COUNTER" (e.g.
// "imp-ix.lost"; DEV imp-ix carries IX -> Azure, imp-az the way back),
// plus the sums over both directions under the bare counter name.
func (im *Impairment) Stats() (map[string]int64, error) {
	out, err := im.ctl("stats")
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, f := range strings.Fields(out) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("netlab: impair stats: %q", f)
		}
		m[k] = n
		if _, name, ok := strings.Cut(k, "."); ok {
			m[name] += n
		}
	}
	return m, nil
}

// Remove takes the impairment off the path (the router forwards directly
// again) and stops the program.
func (im *Impairment) Remove() error {
	var first error
	for _, rule := range im.rules {
		if err := im.ns.IP(append([]string{"rule", "del"}, rule...)...); err != nil && first == nil {
			first = err
		}
	}
	im.rules = nil
	im.Proc.Stop()
	return first
}
