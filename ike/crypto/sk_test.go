package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

var testSuites = []Suite{
	{Encr: wire.EncrAESCBC, EncrKeyBits: 128, Integ: wire.IntegHMACSHA196, PRF: wire.PRFHMACSHA1, DH: wire.DHModp1024},
	{Encr: wire.EncrAESCBC, EncrKeyBits: 192, Integ: wire.IntegHMACSHA384192, PRF: wire.PRFHMACSHA2384, DH: wire.DHModp2048},
	{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA256128, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256},
	{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA512256, PRF: wire.PRFHMACSHA2512, DH: wire.DHCurve25519},
	{Encr: wire.Encr3DES, Integ: wire.IntegHMACSHA196, PRF: wire.PRFHMACSHA1, DH: wire.DHModp1024},
	{Encr: wire.EncrAESGCM16, EncrKeyBits: 128, PRF: wire.PRFHMACSHA2256, DH: wire.DHModp2048},
	{Encr: wire.EncrAESGCM16, EncrKeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP384},
}

func innerPayloads(n int) []wire.Payload {
	return []wire.Payload{
		&wire.ID{Initiator: true, IDType: wire.IDFQDN, Data: []byte("ix.example")},
		&wire.Auth{Method: wire.AuthSharedKey, Data: bytes.Repeat([]byte{7}, 20)},
		&wire.Notify{NotifyType: wire.INITIAL_CONTACT},
		&wire.VendorID{Data: bytes.Repeat([]byte{'v'}, n)},
	}
}

func TestSKRoundTrip(t *testing.T) {
	for _, s := range testSuites {
		if err := s.Check(true); err != nil {
			t.Fatal(err)
		}
		ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
		keys, err := DeriveIKEKeys(s, bytes.Repeat([]byte{3}, 128), ni, nr, 11, 22)
		if err != nil {
			t.Fatal(err)
		}
		iOut, iIn, err := keys.Ciphers(s, true)
		if err != nil {
			t.Fatal(err)
		}
		rOut, rIn, _ := keys.Ciphers(s, false)
		for n := 0; n < 40; n++ {
			h := wire.Header{SPIi: 11, SPIr: 22, MajorVersion: 2, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator, MessageID: 1}
			ps := innerPayloads(n)
			b, err := iOut.Seal(h, ps)
			if err != nil {
				t.Fatal(err)
			}
			m, err := wire.ParseMessage(b)
			if err != nil {
				t.Fatalf("suite %+v: sealed message does not parse: %v", s, err)
			}
			if len(b) != wire.HeaderLen+4+wire.PayloadsLen(ps)+iOut.Overhead(wire.PayloadsLen(ps)) {
				t.Errorf("suite %+v: length %d disagrees with Overhead", s, len(b))
			}
			got, err := rIn.Open(m)
			if err != nil {
				t.Fatalf("suite %+v n=%d: %v", s, n, err)
			}
			if !bytes.Equal(wire.AppendPayloads(nil, got), wire.AppendPayloads(nil, ps)) {
				t.Fatalf("suite %+v: payloads differ", s)
			}
			// The wrong direction's keys fail.
			if _, err := iIn.Open(m); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("suite %+v: opened with wrong keys: %v", s, err)
			}
			// Any flipped bit anywhere fails (header, SK header, IV, ciphertext, ICV).
			for _, pos := range []int{0, 17 /* version */, 20, wire.HeaderLen + 1, wire.HeaderLen + 5, len(b) / 2, len(b) - 1} {
				c := append([]byte(nil), b...)
				c[pos] ^= 0x01
				if pos == 17 { // keep it parseable: flip the minor version
					c[pos] ^= 0x01
					c[pos] ^= 0x02
				}
				cm, err := wire.ParseMessage(c)
				if err != nil {
					continue
				}
				if _, err := rIn.Open(cm); err == nil {
					t.Fatalf("suite %+v: tampered byte %d accepted", s, pos)
				}
			}
		}
		// Responder to initiator.
		h := wire.Header{SPIi: 11, SPIr: 22, MajorVersion: 2, Exchange: wire.INFORMATIONAL, Flags: wire.FlagResponse, MessageID: 5}
		b, err := rOut.Seal(h, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := wire.ParseMessage(b)
		if got, err := iIn.Open(m); err != nil || len(got) != 0 {
			t.Fatalf("empty informational: %v %v", got, err)
		}
	}
}

func TestSKFragments(t *testing.T) {
	for _, s := range testSuites {
		keys, _ := DeriveIKEKeys(s, make([]byte, 32), make([]byte, 16), make([]byte, 16), 1, 2)
		out, _, _ := keys.Ciphers(s, true)
		_, in, _ := keys.Ciphers(s, false)
		ps := innerPayloads(3000)
		h := wire.Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator, MessageID: 1}
		frags, err := out.SealFragments(h, ps, 576)
		if err != nil {
			t.Fatal(err)
		}
		if len(frags) < 5 {
			t.Fatalf("only %d fragments", len(frags))
		}
		var joined []byte
		var first wire.PayloadType
		for i, f := range frags {
			if len(f) > 576 {
				t.Fatalf("fragment of %d bytes", len(f))
			}
			m, err := wire.ParseMessage(f)
			if err != nil {
				t.Fatal(err)
			}
			sf := m.EncryptedFragment()
			if sf == nil || int(sf.FragmentNumber) != i+1 || int(sf.TotalFragments) != len(frags) {
				t.Fatalf("fragment %d: %+v", i, sf)
			}
			ft, pt, err := in.Decrypt(m)
			if err != nil {
				t.Fatalf("suite %+v fragment %d: %v", s, i, err)
			}
			if i == 0 {
				first = ft
			} else if ft != wire.PayloadNone {
				t.Fatalf("fragment %d has next payload %v", i, ft)
			}
			joined = append(joined, pt...)
		}
		got, err := wire.ParsePayloads(first, joined)
		if err != nil || !bytes.Equal(wire.AppendPayloads(nil, got), wire.AppendPayloads(nil, ps)) {
			t.Fatalf("reassembly: %v", err)
		}
	}
}

func TestChildKeys(t *testing.T) {
	skd := bytes.Repeat([]byte{9}, 20)
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s := Suite{Encr: wire.EncrAESGCM16, EncrKeyBits: 256}
	k, err := DeriveChildKeys(wire.PRFHMACSHA1, skd, s, nil, ni, nr)
	if err != nil {
		t.Fatal(err)
	}
	prf, _ := NewPRF(wire.PRFHMACSHA1)
	km, _ := prf.Plus(skd, append(append([]byte{}, ni...), nr...), 72)
	if !bytes.Equal(k.EncrI, km[:36]) || !bytes.Equal(k.EncrR, km[36:]) || len(k.IntegI) != 0 {
		t.Fatal("GCM child keys split wrongly")
	}
	s = Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA256128}
	gir := bytes.Repeat([]byte{5}, 128)
	k, _ = DeriveChildKeys(wire.PRFHMACSHA1, skd, s, gir, ni, nr)
	km, _ = prf.Plus(skd, append(append(append([]byte{}, gir...), ni...), nr...), 128)
	if !bytes.Equal(k.EncrI, km[:32]) || !bytes.Equal(k.IntegI, km[32:64]) || !bytes.Equal(k.EncrR, km[64:96]) || !bytes.Equal(k.IntegR, km[96:]) {
		t.Fatal("CBC child keys split wrongly")
	}
}

func TestRekeyDerivation(t *testing.T) {
	old := Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA196, PRF: wire.PRFHMACSHA1, DH: wire.DHModp1024}
	nw := Suite{Encr: wire.EncrAESGCM16, EncrKeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHModp2048}
	oldKeys, _ := DeriveIKEKeys(old, make([]byte, 128), make([]byte, 16), make([]byte, 16), 1, 2)
	gir, ni, nr := bytes.Repeat([]byte{4}, 256), bytes.Repeat([]byte{5}, 32), bytes.Repeat([]byte{6}, 32)
	k, err := DeriveIKEKeysRekey(old.PRF, oldKeys.SKd, nw, gir, ni, nr, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	// SKEYSEED uses the old PRF, prf+ the new one.
	sha1prf, _ := NewPRF(wire.PRFHMACSHA1)
	skeyseed := sha1prf.Compute(oldKeys.SKd, gir, ni, nr)
	p, _ := NewPRF(wire.PRFHMACSHA2256)
	seed := append(append(append([]byte{}, ni...), nr...), 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4)
	km, _ := p.Plus(skeyseed, seed, 32*3+36*2)
	if !bytes.Equal(k.SKd, km[:32]) || !bytes.Equal(k.SKer, km[32+36:32+72]) || !bytes.Equal(k.SKpr, km[32+72+32:]) || len(k.SKai) != 0 {
		t.Fatal("rekey keys wrong")
	}
}

func TestAuthPSK(t *testing.T) {
	prf, _ := NewPRF(wire.PRFHMACSHA1)
	id := &wire.ID{Initiator: true, IDType: wire.IDIPv4Addr, Data: []byte{192, 0, 2, 1}}
	so := SignedOctets(prf, []byte("msg1"), []byte("nonceR"), []byte("skpi"), id)
	want := append([]byte("msg1nonceR"), prf.Compute([]byte("skpi"), []byte{1, 0, 0, 0, 192, 0, 2, 1})...)
	if !bytes.Equal(so, want) {
		t.Fatal("signed octets")
	}
	auth := AuthPSK(prf, []byte("secret"), so)
	if !bytes.Equal(auth, prf.Compute(prf.Compute([]byte("secret"), []byte("Key Pad for IKEv2")), so)) {
		t.Fatal("AUTH value")
	}
	if !VerifyAuthPSK(prf, []byte("secret"), so, auth) || VerifyAuthPSK(prf, []byte("Secret"), so, auth) {
		t.Fatal("verify")
	}
}

func TestSealRandFailure(t *testing.T) {
	s := testSuites[0]
	keys, _ := DeriveIKEKeys(s, make([]byte, 128), make([]byte, 16), make([]byte, 16), 1, 2)
	out, _, _ := keys.Ciphers(s, true)
	out.Rand = bytes.NewReader(nil)
	if _, err := out.Seal(wire.Header{MajorVersion: 2}, nil); err == nil {
		t.Fatal("seal without randomness succeeded")
	}
	out.Rand = rand.Reader
}

// A correctly authenticated message whose decrypted pad length points
// before the start of the plaintext is rejected, not a panic.
func TestSKBadPadLength(t *testing.T) {
	s := Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 128, Integ: wire.IntegHMACSHA196}
	ek, ik := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 20)
	c, _ := NewSKCipher(s, ek, ik)
	pt := bytes.Repeat([]byte{0xff}, 16) // pad length 255 in a 16-byte plaintext
	h := wire.Header{MajorVersion: 2, Exchange: wire.INFORMATIONAL, NextPayload: wire.PayloadSK, Length: uint32(wire.HeaderLen + 4 + 16 + 16 + 12)}
	b := h.Append(nil)
	b = wire.AppendPayloadHeader(b, wire.PayloadNone, false, 4+16+16+12)
	iv := make([]byte, 16)
	b = append(b, iv...)
	ct := make([]byte, 16)
	block, _ := aes.NewCipher(ek)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	b = append(b, ct...)
	b = append(b, c.icv(b)...)
	m, err := wire.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Decrypt(m); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("bad pad length: %v", err)
	}
}

// SKCipher and ReuseKeys are used from several goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	done := make(chan bool)
	for _, s := range []Suite{testSuites[0], testSuites[6]} {
		keys, _ := DeriveIKEKeys(s, make([]byte, 32), make([]byte, 16), make([]byte, 16), 1, 2)
		out, _, _ := keys.Ciphers(s, true)
		_, in, _ := keys.Ciphers(s, false)
		g, _ := GroupByID(wire.DHModp1024)
		r := ReuseKeys(g, time.Hour, 5, time.Now)
		for w := 0; w < 4; w++ {
			go func() {
				defer func() { done <- true }()
				for i := 0; i < 20; i++ {
					b, err := out.Seal(wire.Header{MajorVersion: 2, MessageID: uint32(i)}, innerPayloads(i))
					if err != nil {
						t.Error(err)
						return
					}
					m, _ := wire.ParseMessage(b)
					if _, err := in.Open(m); err != nil {
						t.Error(err)
						return
					}
				}
				if _, err := r.Generate(rand.Reader); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

func TestSealDefaultsVersion(t *testing.T) {
	s := testSuites[5]
	keys, _ := DeriveIKEKeys(s, make([]byte, 32), make([]byte, 16), make([]byte, 16), 1, 2)
	out, _, _ := keys.Ciphers(s, true)
	b, err := out.Seal(wire.Header{SPIi: 1, SPIr: 2, Exchange: wire.INFORMATIONAL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := wire.ParseMessage(b); err != nil || m.MajorVersion != 2 || m.MinorVersion != 0 {
		t.Fatalf("sealed message: %v", err)
	}
}
