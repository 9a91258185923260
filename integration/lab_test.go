package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// TestMain removes the soft-ix binary nslab may have built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	nslab.RemoveBuiltSoftIX()
	os.Exit(code)
}

// TestLabScenarioUnderlay checks the scenario's plain IP plumbing: the
// public addresses reach each other through the internet router, each host
// reaches its gateway, and the LAN cannot reach the VNet without a tunnel.
func TestLabScenarioUnderlay(t *testing.T) {
	lab := nslab.NewForTest(t, "sxunder", "ping")
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from     *nslab.Namespace
		dst, src string
	}{
		{s.IX, nslab.AzurePublicAddr, nslab.IXWANAddr},
		{s.Azure, nslab.IXWANAddr, ""},
		{s.LAN, nslab.IXLANAddr, ""},
		{s.VNet, nslab.AzureVNetGateway, ""},
		{s.VNet, nslab.AzureBGPAddr, ""},
	} {
		if err := c.from.Ping(c.dst, c.src, 1); err != nil {
			t.Errorf("%s: ping %s: %v", c.from.Role, c.dst, err)
		}
	}
	if err := s.LAN.Ping(nslab.VNetHostAddr, "", 1); err == nil {
		t.Error("LAN host reaches the VNet host without a tunnel")
	}
	out, err := s.IX.Run("ip", "-br", "link")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{nslab.IXWANIf, nslab.IXLANIf} {
		if !strings.Contains(out, name) {
			t.Errorf("IX namespace lacks interface %s:\n%s", name, out)
		}
	}
}

// TestLabCloseRemovesEverything starts a cooperative process and one that
// ignores SIGTERM, closes the lab and checks that both processes and all
// namespaces are gone.
func TestLabCloseRemovesEverything(t *testing.T) {
	nslab.Require(t)
	lab, err := nslab.New("sxclose", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	a, err := lab.Namespace("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.Namespace("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(a, "veth-a", "192.0.2.1/24", b, "veth-b", "192.0.2.2/24"); err != nil {
		t.Fatal(err)
	}
	polite, err := a.Start("sleep", nil, "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	stubborn, err := b.Start("stubborn", nil, "sh", "-c", `trap "" TERM; echo ready; sleep 300 & wait`)
	if err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(5*time.Second, "stubborn ready", func() error {
		if !strings.Contains(stubborn.Log(), "ready") {
			return fmt.Errorf("log is %q", stubborn.Log())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	for _, p := range []*nslab.Proc{polite, stubborn} {
		if exited, _ := p.Exited(); !exited {
			t.Errorf("%s (pid %d) still running after Close", p.Name, p.Pid())
		}
		if err := syscall.Kill(p.Pid(), 0); err == nil {
			t.Errorf("%s: pid %d still exists", p.Name, p.Pid())
		}
	}
	assertNoNamespaces(t, a.Name, b.Name)
}

// TestLabSweepsStaleNamespaces leaves a namespace named as a dead process's
// lab would, with a process inside, and checks New removes both.
func TestLabSweepsStaleNamespaces(t *testing.T) {
	nslab.Require(t)
	deadPid := findUnusedPid(t)
	stale := fmt.Sprintf("sxstale-%d-1-x", deadPid)
	if out, err := runIP("netns", "add", stale); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { runIP("netns", "delete", stale) })
	// A process left inside it, as a killed test would leave charon.
	out, err := runIP("netns", "exec", stale, "sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("pid %q: %v", out, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })

	lab, err := nslab.New("sxstale", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	assertNoNamespaces(t, stale)
	if err := nslab.WaitFor(5*time.Second, "stale process gone", func() error {
		if err := syscall.Kill(pid, 0); err == nil {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func findUnusedPid(t *testing.T) int {
	for pid := 4_000_000; pid > 3_000_000; pid -= 7 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Fatal("no unused pid found")
	return 0
}

func assertNoNamespaces(t *testing.T, names ...string) {
	t.Helper()
	out, err := runIP("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == name {
				t.Errorf("namespace %s still exists", name)
			}
		}
	}
}

// runIP runs ip with args and returns its combined output.
func runIP(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	return string(out), err
}

// TestSoftIXDaemonInLab starts soft-ix with the seed's static config in the
// IX namespace through nslab.StartSoftIXDaemon, reads its running config
// over the control socket and stops it with SIGTERM: the path later tests
// take to run soft-ix against strongSwan, BIRD and itself.
func TestSoftIXDaemonInLab(t *testing.T) {
	lab := nslab.NewForTest(t, "sxdaemon")
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("testdata/ix-static-lab.conf")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{
		Name: "ix", Config: string(conf), Map: nslab.IXSideMap(),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ix.Command("show", "running-config")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ip route 172.16.0.0/16 Tunnel0.0", "ikev2 peer 198.51.100.6"} {
		if !strings.Contains(out, want) {
			t.Errorf("running-config lacks %q:\n%s", want, out)
		}
	}
	if err := ix.Proc.SignalWait(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Proc.Exited(); err != nil {
		t.Errorf("soft-ix exit after SIGTERM: %v\n%s", err, ix.Proc.Log())
	}
}

// TestWaitForFailsFastOnACrashedPeer starts a peer that dies at once with
// an error, and checks that a 30-second wait for it gives up within a few
// seconds, naming the process and quoting its log, while a peer that was
// signalled on purpose is not taken for a crash.
func TestWaitForFailsFastOnACrashedPeer(t *testing.T) {
	lab := nslab.NewForTest(t, "sxcrash")
	ns, err := lab.Namespace("a")
	if err != nil {
		t.Fatal(err)
	}
	killed, err := ns.Start("killed", nil, "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	if err := killed.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-killed.Done()
	if err := nslab.WaitFor(time.Second, "nothing", func() error { return errors.New("never") }); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("after a deliberate kill: %v, want a plain timeout", err)
	}

	if _, err := ns.Start("peer", nil, "sh", "-c", "echo 'configured DH group MODP_1024 not supported'; exit 3"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = nslab.WaitFor(30*time.Second, "the tunnel", func() error { return errors.New("not up") })
	if err == nil || !strings.Contains(err.Error(), "peer@a exited") || !strings.Contains(err.Error(), "MODP_1024 not supported") {
		t.Fatalf("WaitFor = %v, want the crash with the peer's log", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WaitFor took %v to notice the crash", d)
	}
}
