package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// Settings of the IX file that soft-ix once read and never used: these
// tests bring each up against soft-ix's Azure emulation and look at what
// it does on the wire.

// replaceOnce is strings.Replace that fails the test when old is absent.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("configuration lacks %q", old)
	}
	return strings.Replace(s, old, new, 1)
}

// TestOuterMTUFromWAN: the IX's WAN carries 1400 bytes ("ip mtu 1400" on
// GigaEthernet0.0, and the internet router's end of that link too), and
// the tunnel leaves by it ("ikev2 outgoing-interface GigaEthernet0.0").
// soft-ix sizes the tunnel for it from the start, as the IX does: the TUN
// device gets the MTU that fits 1400-byte ESP packets, and a 1400-byte
// ping without DF is pre-fragmented, so no outer fragment crosses the
// WAN. Sized for 1500 (the router passed OuterMTU 0), the ESP packets of
// pre-fragment came out larger than the WAN and the kernel fragmented
// them after encryption.
func TestOuterMTUFromWAN(t *testing.T) {
	l := iopNewLab(t, "outermtu", "tcpdump")
	if out, err := l.s.Internet.Run("ip", "link", "set", "ix", "mtu", "1400"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	conf := iopIXConf{}.text()
	conf = replaceOnce(t, conf, "interface GigaEthernet0.0\n  ip address 203.0.113.94/24\n",
		"interface GigaEthernet0.0\n  ip address 203.0.113.94/24\n  ip mtu 1400\n")
	conf = replaceOnce(t, conf, "  ikev2 ipsec pre-fragment\n", "  ikev2 ipsec pre-fragment\n  ikev2 outgoing-interface GigaEthernet0.0\n")
	l.softIXPairUpWith(nslab.SoftIXOptions{Name: "ix", Config: conf, Map: nslab.IXSideMap()})

	// The seed's child proposal: AES-CBC-256 with HMAC-SHA2-256.
	want := esp.TunnelConfig{OuterMTU: 1400}.WithWorstSuite([]esp.Suite{
		{EncrID: childsa.EncrAESCBC, EncrKeyBits: 256, IntegID: childsa.IntegHMACSHA256128}}).DeviceMTU()
	out, err := l.s.IX.Run("ip", "-o", "link", "show", "Tunnel0.0")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if m := regexp.MustCompile(` mtu ([0-9]+) `).FindStringSubmatch(out); m == nil || m[1] != strconv.Itoa(want) {
		t.Errorf("Tunnel0.0 is not sized for the WAN's 1400 bytes (want mtu %d): %s", want, out)
	}

	// Only the IX's own ESP counts: the gateway, sized for 1500, answers
	// with a packet the router's narrow link makes it fragment after
	// encryption (without DF, and without pre-fragment on its side).
	ready, result := iopCapture(l.s.Internet, "ix", "src "+nslab.IXWANAddr+" and ip[6:2] & 0x3fff != 0", 1, 8*time.Second)
	<-ready
	if out, err := l.s.LAN.Run("ping", "-c", "3", "-i", "0.3", "-W", "2", "-s", "1372", "-M", "dont", nslab.VNetHostAddr); err != nil {
		t.Errorf("a 1400-byte ping without DF does not cross: %v\n%s", err, out)
	}
	if frags := <-result; len(frags) > 0 {
		t.Errorf("outer fragments on the WAN, pre-fragment sized for more than the WAN carries:\n%s", strings.Join(frags, "\n"))
	}
}

// TestUnnumberedTunnelSource: with "ip unnumbered GigaEthernet1.0" the
// tunnel borrows the LAN address, and what the router itself sends into
// it (a ping from the IX) leaves from 192.168.2.1, as on the IX. Without
// an address on the TUN device Linux took the WAN's, 203.0.113.94, which
// the VNet answers outside the tunnel.
func TestUnnumberedTunnelSource(t *testing.T) {
	l := iopNewLab(t, "unnum", "tcpdump")
	conf := replaceOnce(t, iopIXConf{}.text(), "interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n",
		"interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip unnumbered GigaEthernet1.0\n")
	l.softIXPairUpWith(nslab.SoftIXOptions{Name: "ix", Config: conf, Map: nslab.IXSideMap()})

	ready, result := iopCapture(l.s.VNet, "eth0", "icmp[icmptype] == icmp-echo", 3, 10*time.Second)
	<-ready
	if out, err := l.s.IX.Run("ping", "-c", "3", "-i", "0.3", "-W", "2", nslab.VNetHostAddr); err != nil {
		t.Errorf("ping from the IX to the VNet host: %v\n%s", err, out)
	}
	lines := <-result
	t.Logf("echo requests at the VNet host:\n%s", strings.Join(lines, "\n"))
	if len(lines) == 0 {
		t.Fatal("no echo request reached the VNet host")
	}
	for _, line := range lines {
		if !strings.Contains(line, " IP "+nslab.IXLANAddr+" > "+nslab.VNetHostAddr) {
			t.Errorf("an echo request from the IX does not come from its unnumbered address %s: %s", nslab.IXLANAddr, line)
		}
	}
}
