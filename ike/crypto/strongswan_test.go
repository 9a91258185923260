package crypto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// The strongSwan interop tests replay IKE exchanges captured between two
// charon 5.9.8 instances (ike/wire/testdata/capture.sh) and check every
// key this package derives against the keys charon logged at level 4, that
// every encrypted message decrypts and that both AUTH payloads verify with
// the lab's pre-shared key. "ss" is aes256-sha1-modp1024 with an ESP
// aes256-sha256 Child SA, a Child rekey, an IKE rekey, DPD and deletes,
// then aes256gcm16-prfsha256-ecp256 with a Child rekey using PFS
// (modp2048); "ssfrag" is the same with RFC 7383 fragmentation.

const labPSK = "iw-test-psk"

// keyLog holds charon's logged secrets, one FIFO per label.
type keyLog map[string][][]byte

func readKeyLog(t *testing.T, name string) keyLog {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := keyLog{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		label, h, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		l[label] = append(l[label], b)
	}
	return l
}

func (l keyLog) next(t *testing.T, label string) []byte {
	t.Helper()
	q := l[label]
	if len(q) == 0 {
		t.Fatalf("log has no more %q", label)
	}
	l[label] = q[1:]
	return q[0]
}

func suiteFromProposal(t *testing.T, p *wire.Proposal) Suite {
	t.Helper()
	var s Suite
	for _, tr := range p.Transforms {
		switch tr.Type {
		case wire.TransformENCR:
			s.Encr, s.EncrKeyBits = tr.ID, int(tr.KeyLength)
		case wire.TransformINTEG:
			s.Integ = tr.ID
		case wire.TransformPRF:
			s.PRF = tr.ID
		case wire.TransformDH:
			s.DH = tr.ID
		case wire.TransformESN:
			s.ESN = tr.ID == wire.ESNYes
		}
	}
	return s
}

type ikeSA struct {
	suite  Suite
	keys   *IKEKeys
	ci, cr *SKCipher // for messages sent by the original initiator / responder
}

func newIKESA(t *testing.T, s Suite, k *IKEKeys) *ikeSA {
	ci, cr, err := k.Ciphers(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return &ikeSA{suite: s, keys: k, ci: ci, cr: cr}
}

func checkIKEKeys(t *testing.T, l keyLog, s Suite, k *IKEKeys, skeyseed []byte) {
	t.Helper()
	if got := l.next(t, "SKEYSEED"); skeyseed != nil && !bytes.Equal(got, skeyseed) {
		t.Errorf("SKEYSEED differs from strongSwan's")
	}
	eq := func(label string, k []byte) {
		if !bytes.Equal(l.next(t, label), k) {
			t.Errorf("%s differs from strongSwan's", label)
		}
	}
	eq("Sk_d secret", k.SKd)
	if !s.IsAEAD() {
		eq("Sk_ai secret", k.SKai)
		eq("Sk_ar secret", k.SKar)
	}
	eq("Sk_ei secret", k.SKei)
	eq("Sk_er secret", k.SKer)
	eq("Sk_pi secret", k.SKpi)
	eq("Sk_pr secret", k.SKpr)
}

func checkChildKeys(t *testing.T, l keyLog, s Suite, k *ChildKeys) {
	t.Helper()
	eq := func(label string, k []byte) {
		if !bytes.Equal(l.next(t, label), k) {
			t.Errorf("Child SA %s differs from strongSwan's", label)
		}
	}
	eq("encryption initiator key", k.EncrI)
	eq("encryption responder key", k.EncrR)
	if !s.IsAEAD() {
		eq("integrity initiator key", k.IntegI)
		eq("integrity responder key", k.IntegR)
	}
}

func TestStrongSwanCapture(t *testing.T) {
	for _, prefix := range []string{"ss", "ssfrag"} {
		t.Run(prefix, func(t *testing.T) { replayCapture(t, prefix) })
	}
}

type msgKey struct {
	spii, spir uint64
	id         uint32
	resp       bool
}

func replayCapture(t *testing.T, prefix string) {
	files, _ := filepath.Glob("../wire/testdata/" + prefix + "-*.bin")
	if len(files) == 0 {
		t.Fatal("no captured messages")
	}
	log := readKeyLog(t, "testdata/"+prefix+"-keys.txt")
	sas := map[[2]uint64]*ikeSA{}
	pending := map[msgKey]*wire.Message{} // requests awaiting their response
	frags := map[msgKey][][]byte{}
	var init *wire.Message
	decrypted := 0
	for _, name := range files {
		raw, _ := os.ReadFile(name)
		m, err := wire.ParseMessage(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Exchange == wire.IKE_SA_INIT {
			if !m.IsResponse() {
				init = m
				continue
			}
			req, resp := init, m
			sa, _ := wire.Find[*wire.SA](resp.Payloads)
			s := suiteFromProposal(t, &sa.Proposals[0])
			ni, _ := wire.Find[*wire.Nonce](req.Payloads)
			nr, _ := wire.Find[*wire.Nonce](resp.Payloads)
			gir := log.next(t, "shared Diffie Hellman secret")
			prf, _ := NewPRF(s.PRF)
			k, err := DeriveIKEKeys(s, gir, ni.Data, nr.Data, resp.SPIi, resp.SPIr)
			if err != nil {
				t.Fatal(err)
			}
			checkIKEKeys(t, log, s, k, SKEYSEED(prf, gir, ni.Data, nr.Data))
			sa2 := newIKESA(t, s, k)
			sas[[2]uint64{resp.SPIi, resp.SPIr}] = sa2
			pending[msgKey{resp.SPIi, resp.SPIr, 0, false}] = req
			pending[msgKey{resp.SPIi, resp.SPIr, 0, true}] = resp
			continue
		}
		sa := sas[[2]uint64{m.SPIi, m.SPIr}]
		if sa == nil {
			t.Fatalf("%s: unknown IKE SA", name)
		}
		c := sa.cr
		if m.IsInitiator() {
			c = sa.ci
		}
		key := msgKey{m.SPIi, m.SPIr, m.MessageID, m.IsResponse()}
		first, pt, err := c.Decrypt(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		decrypted++
		if f := m.EncryptedFragment(); f != nil {
			if f.FragmentNumber == 1 {
				frags[key] = [][]byte{{byte(first)}}
			}
			frags[key] = append(frags[key], pt)
			if f.FragmentNumber < f.TotalFragments {
				continue
			}
			first = wire.PayloadType(frags[key][0][0])
			pt = bytes.Join(frags[key][1:], nil)
			delete(frags, key)
		}
		inner, err := wire.ParsePayloads(first, pt)
		if err != nil {
			t.Fatalf("%s: inner payloads: %v", name, err)
		}
		if enc := wire.AppendPayloads(nil, inner); !bytes.Equal(enc, pt) {
			t.Errorf("%s: inner payloads re-encode differently", name)
		}
		if !m.IsResponse() {
			m.Payloads = inner // keep the decrypted request for its response
			pending[key] = m
			continue
		}
		req := pending[msgKey{m.SPIi, m.SPIr, m.MessageID, false}]
		if req == nil {
			t.Fatalf("%s: response without request", name)
		}
		switch m.Exchange {
		case wire.IKE_AUTH:
			initReq := pending[msgKey{m.SPIi, m.SPIr, 0, false}]
			initResp := pending[msgKey{m.SPIi, m.SPIr, 0, true}]
			ni, _ := wire.Find[*wire.Nonce](initReq.Payloads)
			nr, _ := wire.Find[*wire.Nonce](initResp.Payloads)
			prf, _ := NewPRF(sa.suite.PRF)
			// Initiator's AUTH covers its IKE_SA_INIT request and Nr.
			authI, _ := wire.Find[*wire.Auth](req.Payloads)
			so := SignedOctets(prf, initReq.Raw, nr.Data, sa.keys.SKpi, wire.FindID(req.Payloads, true))
			if !VerifyAuthPSK(prf, []byte(labPSK), so, authI.Data) {
				t.Errorf("%s: initiator AUTH does not verify", name)
			}
			authR, _ := wire.Find[*wire.Auth](inner)
			so = SignedOctets(prf, initResp.Raw, ni.Data, sa.keys.SKpr, wire.FindID(inner, false))
			if !VerifyAuthPSK(prf, []byte(labPSK), so, authR.Data) {
				t.Errorf("%s: responder AUTH does not verify", name)
			}
			if VerifyAuthPSK(prf, []byte("wrong"), so, authR.Data) {
				t.Errorf("%s: AUTH verifies with a wrong key", name)
			}
			childSA, _ := wire.Find[*wire.SA](inner)
			cs := suiteFromProposal(t, &childSA.Proposals[0])
			ck, err := DeriveChildKeys(sa.suite.PRF, sa.keys.SKd, cs, nil, ni.Data, nr.Data)
			if err != nil {
				t.Fatal(err)
			}
			checkChildKeys(t, log, cs, ck)
		case wire.CREATE_CHILD_SA:
			reqSA, _ := wire.Find[*wire.SA](req.Payloads)
			respSA, _ := wire.Find[*wire.SA](inner)
			ni, _ := wire.Find[*wire.Nonce](req.Payloads)
			nr, _ := wire.Find[*wire.Nonce](inner)
			s := suiteFromProposal(t, &respSA.Proposals[0])
			_, pfs := wire.Find[*wire.KE](inner)
			if respSA.Proposals[0].Protocol == wire.ProtocolIKE {
				// IKE SA rekey: SPIs from the proposals, new g^ir.
				spii := beUint64(reqSA.Proposals[0].SPI)
				spir := beUint64(respSA.Proposals[0].SPI)
				gir := log.next(t, "shared Diffie Hellman secret")
				k, err := DeriveIKEKeysRekey(sa.suite.PRF, sa.keys.SKd, s, gir, ni.Data, nr.Data, spii, spir)
				if err != nil {
					t.Fatal(err)
				}
				op, _ := NewPRF(sa.suite.PRF)
				checkIKEKeys(t, log, s, k, SKEYSEEDRekey(op, sa.keys.SKd, gir, ni.Data, nr.Data))
				sas[[2]uint64{spii, spir}] = newIKESA(t, s, k)
				continue
			}
			var gir []byte
			if pfs {
				gir = log.next(t, "DH secret")
			}
			ck, err := DeriveChildKeys(sa.suite.PRF, sa.keys.SKd, s, gir, ni.Data, nr.Data)
			if err != nil {
				t.Fatal(err)
			}
			checkChildKeys(t, log, s, ck)
		}
	}
	if decrypted < 10 {
		t.Errorf("only %d messages decrypted", decrypted)
	}
	for label, q := range log {
		if len(q) != 0 {
			t.Errorf("%d logged %q not checked", len(q), label)
		}
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
