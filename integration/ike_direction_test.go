package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/integration/nslab"
)

// Interop for ikev2 negotiation-direction and INVALID_IKE_SPI against
// charon, reading ike.Manager.Stats from ikepeer's state file.

// stats reads the ike.Manager counters ikepeer writes with its SA state.
func (s *softIX) stats() ike.Stats {
	var st struct {
		Stats ike.Stats `json:"stats"`
	}
	if b, err := os.ReadFile(s.state); err == nil {
		json.Unmarshal(b, &st)
	}
	return st.Stats
}

// TestIKEStrongSwanInitiatorOnly: charon (start_action = start) is refused
// with NO_PROPOSAL_CHOSEN by an initiator-only soft-ix, whose own
// initiation brings the tunnel up.
func TestIKEStrongSwanInitiatorOnly(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB, "-direction", "initiator")...)
	time.Sleep(300 * time.Millisecond)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK, Initiate: true})
	waitFor(t, 10*time.Second, "charon's IKE_SA_INIT refused", func() error {
		if st := s.stats(); st.Failures.NoProposal == 0 || st.Received.IKESAInit == 0 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	if n := len(s.read().established()); n != 0 {
		t.Fatalf("initiator-only soft-ix accepted charon's IKE SA (%d established)", n)
	}
	s2 := l.restartSoftIX(s, "softix-2", seedArgs(ismAddrB, "-direction", "initiator", "-auto")...)
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s2, c) })
	if est := s2.read().established(); !est[0].Initiator {
		t.Fatal("the tunnel's IKE SA is soft-ix's responder SA, want its initiator SA")
	}
}

// TestIKEStrongSwanResponderOnly: a responder-only soft-ix with
// connect-type auto sends nothing, answers charon, and does not
// re-initiate after charon deletes the SA.
func TestIKEStrongSwanResponderOnly(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK})
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB, "-direction", "responder", "-auto", "-retry", "500ms")...)
	time.Sleep(2 * time.Second)
	if st := s.stats(); st.Sent != (ike.ExchangeCounts{}) || len(s.read().IKE) != 0 {
		t.Fatalf("responder-only soft-ix initiated: %+v", st.Sent)
	}
	if out, err := c.swanctl("--initiate", "--child", "ism-child", "--timeout", "10"); err != nil {
		t.Fatalf("initiate: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
	if out, err := c.swanctl("--terminate", "--ike", "ism", "--timeout", "10"); err != nil {
		t.Fatalf("terminate: %v\n%s", err, out)
	}
	waitFor(t, 5*time.Second, "SA gone", func() error {
		if n := len(s.read().IKE); n != 0 {
			return fmt.Errorf("%d IKE SAs", n)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if st := s.stats(); st.Sent.IKESAInit != 0 || len(s.read().IKE) != 0 {
		t.Fatalf("responder-only soft-ix re-initiated: %+v", st.Sent)
	}
}

// TestIKEStrongSwanInvalidSPI: soft-ix restarts without DELETE; charon's
// DPD requests for the lost IKE SA get INVALID_IKE_SPI answers (counted,
// rate limited) instead of silence.
func TestIKEStrongSwanInvalidSPI(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK, DPD: time.Second})
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB)...)
	time.Sleep(300 * time.Millisecond)
	if out, err := c.swanctl("--initiate", "--child", "ism-child", "--timeout", "10"); err != nil {
		t.Fatalf("initiate: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
	s.cmd.Process.Kill() // no DELETE
	s.cmd.Wait()
	s2 := l.restartSoftIX(s, "softix-2", seedArgs(ismAddrB)...)
	waitFor(t, 15*time.Second, "INVALID_IKE_SPI sent", func() error {
		if st := s2.stats(); st.InvalidSPISent == 0 || st.Failures.UnknownSPI == 0 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	// charon (5.9) does not act on the unprotected notify ("INFORMATIONAL
	// response ... processing failed"); its own DPD still ends the SA.
	b, _ := os.ReadFile(c.log)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "INVAL") || strings.Contains(line, "INFORMATIONAL response") {
			t.Logf("charon: %s", line)
		}
	}
	if st := s2.stats(); st.InvalidSPISent > st.Failures.UnknownSPI {
		t.Fatalf("more answers than requests: %+v", st)
	}
}

// restartSoftIX replaces s (stopped with SIGKILL if still running: no
// DELETE) by a new ikepeer with args.
func (l *ismLab) restartSoftIX(s *softIX, name string, args ...string) *softIX {
	l.t.Helper()
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	for i, p := range l.procs {
		if p == s.cmd {
			l.procs = append(l.procs[:i], l.procs[i+1:]...)
			break
		}
	}
	return l.startSoftIX(l.nsA, name, args...)
}
