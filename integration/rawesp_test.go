package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// rawESPOutRequests returns the IP OutRequests counter of ns: packets the
// host's own IP output path sent. Raw ESP sent as Ethernet frames on a
// packet socket does not pass there; through the raw socket it does.
func rawESPOutRequests(t *testing.T, ns *nslab.Namespace) int64 {
	t.Helper()
	return rawESPSNMP(t, ns, "OutRequests")
}

// rawESPSNMP returns the IP counter name of ns (/proc/net/snmp).
func rawESPSNMP(t *testing.T, ns *nslab.Namespace, name string) int64 {
	t.Helper()
	out, err := ns.Run("cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Ip:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == name && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	t.Fatalf("no Ip %s in /proc/net/snmp:\n%s", name, out)
	return 0
}

// rawESPWaitLog waits until the log of x has a line containing all of
// words.
func rawESPWaitLog(t *testing.T, x *nslab.SoftIX, words ...string) string {
	t.Helper()
	var found string
	err := nslab.WaitFor(10*time.Second, fmt.Sprintf("soft-ix %s logging %q", x.Name, words), func() error {
		for _, line := range strings.Split(x.Proc.Log(), "\n") {
			all := true
			for _, w := range words {
				all = all && strings.Contains(line, w)
			}
			if all {
				found = line
				return nil
			}
		}
		return fmt.Errorf("not logged")
	})
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, x.Proc.Log())
	}
	return found
}

// rawESPClimbCounter adds to ns a counter of the ESP packets that reach
// its IPv4 stack (the prerouting hook, after the netdev ingress hook
// where the daemon's rule drops what the ring took) and returns a
// function that reads it. Ip InReceives cannot tell: it also counts the
// inner packets the gateway writes to its TUN device and the VNet
// host's ACKs, a tenth of the ESP packets or more where the TUN writes
// coalesce less.
func rawESPClimbCounter(t *testing.T, ns *nslab.Namespace) func() int64 {
	t.Helper()
	const table = "table ip rawesp_climb { chain pre { type filter hook prerouting priority -300; ip protocol esp counter; }; }"
	if out, err := ns.Run("nft", table); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	counter := regexp.MustCompile(`counter packets ([0-9]+)`)
	return func() int64 {
		t.Helper()
		out, err := ns.Run("nft", "list", "table", "ip", "rawesp_climb")
		m := counter.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("no ESP counter in table ip rawesp_climb: %v\n%s", err, out)
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return v
	}
}

// TestRawESPPacketSocket: soft-ix against soft-ix over raw ESP with
// --raw-esp packet on both: each resolves the other's next hop and sends
// its ESP as Ethernet frames on a packet socket, and receives it from a
// packet ring. The LAN host's ping and a short iperf3 go through, the
// wire still carries plain IP protocol 50, the IX's IP output path (Ip
// OutRequests) sees almost none of the ESP it sent, and the gateway's IP
// stack (an nftables counter at prerouting) almost none of the ESP it
// received. The drop rule's table goes with the daemon, whether it stops
// or is killed.
func TestRawESPPacketSocket(t *testing.T) {
	l := iopNewLab(t, "rawesp", "tcpdump", "iperf3", "nft")
	ix, az := l.softIXPairUp(iopIXConf{Args: []string{"--raw-esp", "packet"}}, "--raw-esp", "packet")
	t.Log(rawESPWaitLog(t, ix, "Ethernet frames (packet socket)", "peer="+nslab.AzurePublicAddr))
	t.Log(rawESPWaitLog(t, az, "Ethernet frames (packet socket)", "peer="+nslab.IXWANAddr))
	t.Log(rawESPWaitLog(t, ix, "received from a packet ring", nslab.IXWANAddr))
	t.Log(rawESPWaitLog(t, az, "received from a packet ring", nslab.AzurePublicAddr))

	climbed := rawESPClimbCounter(t, l.s.Azure)
	before := rawESPOutRequests(t, l.s.IX)
	inBefore, climbedBefore := rawESPSNMP(t, l.s.Azure, "InReceives"), climbed()
	res, err := nslab.Iperf3(l.s.VNet, l.s.LAN, nslab.VNetHostAddr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after := rawESPOutRequests(t, l.s.IX)
	inAfter, climbedAfter := rawESPSNMP(t, l.s.Azure, "InReceives"), climbed()
	packets := res.SentBytes / 1500 // at least this many ESP packets left the IX
	t.Logf("iperf3 LAN -> VNet over frames: %.0f Mbit/s, %d retransmits; IX Ip OutRequests +%d; gateway: ESP at its IP stack +%d (Ip InReceives +%d, TUN writes and ACKs included) for at least %d ESP packets",
		res.ReceivedMbps, res.Retransmits, after-before, climbedAfter-climbedBefore, inAfter-inBefore, packets)
	if res.ReceivedBytes == 0 {
		t.Fatal("iperf3 moved nothing")
	}
	if after-before > packets/10 {
		t.Errorf("IX Ip OutRequests grew by %d for %d ESP packets: the ESP went through the IP output path, not the packet socket",
			after-before, packets)
	}
	if climbedAfter-climbedBefore > packets/100 {
		t.Errorf("%d of %d ESP packets reached the gateway's IP stack: they were not taken from the ring",
			climbedAfter-climbedBefore, packets)
	}
	iopCheckWire(t, l, iopRawESPRe, false)

	// The claim follows the host's addresses: one added to the WAN
	// device is in the ring's filter and the drop rule within a moment,
	// and the rule's table goes with the daemon.
	const added = "203.0.113.200"
	if out, err := l.s.IX.Run("ip", "addr", "add", added+"/32", "dev", "GigaEthernet0.0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Log(rawESPWaitLog(t, ix, "received from a packet ring", added, nslab.IXWANAddr))
	if out, err := l.s.IX.Run("nft", "list", "table", "netdev", "softix_esp_rx4"); err != nil || !strings.Contains(out, added) {
		t.Errorf("the drop rule does not cover %s: %v\n%s", added, err, out)
	}
	if err := ix.Proc.Stop(); err != nil {
		t.Logf("stopping the IX: %v", err)
	}
	if out, err := l.s.IX.Run("nft", "list", "tables"); err != nil || strings.Contains(out, "softix_esp_rx") {
		t.Errorf("the drop rule's table outlived the daemon: %v\n%s", err, out)
	}

	// Nor does it outlive a daemon killed without a chance to stop: the
	// table belongs to the daemon's netlink socket, which the kernel
	// closes with the process.
	if out, err := l.s.Azure.Run("nft", "list", "tables"); err != nil || !strings.Contains(out, "softix_esp_rx4") {
		t.Fatalf("no drop rule table on the gateway before the kill: %v\n%s", err, out)
	}
	if err := az.Proc.SignalWait(syscall.SIGKILL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if out, err := l.s.Azure.Run("nft", "list", "tables"); err != nil || strings.Contains(out, "softix_esp_rx") {
		t.Errorf("the drop rule's table outlived a daemon killed by SIGKILL: %v\n%s", err, out)
	}
}

// TestRawESPFallbackNonEthernet: the IX's route to the peer leads into a
// TUN device (a forwarder hands its packets back to the kernel, which
// sends them on to the internet router): no Ethernet header to write, so
// --raw-esp auto keeps the raw IP socket for that peer and logs why, and
// the tunnel works as before. The peer, with an Ethernet next hop, sends
// frames.
func TestRawESPFallbackNonEthernet(t *testing.T) {
	l := iopNewLab(t, "rawespfb", "go")
	ns := l.s.IX
	const tun = "rawesptun"
	bin, err := nslab.ImpairBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.IP("tuntap", "add", "dev", tun, "mode", "tun"); err != nil {
		t.Fatal(err)
	}
	if err := ns.IP("link", "set", tun, "up"); err != nil {
		t.Fatal(err)
	}
	// Packets written back into the device carry the IX's own source
	// address and are forwarded by the main table.
	if err := ns.Sysctl("1", "net/ipv4/conf/"+tun+"/accept_local"); err != nil {
		t.Fatal(err)
	}
	if err := ns.Sysctl("0", "net/ipv4/conf/"+tun+"/rp_filter", "net/ipv4/conf/all/rp_filter"); err != nil {
		t.Fatal(err)
	}
	fwd, err := ns.Start("rawesp-forwarder", nil, bin, "-tun", tun, "-control", ns.Lab().Path("rawesp-forwarder.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_ = fwd
	// What the IX itself sends to the peer (IKE and ESP) goes into the
	// TUN device; what comes back out of it takes the main table.
	if err := ns.IP("route", "add", nslab.AzurePublicAddr+"/32", "dev", tun, "src", nslab.IXWANAddr, "table", "100"); err != nil {
		t.Fatal(err)
	}
	if err := ns.IP("rule", "add", "iif", "lo", "to", nslab.AzurePublicAddr, "lookup", "100", "pref", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := nslab.WaitFor(10*time.Second, "ping through the TUN device", func() error {
		_, err := ns.Run("ping", "-n", "-c", "1", "-W", "1", nslab.AzurePublicAddr)
		return err
	}); err != nil {
		t.Fatalf("%v; forwarder: %s", err, fwd.Log())
	}

	ix, az := l.softIXPairUp(iopIXConf{Args: []string{"--raw-esp", "auto"}}, "--raw-esp", "auto")
	t.Log(rawESPWaitLog(t, ix, "raw IP socket", "peer="+nslab.AzurePublicAddr, "not an Ethernet device"))
	t.Log(rawESPWaitLog(t, az, "Ethernet frames (packet socket)", "peer="+nslab.IXWANAddr))
	if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
		t.Fatal(err)
	}
}

// TestRawESPPacketSocketIPv6: the same over an IPv6-only internet: both
// soft-ix send their IPv6 raw ESP as frames (IPv6 header written by the
// engine) and receive it from a packet ring, and the LAN host's pings go
// through without the gateway's IPv6 stack (Ip6InReceives) seeing their
// ESP.
func TestRawESPPacketSocketIPv6(t *testing.T) {
	l := v6NewLab(t, "rawesp6", "tcpdump")
	az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
		Name: "azure", Config: v6IXConf(nslab.IXWANAddr6, "azure", nslab.AzureVNetGateway+"/24", nslab.LANNet, false),
		Map:  map[string]string{"GigaEthernet0.0": nslab.AzureWANIf, "GigaEthernet1.0": nslab.AzureVNetIf},
		Args: []string{"--raw-esp", "packet"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ix := l.v6StartIX(false, "--raw-esp", "packet")
	iopWaitSoftIXPair(t, l, ix, az, 60*time.Second)
	l.waitPing(iopPingAttempts)
	t.Log(rawESPWaitLog(t, ix, "Ethernet frames (packet socket)", "peer="+nslab.AzurePublicAddr6))
	t.Log(rawESPWaitLog(t, az, "Ethernet frames (packet socket)", "peer="+nslab.IXWANAddr6))
	t.Log(rawESPWaitLog(t, az, "received from a packet ring", nslab.AzurePublicAddr6))
	const pings = 200
	before := rawESPSNMP6(t, l.s.Azure, "Ip6InReceives")
	if out, err := l.s.LAN.Run("ping", "-q", "-c", fmt.Sprint(pings), "-i", "0.005", "-w", "20", nslab.VNetHostAddr); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	grew := rawESPSNMP6(t, l.s.Azure, "Ip6InReceives") - before
	t.Logf("%d pings over IPv6 raw ESP: gateway Ip6InReceives +%d", pings, grew)
	if grew > pings/2 {
		t.Errorf("gateway Ip6InReceives grew by %d for %d ESP packets: the ESP climbed the IPv6 stack, it was not taken from the ring", grew, pings)
	}
	iopCheckWire(t, l, v6RawESPRe, false)
}

// rawESPSNMP6 returns the IPv6 counter name of ns (/proc/net/snmp6).
func rawESPSNMP6(t *testing.T, ns *nslab.Namespace, name string) int64 {
	t.Helper()
	out, err := ns.Run("cat", "/proc/net/snmp6")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in /proc/net/snmp6:\n%s", name, out)
	return 0
}

// rawESPLogCount counts the lines of x's log containing all of words.
func rawESPLogCount(x *nslab.SoftIX, words ...string) int {
	n := 0
	for _, line := range strings.Split(x.Proc.Log(), "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			n++
		}
	}
	return n
}

// TestRawESPReloadFilters: under the default --raw-esp (auto), a reload
// that adds a WAN packet filter is not refused: the IX's raw ESP moves to
// the raw IP socket before the filter goes in (the ring's drop rule goes
// away, ESP climbs the IP stack where the filter sees it, the tunnel keeps
// carrying pings), and a reload that removes the filter brings the ring
// back.
func TestRawESPReloadFilters(t *testing.T) {
	l := iopNewLab(t, "rawrl", "nft")
	ix, _ := l.softIXPairUp(iopIXConf{})
	rawESPWaitLog(t, ix, "received from a packet ring", nslab.IXWANAddr)
	ringTable := func() bool {
		out, err := l.s.IX.Run("nft", "list", "tables")
		if err != nil {
			t.Fatalf("nft list tables: %v: %s", err, out)
		}
		return strings.Contains(out, "softix_esp_rx4")
	}
	if !ringTable() {
		t.Fatal("no drop rule table with the ring in use")
	}
	reload := func(conf string) string {
		t.Helper()
		if err := os.WriteFile(ix.ConfPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := ix.Command("reload")
		if err != nil {
			t.Fatalf("reload: %v: %s", err, out)
		}
		return out
	}

	in0 := rawESPSNMP(t, l.s.IX, "InReceives")
	if r := <-iopPing(l.s.LAN, nslab.VNetHostAddr, 50, 20*time.Millisecond); r.Received < 48 {
		t.Fatalf("before the filter: %+v", r)
	}
	// Each ping answered is two packets into the IX's IP stack from the
	// ring (the LAN host's request, the decrypted answer from the TUN
	// device) and a third, the answer's ESP, from the raw IP socket.
	if d := rawESPSNMP(t, l.s.IX, "InReceives") - in0; d > 120 {
		t.Errorf("IX Ip InReceives grew by %d for 50 pings with the ring: the ESP climbs the IP stack", d)
	}
	plain := iopIXConf{}.text()
	filtered := "ip access-list wan-in permit udp src any sport any dest any dport eq 500\n" +
		"ip access-list wan-in permit udp src any sport any dest any dport eq 4500\n" +
		"ip access-list wan-in permit 50 src any dest any\n" +
		"ip access-list wan-in permit icmp src any dest any\n!\n" +
		strings.Replace(plain, "interface GigaEthernet0.0\n", "interface GigaEthernet0.0\n  ip filter wan-in 10 in\n", 1)
	if filtered == plain {
		t.Fatal("the IX file has no GigaEthernet0.0 block")
	}
	t.Logf("reload adding the filter: %s", reload(filtered))
	rawESPWaitLog(t, ix, "raw ESP moved to the raw IP socket")
	if ringTable() {
		t.Error("the drop rule's table outlived the move to the raw IP socket")
	}
	in0 = rawESPSNMP(t, l.s.IX, "InReceives")
	if r := <-iopPing(l.s.LAN, nslab.VNetHostAddr, 50, 20*time.Millisecond); r.Received < 48 {
		t.Fatalf("after the filter went in: %+v", r)
	}
	if d := rawESPSNMP(t, l.s.IX, "InReceives") - in0; d < 140 {
		t.Errorf("IX Ip InReceives grew by %d for 50 answered pings: the ESP did not reach the IP stack and its filter", d)
	}

	rings := rawESPLogCount(ix, "received from a packet ring", nslab.IXWANAddr)
	t.Logf("reload removing the filter: %s", reload(plain))
	rawESPWaitLog(t, ix, "Ethernet frames again")
	if err := nslab.WaitFor(10*time.Second, "the ring's claim again", func() error {
		if rawESPLogCount(ix, "received from a packet ring", nslab.IXWANAddr) <= rings || !ringTable() {
			return fmt.Errorf("not yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v; log:\n%s", err, ix.Proc.Log())
	}
	in0 = rawESPSNMP(t, l.s.IX, "InReceives")
	if r := <-iopPing(l.s.LAN, nslab.VNetHostAddr, 50, 20*time.Millisecond); r.Received < 48 {
		t.Fatalf("after the filter went out: %+v", r)
	}
	if d := rawESPSNMP(t, l.s.IX, "InReceives") - in0; d > 120 {
		t.Errorf("IX Ip InReceives grew by %d for 50 pings: the ESP still climbs the IP stack", d)
	} else {
		t.Logf("IX Ip InReceives +%d for 50 pings with the ring back", d)
	}
	if !ringTable() {
		t.Error("the drop rule's table is gone: the closed ring's claimer removed the new one's")
	}
}
