package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// wildBroken are the published files in testdata/wild that are themselves
// wrong, or whose only stored copy is cut short, with the error soft-ix
// reports for them (the reason is in each file's header comment too).
var wildBroken = map[string]string{
	// binds a profile the file never defines
	"notoken-ipsec-rt2.conf": `no "ikev2 profile for-nec-ix" is configured`,
	// its redaction renamed the keyid in the peer lines only ("hoge";
	// the keys are "spr" and "tya")
	"dodolia907-ix3110-toyohashi-a.conf": `no "ikev2 authentication psk id keyid hoge key ..." for this peer`,
	// a test revision whose route to the peer's subnet keeps the host's
	// bits (10.255.100.160/24); the author's later commits write .0/24
	"shigehiro-ix2025-router1-ipsec-test-host-bits.conf": `prefix "10.255.100.160/24" has host bits set`,
	// Truncated gists: a route names a tunnel whose interface block is in
	// the part of the running-config that is not stored. Every other line
	// loads.
	"gist-miio-ix2010-sanjose-ikev1-truncated.conf":  `ip route: interface Tunnel0.0 is not configured`,
	"gist-panakuma-ix2105-ngn-ikev1-truncated.conf":  `ip route: interface Tunnel0.0 is not configured`,
	"gist-pandax381-ix3315-two-lines-truncated.conf": `is not configured (no "interface Tunnel`,
	"gist-yude-ix2215-tokyo-truncated.conf":          `ip route: interface Tunnel0.0 is not configured`,
}

func allErrorsSay(errs ErrorList, want string) bool {
	for _, e := range errs {
		if !strings.Contains(e.String(), want) {
			return false
		}
	}
	return len(errs) > 0
}

func wildFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/wild/*.conf")
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata/wild: %d files, %v", len(files), err)
	}
	return files
}

// TestWildFilesLoad: every published IX configuration loads, apart from
// the ones the publisher got wrong, which fail for that reason only.
func TestWildFilesLoad(t *testing.T) {
	for _, f := range wildFiles(t) {
		_, diags, err := Load(f)
		want, broken := wildBroken[filepath.Base(f)]
		switch {
		case broken && (err == nil || !allErrorsSay(err.(ErrorList), want)):
			t.Errorf("%s: want only errors saying %q, got %v", f, want, err)
		case !broken && err != nil:
			t.Errorf("%s: %v", f, err)
		}
		for _, d := range diags {
			if d.Severity == Warning && strings.Contains(d.Msg, "ignored") {
				t.Errorf("%s: a line is dropped: %s", f, d)
			}
		}
	}
}

// deindent removes the indentation of every line, and the comments
// written inside a block (a run of "!" lines followed by an indented
// line, as in a page's "!  ip unnumbered" notes within an interface): IX
// prints none there, and without indentation a "!" ends the block.
func deindent(src []byte) []byte {
	lines := strings.Split(string(src), "\n")
	var out []string
	for i, l := range lines {
		if strings.HasPrefix(l, "!") {
			j := i + 1
			for j < len(lines) && strings.HasPrefix(lines[j], "!") {
				j++
			}
			if j < len(lines) && strings.TrimLeft(lines[j], " \t") != lines[j] {
				continue
			}
		}
		out = append(out, strings.TrimLeft(l, " \t"))
	}
	return []byte(strings.Join(out, "\n"))
}

// TestWildFlatEqualsIndented: a configuration printed without indentation
// reads as the same configuration; blocks end where IX ends them.
func TestWildFlatEqualsIndented(t *testing.T) {
	forEachLoadable(t, func(f string, src []byte, c1 *Config) {
		c2, _, err := Parse(f+" (flat)", deindent(src))
		if err != nil {
			t.Errorf("%s without indentation: %v", f, err)
			return
		}
		if !reflect.DeepEqual(trimKeptNesting(clearPos(c1)), clearPos(c2)) {
			t.Errorf("%s: the flat form reads differently:\nindented:\n%s\nflat:\n%s", f, Print(c1), Print(c2))
		}
	})
}

// trimKeptNesting removes the nesting a kept block's lines carry (see
// Verbatim.Sub), which only indentation can say.
func trimKeptNesting(c *Config) *Config {
	walkConfig(reflect.ValueOf(c), func(v reflect.Value) bool {
		vb, ok := v.Addr().Interface().(*Verbatim)
		if ok {
			for i, s := range vb.Sub {
				vb.Sub[i] = trimBlank(s)
			}
		}
		return ok
	})
	return c
}

// forEachLoadable calls f with the path, text and parsed configuration of
// every wild and testdata file that loads (all but wildBroken).
func forEachLoadable(t *testing.T, f func(path string, src []byte, c *Config)) {
	t.Helper()
	for _, path := range append(wildFiles(t), testdataFiles(t)...) {
		if _, broken := wildBroken[filepath.Base(path)]; broken {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := Parse(path, src)
		if err != nil {
			t.Fatal(err)
		}
		f(path, src, c)
	}
}

// commandLines is the set of a text's command lines, blanks trimmed
// ("!" comments, "exit" and "end", which only move between CLI modes, left
// out).
func commandLines(src []byte) map[string]bool {
	set := map[string]bool{}
	for _, l := range strings.Split(string(src), "\n") {
		l = trimBlank(l)
		switch {
		case l == "", l[0] == '!', l == "exit", l == "end", l == "exit-address-family":
			continue
		}
		set[strings.Join(strings.Fields(l), " ")] = true
	}
	return set
}

// TestWildReprintKeepsEveryLine compares the line sets of each published
// file and of its "show running-config": every line soft-ix does not
// emulate comes back as written, and every line missing from the reprint
// is one soft-ix took into its model (so the reprint has it in canonical
// form, and the round trip of the model is checked elsewhere). A line is
// in the model when taking it out of the file changes the model.
func TestWildReprintKeepsEveryLine(t *testing.T) {
	forEachLoadable(t, func(f string, src []byte, c *Config) {
		out := Print(c)
		checkRoundTrip(t, f, c)
		reprint := commandLines(out)
		for _, v := range c.Inactive() {
			for _, s := range append([]string{v.Text}, v.Sub...) {
				if !reprint[strings.Join(strings.Fields(s), " ")] {
					t.Errorf("%s: kept line %q is not in the reprint", f, s)
				}
			}
		}
		lines := strings.Split(string(src), "\n")
		for i, l := range lines {
			key := strings.Join(strings.Fields(l), " ")
			if key == "" || !commandLines([]byte(l))[key] || reprint[key] || undone(lines, i, key) {
				continue
			}
			without := strings.Join(append(append([]string(nil), lines[:i]...), lines[i+1:]...), "\n")
			c2, _, err := Parse(f, []byte(without))
			if err == nil && reflect.DeepEqual(clearPos(c2), clearPos(c)) && !defaultSpelledOut[key] {
				t.Errorf("%s:%d: %q is neither in the reprint nor in the model", f, i+1, key)
			}
		}
	})
}

// undone reports a line of a typed session whose effect a "no" line of
// the same session takes back: a command a later "no" form removes, or a
// "no" form of a command the session never gave (nothing to remove), as
// when a runbook swaps one set of port forwards for another. Neither can
// be in the model or the reprint.
func undone(lines []string, i int, key string) bool {
	same := func(l, want string) bool { return strings.Join(strings.Fields(l), " ") == want }
	if rest, ok := strings.CutPrefix(key, "no "); ok {
		for _, l := range lines[:i] {
			if same(l, rest) {
				return false
			}
		}
		return true
	}
	for _, l := range lines[i+1:] {
		if same(l, "no "+key) {
			return true
		}
	}
	return false
}

// defaultSpelledOut are emulated lines that state an IX default, so the
// model (and the reprint) is the same without them.
var defaultSpelledOut = map[string]bool{
	"child-pfs off": true, "no ip address": true, "no shutdown": true,
}

// TestUndone: the reprint test spares exactly the lines a session's "no"
// forms take back, and still holds a "no" line that removes something.
func TestUndone(t *testing.T) {
	lines := []string{
		"interface Tunnel0.0",
		"  no ip napt static 10.0.0.1 tcp 80", // nothing to remove
		"  ip napt static 10.0.0.2 tcp 80",    // removed below
		"  ip napt static 10.0.0.3 tcp 80",    // stays
		"  no ip napt static 10.0.0.2 tcp 80", // removes line 3
	}
	for i, want := range []bool{false, true, true, false, false} {
		key := strings.Join(strings.Fields(lines[i]), " ")
		if got := undone(lines, i, key); got != want {
			t.Errorf("line %d %q: undone = %v, want %v", i+1, key, got, want)
		}
	}
}
