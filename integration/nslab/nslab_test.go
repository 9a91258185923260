package nslab

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests need neither root nor any daemon: they check what nslab
// writes. The namespace behaviour is tested in integration/lab_test.go.

func TestRenderStrongSwanSeed(t *testing.T) {
	cfg := IXStrongSwanConfig()
	cfg.setDefaults()
	daemon, conn, err := renderStrongSwan(cfg, "unix:///lab/ix.vici", "/lab/ix.log")
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "strongswan.conf", daemon,
		"socket = unix:///lab/ix.vici",
		"path = /lab/ix.log",
		"install_routes = no",
		"load_modular = no",
		"load = random nonce drbg openssl aes sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici",
		"time_format = %T",
		"flush_line = yes",
		"      default = 1\n      cfg = 1\n      esp = 1\n      ike = 2\n      knl = 2\n      net = 1\n",
		"swanctl {\n  load = random nonce\n}",
	)
	checkContains(t, "swanctl.conf", conn,
		"local_addrs = 203.0.113.94",
		"remote_addrs = 198.51.100.6",
		"proposals = aes256-sha1-modp1024",
		"esp_proposals = aes256-sha256",
		"local_ts = 0.0.0.0/0",
		"remote_ts = 0.0.0.0/0",
		"id = 203.0.113.94",
		"id = 198.51.100.6",
		"start_action = start",
		`secret = "P@ssw0rd1234"`,
	)
	for _, absent := range []string{"rekey_time", "dpd_delay"} {
		if strings.Contains(conn, absent) {
			t.Errorf("swanctl.conf has %q though it was not asked for:\n%s", absent, conn)
		}
	}
	// swanctl.conf wants one key = value per line.
	onePerLine := regexp.MustCompile(`^\s*([a-z0-9_.-]+ = [^=]+|[a-z0-9_-]+ \{|\}|#.*|)$`)
	for i, line := range strings.Split(daemon+conn, "\n") {
		if !onePerLine.MatchString(line) {
			t.Errorf("line %d is not one key = value, block or comment: %q", i+1, line)
		}
	}
}

func TestCharonConf(t *testing.T) {
	conf, err := CharonConf{
		ViciURI: "unix:///lab/c.vici", LogPath: "/lab/c.log", LogTimeFormat: "%T.%f",
		Plugins:   []string{"gcm"},
		Settings:  []string{"cookie_threshold = 100000", "retransmit_timeout = 1.0"},
		LogLevels: map[string]int{"chd": 4, "default": 0},
	}.Text()
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "strongswan.conf", conf,
		"load = random nonce drbg openssl aes sha1 sha2 hmac gcm kdf kernel-libipsec kernel-netlink socket-default vici",
		"  install_virtual_ip = no\n  cookie_threshold = 100000\n  retransmit_timeout = 1.0\n  plugins {",
		"socket = unix:///lab/c.vici",
		"path = /lab/c.log",
		"time_format = %T.%f",
		"      default = 0\n      chd = 4\n",
	)

	// Without a log path there is no file log (a load benchmark's).
	conf, err = CharonConf{ViciURI: "unix:///lab/c.vici"}.Text()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(conf, "filelog") {
		t.Errorf("strongswan.conf has a file log though no path was given:\n%s", conf)
	}

	for _, bad := range []CharonConf{
		{},
		{ViciURI: "unix:///x", Settings: []string{"cookie_threshold 100"}},
		{ViciURI: "unix:///x", Settings: []string{"a = 1\n}"}},
		{ViciURI: "unix:///x", Plugins: []string{"gcm }"}},
		{ViciURI: "unix:///x", LogPath: "/x", LogLevels: map[string]int{"a {": 1}},
	} {
		if _, err := bad.Text(); err == nil {
			t.Errorf("CharonConf%+v: no error", bad)
		}
	}
}

func TestRenderStrongSwanOptions(t *testing.T) {
	cfg := AzureStrongSwanConfig()
	cfg.IKEProposals, cfg.ESPProposals = AzureIKEProposals, AzureESPProposals
	cfg.IKERekeyTime, cfg.ChildRekeyTime, cfg.DPDDelay = 8*time.Hour, 27000*time.Second, 10*time.Second
	cfg.setDefaults()
	_, conn, err := renderStrongSwan(cfg, "unix:///x", "/y")
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "swanctl.conf", conn,
		"proposals = "+AzureIKEProposals,
		"esp_proposals = "+AzureESPProposals,
		"rekey_time = 28800s",
		"rekey_time = 27000s",
		"dpd_delay = 10s",
		"dpd_action = restart",
	)
	if strings.Contains(conn, "start_action") {
		t.Errorf("responder config has a start_action:\n%s", conn)
	}
}

func TestStrongSwanConfigValidate(t *testing.T) {
	for _, psk := range []string{`a"b`, `a\b`, "a\nb", ""} {
		cfg := IXStrongSwanConfig()
		cfg.PSK = psk
		if cfg.validate() == nil {
			t.Errorf("PSK %q accepted", psk)
		}
	}
	cfg := IXStrongSwanConfig()
	cfg.Name = "Bad Name"
	if cfg.validate() == nil {
		t.Error("name with capitals and a space accepted")
	}
	// The PSK never appears in a validation error.
	cfg = IXStrongSwanConfig()
	cfg.PSK = `secret"value`
	if err := cfg.validate(); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("validate() = %v", err)
	}
}

func TestRenderBGP(t *testing.T) {
	lab := &Lab{Dir: "/lab"}
	conf, err := BGPConfig{
		Name: "ix", RouterID: IXLoopbackAddr, LocalAS: IXASN, SourceAddr: IXLoopbackAddr,
		PeerAddr: AzureBGPAddr, PeerAS: AzureASN, Multihop: 2,
		Announce: []DeviceRoute{{LANNet, IXLANIf}},
		Reach:    []DeviceRoute{{AzureBGPAddr + "/32", "ipsec0"}},
		Kernel:   true,
	}.Render(lab)
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "bird.conf", conf,
		`log "/lab/bird-ix.log" all;`,
		"router id 10.2.2.2;",
		"local 10.2.2.2 as 65050;",
		"neighbor 172.16.0.6 as 65010;",
		"multihop 2;",
		`route 192.168.2.0/24 via "GigaEthernet1.0";`,
		`route 172.16.0.6/32 via "ipsec0";`,
		"export where source = RTS_BGP;",
		`export where proto = "announce";`,
	)
}

// TestSwanctlConfAnyPeerNoRekey checks the responder the bench scripts
// run (through integration/cmd/swanconf): peers from any address and
// identity, no rekeying.
func TestSwanctlConfAnyPeerNoRekey(t *testing.T) {
	conf, err := StrongSwanConfig{Name: "load", LocalAddr: "198.51.100.6", RemoteAddr: "%any", PSK: "loadtest",
		IKEProposals: "aes256-sha1-modp1024,aes256-sha1-modp2048", NoRekey: true}.SwanctlConf()
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "swanctl.conf", conf,
		"remote_addrs = %any",
		"id = %any",
		"proposals = aes256-sha1-modp1024,aes256-sha1-modp2048",
		"    rekey_time = 0\n",
		"        rekey_time = 0\n",
		"load-child {",
		`secret = "loadtest"`,
	)
	if strings.Contains(conf, "id-remote") || strings.Contains(conf, "id-local") {
		t.Errorf("a secret for any peer names identities:\n%s", conf)
	}
	if _, err := (StrongSwanConfig{Name: "x", LocalAddr: "a", RemoteAddr: "b"}).SwanctlConf(); err == nil {
		t.Error("SwanctlConf accepted an empty PSK")
	}
}

// checkContains reports each of wants that the generated file text lacks.
func checkContains(t *testing.T, file, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", file, want, text)
		}
	}
}
