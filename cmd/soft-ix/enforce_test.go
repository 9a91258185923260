package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/config"
)

// filteredWAN is a branch WAN as published IX files write it: an inbound
// filter and NAPT on GigaEthernet0.0, and the same lines on an interface
// family soft-ix does not run (which do not count).
const filteredWAN = `hostname branch
ip access-list flt-list permit udp src any sport any dest any dport eq 500
ip access-list sec-list permit ip src any dest any
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  ip napt enable
  ip filter flt-list 30 in
  no shutdown
interface FastEthernet0/0.1
  ip filter flt-list 30 in
`

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ix.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnenforcedNamesEachLine(t *testing.T) {
	src := filteredWAN + `ip access-list dynamic dyn access sec-list protocol ftp
ip access-list odd permit ip src any dest 50
interface GigaEthernet1.0
  ip filter dyn 10 out
  ip filter odd 20 in
  ipv6 filter sec-list 1 in
  ip napt hairpinning
  ip filter sec-list 30 in
  ip napt static 192.168.2.10 tcp 80
interface Null0.0
  ip filter sec-list 1 in
interface Loopback0.0
  ip address 10.2.2.2/32
  ip filter sec-list 1 in
`
	cfg, _, err := config.Parse("ix.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	list := func(maps map[string]string) string {
		var got []string
		for _, d := range router.Unenforced(cfg, maps) {
			got = append(got, d.String())
		}
		return strings.Join(got, "\n")
	}
	want := `ix.conf:6:3: error: "ip napt enable" on GigaEthernet0.0 is not carried out: GigaEthernet0.0 is not mapped to a Linux interface (add --map GigaEthernet0.0=DEV)
ix.conf:7:3: error: "ip filter flt-list 30 in" on GigaEthernet0.0 is not enforced: GigaEthernet0.0 is not mapped to a Linux interface (add --map GigaEthernet0.0=DEV), so the interface would pass what it denies`
	if got := list(nil); !strings.HasPrefix(got, want+"\n") {
		t.Errorf("without --map:\n%s\nwant first:\n%s", got, want)
	}
	want = `ix.conf:14:3: error: "ip filter dyn 10 out" on GigaEthernet1.0 is not enforced: access list "dyn" has a line soft-ix does not translate (ix.conf:11:1), so the interface would pass what it denies
ix.conf:15:3: error: "ip filter odd 20 in" on GigaEthernet1.0 is not enforced: access list "odd" has a line soft-ix does not translate (ix.conf:12:1), so the interface would pass what it denies
ix.conf:16:3: error: "ipv6 filter sec-list 1 in" on GigaEthernet1.0: soft-ix does not enforce IPv6 filters, the interface would pass what it denies
ix.conf:17:3: error: "ip napt hairpinning" on GigaEthernet1.0 is not carried out: the interface has no "ip napt enable"
ix.conf:19:3: error: "ip napt static 192.168.2.10 tcp 80" on GigaEthernet1.0 is not carried out: the interface has no "ip napt enable"
ix.conf:21:3: error: "ip filter sec-list 1 in" on Null0.0 is not enforced: soft-ix runs no Linux interface for Null0.0, so the interface would pass what it denies
ix.conf:24:3: error: "ip filter sec-list 1 in" on Loopback0.0 is not enforced: no packet passes Loopback0.0 on Linux (packets for its address arrive on other interfaces), so the interface would pass what it denies`
	if got := list(map[string]string{"GigaEthernet0.0": "wan0", "GigaEthernet1.0": "lan0"}); got != want {
		t.Errorf("with --map:\n%s\nwant:\n%s", got, want)
	}
}

// TestCheckFailsClosed: check exits 1 on a file the daemon would refuse,
// naming file:line, and 0 with --allow-unenforced.
func TestCheckFailsClosed(t *testing.T) {
	path := writeConf(t, filteredWAN)
	var errb bytes.Buffer
	if rc := run([]string{"check", "-c", path}, io.Discard, &errb); rc != exitFail {
		t.Errorf("check: status %d, want %d", rc, exitFail)
	}
	if !strings.Contains(errb.String(), path+":7:3: error: \"ip filter flt-list 30 in\" on GigaEthernet0.0 is not enforced: GigaEthernet0.0 is not mapped") || !strings.Contains(errb.String(), "--allow-unenforced") {
		t.Errorf("check does not name the line and the flag:\n%s", errb.String())
	}
	errb.Reset()
	if rc := run([]string{"check", "--allow-unenforced", "-c", path}, io.Discard, &errb); rc != exitOK {
		t.Errorf("check --allow-unenforced: status %d\n%s", rc, errb.String())
	}
	if !strings.Contains(errb.String(), path+":7:3: warning:") {
		t.Errorf("check --allow-unenforced does not warn about the line:\n%s", errb.String())
	}
}

// TestCheckRefusesIKEv1Tunnel: a Tunnel in IKEv1's "tunnel mode ipsec"
// is refused like an unenforced filter, naming the mode line, since what
// the file routes into it would leave unencrypted by the default route;
// shut down, or with --allow-unenforced, the file passes.
func TestCheckRefusesIKEv1Tunnel(t *testing.T) {
	const ikev1 = `ip route default GigaEthernet0.0
ip route 10.0.0.0/8 Tunnel0.0
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  no shutdown
interface Tunnel0.0
  tunnel mode ipsec
  ip unnumbered GigaEthernet0.0
  ipsec policy tunnel ipsec-map out
  no shutdown
`
	path := writeConf(t, ikev1)
	var errb bytes.Buffer
	if rc := run([]string{"check", "-c", path}, io.Discard, &errb); rc != exitFail {
		t.Errorf("check: status %d, want %d\n%s", rc, exitFail, errb.String())
	}
	if !strings.Contains(errb.String(), path+":7:15: error: \"tunnel mode ipsec\" on Tunnel0.0 is not enforced") || !strings.Contains(errb.String(), "unencrypted") {
		t.Errorf("check does not name the mode line:\n%s", errb.String())
	}
	errb.Reset()
	if rc := run([]string{"check", "--allow-unenforced", "-c", path}, io.Discard, &errb); rc != exitOK {
		t.Errorf("check --allow-unenforced: status %d\n%s", rc, errb.String())
	}
	shut := writeConf(t, strings.Replace(ikev1, "  ipsec policy tunnel ipsec-map out\n  no shutdown", "  ipsec policy tunnel ipsec-map out\n  shutdown", 1))
	errb.Reset()
	if rc := run([]string{"check", "-c", shut}, io.Discard, &errb); rc != exitOK {
		t.Errorf("check of the tunnel shut down: status %d\n%s", rc, errb.String())
	}
}

// TestDaemonRefusesUnenforced: the daemon stops before it touches the
// system (no root needed to see it refuse).
func TestDaemonRefusesUnenforced(t *testing.T) {
	path := writeConf(t, filteredWAN)
	var errb bytes.Buffer
	if rc := run([]string{"-c", path, "--socket", filepath.Join(t.TempDir(), "s.sock")}, io.Discard, &errb); rc != exitFail {
		t.Fatalf("daemon: status %d, want %d\n%s", rc, exitFail, errb.String())
	}
	for _, want := range []string{path + ":6:3: error: \"ip napt enable\"", path + ":7:3: error: \"ip filter flt-list 30 in\" on GigaEthernet0.0 is not enforced", "not starting"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("daemon output lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestReloadRefusesUnenforced(t *testing.T) {
	next, _, err := config.Parse("ix.conf", []byte(filteredWAN))
	if err != nil {
		t.Fatal(err)
	}
	d := testDaemon(func(string) (*config.Config, []diagnostic, error) { return next, nil, nil })
	old := d.router.Config()
	resp := d.Handle(context.Background(), []string{"reload"})
	if resp.Status != exitFail || !strings.Contains(resp.Output, "running configuration stays") ||
		!strings.Contains(resp.Output, "ix.conf:7:3: error: \"ip filter flt-list 30 in\" on GigaEthernet0.0 is not enforced") {
		t.Errorf("reload: %+v", resp)
	}
	if d.router.Config() != old {
		t.Error("a refused reload changed the running config")
	}
	d.opts.allowUnenforced = true
	if resp := d.Handle(context.Background(), []string{"reload"}); resp.Status != exitOK || d.router.Config() != next {
		t.Errorf("reload with --allow-unenforced: %+v", resp)
	}
}

// NAPT timers and table sizes tune translation and let nothing in that the
// file denies: a file with them runs (config warns they are not emulated).
func TestNAPTTimersAreNotRefused(t *testing.T) {
	cfg, _, err := config.Parse("t.conf", []byte("interface GigaEthernet0.0\n  ip address 203.0.113.94/24\n  ip napt enable\n  ip napt translation tcp-timeout 7440\n  ip napt translation max-entries 4096\n  no shutdown\n!\n"))
	if err != nil {
		t.Fatal(err)
	}
	if bad := router.Unenforced(cfg, map[string]string{"GigaEthernet0.0": "wan0"}); len(bad) != 0 {
		t.Fatalf("refused: %v", bad)
	}
}
