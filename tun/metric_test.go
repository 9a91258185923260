package tun

import (
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"

	"github.com/soft-ix/soft-ix/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestStaticRouteMetricBackup: of two static default routes at one
// distance, only the lower metric's is in the kernel; the higher one
// takes over while the lower cannot be installed (its interface shut),
// as a published IX2215 file uses "metric 200" for a backup WAN.
func TestStaticRouteMetricBackup(t *testing.T) {
	testenv.Require(t, "ip")
	runtime.LockOSThread() // the thread ends with the test, in its namespace
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		testenv.Unavailable(t, "needs root for a network namespace: %v", err)
	}
	for _, args := range [][]string{
		{"link", "add", "wan0", "type", "veth", "peer", "name", "wan0p"},
		{"link", "add", "wan1", "type", "veth", "peer", "name", "wan1p"},
		{"addr", "add", "192.0.2.1/24", "dev", "wan0"}, {"addr", "add", "198.51.100.1/24", "dev", "wan1"},
		{"link", "set", "wan0p", "up"}, {"link", "set", "wan1p", "up"},
		{"link", "set", "wan0", "up"}, {"link", "set", "wan1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	m, err := NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), map[string]string{"GigaEthernet0.0": "wan0", "GigaEthernet1.0": "wan1"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	def := netip.MustParsePrefix("0.0.0.0/0")
	cfg := Config{
		Links: []Link{{Name: "GigaEthernet0.0", Kind: LinkMapped}, {Name: "GigaEthernet1.0", Kind: LinkMapped}},
		Routes: []Route{
			{Prefix: def, NextHop: netip.MustParseAddr("192.0.2.2"), Interface: "GigaEthernet0.0", Metric: 200},
			{Prefix: def, Interface: "GigaEthernet1.0"},
		},
	}
	defaults := func() []RouteInfo {
		t.Helper()
		rs, err := m.Routes()
		if err != nil {
			t.Fatal(err)
		}
		var out []RouteInfo
		for _, r := range rs {
			if r.Prefix == def && r.Source == SourceStatic {
				out = append(out, r)
			}
		}
		return out
	}
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if d := defaults(); len(d) != 1 || d[0].Interface != "GigaEthernet1.0" || d[0].RouteMetric != 1 {
		t.Fatalf("with both up, want only the metric-1 route out of GigaEthernet1.0: %+v", d)
	}
	cfg.Links[1].Shutdown = true
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if d := defaults(); len(d) != 1 || d[0].Interface != "GigaEthernet0.0" || d[0].Gateway != netip.MustParseAddr("192.0.2.2") || d[0].RouteMetric != 200 {
		t.Fatalf("with GigaEthernet1.0 shut, want the metric-200 backup: %+v", d)
	}
	cfg.Links[1].Shutdown = false
	cfg.Routes[1].Metric = 200 // equal metrics: both, as one multipath route
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if d := defaults(); len(d) != 2 {
		t.Fatalf("equal metrics, want both next hops: %+v", d)
	}
}
