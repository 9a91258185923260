package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
)

func TestParseArgs(t *testing.T) {
	o, words, err := parseArgs([]string{"show", "running-config", "-c", "ix.conf", "--map", "GigaEthernet0.0=eth0",
		"--map=GigaEthernet1.0=eth1", "--socket", "/tmp/s.sock", "--log-format", "json", "--log-level", "debug",
		"--metrics", ":9477", "--keylog", "/tmp/k", "--force-udp-encap", "--once"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(words, " ") != "show running-config" {
		t.Errorf("words %q", words)
	}
	if o.config != "ix.conf" || o.socket != "/tmp/s.sock" || o.logFormat != "json" || o.logLevel != "debug" ||
		o.metrics != ":9477" || o.keylog != "/tmp/k" || !o.forceUDPEncap || !o.once || o.static {
		t.Errorf("options %+v", o)
	}
	if o.maps["GigaEthernet0.0"] != "eth0" || o.maps["GigaEthernet1.0"] != "eth1" {
		t.Errorf("maps %v", o.maps)
	}
	o, _, err = parseArgs(nil, io.Discard)
	if err != nil || o.socket != "/run/soft-ix/soft-ix.sock" || o.logFormat != "text" || o.metrics != "" {
		t.Errorf("defaults %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--map", "eth0"}, {"--map", "Tunnel0.0=tun0"}, {"--map", "GigaEthernet0.0=a", "--map", "GigaEthernet0.0=b"},
		{"--log-format", "xml"}, {"--log-level", "loud"}, {"--bogus"},
	} {
		if _, _, err := parseArgs(bad, io.Discard); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}

func TestHelpDocumentsEverything(t *testing.T) {
	var out bytes.Buffer
	if st := run([]string{"--help"}, io.Discard, &out); st != exitOK {
		t.Errorf("status %d", st)
	}
	for _, want := range []string{"check -c FILE", "show running-config -c FILE", "soft-ix cli", "soft-ix lab",
		"show ikev2 child-sa", "show ip bgp neighbors A.B.C.D advertised-routes", "ping A.B.C.D", "clear ikev2 sa",
		"reload", "soft-ix help", "soft-ix azure config", "--gateway-ip2", "soft-ix azure table", "soft-ix azure import", "--local-gateway", "check --azure", "-azure", "-policy", "-map", "-socket", "-log-format", "-log-level", "-metrics", "-keylog", "-force-udp-encap", "-allow-unenforced", "-host-interfaces", "-static", "-once"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"check"}, {"show", "i"}, {"frobnicate"}} {
		var errb bytes.Buffer
		if st := run(args, io.Discard, &errb); st != exitUsage {
			t.Errorf("run(%q) = %d, want %d (%s)", args, st, exitUsage, errb.String())
		}
	}
}

func TestMetricsAddr(t *testing.T) {
	for in, want := range map[string]string{":9477": "127.0.0.1:9477", "9477": "127.0.0.1:9477",
		"0.0.0.0:9477": "0.0.0.0:9477", "192.0.2.1:1": "192.0.2.1:1"} {
		if got, err := metricsAddr(in); err != nil || got != want {
			t.Errorf("metricsAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := metricsAddr("nope"); err == nil {
		t.Error("metricsAddr(nope) accepted")
	}
}

// testDaemon answers with a router that runs nothing (the router's own
// tests run it with fake parts).
func testDaemon(load func(string) (*config.Config, []diagnostic, error)) *daemon {
	o := &options{config: "ix.conf"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &daemon{opts: o, log: log, load: load, router: router.New(&config.Config{Hostname: "old"}, o.routerOptions(), log), started: time.Now()}
}

func TestReloadRefusesBrokenConfig(t *testing.T) {
	d := testDaemon(func(path string) (*config.Config, []diagnostic, error) {
		return nil, []diagnostic{{Pos: config.Pos{File: path, Line: 3, Col: 7}, Severity: config.Error, Msg: `unknown command "interfase"`}}, config.ErrorList{}
	})
	old := d.router.Config()
	resp := d.Handle(context.Background(), []string{"reload"})
	if resp.Status != exitFail || !strings.Contains(resp.Output, "ix.conf:3:7: error: unknown command") ||
		!strings.Contains(resp.Output, "running configuration stays") {
		t.Errorf("reload of a broken config: %+v", resp)
	}
	if d.router.Config() != old {
		t.Error("a refused reload changed the running config")
	}
}

func TestReloadAppliesGoodConfig(t *testing.T) {
	next := &config.Config{Hostname: "new"}
	d := testDaemon(func(string) (*config.Config, []diagnostic, error) { return next, nil, nil })
	resp := d.Handle(context.Background(), []string{"rel"})
	if resp.Status != exitOK || !strings.Contains(resp.Output, "Configuration reloaded:\n  - hostname old\n  + hostname new\n") {
		t.Errorf("reload: %+v", resp)
	}
	if d.router.Config() != next {
		t.Error("reload did not reach the router")
	}
	if resp := d.Handle(context.Background(), []string{"reload"}); resp.Status != exitOK || resp.Output != "Configuration reloaded, no changes.\n" {
		t.Errorf("reload of the same file: %+v", resp)
	}
}

// TestHandleCommands: each command reaches the router and comes back
// rendered; a part the configuration does not run says so.
func TestHandleCommands(t *testing.T) {
	d := testDaemon(nil)
	tests := []struct {
		args   string
		status int
		want   string
	}{
		{"sh run", 0, "hostname old"},
		{"sh ikev2 sa", 0, "IKEv2 SA - 0 created"},
		{"sh ip bgp su", 1, "% BGP is not running"},
		{"sh ip bgp n 172.16.0.7 a", 1, "% BGP is not running"},
		{"sh ip route", 1, "% routing is not running"},
		{"clear ikev2 sa peer 198.51.100.6", 1, "% IKEv2 is not running"},
		{"clear ip bgp *", 1, "% BGP is not running"},
		{"sh ver", 0, "soft-ix (NEC IX emulation) Software, Version devel, go1"},
		{"sh ver", 0, "System uptime is 0 days 0 hours 0 minutes"},
		{"show i", 2, "Ambiguous"},
	}
	for _, tt := range tests {
		resp := d.Handle(context.Background(), strings.Fields(tt.args))
		if resp.Status != tt.status || !strings.Contains(resp.Output, tt.want) {
			t.Errorf("%q: %+v, want status %d with %q", tt.args, resp, tt.status, tt.want)
		}
	}
}

// fakeSnapshot is the router's state as the metrics read it: one IKE SA,
// one Child SA, one BGP neighbor.
type fakeSnapshot struct{ s router.Snapshot }

func (f fakeSnapshot) Snapshot() router.Snapshot { return f.s }

func testSnapshot() fakeSnapshot {
	return fakeSnapshot{router.Snapshot{
		IKESAs:   []show.IKESA{{Interface: "Tunnel0.0", Serial: 1, Initiator: true}},
		ChildSAs: []show.ChildSA{{Interface: "Tunnel0.0"}},
		BGP:      &show.BGPSummary{LocalAS: 65050, Neighbors: []show.BGPNeighbor{{Addr: netip.MustParseAddr("172.16.0.6"), AS: 65010, State: "ESTABLISHED"}}},
	}}
}

func TestMetricsCollect(t *testing.T) {
	// 1 IKE SA, 1 child SA with counters and drops both ways, 1 BGP neighbor.
	if n := countMetrics(newCollector(testSnapshot())); n < 20 {
		t.Errorf("only %d metrics", n)
	}
}

// TestCheckListsInactiveWithoutSecrets: check loads a PPPoE/IKEv1 file,
// lists what soft-ix keeps without acting on, and shows none of the
// secrets those lines carry (config's TestDiffCommandsHideSecrets covers
// the reload summary).
func TestCheckListsInactiveWithoutSecrets(t *testing.T) {
	src := `ike policy p1 peer 198.51.100.1 key IkeSecret1 prop
ppp profile isp
  authentication password user@example.jp PppSecret1
interface GigaEthernet0.1
  encapsulation pppoe
  ppp binding isp
  ip address ipcp
  no shutdown
`
	path := filepath.Join(t.TempDir(), "ix.conf")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if rc := runCheck(path, nil, false, &out, &errb); rc != exitOK {
		t.Fatalf("check: %d\n%s", rc, errb.String())
	}
	for _, want := range []string{"inactive: 5 commands", ":1:1: ike policy\n", ":2:1: ppp profile (+1 lines of its block)\n", ":6:3: ppp binding\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"IkeSecret1", "PppSecret1"} {
		if strings.Contains(out.String()+errb.String(), secret) {
			t.Errorf("the secret %q is shown:\n%s%s", secret, out.String(), errb.String())
		}
	}
}

// TestBGPResetKind: the words of "clear ip bgp" pick the kind of reset.
func TestBGPResetKind(t *testing.T) {
	for line, want := range map[string]bgp.Reset{
		"clear ip bgp *":                   bgp.ResetHard,
		"clear ip bgp 172.16.0.6":          bgp.ResetHard,
		"clear ip bgp * soft":              bgp.ResetSoft,
		"clear ip bgp 172.16.0.6 soft in":  bgp.ResetSoftIn,
		"clear ip bgp 172.16.0.6 soft out": bgp.ResetSoftOut,
	} {
		if got := bgpReset(strings.Fields(line)); got != want {
			t.Errorf("%q: %d, want %d", line, got, want)
		}
	}
}

// TestVersionFlag: --version prints the version on stdout and exits 0.
func TestVersionFlag(t *testing.T) {
	var out, errOut strings.Builder
	if st := run([]string{"--version"}, &out, &errOut); st != exitOK || !strings.HasPrefix(out.String(), "soft-ix ") || errOut.Len() > 0 {
		t.Errorf("status %d, stdout %q, stderr %q", st, out.String(), errOut.String())
	}
}
