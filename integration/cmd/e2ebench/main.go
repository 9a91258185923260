// Command e2ebench is the end-to-end benchmark of soft-ix against
// strongSwan and wireguard-go, run by integration/bench/e2e.sh (see there
// for the contenders and the environment variables, which this program
// reads). It builds nslab's seed scenario,
//
//	LAN host -- IX router -- internet router -- gateway -- VNet host
//
// brings the contenders up one at a time between the IX router and the
// gateway, their order rotated every round, measures iperf3 TCP and ping
// from the LAN host to the VNet host, and prints the medians as a table.
//
// WAN_GSO=off makes the internet path (the IX and gateway WAN veths and
// the internet router's two) carry packets one at a time, as a physical
// link and router do, instead of letting one 64 KiB GSO skb cross it
// whole; the run logs the router's bytes per skb to show which it was.
//
// It measures, it does not gate: exit 0 whatever the numbers, 1 when a
// setup step fails (tools missing, a tunnel that does not come up).
// Progress goes to stderr, the table to stdout. Run it from inside the
// soft-ix module (it reads cmd/soft-ix/labconf and builds soft-ix and
// esppeer when they are not given).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The environment e2e.sh documents, with its defaults.
type settings struct {
	rounds, secs, warmup, pings int
	contenders                  []string
	prefix                      string // namespace name prefix (PFX)
	work                        string // work directory (WORK)
	keep                        bool   // KEEP=1: leave the work directory
	maxSeconds                  int    // the whole run's bound (MAX_SECONDS)
	logLevel                    string // soft-ix --log-level (SOFTIX_LOG_LEVEL)
	wanPerPacket                bool   // WAN_GSO=off: the internet path carries packets one at a time
	pin                         bool   // PIN=1: each tunnel endpoint on a core of its own
}

// defaultContenders are e2e.sh's; the NAT ones join when iptables is
// there to build the NAT.
const defaultContenders = "plain plain-pp softix-cbc softix-gcm swan-cbc swan-gcm wg softix-encap-cbc softix-encap-gcm"

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// b is the running benchmark, for die and the signal handler.
var b *bench

func die(format string, args ...any) {
	logf("FATAL: "+format, args...)
	if b != nil {
		b.cleanup()
	}
	os.Exit(1)
}

func envInt(name string, def int, re, want string) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	if !regexp.MustCompile(re).MatchString(v) {
		die("%s=%s: want %s", name, v, want)
	}
	n, _ := strconv.Atoi(v)
	return n
}

func readSettings() settings {
	s := settings{
		rounds:   envInt("ROUNDS", 3, `^[1-9][0-9]?$`, "1 to 99"),
		secs:     envInt("SECS", 10, `^[1-9][0-9]?$`, "1 to 99"),
		warmup:   envInt("WARMUP", 1, `^[0-9]{1,2}$`, "0 to 99"),
		pings:    envInt("PINGS", 200, `^[1-9][0-9]{0,3}$`, "1 to 9999"),
		prefix:   os.Getenv("PFX"),
		work:     os.Getenv("WORK"),
		keep:     os.Getenv("KEEP") == "1",
		logLevel: os.Getenv("SOFTIX_LOG_LEVEL"),
	}
	switch os.Getenv("WAN_GSO") {
	case "", "on":
	case "off":
		s.wanPerPacket = true
	default:
		die("WAN_GSO=%s: want on or off", os.Getenv("WAN_GSO"))
	}
	switch os.Getenv("PIN") {
	case "", "0":
	case "1":
		s.pin = true
		// Go endpoints size their schedulers to the one core they get;
		// set before any is started (CPU affinity set later is not
		// seen at once).
		os.Setenv("GOMAXPROCS", "1")
	default:
		die("PIN=%s: want 0 or 1", os.Getenv("PIN"))
	}
	if s.prefix == "" {
		s.prefix = "e2eb"
	}
	if s.logLevel == "" {
		s.logLevel = "info"
	}
	list := os.Getenv("CONTENDERS")
	if list == "" {
		list = defaultContenders
		if _, err := exec.LookPath("iptables"); err == nil {
			list += " softix-nat-cbc softix-nat-gcm"
		}
	}
	s.contenders = strings.Fields(list)
	// Each contender needs at most about 2 minutes (setup timeouts
	// included) per round.
	s.maxSeconds = envInt("MAX_SECONDS", 300+s.rounds*len(s.contenders)*120, `^[1-9][0-9]*$`, "a number of seconds")
	return s
}

// results are one contender's figures, one entry per round; "n/a" where
// a round measured nothing (an RTT without answers).
type results struct {
	mbps, cpu, host, retr, rtt []string
}

func main() {
	set := readSettings()
	if os.Geteuid() != 0 {
		die("needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "iperf3", "ping", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			die("missing %s (apt-get install iproute2 iperf3 iputils-ping)", tool)
		}
	}
	if set.work == "" {
		dir, err := os.MkdirTemp("", "e2e-bench.")
		if err != nil {
			die("%v", err)
		}
		set.work = dir
	}
	b = &bench{settings: set}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		logf("interrupted")
		b.cleanup()
		os.Exit(130)
	}()
	time.AfterFunc(time.Duration(set.maxSeconds)*time.Second, func() {
		logf("run exceeded MAX_SECONDS=%d, stopping", set.maxSeconds)
		b.cleanup()
		os.Exit(130)
	})

	for _, c := range set.contenders {
		if err := b.prepare(c); err != nil {
			die("%v", err)
		}
	}

	loadStart := loadAverage()
	logf("nproc %d, load average %s, rounds %d, %ds iperf3 after %ds warm-up, WAN_GSO=%s, PIN=%s", runtime.NumCPU(), loadStart, set.rounds, set.secs, set.warmup, onOff(!set.wanPerPacket), onOff(set.pin))
	if err := b.topologyUp(); err != nil {
		die("building the namespace topology failed: %v", err)
	}
	if b.reach() {
		die("LAN reaches VNet without a tunnel: topology is wrong")
	}

	res := map[string]*results{}
	for _, c := range set.contenders {
		res[c] = &results{}
	}
	n := len(set.contenders)
	for r := 1; r <= set.rounds; r++ {
		for i := 0; i < n; i++ {
			c := set.contenders[(i+r-1)%n]
			logf("round %d/%d: %s up", r, set.rounds, c)
			if err := b.up(c); err != nil {
				logf("%s: %v", c, err)
				b.showLogs()
				b.down(c)
				die("%s: tunnel setup failed", c)
			}
			m := b.measureIperf()
			rtt := b.measureRTT()
			b.down(c)
			logf("round %d/%d: %s %s Mbit/s (retransmits %s, endpoints CPU %s%%, host CPU %s%%), RTT median %s us", r, set.rounds, c, m.mbps, m.retr, m.cpu, m.host, rtt)
			x := res[c]
			x.mbps = append(x.mbps, m.mbps)
			x.cpu = append(x.cpu, m.cpu)
			x.host = append(x.host, m.host)
			x.retr = append(x.retr, m.retr)
			if rtt != "n/a" {
				x.rtt = append(x.rtt, rtt)
			}
		}
	}
	loadEnd := loadAverage()
	b.logWANSkbSize()
	printTable(os.Stdout, set, res, loadStart, loadEnd)
	b.cleanup()
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// repoDir is the root of the soft-ix module the program runs in.
func repoDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run e2ebench inside the soft-ix module")
	}
	return filepath.Dir(mod), nil
}
