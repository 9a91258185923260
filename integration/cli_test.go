package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// softIXBinary is the soft-ix binary nslab builds once per run (or $SOFTIX_BIN).
func softIXBinary(t *testing.T) string {
	t.Helper()
	bin, err := nslab.SoftIXBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// cltConfig is the static-route variant of the seed with its GigaEthernets
// and a next-hop route, so the daemon has something of its own in the
// kernel even without an IKE peer.
const cltConfig = `hostname clt-ix
ikev2 authentication psk id ipv4 198.51.100.6 key char P@ssw0rd1234
!
ikev2 default-profile
  sa-proposal enc aes-cbc-256
  sa-proposal integrity sha1
  sa-proposal dh 1024-bit
  child-proposal enc aes-cbc-256
  child-proposal integrity sha2-256
  child-lifetime 3600
!
interface GigaEthernet0.0
  ip address 203.0.113.94/24
!
interface GigaEthernet1.0
  ip address 192.168.2.1/24
!
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ip tcp adjust-mss auto
  ikev2 connect-type auto
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
  no shutdown
!
ip route 172.16.0.0/16 Tunnel0.0
ip route 198.51.100.0/24 203.0.113.1
`

// run runs the binary with args and returns stdout, stderr and the exit status.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return stdout.String(), stderr.String(), status
}

// TestCLIAgainstDaemon runs the soft-ix daemon in a namespace with the
// static config (no IKE peer there) and drives every offline and online
// verb, reload with unchanged, changed and broken configs, SIGHUP, and
// checks that SIGTERM leaves nothing of soft-ix behind.
func TestCLIAgainstDaemon(t *testing.T) {
	lab := nslab.NewForTest(t, "clt", "ping")
	bin := softIXBinary(t)
	ix, err := lab.Namespace("ix")
	if err != nil {
		t.Fatal(err)
	}
	inet, err := lab.Namespace("inet")
	if err != nil {
		t.Fatal(err)
	}
	lan, err := lab.Namespace("lan")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(ix, "GigaEthernet0.0", "203.0.113.94/24", inet, "eth0", "203.0.113.1/24"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(ix, "GigaEthernet1.0", "192.168.2.1/24", lan, "eth0", "192.168.2.10/24"); err != nil {
		t.Fatal(err)
	}

	conf := lab.Path("ix.conf")
	write := func(text string) {
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cltConfig)

	// Offline verbs.
	if _, stderr, st := runBin(t, bin, "check", "-c", conf); st != 0 {
		t.Fatalf("check of a good config: status %d\n%s", st, stderr)
	}
	offline, _, st := runBin(t, bin, "show", "running-config", "-c", conf)
	if st != 0 || !strings.Contains(offline, "interface Tunnel0.0") || !strings.Contains(offline, "hostname clt-ix") {
		t.Fatalf("show running-config -c: status %d\n%s", st, offline)
	}
	bad := lab.Path("bad.conf")
	os.WriteFile(bad, []byte(cltConfig+"ip route 10.0.0.0/33 Tunnel0.0\n"), 0o600)
	_, stderr, st := runBin(t, bin, "check", "-c", bad)
	if st != 1 || !regexp.MustCompile(`bad\.conf:\d+:\d+: error: `).MatchString(stderr) {
		t.Errorf("check of a broken config: status %d, stderr %q", st, stderr)
	}

	// The daemon.
	sock := lab.Path("run/soft-ix.sock")
	d, err := ix.Start("soft-ix", nil, bin, "-c", conf, "--socket", sock,
		"--map", "GigaEthernet0.0=GigaEthernet0.0", "--map", "GigaEthernet1.0=GigaEthernet1.0", "--metrics", ":9477")
	if err != nil {
		t.Fatal(err)
	}
	show := func(args ...string) (string, int) {
		t.Helper()
		out, stderr, st := runBin(t, bin, append(args, "--socket", sock)...)
		return out + stderr, st
	}
	if err := nslab.WaitFor(15*time.Second, "control socket", func() error {
		if done, err := d.Exited(); done {
			return fmt.Errorf("daemon exited: %v", err)
		}
		_, st := show("show", "ikev2", "sa")
		if st != 0 {
			return fmt.Errorf("status %d", st)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v %v", fi.Mode(), err)
	}

	expect := func(what string, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: missing %q in\n%s", what, w, out)
			}
		}
	}
	out, _ := show("show", "running-config")
	if out != offline {
		t.Errorf("daemon's running-config differs from the file's:\n%s\n---\n%s", out, offline)
	}
	if _, err := ix.Run("ip", "link", "show", "Tunnel0.0"); err != nil {
		t.Errorf("no TUN device for Tunnel0.0: %v", err)
	}
	out, _ = show("sh", "int")
	expect("show interfaces", out, "Interface GigaEthernet0.0 is up", "Internet address is 203.0.113.94/24",
		"Interface GigaEthernet1.0 is up", "Interface Tunnel0.0 is down", "packets input")
	out, _ = show("sh", "ip", "ro")
	expect("show ip route", out, "IP Routing Table", "192.168.2.0/24 [0/1] is directly connected, GigaEthernet1.0",
		"198.51.100.0/24 [1/1] via 203.0.113.1, GigaEthernet0.0")
	out, _ = show("show", "ikev2", "child-sa")
	expect("show ikev2 child-sa", out, "Child SA - 0 connected")
	out, st = show("show", "i")
	if st != 2 || !strings.Contains(out, "Ambiguous") {
		t.Errorf("ambiguous command: status %d %q", st, out)
	}

	out, st = show("ping", "203.0.113.1", "source", "203.0.113.94", "count", "2")
	if st != 0 {
		t.Errorf("ping: status %d", st)
	}
	expect("ping", out, "PING 203.0.113.94 > 203.0.113.1 56 data bytes", "icmp_seq=1 ttl=64 time=",
		"2 packets transmitted, 2 packets received, 0% packet loss", "round-trip (ms) min/avg/max = ")
	// 172.16.0.0/16 points into the tunnel, which is not up: no answer.
	out, st = show("ping", "172.16.1.4", "source", "192.168.2.1", "count", "1")
	if st != 1 {
		t.Errorf("ping into the missing tunnel: status %d", st)
	}
	expect("ping without reply", out, "1 packets transmitted, 0 packets received, 100% packet loss")
	out, st = show("ping", "203.0.113.1", "source", "10.9.9.9", "count", "1")
	expect("ping from a foreign source", out, "not an address of this router")

	// The Prometheus endpoint, on the namespace's loopback.
	metrics, err := ix.Run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9477 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")
	if err != nil {
		t.Errorf("metrics: %v", err)
	}
	expect("metrics", metrics, `softix_interface_up{interface="GigaEthernet0.0"} 1`, `softix_interface_up{interface="Tunnel0.0"} 0`,
		`softix_interface_packets_total{direction="in",interface="GigaEthernet0.0"}`,
		`softix_esp_drops_total{reason="unknown_spi"} 0`, `softix_child_sa_installs_total 0`)

	// A second daemon in the same namespace cannot have UDP 500 and says
	// why, in JSON when asked to.
	second, err := ix.Run(bin, "-c", conf, "--socket", lab.Path("second.sock"), "--log-format", "json")
	if err == nil {
		t.Errorf("second daemon started:\n%s", second)
	}
	expect("second daemon", second, `"level":"ERROR"`, "UDP port 500 is in use", "stop it")

	// The interactive session, fed from a pipe.
	cli := exec.Command(bin, "cli", "--socket", sock)
	cli.Stdin = strings.NewReader("sh ip ro\nshow bogus\nexit\n")
	cliOut, _ := cli.CombinedOutput()
	expect("soft-ix cli", string(cliOut), "clt-ix# sh ip ro", "IP Routing Table", `% Invalid input "bogus"`)

	kernelRoutes := func() string {
		out, err := ix.Run("ip", "route", "show", "proto", "240")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !strings.Contains(kernelRoutes(), "198.51.100.0/24 via 203.0.113.1") {
		t.Errorf("static route not in the kernel: %q", kernelRoutes())
	}

	// Reload: unchanged, changed, broken.
	out, st = show("reload")
	if st != 0 || !strings.Contains(out, "no changes") {
		t.Errorf("reload unchanged: %d %q", st, out)
	}
	write(strings.Replace(cltConfig, "ip route 198.51.100.0/24", "ip route 192.0.2.0/24", 1))
	out, st = show("reload")
	if st != 0 {
		t.Errorf("reload changed: %d %q", st, out)
	}
	expect("reload changed", out, "+ ip route 192.0.2.0/24 203.0.113.1", "- ip route 198.51.100.0/24 203.0.113.1")
	if r := kernelRoutes(); !strings.Contains(r, "192.0.2.0/24") || strings.Contains(r, "198.51.100.0/24") {
		t.Errorf("routes after reload: %q", r)
	}
	write(cltConfig + "interface Tunnel0.0\n  ip mtu 99999999\n")
	out, st = show("reload")
	if st != 1 || !strings.Contains(out, "refused") || !regexp.MustCompile(`ix\.conf:\d+:\d+: error`).MatchString(out) {
		t.Errorf("reload broken: %d %q", st, out)
	}
	out, _ = show("show", "running-config")
	expect("running config after a refused reload", out, "ip route 192.0.2.0/24 203.0.113.1")
	if r := kernelRoutes(); !strings.Contains(r, "192.0.2.0/24") {
		t.Errorf("routes after refused reload: %q", r)
	}

	// SIGHUP reloads too.
	write(cltConfig)
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(10*time.Second, "SIGHUP reload", func() error {
		if !strings.Contains(kernelRoutes(), "198.51.100.0/24") {
			return fmt.Errorf("route not back")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	// SIGTERM: clean exit, nothing of soft-ix left.
	if err := d.SignalWait(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exited(); err != nil {
		t.Errorf("daemon exit: %v\n%s", err, d.Log())
	}
	for _, proto := range []string{"240", "241"} {
		if out, _ := ix.Run("ip", "route", "show", "proto", proto); strings.TrimSpace(out) != "" {
			t.Errorf("routes with protocol %s left: %q", proto, out)
		}
	}
	if out, _ := ix.Run("ip", "-d", "link", "show"); strings.Contains(out, "alias soft-ix") || strings.Contains(out, "Tunnel0.0") {
		t.Errorf("links of soft-ix left:\n%s", out)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left: %v", err)
	}
}

// labLeftovers lists what "soft-ix lab" could leave behind: its
// namespaces and its temporary directories.
func labLeftovers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "softix-lab-") {
			left = append(left, l)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "soft-ix-lab-*"))
	return append(left, dirs...)
}

// TestLabCommand runs the README's first command, "soft-ix lab --once",
// in both variants (the static one with --impair), and once without --once stopped by Ctrl-C (SIGINT):
// each must report the tunnel, BGP (BGP variant) and the ping in IX format
// and remove everything it created.
func TestLabCommand(t *testing.T) {
	nslab.Require(t)
	bin := softIXBinary(t)
	if left := labLeftovers(t); len(left) > 0 {
		testenv.Unavailable(t, "another soft-ix lab is running here (%v)", left)
	}
	// The static variant also runs on an impaired internet (--impair).
	for _, variant := range [][]string{{"lab", "--once"}, {"lab", "--static", "--once", "--impair", "delay=5ms jitter=1ms"}} {
		out, stderr, st := runBin(t, bin, variant...)
		if st != 0 {
			t.Errorf("soft-ix %s: status %d\n%s\n%s", strings.Join(variant, " "), st, out, stderr)
			continue
		}
		want := []string{"Router# show ikev2 sa", "IKEv2 SA - ", "Direction : ", "Child SA - ", "Statistics",
			"PING 192.168.2.1 > 172.16.1.4 56 data bytes", "3 packets transmitted, 3 packets received, 0% packet loss",
			"round-trip (ms) min/avg/max = ", "Lab removed."}
		if len(variant) == 2 {
			want = append(want, "Router# show ip bgp summary", "172.16.0.6      4 65010", "ESTABLISHED",
				"172.16.0.0/16 [20/0] via 172.16.0.6, Tunnel0.0", "Tunnel, BGP and ping: OK")
		} else {
			want = append(want, "172.16.0.0/16 [1/1] is directly connected, Tunnel0.0", "Tunnel and ping: OK",
				"The internet router impairs both directions: loss=0% delay=5ms jitter=1ms")
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("soft-ix %s: missing %q in\n%s", strings.Join(variant, " "), w, out)
			}
		}
		if left := labLeftovers(t); len(left) > 0 {
			t.Errorf("soft-ix %s left %v", strings.Join(variant, " "), left)
		}
	}

	// Without --once the lab stays up until Ctrl-C; meanwhile reload the
	// IX side with the tunnel and BGP up.
	cmd := exec.Command(bin, "lab")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	deadline := time.After(90 * time.Second)
	for !strings.Contains(out.String(), "press Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("lab exited early: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("lab did not come up:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, w := range []string{"show ikev2 sa --socket", "cli --socket", "ip netns exec softix-lab-"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("lab explanation lacks %q:\n%s", w, out.String())
		}
	}
	traceThroughTunnel(t, bin, out.String())
	reloadWithTunnelUp(t, bin, out.String())

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("lab after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lab did not stop on Ctrl-C")
	}
	if left := labLeftovers(t); len(left) > 0 {
		t.Errorf("lab left %v after Ctrl-C", left)
	}
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	labSockRe = regexp.MustCompile(`(\S+/ix\.sock)`)
	labConfRe = regexp.MustCompile(`Configs: (\S+) \(IX\)`)
	spiRe     = regexp.MustCompile(`(?m)^SPI .*$`)
	upDownRe  = regexp.MustCompile(`172\.16\.0\.6 .* (\d+):(\d\d):(\d\d) ESTABLISHED`)
)

// traceThroughTunnel: "traceroute" from the IX's LAN address finds the
// Azure gateway (its BGP address answers, the tunnel being one hop) and
// then the VNet host, and ends there.
func traceThroughTunnel(t *testing.T, bin, labOut string) {
	t.Helper()
	sm := labSockRe.FindStringSubmatch(labOut)
	if sm == nil {
		t.Errorf("no socket in the lab's explanation:\n%s", labOut)
		return
	}
	out, err := exec.Command(bin, "traceroute", "172.16.1.4", "source", "192.168.2.1", "--socket", sm[1]).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) != 3 || lines[0] != "traceroute to 172.16.1.4 (172.16.1.4), 30 hops max, 40 byte packets" ||
		!regexp.MustCompile(`^ 1  172\.16\.0\.6(  [0-9.]+ ms){3}$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^ 2  172\.16\.1\.4(  [0-9.]+ ms){3}$`).MatchString(lines[2]) {
		t.Errorf("traceroute 172.16.1.4 source 192.168.2.1 (%v):\n%s", err, out)
	}
}

// reloadWithTunnelUp changes the running lab's IX config: a new static
// route must leave the IKE SAs and the BGP session alone, a changed tunnel
// must be renegotiated.
func reloadWithTunnelUp(t *testing.T, bin, labOut string) {
	t.Helper()
	sm, cm := labSockRe.FindStringSubmatch(labOut), labConfRe.FindStringSubmatch(labOut)
	if sm == nil || cm == nil {
		t.Errorf("no socket or config path in the lab's explanation:\n%s", labOut)
		return
	}
	sock, conf := sm[1], cm[1]
	ix := func(args ...string) string {
		out, stderr, _ := runBin(t, bin, append(args, "--socket", sock)...)
		return out + stderr
	}
	spis := func() string { return strings.Join(spiRe.FindAllString(ix("show", "ikev2", "sa"), -1), "\n") }
	bgpUp := func() int {
		m := upDownRe.FindStringSubmatch(ix("show", "ip", "bgp", "summary"))
		if m == nil {
			return -1
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		return h*3600 + mi*60 + s
	}
	before, up := spis(), bgpUp()
	if before == "" || up < 0 {
		t.Errorf("lab not up before reload: SAs %q, BGP %d", before, up)
		return
	}
	routes := ix("show", "ip", "bgp", "neighbors", "172.16.0.6", "routes")
	for _, w := range []string{"local router ID is 10.2.2.2", "Local AS number 65050", "   Network            Next Hop            Metric LocPrf Path",
		"*> 172.16.0.0/16      172.16.0.6", "65010 i", "Total number of prefixes 1"} {
		if !strings.Contains(routes, w) {
			t.Errorf("show ip bgp neighbors 172.16.0.6 routes: missing %q in\n%s", w, routes)
		}
	}
	adv := ix("sh", "ip", "bg", "ne", "172.16.0.6", "adv")
	for _, w := range []string{"*> 192.168.2.0/24", "Total number of prefixes 1"} {
		if !strings.Contains(adv, w) {
			t.Errorf("show ip bgp neighbors 172.16.0.6 advertised-routes: missing %q in\n%s", w, adv)
		}
	}
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, append(text, "ip route 10.99.0.0/16 Tunnel0.0\n"...), 0o600)
	if out := ix("reload"); !strings.Contains(out, "+ ip route 10.99.0.0/16 Tunnel0.0") || strings.Contains(out, "renegotiated") {
		t.Errorf("reload with a new route: %q", out)
	}
	if after := spis(); after != before {
		t.Errorf("a route-only reload changed the IKE SAs:\n%s\n---\n%s", before, after)
	}
	if u := bgpUp(); u < up {
		t.Errorf("a route-only reload reset the BGP session (up %ds, was %ds)", u, up)
	}
	if out := ix("show", "ip", "route"); !strings.Contains(out, "10.99.0.0/16 [1/1] is directly connected, Tunnel0.0") {
		t.Errorf("new route not shown:\n%s", out)
	}

	changed := strings.Replace(string(text), "  ikev2 ipsec pre-fragment\n", "  ikev2 ipsec pre-fragment\n  ikev2 dpd interval 30\n", 1)
	os.WriteFile(conf, []byte(changed), 0o600)
	if out := ix("reload"); !strings.Contains(out, "tunnels renegotiated: Tunnel0.0") {
		t.Errorf("reload with a changed tunnel: %q", out)
	}
	if err := nslab.WaitFor(30*time.Second, "renegotiated tunnel", func() error {
		now := spis()
		if now == "" || now == before {
			return fmt.Errorf("IKE SAs %q", now)
		}
		if !strings.Contains(ix("show", "ikev2", "child-sa"), "Direction is outbound") {
			return fmt.Errorf("no outbound Child SA")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if out := ix("ping", "172.16.1.4", "source", "192.168.2.1", "count", "2"); !strings.Contains(out, "packets received") || strings.Contains(out, " 0 packets received") {
		t.Errorf("ping after renegotiation:\n%s", out)
	}

	// clear ikev2 sa: the SAs go, connect-type auto brings new ones.
	renegotiated := spis()
	if out := ix("clear", "ikev2", "sa", "peer", "198.51.100.6"); !strings.Contains(out, "IKE SA(s) cleared") || strings.HasPrefix(out, "0 ") {
		t.Errorf("clear ikev2 sa peer: %q", out)
	}
	if err := nslab.WaitFor(30*time.Second, "tunnel after clear", func() error {
		now := spis()
		if now == "" || now == renegotiated {
			return fmt.Errorf("IKE SAs %q", now)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
