package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAbbreviations(t *testing.T) {
	tests := []struct {
		line  string
		id    ID
		words string
		args  map[string]string
	}{
		{"show ikev2 sa", ShowIKESA, "show ikev2 sa", nil},
		{"sh ikev2 sa", ShowIKESA, "show ikev2 sa", nil},
		{"sh ik s", ShowIKESA, "show ikev2 sa", nil},
		{"sh ik ch", ShowChildSA, "show ikev2 child-sa", nil},
		{"sh ip bg su", ShowBGPSummary, "show ip bgp summary", nil},
		{"sh ip bg", ShowBGP, "show ip bgp", nil},
		{"sh ip ro", ShowIPRoute, "show ip route", nil},
		{"sh ip a", ShowIPAccessList, "show ip access-list", nil},
		{"sh ip fi", ShowIPFilter, "show ip filter", nil},
		{"sh ip n t", ShowNAPT, "show ip napt translation", nil},
		{"sh ip d l", ShowDHCPLease, "show ip dhcp lease", nil},
		{"sh ip b n 172.16.0.6 r", ShowBGPRoutes, "show ip bgp neighbors 172.16.0.6 routes", map[string]string{"neighbor": "172.16.0.6"}},
		{"sh ip b n 172.16.0.6 a", ShowBGPAdvertised, "show ip bgp neighbors 172.16.0.6 advertised-routes", map[string]string{"neighbor": "172.16.0.6"}},
		{"sh ip b n", ShowBGPNeighbors, "show ip bgp neighbors", nil},
		{"sh ip b n 172.16.0.6", ShowBGPNeighbors, "show ip bgp neighbors 172.16.0.6", map[string]string{"neighbor": "172.16.0.6"}},
		{"sh run", ShowRunningConfig, "show running-config", nil},
		{"sh ver", ShowVersion, "show version", nil},
		{"cl ip n t", ClearNAPT, "clear ip napt translation", nil},
		{"tr 172.16.1.4 so 192.168.2.1", Traceroute, "traceroute 172.16.1.4 source 192.168.2.1", map[string]string{"dest": "172.16.1.4", "source": "192.168.2.1"}},
		{"sh int", ShowInterfaces, "show interfaces", nil},
		{"ping 172.16.1.4", Ping, "ping 172.16.1.4", map[string]string{"dest": "172.16.1.4"}},
		{"p 172.16.1.4 so 192.168.2.1 c 3 si 100", Ping, "ping 172.16.1.4 source 192.168.2.1 count 3 size 100",
			map[string]string{"dest": "172.16.1.4", "source": "192.168.2.1", "count": "3", "size": "100"}},
		{"ping 172.16.1.4 count 3 source 192.168.2.1", Ping, "ping 172.16.1.4 count 3 source 192.168.2.1",
			map[string]string{"dest": "172.16.1.4", "source": "192.168.2.1", "count": "3"}},
		{"clear ikev2 sa", ClearIKESA, "clear ikev2 sa", nil},
		{"cl ik sa p 198.51.100.6", ClearIKESA, "clear ikev2 sa peer 198.51.100.6", map[string]string{"peer": "198.51.100.6"}},
		{"clear ikev2 sa peer 2001:db8::6", ClearIKESA, "clear ikev2 sa peer 2001:db8::6", map[string]string{"peer": "2001:db8::6"}},
		{"clear ip bgp *", ClearBGP, "clear ip bgp *", nil},
		{"cl ip b 172.16.0.6", ClearBGP, "clear ip bgp 172.16.0.6", map[string]string{"neighbor": "172.16.0.6"}},
		{"cl ip b * s", ClearBGP, "clear ip bgp * soft", nil},
		{"clear ip bgp 172.16.0.6 soft in", ClearBGP, "clear ip bgp 172.16.0.6 soft in", map[string]string{"neighbor": "172.16.0.6"}},
		{"clear ip bgp * so o", ClearBGP, "clear ip bgp * soft out", nil},
		{"rel", Reload, "reload", nil},
	}
	for _, tt := range tests {
		c, err := Parse(strings.Fields(tt.line))
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.line, err)
			continue
		}
		if c.ID != tt.id || strings.Join(c.Words, " ") != tt.words {
			t.Errorf("Parse(%q) = %v %q, want %v %q", tt.line, c.ID, c.Words, tt.id, tt.words)
		}
		if tt.args == nil {
			tt.args = map[string]string{}
		}
		if !reflect.DeepEqual(c.Args, tt.args) {
			t.Errorf("Parse(%q) args = %v, want %v", tt.line, c.Args, tt.args)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		line string
		word int
		msg  string
	}{
		{"", 0, "Incomplete"},
		{"show i sa", 1, `Ambiguous command "i": ikev2, ip, interfaces`},
		{"s ikev2 sa", 0, `Invalid input "s"`}, // "show" is the only s... but see below
		{"show ikev2", 2, "Incomplete command"},
		{"show ip bgp neighbors 172.16.0.6 routes extra", 6, "Too many arguments"},
		{"show ip bgp neighbors foo routes", 4, `Invalid input "foo"`},
		{"show ikev2 sa extra", 3, "Too many arguments"},
		{"ping 172.16.1.4 count 0", 3, "Invalid value"},
		{"ping 172.16.1.4 size 70000", 3, "Invalid value"},
		{"ping 172.16.1.4 count", 3, "Incomplete"},
		{"ping ::1", 1, "Invalid input"},
		{"clear ip bgp", 3, "Incomplete command"},
		{"clear ip bgp * soft both", 5, `Invalid input "both"`},
		{"exit", 0, "Invalid input"},
	}
	for _, tt := range tests {
		if tt.line == "s ikev2 sa" {
			// "s" is an unambiguous prefix of "show" at the top level.
			if _, err := Parse(strings.Fields(tt.line)); err != nil {
				t.Errorf("Parse(%q): %v", tt.line, err)
			}
			continue
		}
		_, err := Parse(strings.Fields(tt.line))
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("Parse(%q) err = %v, want *Error", tt.line, err)
			continue
		}
		if e.Word != tt.word || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("Parse(%q) = word %d %q, want word %d containing %q", tt.line, e.Word, e.Msg, tt.word, tt.msg)
		}
	}
}

func TestParseInteractive(t *testing.T) {
	for _, line := range []string{"exit", "quit", "q", "help"} {
		if _, err := ParseInteractive(strings.Fields(line)); err != nil {
			t.Errorf("ParseInteractive(%q): %v", line, err)
		}
	}
	if _, err := ParseInteractive([]string{"e"}); err != nil {
		t.Errorf(`"e" should select exit: %v`, err)
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"sh", []string{"show"}},
		{"show ", []string{"ikev2", "interfaces", "ip", "running-config", "version"}},
		{"show i", []string{"ikev2", "interfaces", "ip"}},
		{"sh ip b", []string{"bgp"}},
		{"sh ikev2 ", []string{"child-sa", "sa"}},
		{"ping 1.2.3.4 c", []string{"count"}},
		{"show bogus ", nil},
	}
	for _, tt := range tests {
		if got := Complete(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Complete(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestUsageListsEveryVerb(t *testing.T) {
	u := strings.Join(Usage(), "\n")
	for _, want := range []string{"show ikev2 sa", "show ikev2 child-sa", "show ip route", "show ip bgp summary",
		"show ip bgp neighbors A.B.C.D routes", "show ip bgp neighbors A.B.C.D advertised-routes",
		"show running-config", "show interfaces", "ping A.B.C.D [source", "clear ikev2 sa", "clear ikev2 sa peer A.B.C.D",
		"clear ip bgp * soft in", "clear ip bgp A.B.C.D soft out", "reload"} {
		if !strings.Contains(u, want) {
			t.Errorf("Usage() lacks %q:\n%s", want, u)
		}
	}
	if HelpLines("show ikev2")[0] == "" {
		t.Error("no help")
	}
}
