package integration

// Helpers for the namespace interop tests (interop_*_test.go): the real
// soft-ix daemon binary in the seed scenario of nslab (namespace prefix
// "iop...") against strongSwan charon (kernel-libipsec, so ESP in UDP
// 4500), BIRD 2 and a second soft-ix. Every name starts with "iop".

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// iopTools are the commands every interop test with charon needs.
var iopTools = []string{"charon-systemd", "swanctl", "ping"}

// iopLab is the seed scenario with the soft-ix daemon as the IX.
type iopLab struct {
	t   *testing.T
	lab *nslab.Lab
	s   *nslab.Scenario
	ix  *nslab.SoftIX
}

// iopNewLab builds the seed scenario in namespaces named "<prefix>-...".
func iopNewLab(t *testing.T, prefix string, tools ...string) *iopLab {
	t.Helper()
	lab := nslab.NewForTest(t, prefix, append(append([]string{}, iopTools...), tools...)...)
	softIXBinary(t) // build (or find) it before any timing starts
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &iopLab{t: t, lab: lab, s: s}
}

// iopIXConf is the IX configuration a test runs; its zero value (after
// defaults) is the seed's ix-static.conf on the lab's addresses.
type iopIXConf struct {
	Enc, Integ, DH       string // sa-proposal lists (IX keywords, space separated)
	ChildEnc, ChildInteg string // child-proposal lists
	SALifetime           int    // seconds; 0 leaves it unset (IX default)
	ChildLifetime        int    // seconds; 0 means the seed's 3600
	ChildPFS             string // child-pfs DH group (IX keyword, e.g. "1024-bit"); "" none
	DPD                  int    // dpd interval in seconds; 0 unset
	PSK                  string // default the seed's
	// Responder leaves out "ikev2 connect-type auto" and sets
	// "ikev2 negotiation-direction responder".
	Responder bool
	// NATKeepalive is the argument of "ikev2 nat-traversal keepalive".
	NATKeepalive string
	// BGP adds Loopback0.0 and the seed's router bgp, routing only
	// 172.16.0.6/32 statically into the tunnel (ix-bgp.conf).
	BGP bool
	// Args are extra soft-ix flags for the IX daemon.
	Args []string
	// Env are extra environment variables for the IX daemon.
	Env []string
}

// text renders c as IX configuration.
func (c iopIXConf) text() string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hostname iop-ix\nikev2 authentication psk id ipv4 %s key char %s\n!\n",
		nslab.AzurePublicAddr, def(c.PSK, nslab.SeedPSK))
	b.WriteString("ikev2 default-profile\n")
	fmt.Fprintf(&b, "  sa-proposal enc %s\n", def(c.Enc, "aes-cbc-256"))
	fmt.Fprintf(&b, "  sa-proposal integrity %s\n", def(c.Integ, "sha1"))
	fmt.Fprintf(&b, "  sa-proposal dh %s\n", def(c.DH, "1024-bit"))
	if c.SALifetime > 0 {
		fmt.Fprintf(&b, "  sa-lifetime %d\n", c.SALifetime)
	}
	fmt.Fprintf(&b, "  child-proposal enc %s\n", def(c.ChildEnc, "aes-cbc-256"))
	fmt.Fprintf(&b, "  child-proposal integrity %s\n", def(c.ChildInteg, "sha2-256"))
	lt := c.ChildLifetime
	if lt == 0 {
		lt = 3600
	}
	fmt.Fprintf(&b, "  child-lifetime %d\n", lt)
	if c.ChildPFS != "" {
		fmt.Fprintf(&b, "  child-pfs %s\n", c.ChildPFS)
	}
	if c.DPD > 0 {
		fmt.Fprintf(&b, "  dpd interval %d\n", c.DPD)
	}
	b.WriteString("!\ninterface GigaEthernet0.0\n  ip address 203.0.113.94/24\n  no shutdown\n!\n")
	b.WriteString("interface GigaEthernet1.0\n  ip address 192.168.2.1/24\n  no shutdown\n!\n")
	if c.BGP {
		b.WriteString("interface Loopback0.0\n  ip address 10.2.2.2/32\n!\n")
	}
	b.WriteString("interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss auto\n")
	if c.Responder {
		b.WriteString("  ikev2 negotiation-direction responder\n")
	} else {
		b.WriteString("  ikev2 connect-type auto\n")
	}
	b.WriteString("  ikev2 ipsec pre-fragment\n")
	if c.NATKeepalive != "" {
		fmt.Fprintf(&b, "  ikev2 nat-traversal keepalive %s\n", c.NATKeepalive)
	}
	fmt.Fprintf(&b, "  ikev2 peer %[1]s authentication psk id ipv4 %[1]s\n  no shutdown\n!\n", nslab.AzurePublicAddr)
	if c.BGP {
		b.WriteString("router bgp 65050\n  neighbor 172.16.0.6 remote-as 65010\n  neighbor 172.16.0.6 update-source Loopback0.0\n" +
			"  address-family ipv4 unicast\n    network 192.168.2.0/24\n!\nip route 172.16.0.6/32 Tunnel0.0\n")
	} else {
		b.WriteString("ip route 172.16.0.0/16 Tunnel0.0\n")
	}
	return b.String()
}

// startIX runs the soft-ix daemon as the IX with conf.
func (l *iopLab) startIX(conf iopIXConf) *nslab.SoftIX {
	l.t.Helper()
	return l.startIXWith(ixOptions(conf))
}

// ixOptions are the IX daemon's options for conf. Metrics listen on the
// namespace's loopback: drop counters explain a loss.
func ixOptions(conf iopIXConf) nslab.SoftIXOptions {
	return nslab.SoftIXOptions{
		Name: "ix", Config: conf.text(), Map: nslab.IXSideMap(), Args: append([]string{"--metrics", "127.0.0.1:9477"}, conf.Args...),
		Env: conf.Env,
	}
}

// startIXWith runs the soft-ix daemon as the IX with options o.
func (l *iopLab) startIXWith(o nslab.SoftIXOptions) *nslab.SoftIX {
	l.t.Helper()
	x, err := nslab.StartSoftIXDaemon(l.s.IX, o)
	if err != nil {
		l.t.Fatal(err)
	}
	l.ix = x
	l.lab.AddDumper("soft-ix show ikev2 child-sa (ix)", func() (string, error) {
		return x.Command("show", "ikev2", "child-sa")
	})
	return x
}

// iopAzure is charon standing in for Azure's gateway: the seed's
// parameters unless the test changes them.
func iopAzure() nslab.StrongSwanConfig { return nslab.AzureStrongSwanConfig() }

// startCharon starts and loads charon in the Azure namespace.
func (l *iopLab) startCharon(cfg nslab.StrongSwanConfig) *nslab.StrongSwan {
	l.t.Helper()
	return l.startCharonEdit(cfg, nil)
}

// startCharonEdit is startCharon with the generated swanctl.conf changed
// by edit (when not nil) before it is loaded, for settings nslab does not
// generate.
func (l *iopLab) startCharonEdit(cfg nslab.StrongSwanConfig, edit func(string) string) *nslab.StrongSwan {
	l.t.Helper()
	c, err := nslab.StartStrongSwan(l.s.Azure, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	if edit != nil {
		text, err := os.ReadFile(c.SwanctlPath)
		if err != nil {
			l.t.Fatal(err)
		}
		if err := os.WriteFile(c.SwanctlPath, []byte(edit(string(text))), 0o600); err != nil {
			l.t.Fatal(err)
		}
	}
	if err := c.Load(); err != nil {
		l.t.Fatal(err)
	}
	return c
}

// charonUp waits for charon's Child SA, makes its namespace route-based
// and routes the LAN into ipsec0.
func (l *iopLab) charonUp(c *nslab.StrongSwan, timeout time.Duration) {
	l.t.Helper()
	if err := c.Up(timeout, nslab.LANNet); err != nil {
		l.t.Fatal(err)
	}
}

// iopIKESA is what a test reads from soft-ix's "show ikev2 sa".
type iopIKESA struct {
	SPII, SPIR                  string // 16 hex digits each
	Serial                      int
	Direction                   string
	Enc, Hash, PRF, DH, NATT    string
	LocalAddr, PeerAddr, PeerID string
}

var iopSPIRe = regexp.MustCompile(`SPI \(I\)0x([0-9a-f]{16}) \(R\)0x([0-9a-f]{16})`)

// iopParseIKESAs reads the IKE SAs of "show ikev2 sa".
func iopParseIKESAs(out string) []iopIKESA {
	var sas []iopIKESA
	var cur *iopIKESA
	for _, line := range strings.Split(out, "\n") {
		if m := iopSPIRe.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "IKE SPI") {
			sas = append(sas, iopIKESA{SPII: m[1], SPIR: m[2]})
			cur = &sas[len(sas)-1]
			continue
		}
		k, v, ok := strings.Cut(line, " : ")
		if !ok || cur == nil {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Serial":
			cur.Serial, _ = strconv.Atoi(v)
		case "Direction":
			cur.Direction = v
		case "Enc alg":
			cur.Enc = v
		case "Hash alg":
			cur.Hash = v
		case "PRF alg":
			cur.PRF = v
		case "DH group":
			cur.DH = v
		case "NAT-T":
			cur.NATT = v
		case "Local Addr":
			cur.LocalAddr = v
		case "Peer Addr":
			cur.PeerAddr = v
		case "IKE Peer ID":
			cur.PeerID = v
		}
	}
	return sas
}

// iopChildSA is one entry of soft-ix's "show ikev2 child-sa".
type iopChildSA struct {
	Direction         string // "inbound" or "outbound"
	Enc, Hash         string
	IKESPII, IKESPIR  string
	OutPkts, InPkts   int64
	OutOcts, InOcts   int64
	InErrors, OutErrs int64 // sums of the error counters
}

var (
	iopOutRe = regexp.MustCompile(`Outbound (\d+) packets, (\d+) octets`)
	iopInRe  = regexp.MustCompile(`Inbound (\d+) packets, (\d+) octets`)
	iopNumRe = regexp.MustCompile(`(\d+) [a-z ]+`)
)

// iopParseChildSAs reads the Child SA entries of "show ikev2 child-sa".
func iopParseChildSAs(out string) []iopChildSA {
	var sas []iopChildSA
	var cur *iopChildSA
	section := ""
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "Interface "):
			sas = append(sas, iopChildSA{})
			cur = &sas[len(sas)-1]
			section = ""
		case cur == nil:
		case strings.HasPrefix(t, "IKE SPI"):
			if m := iopSPIRe.FindStringSubmatch(t); m != nil {
				cur.IKESPII, cur.IKESPIR = m[1], m[2]
			}
		case strings.HasPrefix(t, "Enc alg :"):
			cur.Enc = strings.TrimSpace(strings.TrimPrefix(t, "Enc alg :"))
		case strings.HasPrefix(t, "Hash alg :"):
			cur.Hash = strings.TrimSpace(strings.TrimPrefix(t, "Hash alg :"))
		case strings.HasPrefix(t, "Direction is "):
			cur.Direction = strings.TrimPrefix(t, "Direction is ")
		case iopOutRe.MatchString(t):
			m := iopOutRe.FindStringSubmatch(t)
			cur.OutPkts, _ = strconv.ParseInt(m[1], 10, 64)
			cur.OutOcts, _ = strconv.ParseInt(m[2], 10, 64)
			section = "out"
		case iopInRe.MatchString(t):
			m := iopInRe.FindStringSubmatch(t)
			cur.InPkts, _ = strconv.ParseInt(m[1], 10, 64)
			cur.InOcts, _ = strconv.ParseInt(m[2], 10, 64)
			section = "in"
		case section != "":
			for _, m := range iopNumRe.FindAllStringSubmatch(t, -1) {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				if section == "in" {
					cur.InErrors += n
				} else {
					cur.OutErrs += n
				}
			}
		}
	}
	return sas
}

// ikeSAs returns soft-ix's IKE SAs.
func (l *iopLab) ikeSAs(x *nslab.SoftIX) []iopIKESA {
	l.t.Helper()
	out, err := x.Command("show", "ikev2", "sa")
	if err != nil {
		l.t.Fatal(err)
	}
	return iopParseIKESAs(out)
}

// childSAs returns soft-ix's Child SAs.
func (l *iopLab) childSAs(x *nslab.SoftIX) []iopChildSA {
	l.t.Helper()
	out, err := x.Command("show", "ikev2", "child-sa")
	if err != nil {
		l.t.Fatal(err)
	}
	return iopParseChildSAs(out)
}

// iopCharonSAs is what a test reads from `swanctl --list-sas`.
type iopCharonSAs struct {
	IKE   []iopCharonIKE
	Child []iopCharonChild
}

type iopCharonIKE struct {
	SPII, SPIR string // 16 hex digits each
	Algs       string // "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"
	Local      bool   // charon is the initiator ("_i*")
}

type iopCharonChild struct {
	State   string // INSTALLED, REKEYED, ...
	Encap   string // TUNNEL-in-UDP
	Algs    string // "AES_CBC-256/HMAC_SHA2_256_128"
	InSPI   string
	OutSPI  string
	InPkts  int64
	OutPkts int64
}

var (
	iopSwanIKERe   = regexp.MustCompile(`^\S+: #\d+, (\w+), IKEv2, ([0-9a-f]{16})_i(\*?) ([0-9a-f]{16})_r`)
	iopSwanChildRe = regexp.MustCompile(`^\s+\S+: #\d+, reqid \d+, (\w+), ([\w-]+), ESP:(\S+)`)
	iopSwanInRe    = regexp.MustCompile(`^\s+in\s+([0-9a-f]{8})(?:_i)?[,\s].*?(\d+) packets`)
	iopSwanOutRe   = regexp.MustCompile(`^\s+out\s+([0-9a-f]{8})(?:_o)?[,\s].*?(\d+) packets`)
	iopSwanAlgRe   = regexp.MustCompile(`^\s+([A-Z0-9_-]+(?:/[A-Z0-9_-]+)+)\s*$`)
)

// iopParseSwanctl reads `swanctl --list-sas` output. Only ESTABLISHED IKE
// SAs are listed.
func iopParseSwanctl(out string) iopCharonSAs {
	var r iopCharonSAs
	var ike *iopCharonIKE
	var ch *iopCharonChild
	for _, line := range strings.Split(out, "\n") {
		if m := iopSwanIKERe.FindStringSubmatch(line); m != nil {
			ike, ch = nil, nil
			if m[1] == "ESTABLISHED" {
				r.IKE = append(r.IKE, iopCharonIKE{SPII: m[2], SPIR: m[4], Local: m[3] == "*"})
				ike = &r.IKE[len(r.IKE)-1]
			}
			continue
		}
		if m := iopSwanChildRe.FindStringSubmatch(line); m != nil {
			r.Child = append(r.Child, iopCharonChild{State: m[1], Encap: m[2], Algs: m[3]})
			ch = &r.Child[len(r.Child)-1]
			continue
		}
		if ch != nil {
			if m := iopSwanInRe.FindStringSubmatch(line); m != nil {
				ch.InSPI = m[1]
				ch.InPkts, _ = strconv.ParseInt(m[2], 10, 64)
				continue
			}
			if m := iopSwanOutRe.FindStringSubmatch(line); m != nil {
				ch.OutSPI = m[1]
				ch.OutPkts, _ = strconv.ParseInt(m[2], 10, 64)
				continue
			}
		}
		if ike != nil && ch == nil && ike.Algs == "" {
			if m := iopSwanAlgRe.FindStringSubmatch(line); m != nil {
				ike.Algs = m[1]
			}
		}
	}
	return r
}

// charonSAs returns charon's SAs.
func (l *iopLab) charonSAs(c *nslab.StrongSwan) iopCharonSAs {
	l.t.Helper()
	out, err := c.ListSAs()
	if err != nil {
		l.t.Fatal(err)
	}
	return iopParseSwanctl(out)
}

// iopInstalledRe matches soft-ix's log line for a new Child SA.
var iopInstalledRe = regexp.MustCompile(`Child SA installed.* in=([0-9a-f]{8}) out=([0-9a-f]{8})`)

// softIXChildSPIs returns the (inbound, outbound) ESP SPIs of every Child
// SA soft-ix installed so far, from its log, oldest first.
func iopSoftIXChildSPIs(x *nslab.SoftIX) [][2]string {
	var spis [][2]string
	for _, m := range iopInstalledRe.FindAllStringSubmatch(x.Proc.Log(), -1) {
		spis = append(spis, [2]string{m[1], m[2]})
	}
	return spis
}

// tunnelUp reports nil once soft-ix and charon agree: one IKE SA each with
// the same SPIs, a Child SA installed at charon whose SPIs soft-ix
// installed the other way round, and soft-ix showing an outbound one.
func (l *iopLab) tunnelUp(x *nslab.SoftIX, c *nslab.StrongSwan) error {
	out, err := x.Command("show", "ikev2", "sa")
	if err != nil {
		return err
	}
	sas := iopParseIKESAs(out)
	if len(sas) == 0 {
		return fmt.Errorf("soft-ix has no IKE SA")
	}
	cout, err := c.ListSAs()
	if err != nil {
		return err
	}
	cs := iopParseSwanctl(cout)
	if len(cs.IKE) == 0 {
		return fmt.Errorf("charon has no established IKE SA")
	}
	found := false
	for _, a := range sas {
		for _, b := range cs.IKE {
			found = found || (a.SPII == b.SPII && a.SPIR == b.SPIR)
		}
	}
	if !found {
		return fmt.Errorf("no IKE SA with the same SPIs: soft-ix %+v, charon %+v", sas, cs.IKE)
	}
	installed := iopSoftIXChildSPIs(x)
	ok := false
	for _, ch := range cs.Child {
		if ch.State != "INSTALLED" {
			continue
		}
		for _, s := range installed {
			ok = ok || (s[0] == ch.OutSPI && s[1] == ch.InSPI)
		}
	}
	if !ok {
		return fmt.Errorf("no Child SA installed on both sides: soft-ix (in,out) %v, charon %+v", installed, cs.Child)
	}
	cout, err = x.Command("show", "ikev2", "child-sa")
	if err != nil {
		return err
	}
	outb := false
	for _, ch := range iopParseChildSAs(cout) {
		outb = outb || ch.Direction == "outbound"
	}
	if !outb {
		return fmt.Errorf("soft-ix shows no outbound Child SA:\n%s", cout)
	}
	return nil
}

// waitTunnel waits until tunnelUp holds.
func (l *iopLab) waitTunnel(x *nslab.SoftIX, c *nslab.StrongSwan, timeout time.Duration) {
	l.t.Helper()
	if err := nslab.WaitFor(timeout, "soft-ix <-> charon tunnel", func() error {
		if done, err := x.Proc.Exited(); done {
			return fmt.Errorf("soft-ix exited: %v", err)
		}
		return l.tunnelUp(x, c)
	}); err != nil {
		l.t.Fatal(err)
	}
}

// waitPing waits until one ping from the LAN host to the VNet host is
// answered.
func (l *iopLab) waitPing(timeout time.Duration) {
	l.t.Helper()
	if err := nslab.WaitFor(timeout, "ping 192.168.2.10 -> 172.16.1.4", func() error {
		return l.s.LAN.Ping(nslab.VNetHostAddr, "", 1)
	}); err != nil {
		l.t.Fatal(err)
	}
}

// iopPingResult is the summary of a bounded ping run.
type iopPingResult struct {
	Sent, Received int
	// Missing lists the unanswered sequence numbers with the time the
	// previous answer arrived (zero when none did).
	Missing []iopMissing
	Output  string
	Err     error
}

// iopMissing is an unanswered ping.
type iopMissing struct {
	Seq   int
	After time.Time // arrival of the last answer before it
}

// Lost is the number of unanswered pings.
func (r iopPingResult) Lost() int { return r.Sent - r.Received }

var (
	iopPingSummaryRe = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
	iopPingReplyRe   = regexp.MustCompile(`(?m)^\[(\d+)\.(\d+)\] \d+ bytes from .*icmp_seq=(\d+) `)
)

// iopPing runs `ping -D -c count -i interval` from ns to dst in the
// background, bounded by count*interval plus ten seconds, and delivers the
// summary (with the sequence numbers never answered) on the channel.
func iopPing(ns *nslab.Namespace, dst string, count int, interval time.Duration) <-chan iopPingResult {
	ch := make(chan iopPingResult, 1)
	limit := time.Duration(count)*interval + 10*time.Second
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, "ping", "-n", "-D",
			"-c", strconv.Itoa(count), "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "1",
			"-w", strconv.Itoa(int(limit.Seconds())-2), dst)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		r := iopPingResult{Output: string(out), Err: err}
		if m := iopPingSummaryRe.FindStringSubmatch(r.Output); m != nil {
			r.Sent, _ = strconv.Atoi(m[1])
			r.Received, _ = strconv.Atoi(m[2])
		} else if r.Err == nil {
			r.Err = fmt.Errorf("no ping summary in %q", r.Output)
		}
		got := map[int]time.Time{}
		for _, m := range iopPingReplyRe.FindAllStringSubmatch(r.Output, -1) {
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			frac, _ := strconv.ParseFloat("0."+m[2], 64)
			seq, _ := strconv.Atoi(m[3])
			got[seq] = time.Unix(sec, int64(frac*1e9))
		}
		var last time.Time
		for seq := 1; seq <= r.Sent; seq++ {
			if at, ok := got[seq]; ok {
				last = at
				continue
			}
			r.Missing = append(r.Missing, iopMissing{seq, last})
		}
		ch <- r
	}()
	return ch
}

// iopWaitLog waits until the soft-ix log matches re.
func iopWaitLog(t *testing.T, x *nslab.SoftIX, timeout time.Duration, re *regexp.Regexp) {
	t.Helper()
	if err := nslab.WaitFor(timeout, "soft-ix log line "+re.String(), func() error {
		if !re.MatchString(x.Proc.Log()) {
			return fmt.Errorf("not logged yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
