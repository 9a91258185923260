package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// espLab is two namespaces joined by a veth pair, each running esppeer
// (integration/cmd/esppeer) with a static SA pair.
type espLab struct {
	t      *testing.T
	a, b   string
	peers  []*exec.Cmd
	outs   []*strings.Builder
	binary string
}

func espRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func espHexKey(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func espBuildPeer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "esppeer")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/soft-ix/soft-ix/integration/cmd/esppeer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build esppeer: %v\n%s", err, out)
	}
	return bin
}

// espNet builds two namespaces espA<tag> / espB<tag> joined by a veth pair
// (outer 192.0.2.1 / 192.0.2.2) with the LAN addresses 192.168.2.1 and
// 172.16.1.4 on their loopbacks.
func espNet(t *testing.T, tag string) *espLab {
	l := &espLab{t: t, a: newNetns(t, "espA"+tag), b: newNetns(t, "espB"+tag)}
	t.Cleanup(l.down) // after newNetns: stops the peers before the namespaces go
	va, vb := "espva"+tag, "espvb"+tag
	espRun(t, "ip", "link", "add", va, "netns", l.a, "type", "veth", "peer", "name", vb, "netns", l.b)
	espRun(t, "ip", "-n", l.a, "addr", "add", "192.0.2.1/24", "dev", va)
	espRun(t, "ip", "-n", l.b, "addr", "add", "192.0.2.2/24", "dev", vb)
	for _, c := range [][]string{{l.a, va}, {l.b, vb}} {
		espRun(t, "ip", "-n", c[0], "link", "set", c[1], "up")
	}
	espRun(t, "ip", "-n", l.a, "addr", "add", "192.168.2.1/32", "dev", "lo")
	espRun(t, "ip", "-n", l.b, "addr", "add", "172.16.1.4/32", "dev", "lo")
	return l
}

// startPeer starts esppeer in namespace ns with args.
func (l *espLab) startPeer(ns string, args ...string) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, l.binary}, args...)...)
	out := new(strings.Builder)
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.peers = append(l.peers, cmd)
	l.outs = append(l.outs, out)
}

// tunnelUp waits for dev in ns, sets it up and routes prefix into it.
func (l *espLab) tunnelUp(ns, dev, prefix, src string) {
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("ip", "-n", ns, "link", "show", dev).Run() != nil {
		if time.Now().After(deadline) {
			l.t.Fatalf("%s did not appear in %s", dev, ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	espRun(l.t, "ip", "-n", ns, "link", "set", dev, "up")
	espRun(l.t, "ip", "-n", ns, "route", "replace", prefix, "dev", dev, "src", src)
}

// newESPLab builds the topology with namespace names prefixed esp
// (espA<tag>, espB<tag>) and starts both peers with suite over raw ESP or
// UDP 4500.
func newESPLab(t *testing.T, bin, tag, suite string, udp bool, extra ...string) *espLab {
	l := espNet(t, tag)
	l.binary = bin
	ek, ik := 32, 32
	if strings.Contains(suite, "gcm") {
		ek, ik = 36, 0
	}
	kab, kba, iab, iba := espHexKey(ek), espHexKey(ek), espHexKey(ik), espHexKey(ik)
	start := func(ns, local, remote, spiOut, spiIn, ko, io, ki, ii string) {
		args := []string{"-local", local, "-remote", remote, "-suite", suite,
			"-spi-out", spiOut, "-spi-in", spiIn, "-key-out", ko, "-ikey-out", io, "-key-in", ki, "-ikey-in", ii}
		if udp {
			args = append(args, "-udp")
		}
		l.startPeer(ns, append(args, extra...)...)
	}
	start(l.a, "192.0.2.1", "192.0.2.2", "0x1001", "0x2002", kab, iab, kba, iba)
	start(l.b, "192.0.2.2", "192.0.2.1", "0x2002", "0x1001", kba, iba, kab, iab)
	l.tunnelUp(l.a, "Tunnel0.0", "172.16.0.0/16", "192.168.2.1")
	l.tunnelUp(l.b, "Tunnel0.0", "192.168.2.0/24", "172.16.1.4")
	return l
}

// stop ends the peers and returns their counter reports.
func (l *espLab) stop() []map[string]map[string]uint64 {
	var reports []map[string]map[string]uint64
	for i, p := range l.peers {
		p.Process.Signal(syscall.SIGTERM)
		p.Wait()
		var r map[string]map[string]uint64
		if err := json.Unmarshal([]byte(l.outs[i].String()), &r); err == nil {
			reports = append(reports, r)
		}
	}
	l.peers = nil
	return reports
}

func (l *espLab) down() {
	for _, p := range l.peers {
		p.Process.Kill()
		p.Wait()
	}
	l.peers = nil
	exec.Command("ip", "netns", "del", l.a).Run()
	exec.Command("ip", "netns", "del", l.b).Run()
}

func TestESPPingRawAndUDP(t *testing.T) {
	nslab.Require(t, "ping")
	bin := espBuildPeer(t)
	for i, c := range []struct {
		suite string
		udp   bool
	}{{"aes256-sha256", false}, {"aes256-sha256", true}, {"aes256gcm16", false}, {"aes256gcm16", true}} {
		t.Run(fmt.Sprintf("%s/udp=%v", c.suite, c.udp), func(t *testing.T) {
			l := newESPLab(t, bin, fmt.Sprint(i), c.suite, c.udp)
			out := espRun(t, "ip", "netns", "exec", l.a, "ping", "-c", "5", "-i", "0.2", "-W", "2",
				"-I", "192.168.2.1", "172.16.1.4")
			if !strings.Contains(out, " 0% packet loss") {
				t.Fatalf("ping lost packets:\n%s", out)
			}
			// A large ping crosses too (fills the TUN MTU).
			espRun(t, "ip", "netns", "exec", l.a, "ping", "-c", "2", "-i", "0.2", "-W", "2", "-s", "1300",
				"-I", "192.168.2.1", "172.16.1.4")
			reports := l.stop()
			if len(reports) != 2 {
				t.Fatalf("counter reports: %d", len(reports))
			}
			for _, r := range reports {
				if r["outbound"]["Packets"] < 7 || r["inbound"]["Packets"] < 7 {
					t.Errorf("counters %v", r)
				}
				for k, v := range r["inbound"] {
					if k != "Packets" && k != "Octets" && v != 0 {
						t.Errorf("inbound %s = %d", k, v)
					}
				}
			}
		})
	}
}

// TestESPPreFragment runs the tunnels with "ip mtu 1500" over a 1500-byte
// outer path: with pre-fragment a DF packet gets ICMP fragmentation needed
// with the inner MTU that fits, and a fragmentable one crosses in pieces.
func TestESPPreFragment(t *testing.T) {
	nslab.Require(t, "ping")
	bin := espBuildPeer(t)
	l := newESPLab(t, bin, "f", "aes256gcm16", true, "-mtu", "1500", "-pre-fragment")
	out, _ := exec.Command("ip", "netns", "exec", l.a, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1472",
		"-I", "192.168.2.1", "172.16.1.4").CombinedOutput()
	// 1500 - IPv4 20 - UDP 8 - ESP 8 - IV 8 - ICV 16 = 1440, minus the
	// 2-byte trailer on a 4-byte boundary: 1438.
	if !strings.Contains(string(out), "Frag needed and DF set (mtu = 1438)") {
		t.Fatalf("no fragmentation-needed with mtu 1438:\n%s", out)
	}
	out2 := espRun(t, "ip", "netns", "exec", l.a, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-M", "dont", "-s", "3000",
		"-I", "192.168.2.1", "172.16.1.4")
	if !strings.Contains(out2, " 0% packet loss") {
		t.Fatalf("fragmented ping lost packets:\n%s", out2)
	}
}
