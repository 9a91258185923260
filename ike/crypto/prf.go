// Package crypto holds the IKEv2 cryptographic suites: the pseudo-random
// functions and prf+ (RFC 7296 §2.13), IKE SA and Child SA key derivation
// (§2.14, §2.17, §2.18), Diffie-Hellman groups with fixed-length wire
// values, protection of the Encrypted (SK) payload with AES-CBC + HMAC or
// AES-GCM (RFC 5282), and the pre-shared key AUTH computation (§2.15).
//
// All secrets are byte slices of fixed length (a shared secret is
// left-padded to the group's length); nothing here logs, and no error
// string contains key material.
package crypto

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// PRF is a negotiated pseudo-random function (HMAC based).
type PRF struct {
	id   uint16
	hash func() hash.Hash
	size int
}

var prfs = map[uint16]*PRF{
	wire.PRFHMACSHA1:    {wire.PRFHMACSHA1, sha1.New, sha1.Size},
	wire.PRFHMACSHA2256: {wire.PRFHMACSHA2256, sha256.New, sha256.Size},
	wire.PRFHMACSHA2384: {wire.PRFHMACSHA2384, sha512.New384, sha512.Size384},
	wire.PRFHMACSHA2512: {wire.PRFHMACSHA2512, sha512.New, sha512.Size},
}

// NewPRF returns the PRF with transform ID id (wire.PRFxxx).
func NewPRF(id uint16) (*PRF, error) {
	p, ok := prfs[id]
	if !ok {
		return nil, fmt.Errorf("ike/crypto: unsupported PRF %d", id)
	}
	return p, nil
}

// ID is the PRF transform ID.
func (p *PRF) ID() uint16 { return p.id }

// Size is the output length in bytes, which is also the length of SK_d,
// SK_pi and SK_pr (RFC 7296 §2.14).
func (p *PRF) Size() int { return p.size }

// Compute returns prf(key, data[0] | data[1] | ...).
func (p *PRF) Compute(key []byte, data ...[]byte) []byte {
	m := hmac.New(p.hash, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// Plus returns the first n bytes of prf+(key, seed) (RFC 7296 §2.13):
// T1 = prf(K, S | 0x01), Tk = prf(K, Tk-1 | S | k).
func (p *PRF) Plus(key, seed []byte, n int) ([]byte, error) {
	if n > 255*p.size {
		return nil, fmt.Errorf("ike/crypto: prf+ asked for %d bytes, at most %d", n, 255*p.size)
	}
	out := make([]byte, 0, n+p.size)
	m := hmac.New(p.hash, key)
	var t []byte
	for i := 1; len(out) < n; i++ {
		m.Reset()
		m.Write(t)
		m.Write(seed)
		m.Write([]byte{byte(i)})
		t = m.Sum(out[len(out):len(out)])
		out = out[:len(out)+len(t)]
	}
	return out[:n], nil
}
