//go:build amd64 && !purego

package cbchmac

import "encoding/binary"

// The assembly needs the AES round keys themselves, which crypto/aes does not
// expose, so the key schedule of FIPS 197 section 5.2 is repeated here. It
// runs once per SA and needs not be constant time beyond what the table
// lookups of a one-off key setup reveal (crypto/aes's generic path does the
// same).

// sbox is the AES S-box, computed at init from its definition: the inverse
// in GF(2^8) followed by the affine map.
var sbox = func() (s [256]byte) {
	for x := range 256 {
		inv := byte(0)
		if x != 0 {
			// x^254 is the multiplicative inverse in GF(2^8).
			inv = 1
			for sq, e := byte(x), 254; e > 0; e >>= 1 {
				if e&1 != 0 {
					inv = gmul(inv, sq)
				}
				sq = gmul(sq, sq)
			}
		}
		b := inv
		s[x] = b ^ rotl8(b, 1) ^ rotl8(b, 2) ^ rotl8(b, 3) ^ rotl8(b, 4) ^ 0x63
	}
	return s
}()

func rotl8(b byte, n int) byte { return b<<n | b>>(8-n) }

// invMix holds the products InvMixColumns takes, by 14, 11, 13 and 9:
// bit-serial gmul made a hub's thousand Child SA installs spend 3 % of
// their CPU here (integration/bench/hub/hub.sh PERF=1).
var invMix = func() (t [4][256]byte) {
	for x := range 256 {
		for i, m := range [4]byte{14, 11, 13, 9} {
			t[i][x] = gmul(byte(x), m)
		}
	}
	return t
}()

// gmul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1.
func gmul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= 0x1b
		}
		b >>= 1
	}
	return p
}

func subWord(w uint32) uint32 {
	return uint32(sbox[w>>24])<<24 | uint32(sbox[w>>16&0xff])<<16 |
		uint32(sbox[w>>8&0xff])<<8 | uint32(sbox[w&0xff])
}

// expandKey returns the number of rounds and the encryption and decryption
// round keys for key (16, 24 or 32 bytes), 16 bytes per round in the byte
// order AESENC and AESDEC take. dec holds the equivalent inverse cipher's
// keys: enc's in reverse order with InvMixColumns applied to all but the
// first and last.
func expandKey(key []byte) (rounds int, enc, dec [15 * 16]byte) {
	nk := len(key) / 4
	rounds = nk + 6
	var w [60]uint32
	for i := range nk {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := nk; i < 4*(rounds+1); i++ {
		t := w[i-1]
		switch {
		case i%nk == 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon = uint32(gmul(byte(rcon), 2))
		case nk > 6 && i%nk == 4:
			t = subWord(t)
		}
		w[i] = w[i-nk] ^ t
	}
	for i := range 4 * (rounds + 1) {
		binary.BigEndian.PutUint32(enc[4*i:], w[i])
	}
	for r := 0; r <= rounds; r++ {
		src := enc[16*(rounds-r) : 16*(rounds-r)+16]
		dst := dec[16*r : 16*r+16]
		if r == 0 || r == rounds {
			copy(dst, src)
			continue
		}
		for c := 0; c < 16; c += 4 {
			b0, b1, b2, b3 := src[c], src[c+1], src[c+2], src[c+3]
			m14, m11, m13, m9 := &invMix[0], &invMix[1], &invMix[2], &invMix[3]
			dst[c] = m14[b0] ^ m11[b1] ^ m13[b2] ^ m9[b3]
			dst[c+1] = m9[b0] ^ m14[b1] ^ m11[b2] ^ m13[b3]
			dst[c+2] = m13[b0] ^ m9[b1] ^ m14[b2] ^ m11[b3]
			dst[c+3] = m11[b0] ^ m13[b1] ^ m9[b2] ^ m14[b3]
		}
	}
	return rounds, enc, dec
}
