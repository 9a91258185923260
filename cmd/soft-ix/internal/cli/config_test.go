package cli

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
)

// TestConfigCompletionIsTheTables: in every block, completing after the
// first k words of a command lists exactly the (k+1)th words of the
// table's commands that start with those words (and the keywords a
// command of just those words takes next), and "?" describes them.
func TestConfigCompletionIsTheTables(t *testing.T) {
	for _, block := range config.Blocks() {
		cmds := config.Grammar(block)
		if len(cmds) == 0 {
			t.Fatalf("block %q has no commands", block)
		}
		for _, c := range cmds {
			for k := 0; k < len(c.Words); k++ {
				prefix := c.Words[:k]
				var want []string
				for _, o := range cmds {
					if len(o.Words) > k && slices.Equal(o.Words[:k], prefix) && !slices.Contains(want, o.Words[k]) {
						want = append(want, o.Words[k])
					}
					// A shorter command's first keywords stand there too
					// ("set community" VALUE beside "set community none").
					if slices.Equal(o.Words, prefix) && len(o.Args) > 0 {
						for _, w := range o.Args[0].Words {
							if !slices.Contains(want, w) {
								want = append(want, w)
							}
						}
					}
				}
				sort.Strings(want)
				line := strings.Join(prefix, " ")
				if k > 0 {
					line += " "
				}
				if got := ConfigComplete(block, line); !reflect.DeepEqual(got, want) {
					t.Errorf("block %q: ConfigComplete(%q) = %q, want the table's %q", block, line, got, want)
				}
			}
			// After the words: the keywords of the first argument.
			if len(c.Args) > 0 && c.Args[0].Kind == config.ArgKeyword {
				line := strings.Join(c.Words, " ") + " "
				got := ConfigComplete(block, line)
				for _, w := range c.Args[0].Words {
					if !slices.Contains(got, w) {
						t.Errorf("block %q: ConfigComplete(%q) = %q, lacks %q", block, line, got, w)
					}
				}
			}
			help := strings.Join(ConfigHelpLines(block, strings.Join(c.Words[:len(c.Words)-1], " ")), "\n")
			if !strings.Contains(help, c.Words[len(c.Words)-1]) {
				t.Errorf("block %q: ? after %q does not show %q:\n%s", block, c.Words[:len(c.Words)-1], c.Words[len(c.Words)-1], help)
			}
		}
	}
}

func TestConfigCompletionFollowsArguments(t *testing.T) {
	tests := []struct {
		block, line string
		want        []string
	}{
		{config.BlockInterface, "ikev2 peer 198.51.100.6 ", []string{"authentication"}},
		{config.BlockInterface, "ikev2 peer any authentication psk ", []string{"id"}},
		{config.BlockInterface, "ikev2 sa-proposal enc aes-cbc-256 ", []string{"3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "aes-gcm-128-16", "aes-gcm-256-16"}},
		{config.BlockInterface, "ip tcp adjust-mss ", []string{"auto"}},
		{config.BlockGlobal, "ip route 10.0.0.0/8 Tunnel0.0 ", []string{"dhcp", "distance", "metric", "tag"}},
		{config.BlockGlobal, "ip route 10.0.0.0/8 Tunnel0.0 tag 5 ", []string{}},
		{config.BlockGlobal, "ip prefix-list p ", []string{"deny", "permit", "seq"}},
		{config.BlockBGP, "neighbor 192.0.2.1 ", []string{"activate", "connect-interval", "description", "ebgp-multihop", "remote-as", "route-map", "timers", "update-source"}},
		{config.BlockBGP, "neighbor 192.0.2.1 route-map m ", []string{"in", "out"}},
		{config.BlockGlobal, "ip dhcp ", []string{"enable", "profile"}},
		{config.BlockInterface, "ip dhcp ", []string{"binding"}},
		{config.BlockDHCPProfile, "dns-server 192.0.2.53 ", []string{}},
		{config.BlockDHCPProfile, "l", []string{"lease-time"}},
		{config.BlockGlobal, "bogus ", nil},
	}
	for _, tt := range tests {
		got := ConfigComplete(tt.block, tt.line)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ConfigComplete(%q, %q) = %q, want %q", tt.block, tt.line, got, tt.want)
		}
	}
	if b, ok := ConfigOpens(config.BlockGlobal, "interface Tunnel0.0"); !ok || b != config.BlockInterface {
		t.Errorf("interface opens %q %v", b, ok)
	}
	if b, ok := ConfigOpens(config.BlockGlobal, "ip dhcp profile lan"); !ok || b != config.BlockDHCPProfile {
		t.Errorf("ip dhcp profile opens %q %v", b, ok)
	}
	if _, ok := ConfigOpens(config.BlockGlobal, "ip route default Tunnel0.0"); ok {
		t.Error("ip route opens a block")
	}
}
