package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// TestESPAgainstStrongSwan checks soft-ix's UDP-encapsulated ESP against
// strongSwan's userspace ESP (kernel-libipsec) byte for byte, before soft-ix
// speaks IKE: two charon instances negotiate a Child SA, B's charon logs
// the Child SA keys (chd level 4), B's charon is killed without a DELETE,
// and esppeer takes over B's side of the SA with those keys and SPIs. A
// ping from A's LAN then crosses strongSwan's ESP in one direction and
// soft-ix's in the other. (kernel-libipsec refuses ESN proposals, so ESN
// is covered by the unit tests and the RFC 4106 ESN vector only.)
func TestESPAgainstStrongSwan(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl", "ping")
	bin := espBuildPeer(t)
	for i, suite := range []string{"aes256-sha256", "aes256gcm16"} {
		t.Run(suite, func(t *testing.T) {
			l := espNet(t, fmt.Sprintf("s%d", i))
			l.binary = bin
			dir := t.TempDir()
			a := startESPCharon(t, l, dir, "A", l.a, "192.0.2.1", "192.0.2.2", suite)
			b := startESPCharon(t, l, dir, "B", l.b, "192.0.2.2", "192.0.2.1", suite)
			a.ctl(t, "--load-all", "--file", a.swanctl)
			b.ctl(t, "--load-all", "--file", b.swanctl)
			a.ctl(t, "--initiate", "--child", "lab-child", "--timeout", "20")
			for _, ns := range []string{l.a, l.b} {
				for exec.Command("ip", "-n", ns, "rule", "del", "lookup", "220").Run() == nil {
				}
			}
			l.tunnelUp(l.a, "ipsec0", "172.16.0.0/16", "192.168.2.1")

			// B is the responder: initiator keys protect A -> B.
			sas := b.ctl(t, "--list-sas")
			spiIn, spiOut := espSASPI(t, sas, "in"), espSASPI(t, sas, "out")
			log, err := os.ReadFile(b.log)
			if err != nil {
				t.Fatal(err)
			}
			ei, er := espLogKey(t, log, "encryption initiator key"), espLogKey(t, log, "encryption responder key")
			ii, ir := "", ""
			if !strings.Contains(suite, "gcm") {
				ii, ir = espLogKey(t, log, "integrity initiator key"), espLogKey(t, log, "integrity responder key")
			}
			b.kill()

			l.startPeer(l.b, "-udp", "-local", "192.0.2.2", "-remote", "192.0.2.1", "-suite", suite,
				"-spi-in", spiIn, "-spi-out", spiOut, "-key-in", ei, "-ikey-in", ii, "-key-out", er, "-ikey-out", ir)
			l.tunnelUp(l.b, "Tunnel0.0", "192.168.2.0/24", "172.16.1.4")

			out := espRun(t, "ip", "netns", "exec", l.a, "ping", "-c", "5", "-i", "0.2", "-W", "2", "-s", "1000",
				"-I", "192.168.2.1", "172.16.1.4")
			if !strings.Contains(out, " 0% packet loss") {
				t.Fatalf("ping through strongSwan <-> soft-ix lost packets:\n%s", out)
			}
			reports := l.stop()
			if len(reports) != 1 {
				t.Fatalf("no counter report from esppeer")
			}
			r := reports[0]
			if r["inbound"]["Packets"] < 5 || r["outbound"]["Packets"] < 5 {
				t.Fatalf("esppeer counters %v", r)
			}
			for k, v := range r["inbound"] {
				if k != "Packets" && k != "Octets" && v != 0 {
					t.Errorf("inbound %s = %d", k, v)
				}
			}
		})
	}
}

type espCharon struct {
	name, conf, swanctl, vici, log string
	cmd                            *exec.Cmd
}

func startESPCharon(t *testing.T, l *espLab, dir, name, ns, local, remote, suite string) *espCharon {
	c := &espCharon{
		name:    name,
		conf:    filepath.Join(dir, name+".conf"),
		swanctl: filepath.Join(dir, name+"-swanctl.conf"),
		vici:    "unix://" + filepath.Join(dir, name+".vici"),
		log:     filepath.Join(dir, name+"-charon.log"),
	}
	conf, err := nslab.CharonConf{ViciURI: c.vici, LogPath: c.log, Plugins: []string{"gcm"},
		LogLevels: map[string]int{"default": 1, "chd": 4}}.Text()
	if err != nil {
		t.Fatal(err)
	}
	swanctl, err := nslab.StrongSwanConfig{Name: "lab", LocalAddr: local, RemoteAddr: remote, PSK: "esp-interop-psk",
		IKEProposals: "aes256-sha256-modp2048", ESPProposals: suite}.SwanctlConf()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.swanctl, []byte(swanctl), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("ip", "netns", "exec", ns, "env", "STRONGSWAN_CONF="+c.conf, "charon-systemd")
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.kill)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := c.try("--stats"); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("charon %s: vici socket does not answer", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *espCharon) try(command string, args ...string) (string, error) {
	cmd := exec.Command("swanctl", append([]string{command, "--uri", c.vici}, args...)...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+c.conf)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *espCharon) ctl(t *testing.T, command string, args ...string) string {
	t.Helper()
	out, err := c.try(command, args...)
	if err != nil {
		t.Fatalf("swanctl %s (%s): %v\n%s", command, c.name, err, out)
	}
	return out
}

// kill ends charon at once, so it sends no DELETE to its peer.
func (c *espCharon) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		c.cmd = nil
	}
}

// espSASPI finds the inbound or outbound SPI in `swanctl --list-sas` output.
func espSASPI(t *testing.T, sas, dir string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+` + dir + `\s+([0-9a-f]{8})`).FindStringSubmatch(sas)
	if m == nil {
		t.Fatalf("no %s SPI in:\n%s", dir, sas)
	}
	return "0x" + m[1]
}

// espLogKey reads a key hex dump that charon logs at chd level 4:
//
//	11[CHD] encryption initiator key => 36 bytes @ 0x7f...
//	11[CHD]    0: DE 93 24 1B ...  ascii
func espLogKey(t *testing.T, log []byte, what string) string {
	t.Helper()
	lines := strings.Split(string(log), "\n")
	head := regexp.MustCompile(regexp.QuoteMeta(what) + ` => (\d+) bytes`)
	row := regexp.MustCompile(`\]\s+\d+: ((?:[0-9A-F]{2} )+)`)
	for i, line := range lines {
		m := head.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		var hex strings.Builder
		for _, r := range lines[i+1:] {
			rm := row.FindStringSubmatch(r)
			if rm == nil || hex.Len() >= 2*n {
				break
			}
			hex.WriteString(strings.ReplaceAll(rm[1], " ", ""))
		}
		if hex.Len() < 2*n {
			t.Fatalf("%s: short hex dump", what)
		}
		return strings.ToLower(hex.String()[:2*n])
	}
	t.Fatalf("charon logged no %q (chd level 4)", what)
	return ""
}
