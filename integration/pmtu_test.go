package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// The inner MTU soft-ix announces once the path to the gateway carries
// 1400 bytes: 1400 less the outer IPv4 (IPv6) header, the ESP header,
// AES-CBC's IV and HMAC-SHA256's ICV, rounded down to whole 16-byte
// blocks, less the trailer (the same with UDP's 8 bytes).
const (
	pmtuInnerMTU  = 1326
	pmtuInnerMTU6 = 1310
)

// pmtuNarrowPath lowers the MTU of the link between the internet router
// and the gateway to 1400 on both ends, as a PPPoE or tunnelled segment
// on the way would: the router forwards the IX's 1500-byte packets no
// further and answers those with DF with ICMP fragmentation needed.
func pmtuNarrowPath(t *testing.T, l *iopLab) {
	t.Helper()
	// The same MTU on both ends: a veth drops what exceeds its peer's MTU
	// without a word, which is a broken link, not a narrow one.
	for _, c := range []struct {
		ns  *nslab.Namespace
		dev string
	}{{l.s.Internet, "azure"}, {l.s.Azure, nslab.AzureWANIf}} {
		if out, err := c.ns.Run("ip", "link", "set", c.dev, "mtu", "1400"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
}

// pmtuCheck runs the checks of a narrowed path against the IX x, whose
// tunnel was sized for 1500 bytes: the first full-sized DF ping is lost
// and teaches x the path MTU, the next is answered with the inner MTU
// that fits, a ping of that size and a larger one without DF (the seed's
// pre-fragment) cross, and TCP moves data both ways.
func pmtuCheck(t *testing.T, l *iopLab, x *nslab.SoftIX, innerMTU int) {
	t.Helper()
	ping := func(size int, df string) (string, error) {
		return l.s.LAN.Run("ping", "-c", "3", "-i", "0.3", "-W", "2", "-s", strconv.Itoa(size), "-M", df, nslab.VNetHostAddr)
	}
	if out, err := ping(1372, "do"); err != nil {
		t.Fatalf("1400-byte DF ping before the path narrowed: %v\n%s", err, out)
	}
	pmtuNarrowPath(t, l)
	// Lost on the narrow link; its ICMP reaches the IX.
	l.s.LAN.Run("ping", "-c", "1", "-W", "1", "-s", "1372", "-M", "do", nslab.VNetHostAddr)
	t.Log(rawESPWaitLog(t, x, "path MTU towards the peer lowered by ICMP", "path_mtu=1400", fmt.Sprintf("inner_mtu=%d", innerMTU)))

	out, _ := ping(1372, "do")
	m := regexp.MustCompile(`Frag needed and DF set \(mtu = ([0-9]+)\)`).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.Itoa(innerMTU) {
		t.Fatalf("a 1400-byte DF ping is not answered with the inner MTU %d:\n%q", innerMTU, out)
	}
	if out, err := ping(innerMTU-28, "do"); err != nil {
		t.Errorf("a DF ping of the announced MTU does not cross: %v\n%s", err, out)
	}
	if out, err := ping(1372, "dont"); err != nil {
		t.Errorf("a 1400-byte ping without DF (pre-fragmented) does not cross: %v\n%s", err, out)
	}
	for _, dir := range []struct {
		name           string
		server, client *nslab.Namespace
		addr           string
	}{{"LAN -> VNet", l.s.VNet, l.s.LAN, nslab.VNetHostAddr}, {"VNet -> LAN", l.s.LAN, l.s.VNet, nslab.LANHostAddr}} {
		res, err := nslab.Iperf3(dir.server, dir.client, dir.addr, 3*time.Second)
		if err != nil {
			t.Fatalf("iperf3 %s: %v", dir.name, err)
		}
		t.Logf("iperf3 %s over the narrowed path: %.0f Mbit/s, %d retransmits", dir.name, res.ReceivedMbps, res.Retransmits)
		if res.ReceivedBytes < 1<<20 {
			t.Errorf("iperf3 %s moved %d bytes: a path MTU black hole", dir.name, res.ReceivedBytes)
		}
	}
}

// TestPathMTUSoftIX: soft-ix against soft-ix over raw ESP (frames on a
// packet socket, where the kernel's own path MTU discovery never looks)
// with the path to the gateway narrowed to 1400 bytes after the tunnel is
// up. Without the IX reading the router's ICMP, every full-sized packet
// was lost for good and a TCP transfer moved nothing.
func TestPathMTUSoftIX(t *testing.T) {
	l := iopNewLab(t, "pmtusx", "iperf3")
	ix, _ := l.softIXPairUp(iopIXConf{})
	pmtuCheck(t, l, ix, pmtuInnerMTU)
	iopCheckWire(t, l, iopRawESPRe, false)
}

// TestPathMTUStrongSwan: the same against charon as the gateway, which
// speaks ESP in UDP 4500: the IX's kernel fragments the outer datagrams
// once it knows the path, and soft-ix sizes the inner packets so that it
// need not.
func TestPathMTUStrongSwan(t *testing.T) {
	l := iopNewLab(t, "pmtusw", "iperf3")
	c := l.startCharon(iopAzure())
	ix := l.startIX(iopIXConf{})
	l.waitTunnel(ix, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	pmtuCheck(t, l, ix, pmtuInnerMTU)
}

// TestPathMTUIPv6: the soft-ix pair over the IPv6-only internet, raw ESP:
// the router before the narrow link answers with ICMPv6 packet too big,
// which the IX reads on its raw ICMPv6 socket.
func TestPathMTUIPv6(t *testing.T) {
	l := v6NewLab(t, "pmtu6", "iperf3")
	az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
		Name: "azure", Config: v6IXConf(nslab.IXWANAddr6, "azure", nslab.AzureVNetGateway+"/24", nslab.LANNet, false),
		Map: map[string]string{"GigaEthernet0.0": nslab.AzureWANIf, "GigaEthernet1.0": nslab.AzureVNetIf},
	})
	if err != nil {
		t.Fatal(err)
	}
	ix := l.v6StartIX(false)
	iopWaitSoftIXPair(t, l, ix, az, 60*time.Second)
	l.waitPing(iopPingAttempts)
	pmtuCheck(t, l, ix, pmtuInnerMTU6)
}
