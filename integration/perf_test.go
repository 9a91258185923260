package integration

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// TestE2EBenchScript runs integration/bench/e2e.sh briefly (one round of
// 2 s, no tunnel on the default path and carried one packet at a time,
// soft-ix GCM over raw ESP and with --force-udp-encap)
// so the benchmark script does not
// rot: it must set up, measure non-zero soft-ix throughputs and print its
// SUMMARY line. It loads the machine for about half a minute, so it runs
// only when SOFTIX_E2E_BENCH=1; the numbers are not checked against the
// targets (see integration/bench/README.md for the real measurement).
func TestE2EBenchScript(t *testing.T) {
	runE2EScript(t, "bench/e2e.sh", []string{"CONTENDERS=plain plain-pp softix-gcm softix-encap-gcm", "PFX=e2et"}, "softix-gcm", "encap-gcm", "plain-pp")
}

// TestProfileScript runs integration/bench/profile.sh for soft-ix CBC with
// ALL=1 at its shortest windows, so the profiling script does not rot: it
// must bring the tunnel up, move data through it, and print the
// endpoints' profiles and the whole machine's figures. Like
// TestE2EBenchScript it runs in CI, elsewhere only with
// SOFTIX_E2E_BENCH=1.
func TestProfileScript(t *testing.T) {
	out := runBenchScript(t, []string{"iperf3", "ping", "jq", "perf", "go"}, "bench/profile.sh",
		[]string{"ALL=1", "SECS=5", "WINDOW=1", "TOP=5", "PFX=proft"}, "softix-cbc")
	m := regexp.MustCompile(`(?m)^== softix-cbc: iperf3 TCP 5s LAN -> VNet: ([0-9]+) Mbit/s`).FindSubmatch(out)
	if m == nil || string(m[1]) == "0" {
		t.Fatalf("no throughput line, or nothing moved: %q", m)
	}
	for _, want := range []string{
		`(?m)^== perf: top 5 symbols of the ix endpoint .*\n +[0-9.]+%`,
		`(?m)^== perf: top 5 symbols of the azure endpoint .*\n +[0-9.]+%`,
		`(?m)^user [0-9.]+  system [0-9.]+  softirq [0-9.]+  irq [0-9.]+  idle [0-9.]+`,
		`(?m)^ +[0-9.]+% +soft-ix *$`,
		`(?m)^ +[0-9.]+% +[0-9.]+% +\[k\] packet_sendmsg$`,
		`(?m)^ +[0-9.]+% +[0-9.]+% +\[k\] tpacket_rcv$`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("profile.sh printed nothing matching %s", want)
		}
	}
}

// TestHubBenchScript runs integration/bench/hub/hub.sh at a small size (20
// tunnels, 1 s idle windows) so the hub benchmark does not rot: soft-ix
// and charon must each bring every initiator to an installed Child SA and
// soft-ix must list them all in "show ikev2 sa". The full size (N=1000)
// is run by hand; the figures are in the README. Like TestE2EBenchScript
// it runs in CI, elsewhere only with SOFTIX_HUB_BENCH=1.
func TestHubBenchScript(t *testing.T) {
	if os.Getenv("SOFTIX_HUB_BENCH") != "1" && !testenv.InCI() {
		t.Skip("set SOFTIX_HUB_BENCH=1 to run the hub benchmark script at N=20 (root, about 30 s)")
	}
	nslab.Require(t, "ip", "jq", "awk", "go", "charon-systemd", "swanctl")
	bin, err := nslab.SoftIXBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 20
	cmd := exec.CommandContext(ctx, "bash", "bench/hub/hub.sh")
	cmd.Env = append(os.Environ(), "N="+strconv.Itoa(n), "IDLE=1", "SETTLE=1", "SETUP_TIME=60s", "SOFTIX_BIN="+bin)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("hub.sh output:\n%s", out)
	if err != nil {
		t.Fatalf("hub.sh: %v", err)
	}
	for _, who := range []string{"softix", "charon"} {
		m := regexp.MustCompile(`(?m)^hub ` + who + ` setup_s [0-9.]+ setups ([0-9]+) failures ([0-9]+)$`).FindSubmatch(out)
		if m == nil || string(m[1]) != strconv.Itoa(n) || string(m[2]) != "0" {
			t.Fatalf("%s: want %d setups and no failures, got %q", who, n, m)
		}
		if !regexp.MustCompile(`(?m)^hub ` + who + ` setup_cpu_ms [0-9.]+$`).Match(out) {
			t.Fatalf("%s: no setup_cpu_ms line", who)
		}
	}
	if !regexp.MustCompile(`(?m)^hub softix est_sas ` + strconv.Itoa(n) + `$`).Match(out) {
		t.Fatalf("show ikev2 sa does not list all %d SAs", n)
	}
}
