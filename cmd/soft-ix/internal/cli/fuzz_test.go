package cli

import (
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
)

// FuzzParse: any line either fails with an *Error pointing inside the
// line, or parses to a command whose canonical words parse to the same
// command again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"sh ip bg su", "show ikev2 sa", "p 172.16.1.4 so 192.168.2.1 c 3 si 100",
		"clear ikev2 sa peer 198.51.100.6", "show i", "ping 1.2.3.4 count 0", "sh ip b n 172.16.0.6 a", "rel", "exit",
		"ikev2 peer any authentication psk id ", "ip route 10.0.0.0/8 Tunnel0.0 ", "neighbor 192.0.2.1 route-map m "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Fields(line)
		for _, parse := range []func([]string) (*Command, error){Parse, ParseInteractive} {
			c, err := parse(words)
			if err != nil {
				e, ok := err.(*Error)
				if !ok || e.Word < 0 || e.Word > len(words) {
					t.Fatalf("%q: bad error %#v", line, err)
				}
				continue
			}
			again, err := parse(c.Words)
			if err != nil || again.ID != c.ID || strings.Join(again.Words, " ") != strings.Join(c.Words, " ") {
				t.Fatalf("%q -> %q does not parse back: %v", line, c.Words, err)
			}
		}
		Complete(line)
		HelpLines(line)
		for _, b := range config.Blocks() {
			ConfigComplete(b, line)
			ConfigHelpLines(b, line)
			ConfigOpens(b, line)
		}
	})
}
