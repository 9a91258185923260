package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/tun/nft"
)

// These tests run soft-ix with IX packet filters and NAPT on the real
// kernel's nftables, in namespaces:
//
//	lan 192.168.2.10 -- ix: GigaEthernet1.0 192.168.2.1/24, GigaEthernet0.0 203.0.113.94/24 -- inet 203.0.113.1
//
// The internet host has no route to the LAN: what reaches it from there
// has been translated. State is read with the nftables Go library inside
// the ix namespace (no nft binary needed).

// branchWANConfig is a branch IX file in the published style: the WAN
// filter lets in one service, ping, IKE, NAT-T and ESP; the rest is
// dropped by the IX's implicit deny.
const branchWANConfig = `hostname branch-ix
ip access-list wan-in permit tcp src any sport any dest 203.0.113.94 dport eq 8080
ip access-list wan-in permit icmp type 8 src any dest any
ip access-list wan-in permit udp src any sport any dest any dport eq 500
ip access-list wan-in permit udp src any sport any dest any dport eq 4500
ip access-list wan-in permit 50 src any dest any
ip access-list sec-list permit ip src any dest any
!
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip filter wan-in 10 in
  ip filter sec-list 100000 out
  no shutdown
!
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  no shutdown
`

type filterLab struct {
	lab           *nslab.Lab
	ix, inet, lan *nslab.Namespace
	bin           string
	ixMap         map[string]string
}

func newFilterLab(t *testing.T, prefix string) *filterLab {
	t.Helper()
	lab := nslab.NewForTest(t, prefix, "ping")
	l := &filterLab{lab: lab, bin: softIXBinary(t), ixMap: nslab.IXSideMap()}
	var err error
	for role, p := range map[string]**nslab.Namespace{"ix": &l.ix, "inet": &l.inet, "lan": &l.lan} {
		if *p, err = lab.Namespace(role); err != nil {
			t.Fatal(err)
		}
	}
	if err := lab.Link(l.ix, nslab.IXWANIf, "203.0.113.94/24", l.inet, "eth0", "203.0.113.1/24"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(l.ix, nslab.IXLANIf, "192.168.2.1/24", l.lan, "eth0", "192.168.2.10/24"); err != nil {
		t.Fatal(err)
	}
	if err := l.lan.IP("route", "add", "default", "via", "192.168.2.1"); err != nil {
		t.Fatal(err)
	}
	// The internet host routes nothing back to the LAN, and forwards
	// nothing itself.
	if _, err := l.inet.Run("sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"); err != nil {
		t.Fatal(err)
	}
	return l
}

// start runs the daemon with conf and extra flags and waits for its socket.
func (l *filterLab) start(t *testing.T, name, conf string, args ...string) *nslab.SoftIX {
	t.Helper()
	x, err := nslab.StartSoftIXDaemon(l.ix, nslab.SoftIXOptions{Name: name, Config: conf, Map: l.ixMap, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// inNS runs f on an OS thread in the namespace: the sockets f opens
// belong to it. The thread goes back to the test's namespace before it is
// unlocked. It must not end with the goroutine: the lab starts daemons
// with a parent-death signal, which the kernel sends when the thread that
// forked them exits.
func inNS(ns *nslab.Namespace, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns.Name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = f()
		if rerr := netns.Set(orig); rerr != nil {
			// Stay locked: the thread ends with the goroutine rather
			// than run other code in the wrong namespace.
			errc <- errors.Join(err, rerr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// serveTCP listens on addr in ns and answers every connection with the
// address it came from, until the test ends.
func serveTCP(t *testing.T, ns *nslab.Namespace, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "from %s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// dialTCP connects from ns and returns the server's answer.
func dialTCP(ns *nslab.Namespace, addr string, timeout time.Duration) (string, error) {
	var out string
	err := inNS(ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		b, err := io.ReadAll(c)
		out = strings.TrimSpace(string(b))
		return err
	})
	return out, err
}

// expectDropped says that a connection attempt timed out: the SYN was
// dropped, not answered with a reset.
func expectDropped(t *testing.T, ns *nslab.Namespace, addr string) {
	t.Helper()
	_, err := dialTCP(ns, addr, 1500*time.Millisecond)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("connect to %s from %s: %v, want a timeout (dropped)", addr, ns.Role, err)
	}
}

// tables lists the ip-family nftables tables of ns.
func tables(t *testing.T, ns *nslab.Namespace) []string {
	t.Helper()
	var names []string
	if err := inNS(ns, func() (err error) { names, err = nft.Tables(); return }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func counters(t *testing.T, ns *nslab.Namespace) map[string]nft.Counter {
	t.Helper()
	var c map[string]nft.Counter
	if err := inNS(ns, func() (err error) { c, err = nft.Counters(""); return }); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFilterBranchWAN: the WAN filter of a branch file lets the permitted
// service and ping in and drops everything else from the internet host,
// with the drop counted; the LAN is not filtered; a reload that permits
// one more port takes effect at once and leaves one table.
func TestFilterBranchWAN(t *testing.T) {
	l := newFilterLab(t, "flt")
	for _, port := range []string{"8080", "8081", "22"} {
		serveTCP(t, l.ix, "0.0.0.0:"+port)
	}
	x := l.start(t, "ix", branchWANConfig)

	if out, err := dialTCP(l.inet, "203.0.113.94:8080", 3*time.Second); err != nil || out != "from 203.0.113.1" {
		t.Errorf("permitted service from the internet: %q, %v", out, err)
	}
	if err := l.inet.Ping("203.0.113.94", "", 1); err != nil {
		t.Errorf("ping is permitted: %v", err)
	}
	expectDropped(t, l.inet, "203.0.113.94:8081")
	expectDropped(t, l.inet, "203.0.113.94:22")
	// No filter on GigaEthernet1.0: the LAN reaches every port.
	if out, err := dialTCP(l.lan, "192.168.2.1:22", 3*time.Second); err != nil || out != "from 192.168.2.10" {
		t.Errorf("LAN to the router: %q, %v", out, err)
	}

	c := counters(t, l.ix)
	if c["GigaEthernet0.0 in implicit deny"].Packets == 0 || c["GigaEthernet0.0 in 10 wan-in #1"].Packets == 0 ||
		c["GigaEthernet0.0 in 10 wan-in #2"].Packets == 0 {
		t.Errorf("counters did not move: %+v", c)
	}
	if got := tables(t, l.ix); !slices.Equal(got, []string{nft.Table}) {
		t.Errorf("tables %v, want only %s", got, nft.Table)
	}
	out, err := x.Command("show", "ip", "filter")
	deny := regexp.MustCompile(`(?m)^Interface GigaEthernet0\.0, in\n(?:  .*\n)*  implicit deny \(([1-9]\d*) matches`)
	if err != nil || !deny.MatchString(out) {
		t.Errorf("show ip filter does not count the drops: %v\n%s", err, out)
	}

	// Reload with 8081 permitted too: applied in one batch.
	conf := strings.Replace(branchWANConfig, "ip access-list sec-list", "ip access-list wan-in permit tcp src any sport any dest any dport eq 8081\nip access-list sec-list", 1)
	if err := os.WriteFile(x.ConfPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := x.Command("reload"); err != nil || !strings.Contains(out, "ip access-list wan-in permit tcp src any sport any dest any dport eq 8081") {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	if out, err := dialTCP(l.inet, "203.0.113.94:8081", 3*time.Second); err != nil || out != "from 203.0.113.1" {
		t.Errorf("8081 after the reload: %q, %v", out, err)
	}
	expectDropped(t, l.inet, "203.0.113.94:22")
	if got := tables(t, l.ix); !slices.Equal(got, []string{nft.Table}) {
		t.Errorf("tables after reload %v", got)
	}
}

// napConfig has NAPT on the WAN and a tunnel whose IKE leaves from the
// WAN's second address, to an internet host that does not answer.
const naptConfig = `hostname napt-ix
ikev2 authentication psk id ipv4 203.0.113.1 key char NaptTest123
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip napt enable
  ip napt static GigaEthernet0.0 udp 500
  ip napt static GigaEthernet0.0 udp 4500
  ip napt static GigaEthernet0.0 50
  ip napt static 192.168.2.10 tcp 8080
  ip napt hairpinning
  no shutdown
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  no shutdown
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ikev2 connect-type auto
  ikev2 source-address 203.0.113.95
  ikev2 peer 203.0.113.1 authentication psk id ipv4 203.0.113.1
  no shutdown
`

// TestNAPTMasqueradesLAN: a LAN host reaching an internet host that has
// no route back shows up with the WAN address; a port forward reaches a
// LAN server, from the internet and, hairpinned, from the LAN; soft-ix's own IKE on the same interface leaves from the
// address it chose (the WAN's second one, which a masquerade would have
// rewritten to the first).
func TestNAPTMasqueradesLAN(t *testing.T) {
	l := newFilterLab(t, "nat")
	if err := l.ix.IP("addr", "add", "203.0.113.95/24", "dev", nslab.IXWANIf); err != nil {
		t.Fatal(err)
	}
	serveTCP(t, l.inet, "203.0.113.1:8080")
	serveTCP(t, l.lan, "192.168.2.10:8080")
	var ike net.PacketConn
	if err := inNS(l.inet, func() (err error) { ike, err = net.ListenPacket("udp4", "203.0.113.1:500"); return }); err != nil {
		t.Fatal(err)
	}
	defer ike.Close()

	if _, err := dialTCP(l.lan, "203.0.113.1:8080", 1500*time.Millisecond); err == nil {
		t.Fatal("the LAN reaches the internet host before NAPT: the lab routes back")
	}
	x := l.start(t, "ix", naptConfig)

	if out, err := dialTCP(l.lan, "203.0.113.1:8080", 3*time.Second); err != nil || out != "from 203.0.113.94" {
		t.Errorf("LAN to the internet host through NAPT: %q, %v (want the WAN address)", out, err)
	}
	if out, err := dialTCP(l.inet, "203.0.113.94:8080", 3*time.Second); err != nil || out != "from 203.0.113.1" {
		t.Errorf("port forward to the LAN server: %q, %v", out, err)
	}
	// Hairpinning: the LAN host reaches the forward through the WAN
	// address, and the server sees the router (the answer must go back
	// through it).
	if out, err := dialTCP(l.lan, "203.0.113.94:8080", 3*time.Second); err != nil || out != "from 192.168.2.1" {
		t.Errorf("LAN to the port forward through the WAN address (hairpinning): %q, %v", out, err)
	}
	// Both connections are in the kernel's table, shown in IX terms.
	out, err := x.Command("show", "ip", "napt", "translation")
	napt := regexp.MustCompile(`(?m)^tcp +192\.168\.2\.10:\d+ +203\.0\.113\.94:\d+ +203\.0\.113\.1:8080 .* napt$`)
	forward := regexp.MustCompile(`(?m)^tcp +192\.168\.2\.10:8080 +203\.0\.113\.94:8080 +203\.0\.113\.1:\d+ .* static$`)
	if err != nil || !napt.MatchString(out) || !forward.MatchString(out) {
		t.Errorf("show ip napt translation: %v\n%s", err, out)
	}
	// clear ip napt translation empties that list (the connections are
	// closed, their entries wait out TIME_WAIT); NAPT works on after it.
	if out, err := x.Command("clear", "ip", "napt", "translation"); err != nil ||
		!regexp.MustCompile(`^([3-9]|\d\d+) NAPT translation\(s\) cleared\n$`).MatchString(out) {
		t.Errorf("clear ip napt translation (%v): %q", err, out)
	}
	if out, err := x.Command("show", "ip", "napt", "translation"); err != nil || napt.MatchString(out) || forward.MatchString(out) {
		t.Errorf("show ip napt translation after clear: %v\n%s", err, out)
	}
	if out, err := dialTCP(l.lan, "203.0.113.1:8080", 3*time.Second); err != nil || out != "from 203.0.113.94" {
		t.Errorf("LAN to the internet host through NAPT after clear: %q, %v", out, err)
	}
	ike.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf := make([]byte, 2048)
	_, from, err := ike.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no IKE_SA_INIT from soft-ix: %v", err)
	}
	if got := from.String(); got != "203.0.113.95:500" {
		t.Errorf("soft-ix's IKE arrives from %s, want 203.0.113.95:500 (untranslated)", got)
	}
}

// TestFilterTableCrashAndStop: a SIGKILLed daemon leaves its table; the
// next start replaces it (exactly one soft-ix table); a stop removes it;
// a table soft-ix did not create survives all of it.
func TestFilterTableCrashAndStop(t *testing.T) {
	l := newFilterLab(t, "fcr")
	foreign := &nftables.Table{Name: "operator", Family: nftables.TableFamilyIPv4}
	if err := inNS(l.ix, func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		c.AddTable(foreign)
		ch := c.AddChain(&nftables.Chain{Name: "mine", Table: foreign})
		c.AddRule(&nftables.Rule{Table: foreign, Chain: ch})
		return c.Flush()
	}); err != nil {
		t.Fatal(err)
	}
	both := []string{"operator", nft.Table}

	x := l.start(t, "ix", branchWANConfig)
	if got := tables(t, l.ix); !slices.Equal(got, both) {
		t.Fatalf("tables %v, want %v", got, both)
	}
	if err := x.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-x.Proc.Done()
	if got := tables(t, l.ix); !slices.Equal(got, both) {
		t.Fatalf("after SIGKILL: tables %v, want the leftover and the operator's", got)
	}

	x = l.start(t, "ix2", branchWANConfig)
	if got := tables(t, l.ix); !slices.Equal(got, both) {
		t.Errorf("after the restart: tables %v, want %v", got, both)
	}
	expectDropped(t, l.inet, "203.0.113.94:22")
	if err := x.Proc.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	if got := tables(t, l.ix); !slices.Equal(got, []string{"operator"}) {
		t.Errorf("after stop: tables %v, want only the operator's", got)
	}
	var rules []*nftables.Rule
	if err := inNS(l.ix, func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		rules, err = c.GetRules(foreign, &nftables.Chain{Name: "mine", Table: foreign})
		return err
	}); err != nil || len(rules) != 1 {
		t.Errorf("the operator's rule: %d rules, %v", len(rules), err)
	}

	// Another crash, then a start with a file that has no filters: it
	// removes the leftover.
	x = l.start(t, "ix3", branchWANConfig)
	if err := x.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-x.Proc.Done()
	l.start(t, "ix4", "hostname plain\ninterface GigaEthernet0.0\n  ip address 203.0.113.94/24\n")
	if got := tables(t, l.ix); !slices.Equal(got, []string{"operator"}) {
		t.Errorf("a start without filters after a crash: tables %v, want only the operator's", got)
	}
}

// TestFailClosedRefusesStart: a filter soft-ix cannot enforce (its list
// has the malformed entry a published IX file carries) stops the daemon
// at start, naming file:line, and leaves no table; --allow-unenforced
// runs it, with the other filters enforced.
func TestFailClosedRefusesStart(t *testing.T) {
	l := newFilterLab(t, "fcl")
	conf := branchWANConfig + "ip access-list odd permit ip src any dest 50\ninterface GigaEthernet1.0\n  ip filter odd 1 out\n"
	path := l.lab.Path("unenforced.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := l.ix.Run(l.bin, "-c", path, "--socket", l.lab.Path("fcl.sock"),
		"--map", "GigaEthernet0.0="+nslab.IXWANIf, "--map", "GigaEthernet1.0="+nslab.IXLANIf)
	line := strings.Count(branchWANConfig, "\n") + 3
	want := fmt.Sprintf("%s:%d:3: error: \"ip filter odd 1 out\" on GigaEthernet1.0 is not enforced", path, line)
	if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "--allow-unenforced") {
		t.Fatalf("daemon with an unenforceable filter: %v, want it to refuse with %q:\n%s", err, want, out)
	}
	if got := tables(t, l.ix); len(got) != 0 {
		t.Errorf("a refused start left tables %v", got)
	}
	if _, err := l.ix.Run(l.bin, "check", "-c", path, "--map", "GigaEthernet0.0="+nslab.IXWANIf, "--map", "GigaEthernet1.0="+nslab.IXLANIf); err == nil {
		t.Error("check passes a file the daemon refuses")
	}

	serveTCP(t, l.ix, "0.0.0.0:22")
	l.start(t, "ix", conf, "--allow-unenforced")
	expectDropped(t, l.inet, "203.0.113.94:22") // the WAN filter is still enforced
}

// TestFilterTunnelAndWAN: the IX of the seed scenario with a WAN filter
// that lets in only IKE, NAT-T and ESP, and a filter on Tunnel0.0 that
// lets in only ping from the VNet. The tunnel to the Azure side (soft-ix
// as Azure's gateway) comes up through the WAN filter, the LAN host pings
// the VNet host through the tunnel, and a TCP connection from the VNet to
// the LAN is dropped where it leaves the tunnel, counted there.
func TestFilterTunnelAndWAN(t *testing.T) {
	lab := nslab.NewForTest(t, "ftun", "ping") // soft-ix on both ends: no charon needed
	softIXBinary(t)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := &iopLab{t: t, lab: lab, s: s}
	az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
		Name: "azure", Config: iopAzureSoftIXConf(t, false), Map: nslab.AzureSideMap(),
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := iopIXConf{}.text() + `ip access-list wan-in permit udp src any sport any dest any dport eq 500
ip access-list wan-in permit udp src any sport any dest any dport eq 4500
ip access-list wan-in permit 50 src any dest any
ip access-list vnet-in permit icmp src 172.16.0.0/16 dest 192.168.2.0/24
ip access-list sec-list permit ip src any dest any
interface GigaEthernet0.0
  ip filter wan-in 10 in
  ip filter sec-list 100000 out
interface Tunnel0.0
  ip filter vnet-in 1 in
`
	serveTCP(t, l.s.LAN, "192.168.2.10:8080")
	x, err := nslab.StartSoftIXDaemon(l.s.IX, nslab.SoftIXOptions{Name: "ix", Config: conf, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	l.ix = x
	iopWaitSoftIXPair(t, l, x, az, 30*time.Second)
	l.waitPing(iopPingAttempts)

	expectDropped(t, l.s.VNet, "192.168.2.10:8080")
	c := counters(t, l.s.IX)
	if c["Tunnel0.0 in implicit deny"].Packets == 0 || c["Tunnel0.0 in 1 vnet-in #1"].Packets == 0 {
		t.Errorf("tunnel filter counters did not move: %+v", c)
	}
	if c["GigaEthernet0.0 in 10 wan-in #1"].Packets == 0 {
		t.Errorf("IKE did not pass the WAN filter's first entry: %+v", c)
	}
}

// TestDynamicFilterStateful: a dynamic filter out of the WAN ("ip
// access-list dynamic") with an inbound filter that permits only ping: a
// LAN host's connection to the internet host gets its answers back in,
// while the internet host cannot open one to the LAN server. The internet
// host routes the LAN here (no NAPT), so only the filter decides.
func TestDynamicFilterStateful(t *testing.T) {
	l := newFilterLab(t, "fdy")
	if err := l.inet.IP("route", "add", nslab.LANNet, "via", nslab.IXWANAddr); err != nil {
		t.Fatal(err)
	}
	serveTCP(t, l.inet, "203.0.113.1:8080")
	serveTCP(t, l.lan, "192.168.2.10:8080")
	l.start(t, "ix", `hostname dyn-ix
ip access-list permit-all permit ip src any dest any
ip access-list wan-in permit icmp src any dest any
ip access-list dynamic dyn-out access permit-all
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip filter wan-in 1 in
  ip filter dyn-out 100 out
  no shutdown
interface GigaEthernet1.0
  ip address 192.168.2.1/24
  no shutdown
`)
	if out, err := dialTCP(l.lan, "203.0.113.1:8080", 3*time.Second); err != nil || out != "from 192.168.2.10" {
		t.Errorf("LAN to the internet host through the dynamic filter: %q, %v", out, err)
	}
	expectDropped(t, l.inet, "192.168.2.10:8080")
	if err := l.inet.Ping(nslab.LANHostAddr, "", 1); err != nil {
		t.Errorf("ping from the internet host is permitted: %v", err)
	}
}
