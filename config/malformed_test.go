package config

import (
	"os"
	"strings"
	"testing"
)

// replaceLine returns src with line n (1-based) replaced by text.
func replaceLine(t *testing.T, src string, n int, text string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	if n < 1 || n > len(lines) {
		t.Fatalf("line %d out of range", n)
	}
	lines[n-1] = text
	return strings.Join(lines, "\n")
}

func TestMalformed(t *testing.T) {
	static, err := os.ReadFile("testdata/ix-static.conf")
	if err != nil {
		t.Fatal(err)
	}
	bgp, err := os.ReadFile("testdata/ix-bgp.conf")
	if err != nil {
		t.Fatal(err)
	}
	// Each case replaces one line of a seed config. The error must be
	// reported on that line, at the column of tok (the end of the line when
	// tok is empty, or col when set), with a message containing msg.
	cases := []struct {
		name string
		base []byte
		line int
		text string
		tok  string
		col  int
		msg  string
		at   int // the line the error names, when not line
	}{
		{"enc typo", static, 6, "  sa-proposal enc aes-cbc-255", "", 19, `sa-proposal enc: unknown algorithm "aes-cbc-255", expected one of aes-cbc-128, aes-cbc-192, aes-cbc-256, aes-gcm-128-16`, 0},
		{"integrity unknown", static, 7, "  sa-proposal integrity sha3", "sha3", 0, `sa-proposal integrity: unknown algorithm "sha3"`, 0},
		{"dh unknown", static, 8, "  sa-proposal dh 1023-bit", "1023-bit", 0, `expected one of 1024-bit, 1536-bit, 2048-bit`, 0},
		{"dh unsupported", static, 8, "  sa-proposal dh 768-bit", "768-bit", 0, `768-bit MODP group (group 1) is not supported`, 0},
		{"proposal keyword", static, 6, "  sa-proposal encryption aes-cbc-256", "encryption", 0, `sa-proposal: unknown keyword "encryption", expected one of enc, integrity, prf, dh`, 0},
		{"proposal no value", static, 6, "  sa-proposal enc", "", 0, `sa-proposal enc: missing algorithm`, 0},
		{"duplicate alg", static, 6, "  sa-proposal enc aes-cbc-256 aes-cbc-256", "", 31, `listed twice`, 0},
		{"child md5", static, 10, "  child-proposal integrity md5", "md5", 0, `HMAC-MD5 is not supported`, 0},
		{"child-lifetime range", static, 11, "  child-lifetime 10", "10", 0, `child-lifetime: bad seconds "10", expected a number from 60 to 604800`, 0},
		{"child-lifetime word", static, 11, "  child-lifetime 1h", "1h", 0, `bad seconds "1h"`, 0},
		{"profile typo", static, 6, "  sa-proposl enc aes-cbc-256", "sa-proposl", 0, `ikev2 default-profile: unknown command "sa-proposl", did you mean "sa-proposal"?`, 0},
		{"child-pfs bad", static, 11, "  child-pfs on", "on", 0, `child-pfs: unknown algorithm "on"`, 0},
		{"address no length", static, 15, "  ip address 169.254.0.1", "169.254.0.1", 0, `ip address: bad address "169.254.0.1", expected ADDRESS/LENGTH`, 0},
		{"address bad octet", static, 15, "  ip address 169.254.0.300/30", "169.254.0.300/30", 0, `bad address`, 0},
		{"network address", static, 15, "  ip address 169.254.0.0/30", "169.254.0.0/30", 0, `ip address: 169.254.0.0/30 is the network address of its subnet`, 0},
		{"broadcast address", static, 15, "  ip address 169.254.0.3/30", "169.254.0.3/30", 0, `is the broadcast address`, 0},
		{"mss range", static, 16, "  ip tcp adjust-mss 100", "100", 0, `ip tcp adjust-mss: bad MSS (or auto) "100", expected a number from 536 to 1460`, 0},
		{"mss missing", static, 16, "  ip tcp adjust-mss", "", 0, `ip tcp adjust-mss: missing auto or an MSS value`, 0},
		{"mtu range", static, 16, "  ip mtu 20000", "20000", 0, `ip mtu: bad MTU "20000", expected a number from 68 to 1500`, 0},
		{"connect-type", static, 17, "  ikev2 connect-type manual", "manual", 0, `ikev2 connect-type: unknown keyword "manual", expected auto`, 0},
		{"peer address", static, 19, "  ikev2 peer 20.210.237 authentication psk id ipv4 20.210.237.6", "20.210.237", 0, `ikev2 peer: bad peer "20.210.237"`, 0},
		{"peer id type", static, 19, "  ikev2 peer 20.210.237.6 authentication psk id ipv5 20.210.237.6", "ipv5", 0, `expected one of ipv4, ipv6, fqdn, keyid`, 0},
		{"peer id family", static, 19, "  ikev2 peer 20.210.237.6 authentication psk id ipv4 2001:db8::1", "2001:db8::1", 0, `expected an IPv4 address`, 0},
		{"peer without psk", static, 19, "  ikev2 peer 198.51.100.7 authentication psk", "198.51.100.7", 0, `no "ikev2 authentication psk id ipv4 198.51.100.7 key ..." for this peer`, 0},
		{"peer any without id", static, 19, "  ikev2 peer any authentication psk", "any", 0, `needs "authentication psk id TYPE VALUE"`, 0},
		{"peer auth keyword", static, 19, "  ikev2 peer 20.210.237.6 authentication rsa", "rsa", 0, `unknown keyword "rsa", expected psk`, 0},
		{"binding missing profile", static, 19, "  ikev2 binding nosuch", "nosuch", 0, `no "ikev2 profile nosuch" is configured`, 0},
		{"ikev2 typo in tunnel", static, 18, "  ikev2 ipsec pre-fragment\n  ikev2 conect-type auto", "conect-type", 0, `interface Tunnel0.0: ikev2: unknown command "conect-type", did you mean "connect-type"?`, 19},
		{"shutdown typo", static, 20, "  shutdwn", "shutdwn", 0, `unknown command "shutdwn", did you mean "shutdown"?`, 0},
		{"tunnel mode typo", static, 14, "  tunnel mode ipsec-ikev3", "ipsec-ikev3", 0, `did you mean "ipsec-ikev2"?`, 0},
		{"interface typo", static, 13, "interfce Tunnel0.0", "interfce", 0, `unknown command "interfce", did you mean "interface"?`, 0},
		{"interface name", static, 13, "interface Tunel0.0", "Tunel0.0", 0, `unknown interface "Tunel0.0", expected GigaEthernetN.M`, 0},
		{"interface no sub", static, 13, "interface Tunnel0", "Tunnel0", 0, `bad interface name "Tunnel0", expected TunnelN.M`, 0},
		{"route host bits", static, 22, "ip route 172.16.0.1/16 Tunnel0.0", "172.16.0.1/16", 0, `prefix "172.16.0.1/16" has host bits set, expected 172.16.0.0/16`, 0},
		{"route undeclared tunnel", static, 22, "ip route 172.16.0.0/16 Tunnel1.0", "", 1, `ip route: interface Tunnel1.0 is not configured`, 0},
		{"route gateway", static, 22, "ip route 172.16.0.0/16 Tunnel0", "Tunnel0", 0, `bad gateway "Tunnel0"`, 0},
		{"route no gateway", static, 22, "ip route 172.16.0.0/16", "", 0, `ip route: missing gateway`, 0},
		{"route distance", static, 22, "ip route 172.16.0.0/16 Tunnel0.0 distance 300", "300", 0, `bad distance "300", expected a number from 1 to 255`, 0},
		{"route typo", static, 22, "ip rute 172.16.0.0/16 Tunnel0.0", "rute", 0, `did you mean "ip route"?`, 0},
		{"psk key form", static, 3, "ikev2 authentication psk id ipv4 20.210.237.6 key text P@ssw0rd1234", "text", 0, `expected char or hex here (the word found is not shown`, 0},
		{"psk key word missing", static, 3, "ikev2 authentication psk id ipv4 20.210.237.6 P@ssw0rd1234", "P@ssw0rd1234", 0, `ikev2 authentication psk: expected key here`, 0},
		{"psk missing key", static, 3, "ikev2 authentication psk id ipv4 20.210.237.6", "", 0, `ikev2 authentication psk: missing key`, 0},
		{"psk hex", static, 3, "ikev2 authentication psk id ipv4 20.210.237.6 key hex abc", "abc", 0, `not an even number of hex digits`, 0},
		{"bgp asn", bgp, 23, "router bgp 4294967296", "4294967296", 0, `router bgp: bad AS number "4294967296", expected a number from 1 to 4294967295`, 0},
		{"remote-as zero", bgp, 24, "  neighbor 172.16.0.6 remote-as 0", "", 33, `neighbor remote-as: bad AS number "0"`, 0},
		{"neighbor address", bgp, 24, "  neighbor 172.16.0.600 remote-as 65010", "172.16.0.600", 0, `neighbor: bad neighbor address "172.16.0.600"`, 0},
		{"neighbor typo", bgp, 24, "  neighbor 172.16.0.6 remote-a 65010", "remote-a", 0, `did you mean "remote-as"?`, 0},
		{"update-source missing", bgp, 25, "  neighbor 172.16.0.6 update-source Loopback1.0", "Loopback1.0", 0, `neighbor update-source: interface Loopback1.0 is not configured`, 0},
		{"no remote-as", bgp, 24, "  neighbor 172.16.0.6 description azure", "", 3, `neighbor 172.16.0.6 has no remote-as`, 0},
		{"hold time", bgp, 24, "  neighbor 172.16.0.6 remote-as 65010\n  neighbor 172.16.0.6 timers 60 2", "", 33, `neighbor timers: hold time 2, expected 0 or 3 to 65535`, 25},
		{"network host bits", bgp, 27, "    network 192.168.2.1/24", "192.168.2.1/24", 0, `network: prefix "192.168.2.1/24" has host bits set, expected 192.168.2.0/24`, 0},
		{"router-id", bgp, 24, "  bgp router-id 2001:db8::1", "2001:db8::1", 0, `is not an IPv4 address`, 0},
		{"nat keepalive", static, 18, "  ikev2 nat-traversal keepalive 0", "0", 0, `expected a number from 1 to 3600`, 0},
		{"negotiation-direction", static, 18, "  ikev2 negotiation-direction initiater", "initiater", 0, `expected one of initiator, responder, both`, 0},
		{"ipsec-mode transport", static, 11, "  ipsec-mode transport", "", 1, `interface Tunnel0.0: ipsec-mode transport is not supported by soft-ix`, 13},
		{"ikev2 on GigaEthernet", static, 13, "interface GigaEthernet0.0\n  ikev2 connect-type auto", "ikev2", 0, `interface GigaEthernet0.0: "ikev2" commands apply only to Tunnel interfaces`, 14},
		{"peer any wrong id", static, 19, "  ikev2 peer any authentication psk id fqdn gw.example.net", "any", 0, `no "ikev2 authentication psk id fqdn gw.example.net key ..." for this peer`, 0},
		{"hostname missing", static, 1, "hostname", "", 0, `hostname: missing name`, 0},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := replaceLine(t, string(tc.base), tc.line, tc.text)
			_, diags, err := Parse("ix.conf", []byte(src))
			if err == nil {
				t.Fatalf("no error; diags %v", diags)
			}
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			d := list[0]
			want := tc.line
			if tc.at != 0 {
				want = tc.at
			}
			lineText := strings.Split(src, "\n")[want-1]
			col := tc.col
			switch {
			case col != 0:
			case tc.tok != "":
				col = strings.Index(lineText, tc.tok) + 1
			default:
				col = len(strings.TrimRight(lineText, " ")) + 1
			}
			if d.Pos.File != "ix.conf" || d.Pos.Line != want || d.Pos.Col != col {
				t.Errorf("position %s, want ix.conf:%d:%d (%s)", d.Pos, want, col, d)
			}
			if !strings.Contains(d.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", d.Msg, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), d.String()) || !strings.Contains(d.String(), ": error: ") {
				t.Errorf("error text %q", err.Error())
			}
		})
	}
}

// A PSK line missing a keyword must not echo what stands where the keyword
// belongs: it is likely the key, and diagnostics reach logs.
func TestPSKDiagnosticsHideKey(t *testing.T) {
	for _, line := range []string{
		"ikev2 authentication psk id ipv4 198.51.100.6 key Sup3rSecret",
		"ikev2 authentication psk id ipv4 198.51.100.6 Sup3rSecret",
		"ikev2 authentication psk id ipv4 198.51.100.6 key char Sup3rSecret extra",
		"ikev2 authentication psk id ipv4 198.51.100.6 key hex Sup3rSecret",
	} {
		_, diags, err := Parse("ix.conf", []byte(line+"\n"))
		if err == nil {
			t.Errorf("%q accepted", line)
		}
		for _, d := range diags {
			if strings.Contains(d.String(), "Sup3rSecret") {
				t.Errorf("%q: diagnostic shows the key: %s", line, d)
			}
		}
	}
}

// An IX config may peer over IPv6; soft-ix ignores such a neighbor with a
// warning instead of failing to start BGP.
func TestIPv6NeighborIgnored(t *testing.T) {
	src := "interface Loopback0.0\n  ip address 10.2.2.2/32\nrouter bgp 65050\n  neighbor 2001:db8::1 remote-as 65010\n"
	_, diags, err := Parse("ix.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 1 || diags[0].Severity != Warning || !strings.Contains(diags[0].Msg, "IPv6 BGP neighbors are not emulated") {
		t.Errorf("diagnostics %v", diags)
	}
}
