package integration

// Test-only helpers for the ike interop tests: a two-namespace lab
// (prefix "ism"), charon-systemd with kernel-libipsec, and the ikepeer
// program (integration/cmd/ikepeer) that runs a soft-ix ike.Manager with a
// recording data plane and dumps its SA state as JSON.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/integration/nslab"
)

const (
	ismAddrA = "192.0.2.1" // soft-ix
	ismAddrB = "192.0.2.2" // strongSwan or a second soft-ix
	ismPSK   = "P@ssw0rd1234"
)

var ismSeq atomic.Int32

// ismLab is two namespaces joined by a veth pair: A=192.0.2.1, B=192.0.2.2.
type ismLab struct {
	t      *testing.T
	dir    string
	nsA    string
	nsB    string
	procs  []*exec.Cmd
	logs   []string
	closed bool
}

func newISMLab(t *testing.T) *ismLab {
	t.Helper()
	n := fmt.Sprintf("ism%d%d", os.Getpid()%1000, ismSeq.Add(1))
	l := &ismLab{t: t, dir: t.TempDir(), nsA: newNetns(t, n+"a"), nsB: newNetns(t, n+"b")}
	t.Cleanup(l.close) // after newNetns: stops the processes before the namespaces go
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("link", "add", n+"va", "netns", l.nsA, "type", "veth", "peer", "name", n+"vb", "netns", l.nsB)
	run("-n", l.nsA, "addr", "add", ismAddrA+"/24", "dev", n+"va")
	run("-n", l.nsB, "addr", "add", ismAddrB+"/24", "dev", n+"vb")
	run("-n", l.nsA, "link", "set", n+"va", "up")
	run("-n", l.nsB, "link", "set", n+"vb", "up")
	return l
}

func (l *ismLab) close() {
	if l.closed {
		return
	}
	l.closed = true
	for _, p := range l.procs {
		if p.Process != nil {
			p.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range l.procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	if l.t.Failed() {
		for _, f := range l.logs {
			b, _ := os.ReadFile(f)
			lines := strings.Split(string(b), "\n")
			if len(lines) > 80 {
				lines = lines[len(lines)-80:]
			}
			l.t.Logf("---- %s ----\n%s", filepath.Base(f), strings.Join(lines, "\n"))
		}
	}
	exec.Command("ip", "netns", "del", l.nsA).Run()
	exec.Command("ip", "netns", "del", l.nsB).Run()
}

// start runs a command in namespace ns with output to a log file.
func (l *ismLab) start(ns, name string, env []string, args ...string) *exec.Cmd {
	l.t.Helper()
	logPath := filepath.Join(l.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	f.Close()
	l.procs = append(l.procs, cmd)
	l.logs = append(l.logs, logPath)
	return cmd
}

func (l *ismLab) stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	for i, p := range l.procs {
		if p == cmd {
			l.procs = append(l.procs[:i], l.procs[i+1:]...)
			break
		}
	}
}

var (
	ikepeerOnce sync.Once
	ikepeerPath string
	ikepeerErr  error
)

// ikepeerBinary builds integration/cmd/ikepeer once per test run, into one
// fixed file per user that each run overwrites (nothing piles up in /tmp).
func ikepeerBinary(t *testing.T) string {
	t.Helper()
	ikepeerOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("ismpeer-%d", os.Getuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			ikepeerErr = err
			return
		}
		ikepeerPath = filepath.Join(dir, "ikepeer")
		out, err := exec.Command("go", "build", "-o", ikepeerPath, "github.com/soft-ix/soft-ix/integration/cmd/ikepeer").CombinedOutput()
		if err != nil {
			ikepeerErr = fmt.Errorf("go build ikepeer: %v\n%s", err, out)
		}
	})
	if ikepeerErr != nil {
		t.Fatal(ikepeerErr)
	}
	return ikepeerPath
}

// softIX is a running ikepeer.
type softIX struct {
	cmd   *exec.Cmd
	state string
	log   string
}

// peerState mirrors ikepeer's JSON.
type peerState struct {
	IKE   []ike.IKESAInfo   `json:"ike"`
	Child []ike.ChildSAInfo `json:"child"`
	DP    []struct {
		SPI      uint32 `json:"spi"`
		Inbound  bool   `json:"inbound"`
		UDPEncap bool   `json:"udp_encap"`
	} `json:"dp"`
	Outbound map[string]uint32 `json:"outbound"`
}

func (l *ismLab) startSoftIX(ns, name string, args ...string) *softIX {
	l.t.Helper()
	s := &softIX{state: filepath.Join(l.dir, name+".json"), log: filepath.Join(l.dir, name+".log")}
	args = append([]string{ikepeerBinary(l.t), "-state", s.state, "-v"}, args...)
	s.cmd = l.start(ns, name, nil, args...)
	return s
}

func (s *softIX) read() peerState {
	var st peerState
	b, err := os.ReadFile(s.state)
	if err == nil {
		json.Unmarshal(b, &st)
	}
	return st
}

// established returns the established IKE SAs.
func (st peerState) established() []ike.IKESAInfo {
	var out []ike.IKESAInfo
	for _, sa := range st.IKE {
		if sa.State == ike.StateEstablished {
			out = append(out, sa)
		}
	}
	return out
}

func (s *softIX) logText() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// charon is a running charon-systemd with its own config and vici socket.
type charon struct {
	lab  *ismLab
	ns   string
	vici string
	log  string
	conf string
}

// charonConn is the swanctl connection of the tests.
type charonConn struct {
	Local, Remote  string
	PSK            string
	IKE, ESP       string // proposals
	Initiate       bool
	IKERekey       time.Duration
	ChildRekey     time.Duration
	DPD            time.Duration
	ReauthDisabled bool
	FragmentSize   int // charon.fragment_size; 0: default
}

func (l *ismLab) startCharon(ns string, c charonConn) *charon {
	l.t.Helper()
	ch := &charon{lab: l, ns: ns, vici: "unix://" + filepath.Join(l.dir, "charon.vici"),
		log: filepath.Join(l.dir, "charon-file.log"), conf: filepath.Join(l.dir, "swanctl.conf")}
	// Retransmit quickly and give up soon: the tests wait for failures.
	settings := []string{"retransmit_timeout = 1.0", "retransmit_tries = 3"}
	if c.FragmentSize != 0 {
		settings = append(settings, fmt.Sprintf("fragment_size = %d", c.FragmentSize))
	}
	ssconf, err := nslab.CharonConf{ViciURI: ch.vici, LogPath: ch.log, Settings: settings,
		LogLevels: map[string]int{"default": 1, "ike": 2, "cfg": 1, "enc": 1}}.Text()
	if err != nil {
		l.t.Fatal(err)
	}
	sspath := filepath.Join(l.dir, "strongswan.conf")
	if err := os.WriteFile(sspath, []byte(ssconf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.writeSwanctl(ch, c)
	l.start(ns, "charon", []string{"STRONGSWAN_CONF=" + sspath}, "charon-systemd")
	l.logs = append(l.logs, ch.log)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := ch.swanctl("--stats"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			l.t.Fatal("charon did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := ch.swanctl("--load-all", "--file", ch.conf); err != nil {
		l.t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
	return ch
}

// writeSwanctl writes nslab's swanctl.conf for c: connection "ism",
// Child SA "ism-child", no rekeying unless asked for.
func (l *ismLab) writeSwanctl(ch *charon, c charonConn) {
	conf, err := nslab.StrongSwanConfig{
		Name: "ism", LocalAddr: c.Local, RemoteAddr: c.Remote, PSK: c.PSK,
		IKEProposals: c.IKE, ESPProposals: c.ESP, Initiate: c.Initiate,
		IKERekeyTime: c.IKERekey, ChildRekeyTime: c.ChildRekey, NoRekey: true, DPDDelay: c.DPD,
	}.SwanctlConf()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(ch.conf, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (c *charon) swanctl(args ...string) (string, error) {
	full := append([]string{"netns", "exec", c.ns, "swanctl"}, args[0])
	full = append(full, "--uri", c.vici)
	full = append(full, args[1:]...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	return string(out), err
}

// charonSA is what the tests read from "swanctl --list-sas".
type charonSA struct {
	IKEEstablished int
	SPIi, SPIr     string
	Children       []charonChild
	Text           string
}

type charonChild struct {
	State    string // INSTALLED, REKEYED, DELETED...
	Mode     string // TUNNEL-in-UDP
	In, Out  string // SPIs
	Proposal string
}

var (
	reIKE   = regexp.MustCompile(`(?m)^\S+: #\d+, (\w+), IKEv2, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r`)
	reChild = regexp.MustCompile(`(?m)^\s+\S+: #\d+, reqid \d+, (\w+), ([\w-]+), ESP:(\S+)\n(?:.*\n)*?\s+in\s+([0-9a-f]{8}).*\n\s+out\s+([0-9a-f]{8})`)
)

func (c *charon) listSAs() charonSA {
	out, _ := c.swanctl("--list-sas")
	var sa charonSA
	sa.Text = out
	for _, m := range reIKE.FindAllStringSubmatch(out, -1) {
		if m[1] == "ESTABLISHED" {
			sa.IKEEstablished++
			sa.SPIi, sa.SPIr = m[2], m[3]
		}
	}
	for _, m := range reChild.FindAllStringSubmatch(out, -1) {
		sa.Children = append(sa.Children, charonChild{State: m[1], Mode: m[2], Proposal: m[3], In: m[4], Out: m[5]})
	}
	return sa
}

func (s charonSA) installed() []charonChild {
	var out []charonChild
	for _, c := range s.Children {
		if c.State == "INSTALLED" {
			out = append(out, c)
		}
	}
	return out
}

// waitFor polls cond every 100 ms until it returns nil or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkPairUp checks one IKE SA and one installed Child SA on both sides
// with matching SPIs, and UDP encapsulation on soft-ix (charon with
// kernel-libipsec always encapsulates).
func checkPairUp(s *softIX, c *charon) error {
	st := s.read()
	cs := c.listSAs()
	est := st.established()
	if len(est) != 1 || cs.IKEEstablished != 1 {
		return fmt.Errorf("IKE SAs: soft-ix %d established, charon %d", len(est), cs.IKEEstablished)
	}
	if fmt.Sprintf("%016x", est[0].SPIi) != cs.SPIi || fmt.Sprintf("%016x", est[0].SPIr) != cs.SPIr {
		return fmt.Errorf("IKE SPIs differ: soft-ix %016x/%016x charon %s/%s", est[0].SPIi, est[0].SPIr, cs.SPIi, cs.SPIr)
	}
	inst := cs.installed()
	if len(inst) != 1 {
		return fmt.Errorf("charon has %d installed Child SAs:\n%s", len(inst), cs.Text)
	}
	var out ike.ChildSAInfo
	n := 0
	for _, ch := range st.Child {
		if ch.Outbound {
			out = ch
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("soft-ix has %d outbound Child SAs", n)
	}
	if fmt.Sprintf("%08x", out.OutSPI) != inst[0].In || fmt.Sprintf("%08x", out.InSPI) != inst[0].Out {
		return fmt.Errorf("Child SPIs: soft-ix in %08x out %08x, charon in %s out %s", out.InSPI, out.OutSPI, inst[0].In, inst[0].Out)
	}
	if inst[0].Mode != "TUNNEL-in-UDP" || !out.UDPEncap {
		return fmt.Errorf("encapsulation: charon %s, soft-ix UDPEncap=%v", inst[0].Mode, out.UDPEncap)
	}
	for _, d := range st.DP {
		if !d.UDPEncap {
			return fmt.Errorf("data plane SA %08x without UDPEncap", d.SPI)
		}
	}
	return nil
}
