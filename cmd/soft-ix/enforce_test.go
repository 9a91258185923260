package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	cfg, _, err := config.Parse("ix.conf", []byte(filteredWAN))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range unenforced(cfg) {
		got = append(got, d.String())
	}
	want := []string{
		`ix.conf:6:3: error: "ip napt enable" on GigaEthernet0.0: soft-ix does not carry out NAPT yet`,
		`ix.conf:7:3: error: "ip filter flt-list 30 in" on GigaEthernet0.0: soft-ix does not enforce packet filters yet, the interface would pass what it denies`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unenforced:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
	if !strings.Contains(errb.String(), path+":7:3: error: \"ip filter flt-list 30 in\"") || !strings.Contains(errb.String(), "--allow-unenforced") {
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

// TestDaemonRefusesUnenforced: the daemon stops before it touches the
// system (no root needed to see it refuse).
func TestDaemonRefusesUnenforced(t *testing.T) {
	path := writeConf(t, filteredWAN)
	var errb bytes.Buffer
	if rc := run([]string{"-c", path, "--socket", filepath.Join(t.TempDir(), "s.sock")}, io.Discard, &errb); rc != exitFail {
		t.Fatalf("daemon: status %d, want %d\n%s", rc, exitFail, errb.String())
	}
	for _, want := range []string{path + ":6:3: error: \"ip napt enable\"", path + ":7:3: error: \"ip filter flt-list 30 in\"", "not starting"} {
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
	d, ip := testDaemon(func(string) (*config.Config, []diagnostic, error) { return next, nil, nil })
	old := d.cfg
	resp := d.Handle(context.Background(), []string{"reload"})
	if resp.Status != exitFail || !strings.Contains(resp.Output, "running configuration stays") ||
		!strings.Contains(resp.Output, "ix.conf:7:3: error: \"ip filter flt-list 30 in\"") {
		t.Errorf("reload: %+v", resp)
	}
	if d.cfg != old || len(ip.reloads) != 0 {
		t.Error("a refused reload changed the running config")
	}
	d.opts.allowUnenforced = true
	if resp := d.Handle(context.Background(), []string{"reload"}); resp.Status != exitOK || d.cfg != next {
		t.Errorf("reload with --allow-unenforced: %+v", resp)
	}
}
