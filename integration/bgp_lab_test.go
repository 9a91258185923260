package integration

// Helpers for the tun and bgp namespace tests: namespaces named "bgt...",
// the bgppeer test program (integration/cmd/bgppeer) and BIRD 2 instances.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

// bgtPrefix makes names unique per test process: "bgt" + pid.
var bgtPrefix = fmt.Sprintf("bgt%d", os.Getpid()%100000)

// sh runs a command and fails the test on error.
func bgtRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// bgtNS creates a namespace with lo up and deletes it when the test ends.
func bgtNS(t *testing.T, role string) string {
	t.Helper()
	return newNetns(t, bgtPrefix+role)
}

// bgtBinary builds integration/cmd/bgppeer into the test's temporary
// directory (removed with it; the go build cache makes rebuilds cheap).
func bgtBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bgppeer")
	out, err := exec.Command("go", "build", "-o", path, "github.com/soft-ix/soft-ix/integration/cmd/bgppeer").CombinedOutput()
	if err != nil {
		t.Fatalf("build bgppeer: %v\n%s", err, out)
	}
	return path
}

// bgtPeer is a running bgppeer in a namespace.
type bgtPeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	logs   *os.File
	done   chan struct{}
	waited error
}

func bgtWriteConfig(t *testing.T, cfg *config.Config) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "cfg*.json")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
	return f.Name()
}

// bgtStartPeer runs bgppeer with cfg in ns and waits until it is ready.
// maps are IXNAME=LINK mappings, or bgppeer flags when they start with "-".
func bgtStartPeer(t *testing.T, ns string, cfg *config.Config, maps ...string) *bgtPeer {
	t.Helper()
	args := []string{"netns", "exec", ns, bgtBinary(t), "-config", bgtWriteConfig(t, cfg)}
	for _, m := range maps {
		if strings.HasPrefix(m, "-") {
			args = append(args, m) // a flag
			continue
		}
		args = append(args, "-map", m)
	}
	logs, err := os.CreateTemp(t.TempDir(), "bgppeer*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &bgtPeer{t: t, cmd: exec.Command("ip", args...), logs: logs, done: make(chan struct{})}
	p.cmd.Stderr = logs
	p.stdin, _ = p.cmd.StdinPipe()
	stdout, _ := p.cmd.StdoutPipe()
	p.out = bufio.NewReader(stdout)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waited = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() || os.Getenv("BGT_LOGS") != "" {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("bgppeer log:\n%s", b)
		}
	})
	if line, err := p.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		b, _ := os.ReadFile(logs.Name())
		t.Fatalf("bgppeer did not start: %q %v\n%s", line, err, b)
	}
	return p
}

// do sends one command and decodes the JSON answer into v (if not nil).
func (p *bgtPeer) do(cmd string, v any) error {
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		return err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	var e struct{ Error string }
	if json.Unmarshal([]byte(line), &e) == nil && e.Error != "" {
		return fmt.Errorf("%s: %s", cmd, e.Error)
	}
	if v != nil {
		return json.Unmarshal([]byte(line), v)
	}
	return nil
}

// stop asks bgppeer to quit (it cleans up) and waits for it.
func (p *bgtPeer) stop() error {
	fmt.Fprintln(p.stdin, "quit")
	select {
	case <-p.done:
		return p.waited
	case <-time.After(15 * time.Second):
		p.kill()
		return fmt.Errorf("bgppeer did not stop in 15 s")
	}
}

// kill ends bgppeer at once, as a crash would (no cleanup).
func (p *bgtPeer) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	// ip netns exec execs the program, so the PID is bgppeer's own.
	p.cmd.Process.Kill()
	<-p.done
}

// bgtBird is a BIRD 2 instance in a namespace.
type bgtBird struct {
	ctl string
}

func bgtStartBird(t *testing.T, ns, conf string) *bgtBird {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bgtBird{ctl: filepath.Join(dir, "bird.ctl")}
	cmd := exec.Command("ip", "netns", "exec", ns, "bird", "-f", "-c", cfgPath, "-s", b.ctl)
	logf, _ := os.Create(filepath.Join(dir, "bird.out"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(dir, "bird.out"))
			t.Logf("bird output:\n%s", out)
		}
	})
	bgtWaitFor(t, 10*time.Second, "bird control socket", func() bool {
		_, err := exec.Command("birdc", "-s", b.ctl, "show", "status").CombinedOutput()
		return err == nil
	})
	return b
}

func (b *bgtBird) c(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("birdc", append([]string{"-s", b.ctl}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("birdc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// query runs birdc and returns its output even when it exits non-zero
// (as "show route for" does when the network is not found).
func (b *bgtBird) query(args ...string) string {
	out, _ := exec.Command("birdc", append([]string{"-s", b.ctl}, args...)...).CombinedOutput()
	return string(out)
}

// bgtWaitFor polls cond every 50 ms until it holds or timeout passes.
func bgtWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bgtRoute is a route as "ip -j route" prints it.
type bgtRoute struct {
	Dst      string `json:"dst"`
	Dev      string `json:"dev"`
	Gateway  string `json:"gateway"`
	Protocol string `json:"protocol"`
	Metric   int    `json:"metric"`
	Type     string `json:"type"`
}

// bgtRoutes lists the IPv4 main-table routes of a namespace, optionally
// only those of one protocol number.
func bgtRoutes(t *testing.T, ns string, proto int) []bgtRoute {
	t.Helper()
	args := []string{"-n", ns, "-j", "-4", "route", "show", "table", "main"}
	if proto > 0 {
		args = append(args, "proto", fmt.Sprint(proto))
	}
	out := bgtRun(t, append([]string{"ip"}, args...)...)
	var rs []bgtRoute
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("ip -j route: %v\n%s", err, out)
	}
	return rs
}

// bgtCountRoutes counts routes of one protocol without parsing them all.
func bgtCountRoutes(t *testing.T, ns string, proto int) int {
	t.Helper()
	out := bgtRun(t, "ip", "-n", ns, "-4", "route", "show", "table", "main", "proto", fmt.Sprint(proto))
	return strings.Count(out, "\n")
}

func bgtFindRoute(rs []bgtRoute, dst string) *bgtRoute {
	for i := range rs {
		if rs[i].Dst == dst {
			return &rs[i]
		}
	}
	return nil
}

// bgtLinkExists says whether a link of that name is in the namespace.
func bgtLinkExists(ns, name string) bool {
	return exec.Command("ip", "-n", ns, "link", "show", "dev", name).Run() == nil
}
