package integration

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// Interop of the soft-ix daemon (the IX) with strongSwan charon +
// kernel-libipsec standing in for Azure's VPN gateway, in the seed
// scenario of nslab. charon's userspace ESP always runs in UDP 4500.

// iopCheckSeedSAs checks what soft-ix and charon show for a tunnel with
// the seed's algorithms after traffic: algorithms, direction, counters,
// and that both agree on the IKE SPIs.
func iopCheckSAs(t *testing.T, l *iopLab, c *nslab.StrongSwan, direction string, ike iopIKESA, child iopChildSA, charonIKE, charonChild string) {
	t.Helper()
	sas := l.ikeSAs(l.ix)
	if len(sas) != 1 {
		t.Fatalf("soft-ix shows %d IKE SAs, want 1: %+v", len(sas), sas)
	}
	sa := sas[0]
	if sa.Direction != direction || sa.Enc != ike.Enc || sa.Hash != ike.Hash || sa.PRF != ike.PRF || sa.DH != ike.DH {
		t.Errorf("show ikev2 sa: got %+v, want direction %s and algorithms %+v", sa, direction, ike)
	}
	if sa.PeerID != "IPV4-ADDR "+nslab.AzurePublicAddr || !strings.HasPrefix(sa.PeerAddr, nslab.AzurePublicAddr+":") ||
		!strings.HasPrefix(sa.LocalAddr, nslab.IXWANAddr+":") {
		t.Errorf("show ikev2 sa addresses: %+v", sa)
	}
	cs := l.charonSAs(c)
	if len(cs.IKE) != 1 || cs.IKE[0].SPII != sa.SPII || cs.IKE[0].SPIR != sa.SPIR {
		t.Errorf("IKE SPIs: soft-ix %s/%s, charon %+v", sa.SPII, sa.SPIR, cs.IKE)
	}
	if len(cs.IKE) == 1 {
		if cs.IKE[0].Algs != charonIKE {
			t.Errorf("charon's IKE SA algorithms %q, want %q", cs.IKE[0].Algs, charonIKE)
		}
		if cs.IKE[0].Local != (direction == "responder") {
			t.Errorf("charon initiator=%v but soft-ix is %s", cs.IKE[0].Local, direction)
		}
	}

	// IX shows one entry per Child SA (its outbound side) with the
	// statistics of both directions.
	var cur *iopChildSA
	children := l.childSAs(l.ix)
	for i := range children {
		ch := &children[i]
		if ch.Enc != child.Enc || ch.Hash != child.Hash {
			t.Errorf("show ikev2 child-sa: %s SA with %s/%s, want %s/%s", ch.Direction, ch.Enc, ch.Hash, child.Enc, child.Hash)
		}
		if ch.IKESPII != sa.SPII || ch.IKESPIR != sa.SPIR {
			t.Errorf("Child SA names IKE SPIs %s/%s, IKE SA has %s/%s", ch.IKESPII, ch.IKESPIR, sa.SPII, sa.SPIR)
		}
		// Outbound "ts unacceptable" counts what the kernel routes into
		// the TUN outside the selectors (IPv6 link-local chatter).
		if ch.InErrors != 0 {
			t.Errorf("Child SA %s has %d inbound errors", ch.Direction, ch.InErrors)
		}
		if ch.Direction == "outbound" {
			cur = ch
		}
	}
	if cur == nil {
		t.Fatalf("soft-ix shows no outbound Child SA: %+v", children)
	}
	if cur.InPkts == 0 || cur.InOcts == 0 || cur.OutPkts == 0 || cur.OutOcts == 0 {
		t.Errorf("Child SA counters after traffic: inbound %d packets %d octets, outbound %d packets %d octets",
			cur.InPkts, cur.InOcts, cur.OutPkts, cur.OutOcts)
	}

	var installed *iopCharonChild
	for i := range cs.Child {
		if cs.Child[i].State == "INSTALLED" {
			installed = &cs.Child[i]
		}
	}
	if installed == nil {
		t.Fatalf("charon has no installed Child SA: %+v", cs.Child)
	}
	if installed.Algs != charonChild || installed.Encap != "TUNNEL-in-UDP" {
		t.Errorf("charon's Child SA is %s ESP:%s, want TUNNEL-in-UDP ESP:%s", installed.Encap, installed.Algs, charonChild)
	}
	spis := iopSoftIXChildSPIs(l.ix)
	last := spis[len(spis)-1]
	if last[0] != installed.OutSPI || last[1] != installed.InSPI {
		t.Errorf("ESP SPIs: soft-ix in %s out %s, charon in %s out %s", last[0], last[1], installed.InSPI, installed.OutSPI)
	}
	if installed.InPkts == 0 || installed.OutPkts == 0 {
		t.Errorf("charon's Child SA counted in %d out %d packets", installed.InPkts, installed.OutPkts)
	}
	t.Logf("IKE SPIs %s/%s, ESP SPIs soft-ix in %s out %s; soft-ix in %d/out %d packets, charon in %d/out %d",
		sa.SPII, sa.SPIR, last[0], last[1], cur.InPkts, cur.OutPkts, installed.InPkts, installed.OutPkts)
}

var (
	iopSeedIKE      = iopIKESA{Enc: "AES-CBC-256", Hash: "HMAC-SHA1-96", PRF: "PRF-HMAC-SHA1", DH: "1024-bit"}
	iopSeedChild    = iopChildSA{Enc: "AES-CBC-256", Hash: "HMAC-SHA2-256-128"}
	iopSeedSwanIKE  = "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"
	iopSeedSwanESP  = "AES_CBC-256/HMAC_SHA2_256_128"
	iopPingAttempts = 20 * time.Second
)

// TestInteropStrongSwanAzureSide: soft-ix with the seed's static config
// initiates (connect-type auto) to charon as Azure with the seed's
// parameters; the LAN host pings the VNet host through the tunnel, and
// both sides agree on what they negotiated.
func TestInteropStrongSwanAzureSide(t *testing.T) {
	l := iopNewLab(t, "iopinit")
	c := l.startCharon(iopAzure())
	x := l.startIX(iopIXConf{})
	start := time.Now()
	l.waitTunnel(x, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	t.Logf("tunnel and first ping answered %v after soft-ix's control socket answered", time.Since(start).Round(time.Millisecond))
	if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
		t.Fatal(err)
	}
	iopCheckSAs(t, l, c, "initiator", iopSeedIKE, iopSeedChild, iopSeedSwanIKE, iopSeedSwanESP)
	// The IX itself reaches the VNet from its LAN address, as in the
	// how-to's "ping 172.16.1.4 source 192.168.2.1".
	out, err := x.Command("ping", nslab.VNetHostAddr, "source", nslab.IXLANAddr, "count", "2")
	if err != nil || !strings.Contains(out, "2 packets received") {
		t.Errorf("soft-ix ping 172.16.1.4 source 192.168.2.1: %v\n%s", err, out)
	}
}

// TestInteropStrongSwanForcedEncap: soft-ix with --force-udp-encap (a
// NAT_DETECTION_SOURCE_IP that cannot match) initiates to charon with no
// NAT between them; charon must take the IX for NATed, and the tunnel
// carries the ping in UDP 4500 as with the true hash.
func TestInteropStrongSwanForcedEncap(t *testing.T) {
	l := iopNewLab(t, "iopfenc")
	c := l.startCharon(iopAzure())
	x := l.startIX(iopIXConf{Args: []string{"--force-udp-encap"}})
	l.waitTunnel(x, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
		t.Fatal(err)
	}
	iopCheckSAs(t, l, c, "initiator", iopSeedIKE, iopSeedChild, iopSeedSwanIKE, iopSeedSwanESP)
	// charon logs its NAT detection: the IX's fake source hash must read
	// as "remote host is behind NAT" (without the flag it does not).
	log, err := os.ReadFile(c.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "remote host is behind NAT") {
		t.Errorf("charon did not take the IX for NATed; its log has no \"remote host is behind NAT\"")
	}
}

// TestInteropStrongSwanSoftIXResponder: charon as Azure initiates
// (start_action = start) to a soft-ix that only responds
// (negotiation-direction responder, no connect-type auto).
func TestInteropStrongSwanSoftIXResponder(t *testing.T) {
	l := iopNewLab(t, "iopresp")
	x := l.startIX(iopIXConf{Responder: true})
	az := iopAzure()
	az.Initiate = true
	c := l.startCharon(az)
	l.waitTunnel(x, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
		t.Fatal(err)
	}
	iopCheckSAs(t, l, c, "responder", iopSeedIKE, iopSeedChild, iopSeedSwanIKE, iopSeedSwanESP)
}

// Azure VPN Gateway's default offers (route-based, no custom policy) in
// Azure's order, as swanctl proposals: one proposal per algorithm set.
const (
	iopAzureIKEOffer = "aes256-sha1-modp1024,aes256-sha256-modp1024,aes128-sha1-modp1024,aes128-sha256-modp1024,3des-sha1-modp1024,3des-sha256-modp1024"
	iopAzureESPOffer = "aes256gcm16,aes256-sha1,3des-sha1,aes256-sha256,aes128-sha1,3des-sha256"
)

// TestInteropStrongSwanAzureOffer: charon offers Azure's whole proposal
// lists to a soft-ix configured with the seed's single choice; soft-ix
// must pick aes-cbc-256/sha1/1024-bit for IKE and aes-cbc-256/sha2-256
// for ESP, when charon initiates (as Azure does) and when soft-ix does
// (charon then accepts any of its lists).
func TestInteropStrongSwanAzureOffer(t *testing.T) {
	for _, azureInitiates := range []bool{true, false} {
		name := map[bool]string{true: "azure-initiates", false: "softix-initiates"}[azureInitiates]
		t.Run(name, func(t *testing.T) {
			l := iopNewLab(t, "iopoffer")
			x := l.startIX(iopIXConf{Responder: azureInitiates})
			az := iopAzure()
			az.IKEProposals, az.ESPProposals, az.Initiate = iopAzureIKEOffer, iopAzureESPOffer, azureInitiates
			c := l.startCharon(az)
			l.waitTunnel(x, c, 30*time.Second)
			l.charonUp(c, 10*time.Second)
			l.waitPing(iopPingAttempts)
			if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
				t.Fatal(err)
			}
			dir := map[bool]string{true: "responder", false: "initiator"}[azureInitiates]
			iopCheckSAs(t, l, c, dir, iopSeedIKE, iopSeedChild, iopSeedSwanIKE, iopSeedSwanESP)
		})
	}
}

// TestInteropStrongSwanSuites: the other suites issue 3 names, soft-ix
// initiating: AES-GCM-256 with DH 14 and ESP AES-GCM-256; AES-256 with
// SHA-256 and ECP-256, ESP AES-256/SHA-256.
func TestInteropStrongSwanSuites(t *testing.T) {
	cases := []struct {
		name                 string
		ix                   iopIXConf
		swanIKE, swanESP     string
		ike                  iopIKESA
		child                iopChildSA
		wantSwanIKE, wantESP string
	}{
		{
			name:        "gcm256-modp2048",
			ix:          iopIXConf{Enc: "aes-gcm-256", Integ: "sha2-256", DH: "2048-bit", ChildEnc: "aes-gcm-256", ChildInteg: "sha2-256"},
			swanIKE:     "aes256gcm16-prfsha256-modp2048",
			swanESP:     "aes256gcm16",
			ike:         iopIKESA{Enc: "AES-GCM-256", Hash: "", PRF: "PRF-HMAC-SHA2-256", DH: "2048-bit"},
			child:       iopChildSA{Enc: "AES-GCM-256", Hash: "NONE"},
			wantSwanIKE: "AES_GCM_16-256/PRF_HMAC_SHA2_256/MODP_2048",
			wantESP:     "AES_GCM_16-256",
		},
		{
			name:        "sha256-ecp256",
			ix:          iopIXConf{Enc: "aes-cbc-256", Integ: "sha2-256", DH: "256-bit-ecp", ChildEnc: "aes-cbc-256", ChildInteg: "sha2-256"},
			swanIKE:     "aes256-sha256-ecp256",
			swanESP:     "aes256-sha256",
			ike:         iopIKESA{Enc: "AES-CBC-256", Hash: "HMAC-SHA2-256-128", PRF: "PRF-HMAC-SHA2-256", DH: "256-bit-ecp"},
			child:       iopSeedChild,
			wantSwanIKE: "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
			wantESP:     "AES_CBC-256/HMAC_SHA2_256_128",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := iopNewLab(t, "iopsuite")
			az := iopAzure()
			az.IKEProposals, az.ESPProposals = tc.swanIKE, tc.swanESP
			c := l.startCharon(az)
			x := l.startIX(tc.ix)
			l.waitTunnel(x, c, 30*time.Second)
			l.charonUp(c, 10*time.Second)
			l.waitPing(iopPingAttempts)
			if err := l.s.LAN.Ping(nslab.VNetHostAddr, "", 3); err != nil {
				t.Fatal(err)
			}
			iopCheckSAs(t, l, c, "initiator", tc.ike, tc.child, tc.wantSwanIKE, tc.wantESP)
		})
	}
}

// TestInteropStrongSwanWrongPSK: a PSK mismatch fails cleanly on both
// sides whoever initiates: AUTHENTICATION_FAILED named with the peer in
// soft-ix's log, never a key; charon reports the failure; no Child SA
// anywhere; soft-ix keeps running and, as initiator, retries with a
// growing backoff.
func TestInteropStrongSwanWrongPSK(t *testing.T) {
	const wrong = "WrongKey-iop-7"
	noKeys := func(t *testing.T, x *nslab.SoftIX) {
		t.Helper()
		log := x.Proc.Log()
		for _, k := range []string{wrong, nslab.SeedPSK} {
			if strings.Contains(log, k) {
				t.Errorf("soft-ix logged a pre-shared key (%d bytes)", len(k))
			}
		}
		if strings.Contains(log, "panic") || strings.Contains(log, "level=ERROR") {
			t.Errorf("soft-ix logged a panic or an error:\n%s", log)
		}
		if done, err := x.Proc.Exited(); done {
			t.Errorf("soft-ix exited: %v", err)
		}
	}
	noChild := func(t *testing.T, l *iopLab, x *nslab.SoftIX, c *nslab.StrongSwan) {
		t.Helper()
		if sas := l.ikeSAs(x); len(sas) != 0 {
			t.Errorf("soft-ix has IKE SAs with a wrong key: %+v", sas)
		}
		if chs := l.childSAs(x); len(chs) != 0 {
			t.Errorf("soft-ix has Child SAs with a wrong key: %+v", chs)
		}
		if cs := l.charonSAs(c); len(cs.IKE) != 0 || len(cs.Child) != 0 {
			t.Errorf("charon has SAs with a wrong key: %+v", cs)
		}
	}

	t.Run("softix-initiates", func(t *testing.T) {
		l := iopNewLab(t, "ioppsk")
		c := l.startCharon(iopAzure())
		x := l.startIX(iopIXConf{PSK: wrong})
		// Two failed attempts: the first retry comes after 1 s, the
		// next is scheduled 2 s later.
		iopWaitLog(t, x, 20*time.Second, regexp.MustCompile(`will re-initiate" tunnel=Tunnel0.0 in=2s reason="authentication failed"`))
		log := x.Proc.Log()
		if !regexp.MustCompile(`IKE_AUTH failed" tunnel=Tunnel0.0 peer=198.51.100.6:4500 reason=.*AUTHENTICATION_FAILED`).MatchString(log) {
			t.Errorf("soft-ix did not log AUTHENTICATION_FAILED naming the peer:\n%s", log)
		}
		if n := strings.Count(log, "ike: initiating"); n != 2 {
			t.Errorf("soft-ix initiated %d times in the first backoff window, want 2", n)
		}
		clog, err := os.ReadFile(c.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(clog), "MAC mismatched") || !strings.Contains(string(clog), "N(AUTH_FAILED)") {
			t.Errorf("charon did not report the PSK mismatch:\n%s", clog)
		}
		noChild(t, l, x, c)
		noKeys(t, x)
	})

	t.Run("azure-initiates", func(t *testing.T) {
		l := iopNewLab(t, "ioppsk")
		x := l.startIX(iopIXConf{PSK: wrong, Responder: true})
		c := l.startCharon(iopAzure())
		out, err := c.Swanctl("--initiate", "--child", "azure-child", "--timeout", "15")
		if err == nil {
			t.Fatalf("charon established with a wrong key:\n%s", out)
		}
		if !strings.Contains(out, "received AUTHENTICATION_FAILED notify error") {
			t.Errorf("charon does not report AUTHENTICATION_FAILED:\n%s", out)
		}
		iopWaitLog(t, x, 5*time.Second, regexp.MustCompile(`IKE_AUTH rejected" peer=198.51.100.6:4500 id="IPV4-ADDR 198.51.100.6" reason=`))
		noChild(t, l, x, c)
		noKeys(t, x)
		if strings.Contains(x.Proc.Log(), "will re-initiate") {
			t.Errorf("a responder-only soft-ix schedules re-initiation")
		}
	})
}

var (
	iopIKERekeyedRe = regexp.MustCompile(`IKE SA rekeyed" tunnel=Tunnel0.0`)
	iopChildRe      = regexp.MustCompile(`Child SA installed" tunnel=Tunnel0.0`)
)

// iopRekeyRun pings from the LAN host to the VNet host every 50 ms for
// duration while rekeys happen, then checks that soft-ix rekeyed the IKE
// SA at least ikeRekeys times and installed at least childRekeys Child
// SAs after the first, that both sides still agree, and that no ping was
// lost.
func iopRekeyRun(t *testing.T, l *iopLab, c *nslab.StrongSwan, duration time.Duration, ikeRekeys, childRekeys int) {
	t.Helper()
	const interval = 50 * time.Millisecond
	x := l.ix
	before := iopSoftIXChildSPIs(x)
	firstIKE := l.ikeSAs(x)
	res := <-iopPing(l.s.LAN, nslab.VNetHostAddr, int(duration/interval), interval)
	log := x.Proc.Log()
	ikeN := len(iopIKERekeyedRe.FindAllString(log, -1))
	childN := len(iopChildRe.FindAllString(log, -1)) - len(before)
	t.Logf("%v of pings every %v: %d sent, %d received, %d lost; IKE SA rekeys %d, new Child SAs %d",
		duration, interval, res.Sent, res.Received, res.Lost(), ikeN, childN)
	if res.Sent == 0 {
		t.Fatalf("ping did not run: %v\n%s", res.Err, res.Output)
	}
	if ikeN < ikeRekeys || childN < childRekeys {
		t.Errorf("want at least %d IKE SA rekeys and %d new Child SAs during the ping", ikeRekeys, childRekeys)
	}
	if ikeRekeys > 0 {
		sas := l.ikeSAs(x)
		if len(sas) != 1 || len(firstIKE) != 1 || sas[0].SPII == firstIKE[0].SPII || sas[0].Serial < 2 {
			t.Errorf("IKE SA after rekeys: %+v (first %+v)", sas, firstIKE)
		}
	}
	if res.Lost() != 0 {
		t.Errorf("%d of %d pings lost across rekeys", res.Lost(), res.Sent)
	}
	if res.Lost() != 0 || os.Getenv("SOFTIX_IOP_EXPLAIN") == "1" {
		iopExplainLoss(t, l, c, res)
	}
	if err := nslab.WaitFor(10*time.Second, "tunnel agreed after rekeys", func() error { return l.tunnelUp(x, c) }); err != nil {
		t.Error(err)
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("soft-ix logged errors during rekeys")
	}
}

// TestInteropStrongSwanRekeys: IKE and Child SA rekeys under a continuous
// ping (every 50 ms), started by charon (short rekey_time) and by soft-ix
// (sa-lifetime and child-lifetime 60 s, the shortest the IX config
// accepts; soft-ix rekeys 6 to 9 s before expiry). No ping may be lost.
// The two cases run in parallel, and with the other long tests.
func TestInteropStrongSwanRekeys(t *testing.T) {
	t.Parallel()
	t.Run("by-charon", func(t *testing.T) {
		t.Parallel()
		l := iopNewLab(t, "iopreka")
		az := iopAzure()
		az.ChildRekeyTime, az.IKERekeyTime = 8*time.Second, 13*time.Second
		// Without an explicit life_time charon lets a Child SA this short
		// expire (DELETE, then a new CREATE_CHILD_SA) instead of
		// rekeying it; that case is TestInteropStrongSwanChildRecreate.
		c := l.startCharonEdit(az, func(s string) string {
			return strings.Replace(s, "rekey_time = 8s", "rekey_time = 8s\n        life_time = 30s\n        rand_time = 1s", 1)
		})
		x := l.startIX(iopIXConf{})
		l.waitTunnel(x, c, 30*time.Second)
		l.charonUp(c, 10*time.Second)
		l.waitPing(iopPingAttempts)
		// Child SAs at ~8 and ~16 s, the IKE SA at ~13 s. Only one Child
		// rekey is required: when charon's second Child rekey falls due
		// while its IKE rekey moves the Child SA, charon drops that job
		// ("CHILD_SA ... not found for rekey") and rekeys later.
		iopRekeyRun(t, l, c, 20*time.Second, 1, 1)
	})
	t.Run("by-softix", func(t *testing.T) {
		t.Parallel()
		l := iopNewLab(t, "ioprekb")
		c := l.startCharon(iopAzure())
		x := l.startIX(iopIXConf{SALifetime: 60, ChildLifetime: 60})
		l.waitTunnel(x, c, 30*time.Second)
		l.charonUp(c, 10*time.Second)
		l.waitPing(iopPingAttempts)
		// Both rekeys are due 51 to 54 s after the tunnel came up.
		iopRekeyRun(t, l, c, 57*time.Second, 1, 1)
		if log := x.Proc.Log(); strings.Contains(log, "collision") {
			t.Logf("soft-ix saw a rekey collision")
		}
	})
}

// TestInteropStrongSwanChildRecreate: charon deletes the tunnel's only
// Child SA and creates a new one with CREATE_CHILD_SA on the same IKE SA
// (what charon does when a Child SA expires before its rekey, and a
// legitimate peer behaviour): traffic must flow again.
func TestInteropStrongSwanChildRecreate(t *testing.T) {
	l := iopNewLab(t, "iopchild")
	c := l.startCharon(iopAzure())
	x := l.startIX(iopIXConf{})
	l.waitTunnel(x, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	if out, err := c.Swanctl("--terminate", "--child", "azure-child", "--timeout", "5"); err != nil {
		t.Fatalf("swanctl --terminate --child: %v\n%s", err, out)
	}
	out, err := c.Swanctl("--initiate", "--child", "azure-child", "--timeout", "10")
	if err != nil {
		t.Errorf("charon could not create a new Child SA on the IKE SA: %v\n%s", err, out)
	}
	l.waitTunnel(x, c, 20*time.Second)
	l.waitPing(iopPingAttempts)
}

// iopRestartCharon kills charon (SIGKILL, by its pid) and starts a new
// one with cfg in the Azure namespace; the new one is loaded but its
// tunnel is not waited for.
func iopRestartCharon(t *testing.T, l *iopLab, c *nslab.StrongSwan, cfg nslab.StrongSwanConfig) *nslab.StrongSwan {
	t.Helper()
	if err := c.Proc.SignalWait(syscall.SIGKILL, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return l.startCharon(cfg)
}

// TestInteropStrongSwanPeerRestart: charon (Azure) is killed and
// restarted. Restarted as Azure behaves (it initiates), its INITIAL_CONTACT
// replaces soft-ix's stale IKE SA; restarted as a pure responder, soft-ix
// must find the old SA dead by DPD and re-initiate (connect-type auto).
// Either way the ping gets through again. soft-ix's DPD gives up 30 s
// after its liveness check (DPDTimeout) and re-initiates at once, so the
// second case takes the 3 s DPD interval plus about 30 s, well within the
// 60 s issue 14 asks for; the test runs in parallel with the other long
// ones.
func TestInteropStrongSwanPeerRestart(t *testing.T) {
	t.Parallel()
	for _, initiates := range []bool{true, false} {
		name := map[bool]string{true: "restart-initiates", false: "restart-responds"}[initiates]
		t.Run(name, func(t *testing.T) {
			l := iopNewLab(t, "iopkill")
			c := l.startCharon(iopAzure())
			x := l.startIX(iopIXConf{DPD: 3})
			l.waitTunnel(x, c, 30*time.Second)
			l.charonUp(c, 10*time.Second)
			l.waitPing(iopPingAttempts)
			first := l.ikeSAs(x)

			az := iopAzure()
			az.Initiate = initiates
			start := time.Now()
			c = iopRestartCharon(t, l, c, az)
			if err := nslab.WaitFor(60*time.Second, "a new tunnel after charon's restart", func() error {
				if sas := l.ikeSAs(x); len(sas) != 1 || len(first) != 1 || sas[0].SPII == first[0].SPII {
					return fmt.Errorf("soft-ix IKE SAs %+v", sas)
				}
				return l.tunnelUp(x, c)
			}); err != nil {
				t.Fatal(err)
			}
			l.charonUp(c, 10*time.Second)
			l.waitPing(iopPingAttempts)
			t.Logf("tunnel and ping back %v after charon was killed", time.Since(start).Round(100*time.Millisecond))
			if !initiates && !strings.Contains(x.Proc.Log(), "peer dead (DPD)") {
				t.Errorf("soft-ix did not log the DPD failure")
			}
		})
	}
}

// iopIKEEvents returns the IKE events of a soft-ix log: its "ike: "
// lines above debug, one per line.
func iopIKEEvents(log string) string {
	var events []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "ike: ") && !strings.Contains(line, "level=DEBUG") {
			events = append(events, line)
		}
	}
	return strings.Join(events, "\n")
}

// iopExplainLoss logs what a lost ping needs for a diagnosis: when each
// lost ping was sent (after the previous answer), soft-ix's SA events and
// drop counters, and charon's rekey events.
func iopExplainLoss(t *testing.T, l *iopLab, c *nslab.StrongSwan, res iopPingResult) {
	t.Helper()
	for _, m := range res.Missing {
		t.Logf("lost icmp_seq=%d, sent after the answer at %s", m.Seq, m.After.UTC().Format("15:04:05.000000"))
	}
	t.Logf("soft-ix IKE events:\n%s", iopIKEEvents(l.ix.Proc.Log()))
	if out, err := l.ix.Command("show", "ikev2", "child-sa"); err == nil {
		t.Logf("soft-ix show ikev2 child-sa:\n%s", out)
	}
	if c == nil {
		// soft-ix pair: no charon.
	} else if b, err := os.ReadFile(c.LogPath); err == nil {
		var cl []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "CHILD_SA") || strings.Contains(line, "IKE_SA azure") || strings.Contains(line, "DELETE") || strings.Contains(line, "inbound") {
				cl = append(cl, line)
			}
		}
		t.Logf("charon SA events:\n%s", strings.Join(cl, "\n"))
	}
	if out, err := l.s.IX.Run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9477 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"); err == nil {
		var drops []string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "drops_total") && !strings.HasPrefix(line, "#") && !strings.HasSuffix(line, " 0") {
				drops = append(drops, line)
			}
		}
		t.Logf("soft-ix nonzero drop counters:\n%s", strings.Join(drops, "\n"))
	}
}

// TestInteropStrongSwanKeyIDs: the IX names itself with
// "local-authentication id keyid" and expects charon's key ID, as IX
// pairs behind dynamic addresses do: charon, which checks the IX's
// identity, brings the tunnel up and the LAN host's ping crosses. Before
// soft-ix sent that identity it always sent its address, and charon
// refused the IKE_AUTH.
func TestInteropStrongSwanKeyIDs(t *testing.T) {
	l := iopNewLab(t, "iopkeyid")
	az := iopAzure()
	az.LocalID, az.RemoteID = "keyid:azure-gw", "keyid:branch-ix"
	c := l.startCharon(az)
	conf := iopIXConf{}.text()
	for old, repl := range map[string]string{
		"ikev2 authentication psk id ipv4 " + nslab.AzurePublicAddr + " key": "ikev2 authentication psk id keyid azure-gw key",
		"ikev2 default-profile\n":                                    "ikev2 default-profile\n  local-authentication psk id keyid branch-ix\n",
		"authentication psk id ipv4 " + nslab.AzurePublicAddr + "\n": "authentication psk id keyid azure-gw\n",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the IX config has no %q", old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	x := l.startIXWith(nslab.SoftIXOptions{Name: "ix", Config: conf, Map: nslab.IXSideMap()})
	l.waitTunnel(x, c, 30*time.Second)
	l.charonUp(c, 10*time.Second)
	l.waitPing(iopPingAttempts)
	if out, err := x.Command("show", "ikev2", "sa"); err != nil || !strings.Contains(out, "KEY-ID azure-gw") {
		t.Errorf("soft-ix does not show charon's key ID: %v\n%s", err, out)
	}
	sas, err := c.ListSAs()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sas, "branch-ix") {
		t.Errorf("charon does not list the IX's key ID:\n%s", sas)
	}
}
