package crypto

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// benchSetup measures the responder's cryptographic work for one IKE SA +
// Child SA setup (IKE_SA_INIT + IKE_AUTH with PSK): DH key generation and
// shared secret, SKEYSEED and the IKE keys, opening the IKE_AUTH request,
// verifying and computing AUTH, Child SA keys, sealing the response.
func benchSetup(b *testing.B, group uint16, g Group) {
	s := Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA196, PRF: wire.PRFHMACSHA1, DH: group}
	cs := Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA256128}
	base, _ := GroupByID(group)
	if g == nil {
		g = base
	}
	peer, _ := base.Generate(rand.Reader)
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	initMsg := make([]byte, 336)
	psk := []byte("benchmark-psk")
	prf, _ := NewPRF(s.PRF)
	idi := &wire.ID{Initiator: true, IDType: wire.IDIPv4Addr, Data: []byte{192, 0, 2, 1}}
	idr := &wire.ID{IDType: wire.IDIPv4Addr, Data: []byte{192, 0, 2, 2}}

	// The initiator's IKE_AUTH request, sealed once with the keys the
	// responder will derive (the peer's shared secret is the same).
	me, _ := g.Generate(rand.Reader)
	gir, _ := peer.SharedSecret(me.Public())
	keys, _ := DeriveIKEKeys(s, gir, ni, nr, 1, 2)
	iOut, _, _ := keys.Ciphers(s, true)
	auth := AuthPSK(prf, psk, SignedOctets(prf, initMsg, nr, keys.SKpi, idi))
	req, _ := iOut.Seal(wire.Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator, MessageID: 1},
		[]wire.Payload{idi, &wire.Auth{Method: wire.AuthSharedKey, Data: auth}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k, err := g.Generate(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		z, err := k.SharedSecret(peer.Public())
		if err != nil {
			b.Fatal(err)
		}
		if g == base {
			z = gir // fresh keys: derive from the sealed request's secret
		}
		keys, _ := DeriveIKEKeys(s, z, ni, nr, 1, 2)
		out, in, _ := keys.Ciphers(s, false)
		m, _ := wire.ParseMessage(req)
		ps, err := in.Open(m)
		if err != nil {
			b.Fatal(err)
		}
		a, _ := wire.Find[*wire.Auth](ps)
		if !VerifyAuthPSK(prf, psk, SignedOctets(prf, initMsg, nr, keys.SKpi, idi), a.Data) {
			b.Fatal("AUTH")
		}
		myAuth := AuthPSK(prf, psk, SignedOctets(prf, initMsg, ni, keys.SKpr, idr))
		if _, err := DeriveChildKeys(s.PRF, keys.SKd, cs, nil, ni, nr); err != nil {
			b.Fatal(err)
		}
		if _, err := out.Seal(wire.Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: wire.IKE_AUTH, Flags: wire.FlagResponse, MessageID: 1},
			[]wire.Payload{idr, &wire.Auth{Method: wire.AuthSharedKey, Data: myAuth}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponderSetupModp1024(b *testing.B) { benchSetup(b, wire.DHModp1024, nil) }
func BenchmarkResponderSetupModp2048(b *testing.B) { benchSetup(b, wire.DHModp2048, nil) }

// With ReuseKeys (RFC 7296 §2.12) only the shared secret costs an
// exponentiation per setup.
func BenchmarkResponderSetupModp1024Reuse(b *testing.B) {
	g, _ := GroupByID(wire.DHModp1024)
	benchSetup(b, wire.DHModp1024, ReuseKeys(g, time.Hour, 1<<30, time.Now))
}

func BenchmarkResponderSetupModp2048Reuse(b *testing.B) {
	g, _ := GroupByID(wire.DHModp2048)
	benchSetup(b, wire.DHModp2048, ReuseKeys(g, time.Hour, 1<<30, time.Now))
}
