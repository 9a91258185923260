package crypto

import (
	"bytes"
	"testing"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// FuzzDecrypt feeds arbitrary messages to Decrypt under fixed CBC and GCM
// keys: it must never panic, and it must reject anything that was not
// sealed with those keys (the seeds are, so mutations of them are tried).
func FuzzDecrypt(f *testing.F) {
	cbc := Suite{Encr: wire.EncrAESCBC, EncrKeyBits: 128, Integ: wire.IntegHMACSHA196}
	gcm := Suite{Encr: wire.EncrAESGCM16, EncrKeyBits: 128}
	cc, err := NewSKCipher(cbc, bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 20))
	if err != nil {
		f.Fatal(err)
	}
	gc, err := NewSKCipher(gcm, bytes.Repeat([]byte{3}, 20), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := wire.Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: wire.INFORMATIONAL, MessageID: 3}
	for _, c := range []*SKCipher{cc, gc} {
		for _, n := range []int{0, 1, 15, 16, 40} {
			b, err := c.Seal(h, innerPayloads(n))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			frags, err := c.SealFragments(h, innerPayloads(n), 100)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frags[0])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.ParseMessage(b)
		if err != nil {
			return
		}
		for _, c := range []*SKCipher{cc, gc} {
			if _, pt, err := c.Decrypt(m); err == nil {
				wire.ParsePayloads(wire.PayloadNone, pt)
			}
		}
	})
}
