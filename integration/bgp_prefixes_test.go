package integration

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
	"github.com/soft-ix/soft-ix/internal/testenv"
	"github.com/soft-ix/soft-ix/tun"
)

// bgtPrefixCount is how many prefixes BIRD announces in the performance test.
const bgtPrefixCount = 10000

// bgtManyStatic is a disabled BIRD static protocol with bgtPrefixCount /24s
// in 10.0.0.0/8; enabling it announces them all, disabling withdraws them.
func bgtManyStatic() string {
	var b strings.Builder
	b.WriteString("protocol static many {\n  ipv4;\n  disabled;\n")
	for i := range bgtPrefixCount {
		fmt.Fprintf(&b, "  route 10.%d.%d.0/24 blackhole;\n", 100+i/256, i%256)
	}
	b.WriteString("}\n")
	return b.String()
}

// TestBGPPrefixes10k measures how long soft-ix takes to put 10,000 learned
// prefixes into the kernel and to remove them after BIRD withdraws them.
// bgp/bench/prefixes.sh runs it; it prints the medians of 3 runs.
func TestBGPPrefixes10k(t *testing.T) {
	// Skipped by design on a developer's machine; CI always runs it
	// (one run: .ci/run sets BGT_RUNS=1).
	if os.Getenv("BGT_BENCH") == "" && !testenv.InCI() {
		t.Skip("performance test (10,000 prefixes, 3 runs): run bgp/bench/prefixes.sh or set BGT_BENCH=1")
	}
	nslab.Require(t, "go", "bird", "birdc")
	runs := 3
	if os.Getenv("BGT_RUNS") != "" {
		fmt.Sscan(os.Getenv("BGT_RUNS"), &runs)
	}
	ix, _, b := bgtLab(t, bgtManyStatic(), "")
	p := bgtStartPeer(t, ix, bgtSeedBGPConfig(), "GigaEthernet1.0=lan0")
	bgtWaitEstablished(t, p, 60*time.Second)
	proto := int(tun.ProtoBGP)
	bgtWaitFor(t, 10*time.Second, "172.16.0.0/16 learned", func() bool { return bgtCountRoutes(t, ix, proto) == 1 })

	var install, remove []time.Duration
	for run := 1; run <= runs; run++ {
		start := time.Now()
		b.c(t, "enable", "many")
		bgtWaitFor(t, 60*time.Second, "10,000 routes in the kernel", func() bool {
			return bgtCountRoutes(t, ix, proto) == bgtPrefixCount+1
		})
		install = append(install, time.Since(start))

		start = time.Now()
		b.c(t, "disable", "many")
		bgtWaitFor(t, 60*time.Second, "10,000 routes removed", func() bool {
			return bgtCountRoutes(t, ix, proto) == 1
		})
		remove = append(remove, time.Since(start))
		t.Logf("run %d: install %s, remove %s", run, install[run-1].Round(time.Millisecond), remove[run-1].Round(time.Millisecond))
	}
	mi, mr := bgtMedian(install), bgtMedian(remove)
	fmt.Printf("prefixes=%d runs=%d install_median=%s remove_median=%s install=%v remove=%v\n",
		bgtPrefixCount, runs, mi.Round(time.Millisecond), mr.Round(time.Millisecond), bgtRounded(install), bgtRounded(remove))
	if mi > 5*time.Second || mr > 5*time.Second {
		t.Errorf("target is under 5 s each way: install %s, remove %s", mi, mr)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	assertNothingOfSoftIX(t, ix)
}

func bgtMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func bgtRounded(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Round(time.Millisecond).String())
	}
	return out
}
