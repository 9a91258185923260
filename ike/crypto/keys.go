package crypto

import (
	"encoding/binary"
	"fmt"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// Suite is a negotiated set of transforms. For an IKE SA all fields are
// used; for a Child SA, PRF is ignored and DH is the PFS group (wire.DHNone
// without PFS).
type Suite struct {
	Encr        uint16 // wire.EncrAESCBC, wire.EncrAESGCM16 or wire.Encr3DES
	EncrKeyBits int    // key length attribute: 128, 192 or 256; 0 for 3DES
	Integ       uint16 // wire.IntegNone for AES-GCM
	PRF         uint16
	DH          uint16
	ESN         bool // Child SA only
}

type integAlg struct {
	prf    uint16 // the HMAC's hash, as a PRF ID
	keyLen int
	icvLen int
}

var integs = map[uint16]integAlg{
	wire.IntegHMACSHA196:    {wire.PRFHMACSHA1, 20, 12},
	wire.IntegHMACSHA256128: {wire.PRFHMACSHA2256, 32, 16},
	wire.IntegHMACSHA384192: {wire.PRFHMACSHA2384, 48, 24},
	wire.IntegHMACSHA512256: {wire.PRFHMACSHA2512, 64, 32},
}

// IsAEAD reports whether the encryption transform also provides integrity.
func (s Suite) IsAEAD() bool { return s.Encr == wire.EncrAESGCM16 }

// EncrKeyLen is the length of the encryption keying material taken from
// prf+: the key, plus the 4-byte salt for AES-GCM (RFC 5282 §7.1, RFC 4106 §8.1).
func (s Suite) EncrKeyLen() (int, error) {
	switch s.Encr {
	case wire.EncrAESCBC:
		if s.EncrKeyBits == 128 || s.EncrKeyBits == 192 || s.EncrKeyBits == 256 {
			return s.EncrKeyBits / 8, nil
		}
	case wire.EncrAESGCM16:
		if s.EncrKeyBits == 128 || s.EncrKeyBits == 192 || s.EncrKeyBits == 256 {
			return s.EncrKeyBits/8 + 4, nil
		}
	case wire.Encr3DES:
		if s.EncrKeyBits == 0 {
			return 24, nil
		}
	}
	return 0, fmt.Errorf("ike/crypto: unsupported encryption %d with %d-bit key", s.Encr, s.EncrKeyBits)
}

// IntegKeyLen is the length of the integrity key (0 for AEAD).
func (s Suite) IntegKeyLen() (int, error) {
	if s.IsAEAD() {
		if s.Integ != wire.IntegNone {
			return 0, fmt.Errorf("ike/crypto: integrity %d with an AEAD cipher", s.Integ)
		}
		return 0, nil
	}
	a, ok := integs[s.Integ]
	if !ok {
		return 0, fmt.Errorf("ike/crypto: unsupported integrity %d", s.Integ)
	}
	return a.keyLen, nil
}

// Check reports whether every transform of s is supported; ike says
// whether s is for an IKE SA (PRF required, DH required).
func (s Suite) Check(ike bool) error {
	if _, err := s.EncrKeyLen(); err != nil {
		return err
	}
	if _, err := s.IntegKeyLen(); err != nil {
		return err
	}
	if ike {
		if _, err := NewPRF(s.PRF); err != nil {
			return err
		}
	}
	if s.DH != wire.DHNone || ike {
		if _, err := GroupByID(s.DH); err != nil {
			return err
		}
	}
	return nil
}

// IKEKeys are the seven secrets of an IKE SA (RFC 7296 §2.14). The "i"
// keys protect and authenticate what the original initiator sends.
type IKEKeys struct {
	SKd, SKai, SKar, SKei, SKer, SKpi, SKpr []byte
}

// SKEYSEED computes prf(Ni | Nr, g^ir) for a new IKE SA (RFC 7296 §2.14).
func SKEYSEED(prf *PRF, gir, ni, nr []byte) []byte {
	key := make([]byte, 0, len(ni)+len(nr))
	key = append(append(key, ni...), nr...)
	return prf.Compute(key, gir)
}

// SKEYSEEDRekey computes prf(SK_d(old), g^ir(new) | Ni | Nr) for an IKE SA
// rekeyed by CREATE_CHILD_SA (RFC 7296 §2.18); oldPRF is the PRF of the
// old IKE SA.
func SKEYSEEDRekey(oldPRF *PRF, oldSKd, gir, ni, nr []byte) []byte {
	return oldPRF.Compute(oldSKd, gir, ni, nr)
}

// DeriveIKEKeys returns the keys of a new IKE SA from IKE_SA_INIT: nonces
// and SPIs as sent, gir as returned by PrivateKey.SharedSecret.
func DeriveIKEKeys(s Suite, gir, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	prf, err := NewPRF(s.PRF)
	if err != nil {
		return nil, err
	}
	return expandIKEKeys(s, prf, SKEYSEED(prf, gir, ni, nr), ni, nr, spii, spir)
}

// DeriveIKEKeysRekey returns the keys of the IKE SA that replaces one with
// PRF oldPRF and key oldSKd; s, the nonces and the SPIs are the new SA's.
// "i" here is whoever sent the CREATE_CHILD_SA request: ni and spii (the
// SPI in its proposal) are that side's, and it is the new IKE SA's
// original initiator (RFC 7296 §2.18), so its SK_ei/SK_ai protect what it
// sends from then on, whichever side started the old IKE SA.
func DeriveIKEKeysRekey(oldPRF uint16, oldSKd []byte, s Suite, gir, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	op, err := NewPRF(oldPRF)
	if err != nil {
		return nil, err
	}
	prf, err := NewPRF(s.PRF)
	if err != nil {
		return nil, err
	}
	return expandIKEKeys(s, prf, SKEYSEEDRekey(op, oldSKd, gir, ni, nr), ni, nr, spii, spir)
}

func expandIKEKeys(s Suite, prf *PRF, skeyseed, ni, nr []byte, spii, spir uint64) (*IKEKeys, error) {
	el, err := s.EncrKeyLen()
	if err != nil {
		return nil, err
	}
	il, err := s.IntegKeyLen()
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(ni)+len(nr)+16)
	seed = append(append(seed, ni...), nr...)
	seed = binary.BigEndian.AppendUint64(seed, spii)
	seed = binary.BigEndian.AppendUint64(seed, spir)
	ps := prf.Size()
	km, err := prf.Plus(skeyseed, seed, 3*ps+2*il+2*el)
	if err != nil {
		return nil, err
	}
	next := func(n int) []byte {
		k := km[:n:n]
		km = km[n:]
		return k
	}
	k := &IKEKeys{}
	k.SKd = next(ps)
	k.SKai = next(il)
	k.SKar = next(il)
	k.SKei = next(el)
	k.SKer = next(el)
	k.SKpi = next(ps)
	k.SKpr = next(ps)
	return k, nil
}

// Ciphers returns the SK payload protection for messages this side sends
// (out) and receives (in); initiator is whether this side is the original
// initiator of the IKE SA.
func (k *IKEKeys) Ciphers(s Suite, initiator bool) (out, in *SKCipher, err error) {
	ci, err := NewSKCipher(s, k.SKei, k.SKai)
	if err != nil {
		return nil, nil, err
	}
	cr, err := NewSKCipher(s, k.SKer, k.SKar)
	if err != nil {
		return nil, nil, err
	}
	if initiator {
		return ci, cr, nil
	}
	return cr, ci, nil
}

// ChildKeys are the ESP keys of a Child SA (RFC 7296 §2.17). "I" keys
// protect traffic from the initiator of the exchange that created the SA
// to the responder; "R" keys the other way. For AES-GCM, the encryption
// keys end with the 4-byte salt and the integrity keys are empty.
type ChildKeys struct {
	EncrI, IntegI []byte
	EncrR, IntegR []byte
}

// DeriveChildKeys computes KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr)
// with the IKE SA's PRF and splits it for suite s (the Child SA's). gir
// is nil without PFS. Ni and Nr are from the exchange that creates the
// Child SA (IKE_SA_INIT for the first one).
func DeriveChildKeys(prfID uint16, skd []byte, s Suite, gir, ni, nr []byte) (*ChildKeys, error) {
	prf, err := NewPRF(prfID)
	if err != nil {
		return nil, err
	}
	el, err := s.EncrKeyLen()
	if err != nil {
		return nil, err
	}
	il, err := s.IntegKeyLen()
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(gir)+len(ni)+len(nr))
	seed = append(append(append(seed, gir...), ni...), nr...)
	km, err := prf.Plus(skd, seed, 2*el+2*il)
	if err != nil {
		return nil, err
	}
	next := func(n int) []byte {
		k := km[:n:n]
		km = km[n:]
		return k
	}
	c := &ChildKeys{}
	c.EncrI = next(el)
	c.IntegI = next(il)
	c.EncrR = next(el)
	c.IntegR = next(il)
	return c, nil
}
