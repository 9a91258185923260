package integration

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// IPv6 outer addresses: the seed scenario with an IPv6-only internet
// (nslab.ScenarioOptions.IPv6Internet), the IX WAN 2001:db8:1::94 and the
// gateway 2001:db8:2::6, the LAN and VNet IPv4. The soft-ix daemon as the
// IX against strongSwan charon (kernel-libipsec, which always puts ESP in
// UDP 4500: Debian's 5.9.8 has no raw ESP for it) and against soft-ix
// (raw ESP, and ESP in UDP 4500 with --force-udp-encap).

// v6IXConf is the IX's file for an IPv6 WAN as an IX on IPv6 internet
// access writes it: the WAN has no IPv4 address, "ipv6 enable" and
// "ipv6 address" (kept, not emulated: the lab gives the link its address
// and route), and the tunnel names the WAN as its source, whose IPv6
// address the kernel then picks. peer is the other side's WAN address.
func v6IXConf(peer, lanIf, lan, route string, initiate bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hostname v6-%s\nikev2 authentication psk id ipv6 %s key char %s\n!\n", lanIf, peer, nslab.SeedPSK)
	b.WriteString("ikev2 default-profile\n  sa-proposal enc aes-cbc-256\n  sa-proposal integrity sha1\n  sa-proposal dh 1024-bit\n" +
		"  child-proposal enc aes-cbc-256\n  child-proposal integrity sha2-256\n  child-lifetime 3600\n!\n")
	b.WriteString("interface GigaEthernet0.0\n  no ip address\n  ipv6 enable\n  ipv6 address " + peerOf(peer) + "/64\n  no shutdown\n!\n")
	fmt.Fprintf(&b, "interface GigaEthernet1.0\n  ip address %s\n  no shutdown\n!\n", lan)
	b.WriteString("interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss auto\n")
	if initiate {
		b.WriteString("  ikev2 connect-type auto\n")
	} else {
		b.WriteString("  ikev2 negotiation-direction responder\n")
	}
	fmt.Fprintf(&b, "  ikev2 ipsec pre-fragment\n  ikev2 source-address GigaEthernet0.0\n  ikev2 peer %[1]s authentication psk id ipv6 %[1]s\n  no shutdown\n!\n", peer)
	fmt.Fprintf(&b, "ip route %s Tunnel0.0\n", route)
	return b.String()
}

// peerOf returns the WAN address of the side whose peer is peer.
func peerOf(peer string) string {
	if peer == nslab.AzurePublicAddr6 {
		return nslab.IXWANAddr6
	}
	return nslab.AzurePublicAddr6
}

// v6NewLab builds the scenario with the IPv6-only internet.
func v6NewLab(t *testing.T, prefix string, tools ...string) *iopLab {
	t.Helper()
	lab := nslab.NewForTest(t, prefix, append(append([]string{}, iopTools...), tools...)...)
	softIXBinary(t)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{IPv6Internet: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIPv6(); err != nil {
		t.Fatal(err)
	}
	// The internet is IPv6 only: the IX reaches the gateway's IPv6
	// address, and nothing IPv4 crosses.
	if err := s.IX.Ping(nslab.AzurePublicAddr6, "", 1); err != nil {
		t.Fatalf("the IPv6 internet does not carry a ping: %v", err)
	}
	if out, err := s.Internet.Run("ip", "-4", "addr", "show", "scope", "global"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("the internet router has IPv4 addresses: %v\n%s", err, out)
	}
	return &iopLab{t: t, lab: lab, s: s}
}

// The end of v6IXConf's tunnel block (the last interface) up and shut down.
const (
	v6TunnelUp   = "  no shutdown\n!\nip route"
	v6TunnelDown = "  shutdown\n!\nip route"
)

// v6StartIX runs the soft-ix daemon as the IX over the IPv6 internet,
// with its tunnel shut down when shut is set.
func (l *iopLab) v6StartIX(shut bool, args ...string) *nslab.SoftIX {
	l.t.Helper()
	conf := v6IXConf(nslab.AzurePublicAddr6, "ix", nslab.IXLANPrefix, nslab.VNetNet, true)
	if shut {
		conf = strings.Replace(conf, v6TunnelUp, v6TunnelDown, 1)
	}
	return l.startIXWith(nslab.SoftIXOptions{Name: "ix", Config: conf, Map: nslab.IXSideMap(), Args: args})
}

// v6CheckShow checks that soft-ix shows the IKE SA with the IPv6 outer
// addresses in IX form, on port want (500 or 4500), and a Child SA that
// carried the pings both ways.
func v6CheckShow(t *testing.T, l *iopLab, x *nslab.SoftIX, local, peer string, port int) {
	t.Helper()
	sas := l.ikeSAs(x)
	if len(sas) != 1 {
		t.Fatalf("soft-ix shows %d IKE SAs, want 1", len(sas))
	}
	sa := sas[0]
	if sa.LocalAddr != fmt.Sprintf("[%s]:%d", local, port) || sa.PeerAddr != fmt.Sprintf("[%s]:%d", peer, port) || sa.PeerID != "IPV6-ADDR "+peer {
		t.Errorf("show ikev2 sa: local %q peer %q id %q, want [%s]:%d, [%s]:%d, IPV6-ADDR %s", sa.LocalAddr, sa.PeerAddr, sa.PeerID, local, port, peer, port, peer)
	}
	out, err := x.Command("show", "ikev2", "child-sa")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Local Addr : " + local, "Peer Addr : " + peer, "IKE Peer ID : IPV6-ADDR " + peer} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("show ikev2 child-sa has no %q:\n%s", line, out)
		}
	}
	for _, ch := range iopParseChildSAs(out) {
		if ch.Direction == "outbound" && (ch.InPkts == 0 || ch.OutPkts == 0 || ch.InErrors != 0) {
			t.Errorf("Child SA counters: in %d out %d packets, %d inbound errors", ch.InPkts, ch.OutPkts, ch.InErrors)
		}
	}
}

var (
	v6RawESPRe = regexp.MustCompile(`^\S+ IP6 2001:db8:1::94 > 2001:db8:2::6: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)`)
	v6UDPESPRe = regexp.MustCompile(`^\S+ IP6 2001:db8:1::94\.4500 > 2001:db8:2::6\.4500: UDP-encap: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)`)
)

// TestIPv6OuterStrongSwan: soft-ix initiates over IPv6 to charon as the
// gateway; the LAN host pings the VNet host through the tunnel (IPv4 in
// ESP in UDP over IPv6). charon's NAT detection checks soft-ix's IPv6
// hashes: with the true ones it finds neither side behind a NAT (it only
// fakes its own, to get UDP), with --force-udp-encap it takes soft-ix for
// NATed, as intended.
func TestIPv6OuterStrongSwan(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "nat-detection", true: "force-udp-encap"}[force], func(t *testing.T) {
			l := v6NewLab(t, "v6swan", "tcpdump")
			az := nslab.StrongSwanConfig{Name: "azure", LocalAddr: nslab.AzurePublicAddr6, RemoteAddr: nslab.IXWANAddr6, PSK: nslab.SeedPSK}
			c := l.startCharon(az)
			var args []string
			if force {
				args = []string{"--force-udp-encap"}
			}
			x := l.v6StartIX(false, args...)
			l.waitTunnel(x, c, 60*time.Second)
			l.charonUp(c, 10*time.Second)
			l.waitPing(iopPingAttempts)
			if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
				t.Fatal(err)
			}
			iopCheckWire(t, l, v6UDPESPRe, true)
			v6CheckShow(t, l, x, nslab.IXWANAddr6, nslab.AzurePublicAddr6, 4500)
			cs := l.charonSAs(c)
			if len(cs.IKE) != 1 || len(cs.Child) == 0 || cs.Child[len(cs.Child)-1].Encap != "TUNNEL-in-UDP" {
				t.Errorf("charon's SAs: %+v", cs)
			}
			log, err := os.ReadFile(c.LogPath)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(log), "local host is behind NAT") {
				t.Error("charon finds itself behind a NAT: soft-ix's NAT_DETECTION_DESTINATION_IP hash of an IPv6 address is wrong")
			}
			if got := strings.Contains(string(log), "remote host is behind NAT"); got != force {
				t.Errorf("charon takes soft-ix for NATed: %v, want %v (soft-ix's NAT_DETECTION_SOURCE_IP of an IPv6 address)", got, force)
			}
		})
	}
}

// TestIPv6OuterSoftIXPair: soft-ix against soft-ix over IPv6, raw ESP
// (next header 50) without a NAT and ESP in UDP 4500 with
// --force-udp-encap on the IX. In the raw ESP case the IX starts with its
// tunnel shut down, so with no IPv6 socket open, and a reload that brings
// the tunnel up opens them.
func TestIPv6OuterSoftIXPair(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "raw-esp", true: "force-udp-encap"}[force], func(t *testing.T) {
			l := v6NewLab(t, "v6pair", "tcpdump")
			az, err := nslab.StartSoftIXDaemon(l.s.Azure, nslab.SoftIXOptions{
				Name: "azure", Config: v6IXConf(nslab.IXWANAddr6, "azure", nslab.AzureVNetGateway+"/24", nslab.LANNet, false),
				Map: map[string]string{"GigaEthernet0.0": nslab.AzureWANIf, "GigaEthernet1.0": nslab.AzureVNetIf},
			})
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			if force {
				args = []string{"--force-udp-encap"}
			}
			ix := l.v6StartIX(!force, args...)
			if !force {
				v6ReloadIntoIPv6(t, ix)
			}
			iopWaitSoftIXPair(t, l, ix, az, 60*time.Second)
			l.waitPing(iopPingAttempts)
			if force {
				iopCheckWire(t, l, v6UDPESPRe, true)
				v6CheckShow(t, l, ix, nslab.IXWANAddr6, nslab.AzurePublicAddr6, 4500)
				v6CheckShow(t, l, az, nslab.AzurePublicAddr6, nslab.IXWANAddr6, 4500)
			} else {
				iopCheckWire(t, l, v6RawESPRe, false)
				v6CheckShow(t, l, ix, nslab.IXWANAddr6, nslab.AzurePublicAddr6, 500)
				v6CheckShow(t, l, az, nslab.AzurePublicAddr6, nslab.IXWANAddr6, 500)
			}
		})
	}
}

// v6ReloadIntoIPv6 checks that the IX, started with its IPv6 tunnel shut
// down, has no IPv6 socket open, then brings the tunnel up by reload,
// which must open them.
func v6ReloadIntoIPv6(t *testing.T, x *nslab.SoftIX) {
	t.Helper()
	sockets := func() string {
		out, err := x.NS.Run("ss", "-H", "-anuw", "-f", "inet6")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := sockets(); strings.TrimSpace(out) != "" {
		t.Fatalf("IPv6 sockets open with the IPv6 tunnel shut down:\n%s", out)
	}
	conf, err := os.ReadFile(x.ConfPath)
	if err != nil {
		t.Fatal(err)
	}
	up := strings.Replace(string(conf), v6TunnelDown, v6TunnelUp, 1)
	if err := os.WriteFile(x.ConfPath, []byte(up), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := x.Command("reload"); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	out := sockets()
	t.Logf("IPv6 sockets after the reload:\n%s", out)
	if !strings.Contains(out, "[::]:500 ") || !strings.Contains(out, "[::]:4500 ") || !strings.Contains(out, "*:50 ") {
		t.Fatalf("want UDP [::]:500, [::]:4500 and raw ESP (*:50) after the reload that brings the IPv6 tunnel up")
	}
}
