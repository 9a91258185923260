package crypto_test

import (
	"crypto/rand"
	"fmt"

	"github.com/soft-ix/soft-ix/ike/crypto"
	"github.com/soft-ix/soft-ix/ike/wire"
)

// Both ends of an IKE SA derive the same keys from IKE_SA_INIT, and the
// initiator's IKE_AUTH request opens on the responder with a valid AUTH.
func Example() {
	s := crypto.Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA196,
		PRF: wire.PRFHMACSHA1, DH: wire.DHModp1024}
	g, _ := crypto.GroupByID(s.DH)
	ki, _ := g.Generate(rand.Reader) // initiator's KE
	kr, _ := g.Generate(rand.Reader) // responder's KE
	ni, nr := make([]byte, 32), make([]byte, 32)
	rand.Read(ni)
	rand.Read(nr)
	const spii, spir = 0x1111, 0x2222
	initReq := []byte("the IKE_SA_INIT request exactly as sent")

	// Initiator: keys, AUTH, sealed IKE_AUTH request.
	giri, _ := ki.SharedSecret(kr.Public())
	keysI, _ := crypto.DeriveIKEKeys(s, giri, ni, nr, spii, spir)
	prf, _ := crypto.NewPRF(s.PRF)
	idi := &wire.ID{Initiator: true, IDType: wire.IDIPv4Addr, Data: []byte{192, 0, 2, 1}}
	auth := crypto.AuthPSK(prf, []byte("psk"), crypto.SignedOctets(prf, initReq, nr, keysI.SKpi, idi))
	out, _, _ := keysI.Ciphers(s, true)
	msg, _ := out.Seal(wire.Header{SPIi: spii, SPIr: spir, MajorVersion: 2, Exchange: wire.IKE_AUTH,
		Flags: wire.FlagInitiator, MessageID: 1}, []wire.Payload{idi, &wire.Auth{Method: wire.AuthSharedKey, Data: auth}})

	// Responder: same keys, opens the request, checks AUTH.
	girr, _ := kr.SharedSecret(ki.Public())
	keysR, _ := crypto.DeriveIKEKeys(s, girr, ni, nr, spii, spir)
	_, in, _ := keysR.Ciphers(s, false)
	m, _ := wire.ParseMessage(msg)
	ps, err := in.Open(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	gotID := wire.FindID(ps, true)
	gotAuth, _ := wire.Find[*wire.Auth](ps)
	ok := crypto.VerifyAuthPSK(prf, []byte("psk"), crypto.SignedOctets(prf, initReq, nr, keysR.SKpi, gotID), gotAuth.Data)
	fmt.Println("AUTH valid:", ok)
	// Output: AUTH valid: true
}
