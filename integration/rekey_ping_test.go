package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// TestRekeyPingPFS: 5 Child SA rekeys with PFS (DH group 14, MODP 2048)
// under --force-udp-encap while a 10 ms ping runs from the LAN host to
// the VNet host through the tunnel: soft-ix is the IX, charon the Azure
// gateway and the rekey initiator (swanctl --rekey), so soft-ix computes
// each rekey's DH in an IKE worker while ESP in UDP 4500 flows. No ping
// may be lost. The worst round trip during the rekeys is reported beside
// the worst of an idle stretch (no rekeys) of the same run.
//
// SOFTIX_REKEYPING=50 is issue 11's figure: 50 rekeys and an idle minute.
// SOFTIX_BIN chooses the soft-ix binary (e.g. another commit's, for A/B).
func TestRekeyPingPFS(t *testing.T) {
	rekeys, idle := 5, 10*time.Second
	if s := os.Getenv("SOFTIX_REKEYPING"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			t.Fatalf("SOFTIX_REKEYPING=%q: want a number of rekeys from 1 to 500", s)
		}
		rekeys, idle = n, time.Minute
	}
	const interval = 10 * time.Millisecond

	l := iopNewLab(t, "rkping")
	az := iopAzure()
	az.ESPProposals = "aes256-sha256-modp2048"
	c := l.startCharon(az)
	x := l.startIX(iopIXConf{ChildPFS: "2048-bit", Args: []string{"--force-udp-encap", "--log-level", "info"}})
	l.waitTunnel(x, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	if sa := l.ikeSAs(x)[0]; sa.NATT != "on" {
		t.Fatalf("soft-ix shows NAT-T %q with forced encapsulation", sa.NATT)
	}

	p := stallStartPing(t, l.s.LAN, nslab.VNetHostAddr, interval, idle+time.Duration(rekeys)*10*time.Second+30*time.Second)
	idleFrom := time.Now().Add(500 * time.Millisecond)
	time.Sleep(idle)
	rekeyFrom := time.Now()
	var slowest time.Duration
	for i := 0; i < rekeys; i++ {
		installed := len(iopChildRe.FindAllString(x.Proc.Log(), -1))
		start := time.Now()
		if out, err := c.Swanctl("--rekey", "--child", az.Name+"-child"); err != nil {
			t.Fatalf("rekey %d: %v\n%s", i+1, err, out)
		}
		if err := nslab.WaitFor(10*time.Second, fmt.Sprintf("Child SA rekey %d at soft-ix", i+1), func() error {
			if len(iopChildRe.FindAllString(x.Proc.Log(), -1)) <= installed {
				return fmt.Errorf("no new Child SA installed")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(300 * time.Millisecond) // let the old SA's DELETE pass
	}
	rekeyTo := time.Now()
	time.Sleep(time.Second)
	es, lost, sent := p.stop()

	idleRTTs := stallRTTs(es, idleFrom, rekeyFrom)
	idleMed, idleWorst := stallSummary(idleRTTs)
	during := stallRTTs(es, rekeyFrom, rekeyTo)
	rekeyMed, rekeyWorst := stallSummary(during)
	t.Logf("%d Child SA rekeys with PFS (MODP 2048) by charon, ESP in UDP 4500, in %.1f s (slowest %v); ping every %v: %d sent, %d lost",
		rekeys, rekeyTo.Sub(rekeyFrom).Seconds(), slowest.Round(time.Millisecond), interval, sent, lost)
	t.Logf("RTT during the rekeys: median %v, worst %v (%s); idle %v before (no rekeys): median %v, worst %v (%s)",
		rekeyMed, rekeyWorst, stallTail(during), idle, idleMed, idleWorst, stallTail(idleRTTs))
	if sent == 0 {
		t.Fatalf("ping did not run:\n%s", p.out.String())
	}
	if lost != 0 {
		t.Errorf("%d of %d pings lost", lost, sent)
	}
	// PFS really was negotiated: charon's Child SA names the DH group.
	if out, err := c.ListSAs(); err != nil || !strings.Contains(out, "MODP_2048") {
		t.Errorf("charon's Child SA shows no MODP_2048 (PFS):\n%s", out)
	}
	if err := nslab.WaitFor(10*time.Second, "tunnel agreed after rekeys", func() error { return l.tunnelUp(x, c) }); err != nil {
		t.Error(err)
	}
	if strings.Contains(x.Proc.Log(), "level=ERROR") {
		t.Errorf("soft-ix logged errors during rekeys")
	}
}
