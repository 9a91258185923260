package integration

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

var (
	pingRTTRe = regexp.MustCompile(`rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/`)
	dupRe     = regexp.MustCompile(`\+[1-9]\d* duplicates`)
)

// TestImpairmentOnPath puts the impairment program between the IX and the
// Azure gateway and checks the knobs from outside, with pings between the
// two public addresses: clear passes everything, delay shows in the RTT
// (both directions), blackhole drops all, loss drops about its share,
// duplicates show as ping's DUP!, corruption breaks the ICMP checksum, the
// rate limit shows in the RTT of large pings, and the program's counters
// agree. Reordering is left to the unit tests (ping cannot see it). About
// 15 s.
func TestImpairmentOnPath(t *testing.T) {
	lab := nslab.NewForTest(t, "impath", "ping", "go")
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	im, err := s.Impair(1)
	if err != nil {
		t.Fatal(err)
	}
	ping := func(count int, interval string) (sent, recv int, avgMs float64) {
		t.Helper()
		out, _ := s.IX.Run("ping", "-n", "-q", "-c", strconv.Itoa(count), "-i", interval, "-W", "1", nslab.AzurePublicAddr)
		m := iopPingSummaryRe.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no ping summary:\n%s", out)
		}
		sent, _ = strconv.Atoi(m[1])
		recv, _ = strconv.Atoi(m[2])
		if r := pingRTTRe.FindStringSubmatch(out); r != nil {
			avgMs, _ = strconv.ParseFloat(r[2], 64)
		}
		return sent, recv, avgMs
	}

	if sent, recv, _ := ping(5, "0.1"); recv != sent {
		t.Fatalf("clear path: %d of %d answered", recv, sent)
	}
	st, err := im.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st["imp-ix.out"] < 5 || st["imp-az.out"] < 5 {
		t.Fatalf("pings did not go through the impairment: %v", st)
	}

	if _, err := im.Set("delay=40ms", "jitter=5ms"); err != nil {
		t.Fatal(err)
	}
	if _, recv, avg := ping(5, "0.1"); recv != 5 || avg < 70 || avg > 100 {
		t.Errorf("delay 40±5 ms each way: %d of 5 answered, average RTT %.1f ms (want 70-100)", recv, avg)
	}

	if _, err := im.Set("clear", "blackhole=on"); err != nil {
		t.Fatal(err)
	}
	if _, recv, _ := ping(3, "0.2"); recv != 0 {
		t.Errorf("blackhole: %d of 3 answered", recv)
	}

	if _, err := im.Set("clear", "loss=30%"); err != nil {
		t.Fatal(err)
	}
	before, _ := im.Stats()
	const n = 200
	sent, recv, _ := ping(n, "0.01")
	after, _ := im.Stats()
	lost := after["lost"] - before["lost"]
	// Each echo crosses twice: it survives with probability 0.7^2 = 49 %.
	if got := float64(recv) / float64(sent); got < 0.35 || got > 0.63 {
		t.Errorf("loss 30%% each way: %d of %d answered (%.0f %%, want about 49 %%)", recv, sent, got*100)
	}
	// Every unanswered echo was dropped once, going or coming back (a
	// stray packet of the namespaces' own may add one).
	if d := lost - int64(sent-recv); d < 0 || d > 2 {
		t.Errorf("impairment counted %d losses for %d unanswered pings: %v", lost, sent-recv, after)
	}
	t.Logf("loss 30%%: %d of %d pings answered, impairment dropped %d packets", recv, sent, lost)

	// Duplication: every echo and every answer twice, so ping counts
	// three duplicates per echo.
	if _, err := im.Set("clear", "dup=100%"); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.IX.Run("ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", nslab.AzurePublicAddr); !dupRe.MatchString(out) {
		t.Errorf("dup=100%%: ping saw no duplicates:\n%s", out)
	}
	// Corruption after the IP header breaks the ICMP checksum: no answer.
	if _, err := im.Set("clear", "corrupt=100%"); err != nil {
		t.Fatal(err)
	}
	if _, recv, _ := ping(3, "0.2"); recv != 0 {
		t.Errorf("corrupt=100%%: %d of 3 answered", recv)
	}
	// Rate: a 1228-byte packet takes 9.8 ms at 1 Mbit/s, each way.
	if _, err := im.Set("clear", "rate=1mbit"); err != nil {
		t.Fatal(err)
	}
	out, _ := s.IX.Run("ping", "-n", "-q", "-c", "3", "-i", "0.2", "-s", "1200", "-W", "1", nslab.AzurePublicAddr)
	if r := pingRTTRe.FindStringSubmatch(out); r == nil {
		t.Errorf("rate=1mbit: no RTT:\n%s", out)
	} else if avg, _ := strconv.ParseFloat(r[2], 64); avg < 19 || avg > 40 {
		t.Errorf("rate=1mbit: average RTT of 1228-byte pings %.1f ms, want about 20", avg)
	}
	st, _ = im.Stats()
	if st["duplicated"] < 6 || st["corrupted"] < 3 {
		t.Errorf("counters: %v", st)
	}

	if err := im.Remove(); err != nil {
		t.Fatal(err)
	}
	if sent, recv, _ := ping(3, "0.1"); recv != sent {
		t.Errorf("after Remove: %d of %d answered", recv, sent)
	}
}
