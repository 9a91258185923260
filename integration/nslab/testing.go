package nslab

import (
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// CheckEnvironment reports why a lab cannot run here: not root, no TUN
// device, or a command missing from PATH ("ip" is always checked), naming
// the Debian package for each. It is testenv.Check.
func CheckEnvironment(tools ...string) error { return testenv.Check(tools...) }

// InCI reports whether the CI environment variable is "true"; there a lab
// that cannot run is a failure, not a skip.
func InCI() bool { return testenv.InCI() }

// Require skips the test when the lab cannot run here (not root, a tool
// missing), with the reason. Under CI=true it fails the test instead, so CI
// never passes by skipping. It is testenv.Require.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	testenv.Require(t, tools...)
}

// NewForTest creates a Lab for a test: it calls Require with the tools,
// keeps files in t.TempDir(), and registers a cleanup that dumps all logs
// and namespace state through t.Logf when the test failed, then closes the
// lab. Cleanups also run when the test panics or calls t.Fatal.
func NewForTest(t testing.TB, prefix string, tools ...string) *Lab {
	t.Helper()
	Require(t, tools...)
	lab, err := New(prefix, t.TempDir())
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			lab.DumpLogs(&b)
			t.Logf("lab state after failure:\n%s", b.String())
		}
		if err := lab.Close(); err != nil {
			t.Logf("lab cleanup: %v", err)
		}
	})
	return lab
}
