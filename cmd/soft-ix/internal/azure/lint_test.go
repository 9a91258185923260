package azure

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
)

func lint(t *testing.T, name string, src []byte, acc Accepts) []Finding {
	t.Helper()
	c, _, err := config.Parse(name, src)
	if err != nil {
		t.Fatalf("%s does not load: %v", name, err)
	}
	return Lint(c, src, acc)
}

// summary is "line severity row" per finding, the part tests pin down.
func summary(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s:%d %s %s", f.Pos.File, f.Pos.Line, f.Severity, f.Row))
	}
	return out
}

func sameList(t *testing.T, what string, got, want []string, fs []Finding) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		var all []string
		for _, f := range fs {
			all = append(all, f.String())
		}
		t.Errorf("%s:\ngot\n  %s\nwant\n  %s\nfindings:\n%s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "), strings.Join(all, "\n"))
	}
}

// The seed configs work against Azure; what they do differently from
// Azure's documented values is reported as notes only: the IX's default
// IKE lifetime (86400 s against Azure's 28800 s), no DPD, and adjust-mss
// auto rather than 1350.
func TestLintSeedsOnlyNotes(t *testing.T) {
	for _, tc := range []struct{ file, profileLine, mssLine string }{
		{seedStatic, "5", "16"}, {seedBGP, "6", "17"},
	} {
		src, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		fs := lint(t, tc.file, src, DefaultAccepts())
		want := []string{
			tc.file + ":" + tc.profileLine + " info ike-lifetime",
			tc.file + ":" + tc.profileLine + " info dpd",
			tc.file + ":" + tc.mssLine + " info mss",
		}
		sameList(t, tc.file, summary(fs), want, fs)

		// The same file without indentation (as IX configs are often
		// pasted) points at the same lines.
		var flat []string
		for _, line := range strings.Split(string(src), "\n") {
			flat = append(flat, strings.TrimLeft(line, " "))
		}
		fs = lint(t, tc.file, []byte(strings.Join(flat, "\n")), DefaultAccepts())
		sameList(t, tc.file+" (flat)", summary(fs), want, fs)
	}
}

// What the generator writes must lint without errors or warnings.
func TestLintGenerated(t *testing.T) {
	aa := seedBGPParams()
	aa.Gateways = addrs("198.51.100.6", "198.51.100.7")
	aa.BGPPeers = addrs("169.254.21.1", "169.254.22.1")
	gcm := seedStaticParams()
	gcm.Policy = GCMPolicy()
	for i, p := range []Params{seedStaticParams(), seedBGPParams(), aa, gcm} {
		out, err := Generate(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range lint(t, "gen", out, DefaultAccepts()) {
			if f.Severity != Info {
				t.Errorf("params %d: %s\n%s", i, f, out)
			}
		}
	}
}

const wrongConf = `ikev2 authentication psk id ipv4 198.51.100.6 key char secret
ikev2 authentication psk id ipv4 198.51.100.7 key char secret
!
ikev2 default-profile
  sa-proposal enc aes-gcm-256-16
  sa-proposal integrity sha2-256
  sa-proposal dh 2048-bit
  child-proposal enc aes-cbc-192
  child-proposal integrity sha2-512
  child-pfs 2048-bit
  child-lifetime 86400
!
ikev2 profile dh-only
  sa-proposal enc aes-cbc-256
  sa-proposal integrity sha1
  sa-proposal dh 2048-bit
  child-proposal enc aes-cbc-256
  child-proposal integrity sha1
  child-pfs 1024-bit
  sa-lifetime 28800
  dpd interval 10
!
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.1/30
  ikev2 connect-type auto
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
  no shutdown
!
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ip address 169.254.0.5/30
  ip tcp adjust-mss 1400
  ikev2 connect-type auto
  ikev2 ipsec pre-fragment
  ikev2 binding dh-only
  ikev2 peer 198.51.100.7 authentication psk id ipv4 198.51.100.7
  no shutdown
!
router bgp 65515
  neighbor 169.254.1.2 remote-as 65010
  neighbor 172.16.0.6 remote-as 65010
  neighbor 172.16.0.6 update-source Loopback0.0
  neighbor 203.0.113.9 remote-as 65515
!
ip route 172.16.0.0/16 Tunnel1.0
ip route 169.254.0.0/16 GigaEthernet0.0
!
interface Loopback0.0
  ip address 10.2.2.2/32
`

func TestLintWrongConfig(t *testing.T) {
	fs := lint(t, "wrong.conf", []byte(wrongConf), DefaultAccepts())
	want := []string{
		"wrong.conf:4 info ike-lifetime",     // Tunnel0.0: the IX default 86400 s, at its profile
		"wrong.conf:4 info dpd",              // Tunnel0.0: no dpd
		"wrong.conf:5 error default-ike",     // Tunnel0.0: GCM/SHA256 for IKE: Azure's default has no GCM
		"wrong.conf:8 error default-child",   // Tunnel0.0: AES-192/SHA-512 is no Azure Child proposal
		"wrong.conf:11 info child-lifetime",  // Tunnel0.0: 86400 > 27000
		"wrong.conf:13 info child-lifetime",  // Tunnel1.0: the IX default 28800 > 27000
		"wrong.conf:16 error default-ike",    // Tunnel1.0: DH 2048 against Azure's group 2
		"wrong.conf:19 warning answer-child", // Tunnel1.0: PFS Azure answers but never offers
		"wrong.conf:23 warning mss",          // Tunnel0.0: no adjust-mss
		"wrong.conf:23 warning pre-fragment", // Tunnel0.0
		"wrong.conf:33 warning mss",          // Tunnel1.0: 1400 > 1350
		"wrong.conf:40 error reserved-asn",   // router bgp 65515
		"wrong.conf:41 error apipa",          // 169.254.1.2 outside Azure's APIPA range
		"wrong.conf:41 error bgp-host-route", // ... and routed to the WAN
		"wrong.conf:44 error ebgp",           // remote-as = local AS
		"wrong.conf:44 warning bgp-peer",     // public address
		"wrong.conf:44 error bgp-host-route", // no route into a tunnel
	}
	sameList(t, "wrong.conf", summary(fs), want, fs)
	if !HasErrors(fs) {
		t.Error("HasErrors false")
	}
	for _, f := range fs {
		if f.Fix == "" {
			t.Errorf("%s: no fix", f)
		}
		if _, ok := Lookup(f.Row); !ok {
			t.Errorf("%s: row %q is not in the table", f, f.Row)
		}
		if strings.Contains(f.String(), "secret") {
			t.Errorf("finding shows the key: %s", f)
		}
	}
}

// TestLintAnswerChild: Azure accepts more Child SA proposals as responder
// than it offers. A proposal or PFS group only on the answering list is
// a warning (the IX's own Child SAs and rekeys work, Azure's do not get
// it); one on neither list is an error.
func TestLintAnswerChild(t *testing.T) {
	for _, tc := range []struct{ lines, want string }{
		{"  child-proposal enc aes-cbc-128\n  child-proposal integrity sha2-256\n", "warning answer-child"},
		{"  child-proposal enc aes-cbc-256\n  child-proposal integrity sha2-256\n  child-pfs 2048-bit\n", "warning answer-child"},
		{"  child-proposal enc aes-cbc-256\n  child-proposal integrity sha2-256\n  child-pfs 3072-bit\n", "error default-pfs"},
		{"  child-proposal enc aes-cbc-192\n  child-proposal integrity sha2-512\n", "error default-child"},
	} {
		conf := "ikev2 default-profile\n  sa-proposal enc aes-cbc-256\n  sa-proposal integrity sha1\n  sa-proposal dh 1024-bit\n" + tc.lines +
			"  dpd interval 10\n!\ninterface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss 1350\n" +
			"  ikev2 connect-type auto\n  ikev2 ipsec pre-fragment\n  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6\n  no shutdown\n!\n" +
			"ikev2 authentication psk id ipv4 198.51.100.6 key char secret\n"
		fs := lint(t, "a.conf", []byte(conf), DefaultAccepts())
		var got []string
		for _, s := range summary(fs) {
			if (strings.Contains(s, "child") || strings.Contains(s, "pfs")) && !strings.Contains(s, "lifetime") {
				got = append(got, s[strings.Index(s, " ")+1:])
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: child findings %v, want [%s]", tc.lines, got, tc.want)
		}
	}
}

func TestLintActiveActiveSharedTunnel(t *testing.T) {
	p := seedBGPParams()
	p.Gateways = addrs("198.51.100.6", "198.51.100.7")
	p.BGPPeers = addrs("172.16.0.4", "172.16.0.5")
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(out), "ip route 172.16.0.5/32 Tunnel1.0", "ip route 172.16.0.5/32 Tunnel0.0", 1)
	fs := lint(t, "aa.conf", []byte(src), DefaultAccepts())
	found := false
	for _, f := range fs {
		found = found || f.Row == "active-active" && f.Severity == Warning
	}
	if !found {
		t.Errorf("both BGP peers through Tunnel0.0 not reported:\n%v", summary(fs))
	}
}

const gcmPolicy = `{
  "connectionProtocol": "IKEv2",
  "ipsecPolicies": [{
    "dhGroup": "ECP384", "ikeEncryption": "GCMAES256", "ikeIntegrity": "GCMAES256",
    "ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256", "pfsGroup": "ECP384",
    "saDataSizeKilobytes": 102400000, "saLifeTimeSeconds": 3600
  }]
}`

func TestLintCustomPolicy(t *testing.T) {
	pol, ok, err := ParsePolicies([]byte(gcmPolicy))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	acc, err := pol.Accepts()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(seedStatic)
	if err != nil {
		t.Fatal(err)
	}
	fs := lint(t, "seed", src, acc)
	want := []string{
		"seed:6 error custom-policy", // sa-proposal enc aes-cbc-256 against GCM
		"seed:9 error custom-policy", // child-proposal enc aes-cbc-256 against GCM
		"seed:5 info ike-lifetime",
		"seed:5 info dpd",
		"seed:16 info mss",
	}
	got := summary(fs)
	slices.Sort(got)
	slices.Sort(want)
	sameList(t, "custom", got, want, fs)

	// A config written for the policy is clean but for notes.
	p := seedStaticParams()
	ike, child, err := pol.Suites()
	if err != nil {
		t.Fatal(err)
	}
	p.Policy = Policy{Name: "custom", IKE: ike, Child: child, IKELifetime: IKELifetime, ChildLifetime: acc.ChildLifetime, ChildLifetimeKB: acc.ChildLifetimeKB}
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range lint(t, "custom.conf", out, acc) {
		if f.Severity != Info {
			t.Errorf("%s\n%s", f, out)
		}
	}
	// PFS required but missing.
	noPFS := strings.Replace(string(out), "  child-pfs 384-bit-ecp\n", "", 1)
	fs = lint(t, "nopfs.conf", []byte(noPFS), acc)
	if !HasErrors(fs) {
		t.Errorf("missing PFS not reported:\n%v", summary(fs))
	}
}

func TestParsePolicies(t *testing.T) {
	for name, in := range map[string]string{
		"array":      `[{"ikeEncryption":"AES256","ikeIntegrity":"SHA256","dhGroup":"DHGroup14","ipsecEncryption":"AES256","ipsecIntegrity":"SHA256","pfsGroup":"None","saLifeTimeSeconds":27000,"saDataSizeKilobytes":102400000}]`,
		"object":     `{"ikeEncryption":"AES256","ikeIntegrity":"SHA256","dhGroup":"DHGroup14","ipsecEncryption":"AES256","ipsecIntegrity":"SHA256","pfsGroup":"None"}`,
		"properties": `{"name":"c","properties":{"ipsecPolicies":[{"ikeEncryption":"AES256","ikeIntegrity":"SHA256","dhGroup":"DHGroup2048","ipsecEncryption":"AES256","ipsecIntegrity":"SHA256","pfsGroup":"PFSMM"}]}}`,
	} {
		p, ok, err := ParsePolicies([]byte(in))
		if err != nil || !ok {
			t.Errorf("%s: %v %v", name, ok, err)
			continue
		}
		ike, child, err := p.Suites()
		if err != nil || ike.DH != config.DH2048 || ike.Enc != config.EncAESCBC256 || child.Integ != config.IntegSHA256 {
			t.Errorf("%s: %+v %+v %v", name, ike, child, err)
		}
		if name == "properties" && child.PFS != config.DH2048 {
			t.Errorf("PFSMM: pfs %q, want the IKE group", child.PFS)
		}
	}
	if _, ok, err := ParsePolicies([]byte(`{"connectionProtocol":"IKEv2","ipsecPolicies":[]}`)); ok || err != nil {
		t.Errorf("empty ipsecPolicies: %v %v, want the default policy", ok, err)
	}
	for _, bad := range []string{
		`{"ikeEncryption":"DES","ikeIntegrity":"SHA1","dhGroup":"DHGroup2","ipsecEncryption":"AES256","ipsecIntegrity":"SHA1","pfsGroup":"None"}`,
		`{"ikeEncryption":"AES256","ikeIntegrity":"MD5","dhGroup":"DHGroup2","ipsecEncryption":"AES256","ipsecIntegrity":"SHA1","pfsGroup":"None"}`,
		`{"ikeEncryption":"AES256","ikeIntegrity":"SHA1","dhGroup":"DHGroup1","ipsecEncryption":"AES256","ipsecIntegrity":"SHA1","pfsGroup":"None"}`,
		`{"ikeEncryption":"AES256","ikeIntegrity":"SHA1","dhGroup":"DHGroup2","ipsecEncryption":"GCMAES192","ipsecIntegrity":"GCMAES192","pfsGroup":"None"}`,
		`{"ikeEncryption":"AES256","ikeIntegrity":"SHA1","dhGroup":"DHGroup2","ipsecEncryption":"AES256","ipsecIntegrity":"GCMAES256","pfsGroup":"None"}`,
		`[{},{}]`, `{"name":"x"}`, `nonsense`,
	} {
		p, ok, err := ParsePolicies([]byte(bad))
		if err == nil && ok {
			_, err = p.Accepts()
		}
		if err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// A per-tunnel override ("ikev2 sa-proposal dh ..." in the interface) is
// reported at its own line, not at the profile's.
func TestLintTunnelOverridePosition(t *testing.T) {
	src, err := os.ReadFile(seedStatic)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "  ikev2 ipsec pre-fragment\n", "  ikev2 ipsec pre-fragment\n  ikev2 sa-proposal dh 2048-bit\n", 1)
	fs := lint(t, "override.conf", []byte(text), DefaultAccepts())
	var got []string
	for _, f := range fs {
		if f.Severity == Error {
			got = append(got, fmt.Sprintf("%d:%d %s", f.Pos.Line, f.Pos.Col, f.Row))
		}
	}
	sameList(t, "override", got, []string{"19:3 default-ike"}, fs)
}

// TestLintIPv6Outer: Azure has no IPv6 outer tunnel address.
func TestLintIPv6Outer(t *testing.T) {
	conf := "interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss 1350\n" +
		"  ikev2 connect-type auto\n  ikev2 ipsec pre-fragment\n  ikev2 peer 2001:db8::6 authentication psk id ipv6 2001:db8::6\n  no shutdown\n!\n" +
		"ikev2 authentication psk id ipv6 2001:db8::6 key char secret\n"
	fs := lint(t, "v6.conf", []byte(conf), DefaultAccepts())
	if !slices.Contains(summary(fs), "v6.conf:7 error ipv4-outer") {
		t.Errorf("findings %v, want v6.conf:7 error ipv4-outer", summary(fs))
	}
}

// TestLintConnectionMode: with the connection's connectionMode known
// (check --azure --policy CONNECTION.json), a tunnel neither side starts
// is an error, one Azure refuses to let the IX start is noted.
func TestLintConnectionMode(t *testing.T) {
	conf := func(extra string) []byte {
		return []byte("interface Tunnel0.0\n  tunnel mode ipsec-ikev2\n  ip address 169.254.0.1/30\n  ip tcp adjust-mss 1350\n" +
			extra + "  ikev2 ipsec pre-fragment\n  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6\n  no shutdown\n!\n" +
			"ikev2 authentication psk id ipv4 198.51.100.6 key char secret\n")
	}
	for _, tc := range []struct {
		mode, extra, want string
	}{
		{"ResponderOnly", "  ikev2 negotiation-direction responder\n", "m.conf:5 error connection-mode"},
		{"ResponderOnly", "", "m.conf:1 warning connection-mode"},
		{"ResponderOnly", "  ikev2 connect-type auto\n", ""},
		{"InitiatorOnly", "  ikev2 negotiation-direction initiator\n", "m.conf:5 error connection-mode"},
		{"InitiatorOnly", "  ikev2 connect-type auto\n", "m.conf:1 info connection-mode"},
		{"InitiatorOnly", "  ikev2 negotiation-direction responder\n", ""},
		{"", "  ikev2 negotiation-direction responder\n", ""},
	} {
		acc := DefaultAccepts()
		acc.Mode = tc.mode
		var got []string
		for _, s := range summary(lint(t, "m.conf", conf(tc.extra), acc)) {
			if strings.HasSuffix(s, " connection-mode") {
				got = append(got, s)
			}
		}
		if want := []string{tc.want}; (tc.want == "" && len(got) != 0) || (tc.want != "" && !slices.Equal(got, want)) {
			t.Errorf("mode %q with %q: %v, want %q", tc.mode, tc.extra, got, tc.want)
		}
	}
	// A connection document without ipsecPolicies is Azure's defaults,
	// not an error, and its connectionMode is read.
	doc := []byte(`{"name": "cn", "properties": {"connectionType": "IPsec", "connectionMode": "ResponderOnly", "dpdTimeoutSeconds": 60}}`)
	if _, ok, err := ParsePolicies(doc); ok || err != nil {
		t.Errorf("connection without policies: ok %v, %v", ok, err)
	}
	acc := DefaultAccepts()
	if err := acc.ReadConnection(doc); err != nil || acc.Mode != "ResponderOnly" || acc.DPDTimeout.Seconds() != 60 {
		t.Errorf("ReadConnection: %+v %v", acc, err)
	}
	if err := acc.ReadConnection([]byte(`{"connectionMode": "Never"}`)); err == nil {
		t.Error("connectionMode Never accepted")
	}
	// dpdTimeoutSeconds is 9 to 3600 (row "dpd"); 0 leaves Azure's
	// default.
	for _, sec := range []int{5, 8, 3601, -1} {
		if err := acc.ReadConnection([]byte(fmt.Sprintf(`{"dpdTimeoutSeconds": %d}`, sec))); err == nil {
			t.Errorf("dpdTimeoutSeconds %d accepted", sec)
		}
	}
	for _, tc := range []struct{ sec, want int }{{0, 45}, {9, 9}, {3600, 3600}} {
		a := DefaultAccepts()
		if err := a.ReadConnection([]byte(fmt.Sprintf(`{"dpdTimeoutSeconds": %d}`, tc.sec))); err != nil || a.DPDTimeout.Seconds() != float64(tc.want) {
			t.Errorf("dpdTimeoutSeconds %d: %v %v, want %d s", tc.sec, a.DPDTimeout, err, tc.want)
		}
	}
}
