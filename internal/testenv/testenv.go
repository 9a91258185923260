// Package testenv decides, in one place, what a test does when this machine
// lacks something it needs (root, a tool, the TUN device, a socket): on a
// developer's machine the test skips with the reason; under CI=true it fails,
// so CI can never pass by skipping.
//
// It is for tests only: the soft-ix binary must not link it (a test in
// cmd/soft-ix checks). What a lab needs is netlab.CheckEnvironment, which
// `soft-ix lab` calls directly.
package testenv

import (
	"fmt"
	"os"

	"github.com/soft-ix/soft-ix/internal/netlab"
)

// TB is the part of testing.TB that testenv uses; *testing.T and
// *testing.B satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// InCI reports whether the CI environment variable is "true".
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends the test because the machine cannot run it: a skip with
// the reason, or under CI=true a failure with the same reason.
func Unavailable(t TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("cannot run in CI: %s", reason)
		return
	}
	t.Skipf("skipping: %s", reason)
}

// Require ends the test through Unavailable unless the process is root and
// every tool is on PATH (see Check).
func Require(t TB, tools ...string) {
	t.Helper()
	if err := Check(tools...); err != nil {
		Unavailable(t, "%v", err)
	}
}

// RequireRoot ends the test through Unavailable unless the process is root.
func RequireRoot(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// Check reports why a namespace lab cannot run here: not root, no TUN
// device, or a tool missing from PATH, each with the package that brings
// it (see netlab.CheckEnvironment, which `soft-ix lab` uses too).
func Check(tools ...string) error { return netlab.CheckEnvironment(tools...) }

// PackageFor names what provides a tool on Debian 12.
func PackageFor(tool string) string { return netlab.PackageFor(tool) }
