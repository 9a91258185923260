package main

import (
	"strings"
	"testing"
)

// TestConfigureMode: the session's configure mode checks lines with the
// file's grammar in the block the last opener opened, and its prompts
// follow the blocks.
func TestConfigureMode(t *testing.T) {
	s := &session{o: &options{}, host: "r"}
	steps := []struct{ line, out, prompt string }{
		{"configure", "not applied", "r(config)# "},
		{"interface Tunnel0.0", "ok", "r(config-interface)# "},
		{"ikev2 peer 198.51.100.6 authentication psk", "ok", "r(config-interface)# "},
		{"ikev2 conect-type auto", `error at column 7: interface Tunnel0.0: ikev2: unknown command "conect-type", did you mean "connect-type"?`, "r(config-interface)# "},
		{"ppp binding x", `warning at column 1: "ppp" is not emulated`, "r(config-interface)# "},
		{"router bgp 65000", "ok", "r(config-router-bgp)# "},
		{"neighbor 10.0.0.1 remote-as 0", `bad AS number "0"`, "r(config-router-bgp)# "},
		{"exit", "", "r(config)# "},
		{"ip dhcp profile lan", "ok", "r(config-ip-dhcp-profile)# "},
		{"lease-time 10", `lease-time: bad seconds "10"`, "r(config-ip-dhcp-profile)# "},
		{"fixed-assignment 192.168.2.50 02:00:00:00:00:50", "ok", "r(config-ip-dhcp-profile)# "},
		{"exit", "", "r(config)# "},
		{"ip route default Tunnel0.0 distance 300", "error at column 37", "r(config)# "},
		{"end", "", "r# "},
	}
	for _, st := range steps {
		out, _, quit := s.command(st.line)
		if quit || !strings.Contains(out, st.out) || s.prompt() != st.prompt {
			t.Errorf("%q: %q (prompt %q), want %q (prompt %q)", st.line, out, s.prompt(), st.out, st.prompt)
		}
	}
	if got := s.complete("ikev2 "); len(got) != 0 {
		t.Errorf("exec mode completes %q", got)
	}
	s.command("configure")
	if got := s.complete("router "); len(got) != 1 || got[0] != "bgp" {
		t.Errorf("configure mode completes %q", got)
	}
	s.command("ip dhcp profile lan")
	if got := s.complete("fixed"); len(got) != 1 || got[0] != "fixed-assignment" {
		t.Errorf("ip dhcp profile completes %q", got)
	}
}
