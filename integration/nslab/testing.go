package nslab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// TB is the part of testing.TB that nslab uses; *testing.T satisfies it.
// Declaring it here keeps the testing package out of the soft-ix binary.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	TempDir() string
}

// CheckEnvironment reports why a lab cannot run here: not root, or a
// command missing from PATH ("ip" is always checked).
func CheckEnvironment(tools ...string) error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "needs root (network namespaces)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			problems = append(problems, fmt.Sprintf("%s not found in PATH (%s)", tool, packageFor(tool)))
			continue
		}
		if tool == "charon-systemd" && !haveKernelLibipsec() {
			problems = append(problems, "strongSwan's kernel-libipsec plugin is missing (apt-get install libcharon-extra-plugins)")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// haveKernelLibipsec reports whether strongSwan's userspace ESP plugin is
// installed; without it charon cannot carry ESP on kernels without XFRM.
func haveKernelLibipsec() bool {
	for _, dir := range []string{"/usr/lib/ipsec/plugins", "/usr/lib/x86_64-linux-gnu/ipsec/plugins", "/usr/lib/aarch64-linux-gnu/ipsec/plugins"} {
		if _, err := os.Stat(dir + "/libstrongswan-kernel-libipsec.so"); err == nil {
			return true
		}
	}
	return false
}

// packageFor names the Debian package that provides a tool.
func packageFor(tool string) string {
	switch tool {
	case "ip":
		return "apt-get install iproute2"
	case "charon-systemd":
		return "apt-get install charon-systemd libcharon-extra-plugins"
	case "swanctl":
		return "apt-get install strongswan-swanctl"
	case "bird", "birdc":
		return "apt-get install bird2"
	case "ping":
		return "apt-get install iputils-ping"
	case "iperf3", "jq", "tcpdump", "openssl":
		return "apt-get install " + tool
	case "go":
		return "install Go or set SOFTIX_BIN"
	}
	return "not a known lab tool"
}

// InCI reports whether the CI environment variable is "true"; there a lab
// that cannot run is a failure, not a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips the test when the lab cannot run here (not root, a tool
// missing), with the reason. Under CI=true it fails the test instead, so CI
// never passes by skipping.
func Require(t TB, tools ...string) {
	t.Helper()
	if err := CheckEnvironment(tools...); err != nil {
		if InCI() {
			t.Fatalf("lab cannot run in CI: %v", err)
		}
		t.Skipf("skipping lab test: %v", err)
	}
}

// NewForTest creates a Lab for a test: it calls Require with the tools,
// keeps files in t.TempDir(), and registers a cleanup that dumps all logs
// and namespace state through t.Logf when the test failed, then closes the
// lab. Cleanups also run when the test panics or calls t.Fatal.
func NewForTest(t TB, prefix string, tools ...string) *Lab {
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
