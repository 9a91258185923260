package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// Interop of soft-ix's IKEv2 (ike.Manager in integration/cmd/ikepeer) with
// strongSwan charon + kernel-libipsec, in namespaces prefixed "ism", with
// the seed's parameters: IKE aes256-sha1-modp1024, ESP aes256-sha256, no
// PFS, PSK, route-based 0.0.0.0/0 selectors.

func seedArgs(peer string, extra ...string) []string {
	return append([]string{"-local", ismAddrA, "-peer", peer, "-psk", ismPSK,
		"-enc", "aes-cbc-256", "-integ", "sha1", "-dh", "1024-bit",
		"-child-enc", "aes-cbc-256", "-child-integ", "sha2-256"}, extra...)
}

func TestIKEStrongSwanSoftIXInitiator(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK})
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB, "-auto")...)
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
	st := s.read()
	sa := st.established()[0]
	if !sa.Initiator || sa.Enc != "AES-CBC-256" || sa.Integ != "HMAC-SHA1-96" || sa.DH != "1024-bit" {
		t.Fatalf("IKE SA %+v", sa)
	}
	if sa.PeerID != "IPV4-ADDR "+ismAddrB || sa.Serial != 1 || sa.LocalAddr.Port() != 4500 {
		t.Fatalf("IKE SA show data %+v", sa)
	}
	ch := st.Child[0]
	if ch.Enc != "AES-CBC-256" || ch.Hash != "HMAC-SHA2-256-128" || ch.Protocol != "ESP" {
		t.Fatalf("Child SA show data %+v", ch)
	}

	// Delete from soft-ix (stop sends DELETE): charon drops its SAs.
	l.stop(s.cmd)
	waitFor(t, 5*time.Second, "charon sees the DELETE", func() error {
		if cs := c.listSAs(); cs.IKEEstablished != 0 {
			return fmt.Errorf("charon still has %d IKE SAs", cs.IKEEstablished)
		}
		return nil
	})
}

func TestIKEStrongSwanSoftIXResponder(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK})
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB)...)
	time.Sleep(300 * time.Millisecond)
	if out, err := c.swanctl("--initiate", "--child", "ism-child", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	waitFor(t, 5*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
	if s.read().established()[0].Initiator {
		t.Fatal("soft-ix's SA is an initiator SA, want responder")
	}

	// Delete from charon: soft-ix removes its SAs.
	if out, err := c.swanctl("--terminate", "--ike", "ism", "--timeout", "5"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	waitFor(t, 5*time.Second, "soft-ix sees the DELETE", func() error {
		st := s.read()
		if len(st.IKE) != 0 || len(st.DP) != 0 {
			return fmt.Errorf("soft-ix still has %d IKE SAs, %d data-plane SAs", len(st.IKE), len(st.DP))
		}
		return nil
	})
}

func TestIKEStrongSwanWrongPSK(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK})

	// soft-ix initiates with the wrong key: charon answers
	// AUTHENTICATION_FAILED, soft-ix logs it and backs off.
	s := l.startSoftIX(l.nsA, "softix-wrong", append(seedArgs(ismAddrB, "-auto", "-retry", "30s"), "-psk", "WrongKey-1")...)
	waitFor(t, 10*time.Second, "soft-ix reports the failure", func() error {
		if !strings.Contains(s.logText(), "AUTHENTICATION_FAILED") {
			return fmt.Errorf("no AUTHENTICATION_FAILED in soft-ix log")
		}
		return nil
	})
	l.stop(s.cmd)
	if strings.Contains(s.logText(), "WrongKey-1") {
		t.Fatal("soft-ix logged the pre-shared key")
	}
	if n := c.listSAs().IKEEstablished; n != 0 {
		t.Fatalf("charon established %d IKE SAs with a wrong key", n)
	}

	// charon initiates to a soft-ix with the wrong key: soft-ix answers
	// AUTHENTICATION_FAILED and logs the peer and the reason.
	s = l.startSoftIX(l.nsA, "softix-resp", append(seedArgs(ismAddrB), "-psk", "WrongKey-2")...)
	time.Sleep(300 * time.Millisecond)
	out, err := c.swanctl("--initiate", "--child", "ism-child", "--timeout", "10")
	if err == nil {
		t.Fatalf("charon initiation succeeded with a wrong key:\n%s", out)
	}
	if !strings.Contains(out, "AUTHENTICATION_FAILED") {
		t.Fatalf("charon did not get AUTHENTICATION_FAILED:\n%s", out)
	}
	waitFor(t, 3*time.Second, "soft-ix logs the rejection", func() error {
		log := s.logText()
		if !strings.Contains(log, "IKE_AUTH rejected") || !strings.Contains(log, ismAddrB) {
			return fmt.Errorf("no rejection line naming %s", ismAddrB)
		}
		return nil
	})
	if strings.Contains(s.logText(), "WrongKey-2") || strings.Contains(s.logText(), ismPSK) {
		t.Fatal("soft-ix logged a pre-shared key")
	}
	if st := s.read(); len(st.established()) != 0 {
		t.Fatalf("soft-ix established with a wrong key")
	}
}

// TestIKEStrongSwanRekeysBySoftIX: soft-ix's short lifetimes make it
// rekey the Child SA and the IKE SA itself; charon follows.
func TestIKEStrongSwanRekeysBySoftIX(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK})
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB, "-auto", "-lifetime", "14s", "-child-lifetime", "6s", "-dpd", "3s")...)
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
	first := s.read()
	firstChild := first.Child[0].InSPI
	waitFor(t, 25*time.Second, "IKE SA and Child SA rekeyed by soft-ix", func() error {
		if err := checkPairUp(s, c); err != nil {
			return err
		}
		st := s.read()
		if st.established()[0].Serial < 2 {
			return fmt.Errorf("IKE SA serial %d", st.established()[0].Serial)
		}
		for _, ch := range st.Child {
			if ch.InSPI == firstChild {
				return fmt.Errorf("first Child SA still there")
			}
		}
		return nil
	})
	if strings.Contains(s.logText(), "level=ERROR") {
		t.Fatal("soft-ix logged errors")
	}
}

// TestIKEStrongSwanRekeysByCharon: charon rekeys the Child SA and the IKE
// SA (swanctl --rekey), with soft-ix as initiator and as responder.
func TestIKEStrongSwanRekeysByCharon(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	for _, softixInitiates := range []bool{true, false} {
		t.Run(fmt.Sprintf("softix-initiator=%v", softixInitiates), func(t *testing.T) {
			l := newISMLab(t)
			c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK})
			args := seedArgs(ismAddrB, "-dpd", "2s")
			if softixInitiates {
				args = append(args, "-auto")
			}
			s := l.startSoftIX(l.nsA, "softix", args...)
			if !softixInitiates {
				time.Sleep(300 * time.Millisecond)
				if out, err := c.swanctl("--initiate", "--child", "ism-child", "--timeout", "10"); err != nil {
					t.Fatalf("initiate: %v\n%s", err, out)
				}
			}
			waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
			for i := 0; i < 2; i++ {
				before := s.read().Child[0].InSPI
				if out, err := c.swanctl("--rekey", "--child", "ism-child"); err != nil {
					t.Fatalf("rekey child: %v\n%s", err, out)
				}
				waitFor(t, 5*time.Second, "Child SA rekeyed by charon", func() error {
					if err := checkPairUp(s, c); err != nil {
						return err
					}
					for _, ch := range s.read().Child {
						if ch.InSPI == before {
							return fmt.Errorf("old Child SA still present")
						}
					}
					return nil
				})
				serial := s.read().established()[0].Serial
				if out, err := c.swanctl("--rekey", "--ike", "ism"); err != nil {
					t.Fatalf("rekey ike: %v\n%s", err, out)
				}
				waitFor(t, 5*time.Second, "IKE SA rekeyed by charon", func() error {
					if err := checkPairUp(s, c); err != nil {
						return err
					}
					if got := s.read().established()[0].Serial; got <= serial {
						return fmt.Errorf("serial %d", got)
					}
					return nil
				})
			}
			// DPD runs on the rekeyed SA both ways without tearing it down.
			time.Sleep(5 * time.Second)
			if err := checkPairUp(s, c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestIKESoftIXPair: soft-ix against soft-ix with the seed's parameters,
// including rekeys both sides start.
func TestIKESoftIXPair(t *testing.T) {
	nslab.Require(t)
	l := newISMLab(t)
	b := l.startSoftIX(l.nsB, "softix-b", "-local", ismAddrB, "-peer", ismAddrA, "-psk", ismPSK,
		"-lifetime", "20s", "-child-lifetime", "9s")
	a := l.startSoftIX(l.nsA, "softix-a", seedArgs(ismAddrB, "-auto", "-lifetime", "17s", "-child-lifetime", "7s")...)
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkSoftIXPair(a, b, 1) })
	waitFor(t, 30*time.Second, "rekeys", func() error { return checkSoftIXPair(a, b, 2) })
}

func checkSoftIXPair(a, b *softIX, minSerial int) error {
	sa, sb := a.read(), b.read()
	ea, eb := sa.established(), sb.established()
	if len(ea) != 1 || len(eb) != 1 {
		return fmt.Errorf("established: a %d b %d", len(ea), len(eb))
	}
	if ea[0].SPIi != eb[0].SPIi || ea[0].SPIr != eb[0].SPIr {
		return fmt.Errorf("IKE SPIs differ")
	}
	if ea[0].Serial < minSerial || eb[0].Serial < minSerial {
		return fmt.Errorf("serials %d %d", ea[0].Serial, eb[0].Serial)
	}
	outA, outB := sa.Outbound["Tunnel0.0"], sb.Outbound["Tunnel0.0"]
	inB, inA := false, false
	for _, d := range sb.DP {
		inB = inB || (d.Inbound && d.SPI == outA)
	}
	for _, d := range sa.DP {
		inA = inA || (d.Inbound && d.SPI == outB)
	}
	if !inA || !inB {
		return fmt.Errorf("outbound SAs not installed inbound at the peer")
	}
	return nil
}

// TestIKEAzurePolicy: a soft-ix with Azure's default policy (the lab's
// Azure emulation) against a soft-ix with the seed's config, each side
// initiating; the seed side must accept Azure's whole offer and pick
// aes-cbc-256/sha1 (IKE) and aes-cbc-256/sha2-256 (ESP), as its config says.
func TestIKEAzurePolicy(t *testing.T) {
	nslab.Require(t)
	for _, azureInitiates := range []bool{true, false} {
		t.Run(fmt.Sprintf("azure-initiator=%v", azureInitiates), func(t *testing.T) {
			l := newISMLab(t)
			azArgs := []string{"-local", ismAddrB, "-peer", ismAddrA, "-psk", ismPSK, "-azure"}
			ixArgs := seedArgs(ismAddrB)
			if azureInitiates {
				azArgs = append(azArgs, "-auto")
			} else {
				ixArgs = append(ixArgs, "-auto")
			}
			az := l.startSoftIX(l.nsB, "azure", azArgs...)
			ix := l.startSoftIX(l.nsA, "ix", ixArgs...)
			waitFor(t, 10*time.Second, "tunnel up", func() error { return checkSoftIXPair(ix, az, 1) })
			st := ix.read()
			sa, ch := st.established()[0], st.Child[0]
			if sa.Enc != "AES-CBC-256" || sa.Integ != "HMAC-SHA1-96" || sa.DH != "1024-bit" {
				t.Fatalf("IKE suite %s/%s/%s", sa.Enc, sa.Integ, sa.DH)
			}
			if ch.Enc != "AES-CBC-256" || ch.Hash != "HMAC-SHA2-256-128" || ch.PFS != "" {
				t.Fatalf("ESP suite %s/%s pfs %q", ch.Enc, ch.Hash, ch.PFS)
			}
		})
	}
}

// TestIKEStrongSwanSuites: the other suites against charon,
// soft-ix initiating: AES-GCM-256 with DH 14, and SHA-256 with ECP-256.
func TestIKEStrongSwanSuites(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	cases := []struct {
		name, ike, esp string
		args           []string
		enc, dh, cenc  string
	}{
		{"gcm256-modp2048", "aes256gcm16-prfsha256-modp2048", "aes256gcm16",
			[]string{"-enc", "aes-gcm-256-16", "-prf", "sha2-256", "-dh", "2048-bit", "-child-enc", "aes-gcm-256-16"},
			"AES-GCM-256", "2048-bit", "AES-GCM-256"},
		{"sha256-ecp256", "aes128-sha256-ecp256", "aes128-sha256",
			[]string{"-enc", "aes-cbc-128", "-integ", "sha2-256", "-dh", "256-bit-ecp", "-child-enc", "aes-cbc-128"},
			"AES-CBC-128", "256-bit-ecp", "AES-CBC-128"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newISMLab(t)
			c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK, IKE: tc.ike, ESP: tc.esp})
			s := l.startSoftIX(l.nsA, "softix", append(seedArgs(ismAddrB, "-auto"), tc.args...)...)
			waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
			st := s.read()
			if sa := st.established()[0]; sa.Enc != tc.enc || sa.DH != tc.dh {
				t.Fatalf("IKE suite %s/%s", sa.Enc, sa.DH)
			}
			if ch := st.Child[0]; ch.Enc != tc.cenc {
				t.Fatalf("ESP suite %s", ch.Enc)
			}
			// A rekey of each kind with this suite.
			if out, err := c.swanctl("--rekey", "--ike", "ism"); err != nil {
				t.Fatalf("rekey: %v\n%s", err, out)
			}
			waitFor(t, 5*time.Second, "IKE rekey", func() error {
				if err := checkPairUp(s, c); err != nil {
					return err
				}
				if s.read().established()[0].Serial < 2 {
					return fmt.Errorf("not rekeyed")
				}
				return nil
			})
		})
	}
}

// TestIKEStrongSwanPeerRestart: the peer dies without a word and comes
// back; soft-ix (connect-type auto, DPD) notices and brings the tunnel
// up again. Then soft-ix itself is killed and restarted: its
// INITIAL_CONTACT makes charon drop the stale SA.
func TestIKEStrongSwanPeerRestart(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	conn := charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK}
	c := l.startCharon(l.nsB, conn)
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB, "-auto", "-dpd", "2s", "-retransmit", "200ms", "-retry", "1s")...)
	waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })

	// charon dies (SIGKILL: no DELETE) and restarts.
	charonProc := l.procs[0]
	charonProc.Process.Kill()
	charonProc.Wait()
	l.procs = l.procs[1:]
	waitFor(t, 30*time.Second, "soft-ix declares the peer dead", func() error {
		if n := len(s.read().established()); n != 0 {
			return fmt.Errorf("%d IKE SAs still established", n)
		}
		return nil
	})
	c = l.startCharon(l.nsB, conn)
	waitFor(t, 30*time.Second, "tunnel back", func() error { return checkPairUp(s, c) })

	// soft-ix dies without DELETE and restarts.
	s.cmd.Process.Kill()
	s.cmd.Wait()
	for i, p := range l.procs {
		if p == s.cmd {
			l.procs = append(l.procs[:i], l.procs[i+1:]...)
			break
		}
	}
	s = l.startSoftIX(l.nsA, "softix-2", seedArgs(ismAddrB, "-auto", "-dpd", "2s")...)
	waitFor(t, 10*time.Second, "tunnel up after soft-ix restart, stale SA gone", func() error { return checkPairUp(s, c) })
}

// TestIKEStrongSwanBothInitiate: charon (start_action = start) and soft-ix
// (connect-type auto) initiate at once, as Azure and an IX may; they end
// with one IKE SA and one Child SA.
func TestIKEStrongSwanBothInitiate(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	l := newISMLab(t)
	s := l.startSoftIX(l.nsA, "softix", seedArgs(ismAddrB, "-auto", "-retry", "1s")...)
	c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK, Initiate: true})
	waitFor(t, 15*time.Second, "one tunnel", func() error { return checkPairUp(s, c) })
	time.Sleep(2 * time.Second)
	if err := checkPairUp(s, c); err != nil {
		t.Fatal(err)
	}
}

// TestIKEStrongSwanFragmentation: both ends send IKE_AUTH (and later
// exchanges) as RFC 7383 fragments: soft-ix with a 200-byte limit, charon
// with fragment_size = 200.
func TestIKEStrongSwanFragmentation(t *testing.T) {
	nslab.Require(t, "charon-systemd", "swanctl")
	for _, softixInitiates := range []bool{true, false} {
		t.Run(fmt.Sprintf("softix-initiator=%v", softixInitiates), func(t *testing.T) {
			l := newISMLab(t)
			c := l.startCharon(l.nsB, charonConn{Local: ismAddrB, Remote: ismAddrA, PSK: ismPSK, FragmentSize: 200})
			args := seedArgs(ismAddrB, "-frag-size", "200")
			if softixInitiates {
				args = append(args, "-auto")
			}
			s := l.startSoftIX(l.nsA, "softix", args...)
			if !softixInitiates {
				time.Sleep(300 * time.Millisecond)
				if out, err := c.swanctl("--initiate", "--child", "ism-child", "--timeout", "10"); err != nil {
					t.Fatalf("initiate: %v\n%s", err, out)
				}
			}
			waitFor(t, 10*time.Second, "tunnel up", func() error { return checkPairUp(s, c) })
			if out, err := c.swanctl("--rekey", "--ike", "ism"); err != nil {
				t.Fatalf("rekey: %v\n%s", err, out)
			}
			waitFor(t, 5*time.Second, "IKE rekey", func() error {
				if err := checkPairUp(s, c); err != nil {
					return err
				}
				if s.read().established()[0].Serial < 2 {
					return fmt.Errorf("not rekeyed")
				}
				return nil
			})
			b, _ := os.ReadFile(c.log)
			if !strings.Contains(string(b), "EF(") {
				t.Fatalf("charon saw no encrypted fragments")
			}
		})
	}
}
