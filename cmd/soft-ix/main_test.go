package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// fakeIPsec and fakeBGP stand in for ike and bgp.
type fakeIPsec struct {
	reloads []*config.Config
	cleared netip.Addr
}

func (f *fakeIPsec) IKESAs() []show.IKESA {
	return []show.IKESA{{Interface: "Tunnel0.0", Serial: 1, Initiator: true}}
}
func (f *fakeIPsec) ChildSAs() []show.ChildSA { return []show.ChildSA{{Interface: "Tunnel0.0"}} }
func (f *fakeIPsec) ClearSA(p netip.Addr) (int, error) {
	f.cleared = p
	return 1, nil
}
func (f *fakeIPsec) prepare(*config.Config, config.Changes) error { return nil }
func (f *fakeIPsec) Reload(c *config.Config, _ config.Changes) error {
	f.reloads = append(f.reloads, c)
	return nil
}
func (f *fakeIPsec) TunnelUp(string) bool      { return true }
func (f *fakeIPsec) syncTunnelRoutes([]string) {}
func (f *fakeIPsec) Close() error              { return nil }

type fakeBGP struct{}

func (fakeBGP) Summary() (show.BGPSummary, error) {
	return show.BGPSummary{LocalAS: 65050, Neighbors: []show.BGPNeighbor{{Addr: netip.MustParseAddr("172.16.0.6"), AS: 65010, State: "ESTABLISHED"}}}, nil
}
func (fakeBGP) NeighborRoutes(n netip.Addr, adv bool) (show.BGPRoutes, error) {
	if n != netip.MustParseAddr("172.16.0.6") {
		return show.BGPRoutes{}, errors.New("no such neighbor")
	}
	return show.BGPRoutes{LocalAS: 65050}, nil
}
func (fakeBGP) Reload(*config.Config) error { return nil }
func (fakeBGP) Close() error                { return nil }

func testDaemon(load func(string) (*config.Config, []diagnostic, error)) (*daemon, *fakeIPsec) {
	ip := &fakeIPsec{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := &config.Config{Hostname: "old"}
	return &daemon{
		opts: &options{config: "ix.conf"}, log: log, load: load, cfg: cfg,
		comps: func() *components { c := newComponents(log); c.ipsec, c.bgp = ip, fakeBGP{}; return c }(),
	}, ip
}

func TestReloadRefusesBrokenConfig(t *testing.T) {
	d, ip := testDaemon(func(path string) (*config.Config, []diagnostic, error) {
		return nil, []diagnostic{{Pos: config.Pos{File: path, Line: 3, Col: 7}, Severity: config.Error, Msg: `unknown command "interfase"`}}, config.ErrorList{}
	})
	old := d.cfg
	resp := d.Handle(context.Background(), []string{"reload"})
	if resp.Status != exitFail || !strings.Contains(resp.Output, "ix.conf:3:7: error: unknown command") ||
		!strings.Contains(resp.Output, "running configuration stays") {
		t.Errorf("reload of a broken config: %+v", resp)
	}
	if d.cfg != old || len(ip.reloads) != 0 {
		t.Error("a refused reload changed the running config")
	}
}

func TestReloadAppliesGoodConfig(t *testing.T) {
	next := &config.Config{Hostname: "new"}
	d, ip := testDaemon(func(string) (*config.Config, []diagnostic, error) { return next, nil, nil })
	resp := d.Handle(context.Background(), []string{"rel"})
	if resp.Status != exitOK || !strings.Contains(resp.Output, "reloaded") {
		t.Errorf("reload: %+v", resp)
	}
	if d.cfg != next || len(ip.reloads) != 1 || ip.reloads[0] != next {
		t.Error("reload did not reach the components")
	}
}

func TestHandleCommands(t *testing.T) {
	d, ip := testDaemon(nil)
	tests := []struct {
		args   string
		status int
		want   string
	}{
		{"sh ikev2 sa", 0, "IKEv2 SA - 1 created"},
		{"sh ikev2 child", 0, "Child SA - 1 connected"},
		{"sh ip bgp su", 0, "Total number of neighbors 1"},
		{"sh ip bgp n 172.16.0.6 r", 0, "Total number of prefixes 0"},
		{"sh ip bgp n 172.16.0.7 a", 1, "% no such neighbor"},
		{"clear ikev2 sa peer 198.51.100.6", 0, "1 IKE SA(s) cleared"},
		{"show i", 2, "Ambiguous"},
	}
	for _, tt := range tests {
		resp := d.Handle(context.Background(), strings.Fields(tt.args))
		if resp.Status != tt.status || !strings.Contains(resp.Output, tt.want) {
			t.Errorf("%q: %+v, want status %d with %q", tt.args, resp, tt.status, tt.want)
		}
	}
	if ip.cleared != netip.MustParseAddr("198.51.100.6") {
		t.Errorf("clear peer: %v", ip.cleared)
	}
	d.comps.bgp = nil
	if resp := d.Handle(context.Background(), []string{"sh", "ip", "bgp", "summary"}); resp.Status != 1 || !strings.Contains(resp.Output, "BGP is not running") {
		t.Errorf("bgp absent: %+v", resp)
	}
}

func TestMetricsCollect(t *testing.T) {
	d, _ := testDaemon(nil)
	// 1 IKE SA, 1 child SA with counters and drops both ways, 1 BGP neighbor.
	if n := countMetrics(newCollector(d)); n < 20 {
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
