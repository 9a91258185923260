package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// newNetns creates the network namespace name for a test: a leftover of a
// killed run is removed first, lo is brought up, and the IPv4 settings the
// tests rely on are written rather than inherited. A new namespace copies
// them from the root namespace, so on a Docker host (ip_forward 1) or one
// with strict reverse-path filtering the tests would otherwise run on
// other defaults: here forwarding is off (the router under test turns it
// on itself, and tests check that it does) and rp_filter is off (tunnel
// labs route asymmetrically). The namespace is deleted when the test ends;
// register cleanups that must run before that (stopping processes) after
// calling newNetns.
func newNetns(t *testing.T, name string) string {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	settings := []string{
		"ip link set lo up",
		"echo 0 > /proc/sys/net/ipv4/ip_forward",
		"echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter",
		"echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter",
	}
	// /proc/sys/net shows the namespace of the process reading it, so the
	// writes run inside the namespace (sh rather than sysctl: procps is
	// not on every machine).
	script := strings.Join(settings, " && ")
	if out, err := exec.Command("ip", "netns", "exec", name, "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("namespace %s settings: %v\n%s", name, err, out)
	}
	return name
}
