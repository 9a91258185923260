package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync/atomic"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// ErrAuthentication is returned by Open when the integrity check value or
// AEAD tag does not verify; such a message is dropped without an answer.
var ErrAuthentication = errors.New("ike/crypto: SK payload failed integrity check")

// SKCipher protects Encrypted (SK) and Encrypted Fragment (SKF) payloads
// in one direction: the messages one side sends, with SK_ex and SK_ax.
// It is safe for concurrent use.
type SKCipher struct {
	// CBC + HMAC
	block    cipher.Block
	integ    func() hash.Hash
	integKey []byte
	// AES-GCM (RFC 5282)
	aead cipher.AEAD
	salt [4]byte

	ivLen, blockLen, icvLen int
	// counter makes the GCM explicit IVs. It starts at a random value so
	// that even two SKCiphers built from the same key (a caller bug) are
	// vanishingly unlikely to repeat a nonce.
	counter atomic.Uint64

	// Rand supplies CBC IVs; nil means crypto/rand.
	Rand io.Reader
}

// NewSKCipher builds the protection for suite s from the encryption key
// (with its salt for GCM) and the integrity key (empty for GCM).
func NewSKCipher(s Suite, encrKey, integKey []byte) (*SKCipher, error) {
	el, err := s.EncrKeyLen()
	if err != nil {
		return nil, err
	}
	il, err := s.IntegKeyLen()
	if err != nil {
		return nil, err
	}
	if len(encrKey) != el || len(integKey) != il {
		return nil, fmt.Errorf("ike/crypto: SK keys of %d/%d bytes, want %d/%d", len(encrKey), len(integKey), el, il)
	}
	c := &SKCipher{}
	switch s.Encr {
	case wire.EncrAESGCM16:
		n := len(encrKey) - 4
		block, err := aes.NewCipher(encrKey[:n])
		if err != nil {
			return nil, err
		}
		if c.aead, err = cipher.NewGCMWithNonceSize(block, 12); err != nil {
			return nil, err
		}
		copy(c.salt[:], encrKey[n:])
		c.ivLen, c.blockLen, c.icvLen = 8, 1, 16
		var start [8]byte
		if _, err := io.ReadFull(rand.Reader, start[:]); err != nil {
			return nil, fmt.Errorf("ike/crypto: GCM IV start: %w", err)
		}
		c.counter.Store(binary.BigEndian.Uint64(start[:]))
		return c, nil
	case wire.EncrAESCBC:
		if c.block, err = aes.NewCipher(encrKey); err != nil {
			return nil, err
		}
	case wire.Encr3DES:
		if c.block, err = des.NewTripleDESCipher(encrKey); err != nil {
			return nil, err
		}
	}
	c.ivLen, c.blockLen = c.block.BlockSize(), c.block.BlockSize()
	a := integs[s.Integ]
	c.integ, c.icvLen = prfs[a.prf].hash, a.icvLen
	c.integKey = append([]byte(nil), integKey...)
	return c, nil
}

// Overhead is what protection adds to n bytes of inner payloads inside
// the SK payload body: IV, padding with its length byte, and ICV.
func (c *SKCipher) Overhead(n int) int {
	return c.ivLen + c.padded(n) - n + c.icvLen
}

// padded is the ciphertext length for n plaintext bytes: with the pad
// length byte, rounded up to the block size.
func (c *SKCipher) padded(n int) int {
	n++
	return (n + c.blockLen - 1) / c.blockLen * c.blockLen
}

// Seal returns the whole message: header h (NextPayload and Length are
// set here, a zero MajorVersion becomes 2, the rest is taken as given)
// followed by an SK payload holding the encrypted payloads ps.
func (c *SKCipher) Seal(h wire.Header, ps []wire.Payload) ([]byte, error) {
	plain := wire.AppendPayloads(make([]byte, 0, wire.PayloadsLen(ps)+c.blockLen), ps)
	return c.SealRaw(h, wire.FirstType(ps), plain)
}

// SealRaw is Seal for inner payloads already encoded (plain), whose
// first payload has type first.
func (c *SKCipher) SealRaw(h wire.Header, first wire.PayloadType, plain []byte) ([]byte, error) {
	return c.seal(h, first, false, 0, 0, plain)
}

// SealFragments protects the payloads ps as RFC 7383 fragments, each a
// whole message of at most maxLen bytes (the IKE message, without IP/UDP
// headers or the non-ESP marker). With one fragment the message still
// uses SKF; callers send a plain SK message when it fits.
func (c *SKCipher) SealFragments(h wire.Header, ps []wire.Payload, maxLen int) ([][]byte, error) {
	plain := wire.AppendPayloads(nil, ps)
	// Room for inner bytes per fragment: whole blocks minus the pad length byte.
	room := maxLen - wire.HeaderLen - wire.SKFHeaderLen - c.ivLen - c.icvLen
	room = room/c.blockLen*c.blockLen - 1
	if room < 1 {
		return nil, fmt.Errorf("ike/crypto: fragment size %d too small", maxLen)
	}
	total := (len(plain) + room - 1) / room
	if total == 0 {
		total = 1
	}
	if total > 0xffff {
		return nil, fmt.Errorf("ike/crypto: message needs %d fragments", total)
	}
	frags := make([][]byte, 0, total)
	for i := 0; i < total; i++ {
		chunk := plain[i*room : min((i+1)*room, len(plain))]
		first := wire.PayloadNone
		if i == 0 {
			first = wire.FirstType(ps)
		}
		f, err := c.seal(h, first, true, uint16(i+1), uint16(total), chunk)
		if err != nil {
			return nil, err
		}
		frags = append(frags, f)
	}
	return frags, nil
}

func (c *SKCipher) seal(h wire.Header, first wire.PayloadType, frag bool, num, total uint16, plain []byte) ([]byte, error) {
	skHdr := wire.PayloadHeaderLen
	if h.MajorVersion == 0 {
		h.MajorVersion = 2
	}
	h.NextPayload = wire.PayloadSK
	if frag {
		skHdr = wire.SKFHeaderLen
		h.NextPayload = wire.PayloadSKF
	}
	ctLen := c.padded(len(plain))
	bodyLen := c.ivLen + ctLen + c.icvLen
	totalLen := wire.HeaderLen + skHdr + bodyLen
	if totalLen > wire.MaxMessageLen {
		return nil, fmt.Errorf("ike/crypto: message of %d bytes too long", totalLen)
	}
	h.Length = uint32(totalLen)
	out := make([]byte, 0, totalLen)
	out = h.Append(out)
	out = wire.AppendPayloadHeader(out, first, false, skHdr+bodyLen)
	if frag {
		out = binary.BigEndian.AppendUint16(out, num)
		out = binary.BigEndian.AppendUint16(out, total)
	}
	aadEnd := len(out)

	// Inner payloads, zero padding, pad length.
	padLen := ctLen - len(plain) - 1
	if c.aead != nil {
		var nonce [12]byte
		copy(nonce[:4], c.salt[:])
		binary.BigEndian.PutUint64(nonce[4:], c.counter.Add(1))
		out = append(out, nonce[4:]...)
		pt := make([]byte, ctLen)
		copy(pt, plain)
		pt[ctLen-1] = byte(padLen)
		out = c.aead.Seal(out, nonce[:], pt, out[:aadEnd])
		return out, nil
	}
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	iv := out[len(out) : len(out)+c.ivLen]
	if _, err := io.ReadFull(r, iv); err != nil {
		return nil, fmt.Errorf("ike/crypto: IV: %w", err)
	}
	out = out[:len(out)+c.ivLen]
	ct := out[len(out) : len(out)+ctLen]
	copy(ct, plain)
	clear(ct[len(plain):])
	ct[ctLen-1] = byte(padLen)
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(ct, ct)
	out = out[:len(out)+ctLen]
	return append(out, c.icv(out)...), nil
}

// Decrypt authenticates and decrypts the SK or SKF payload of m (parsed
// by wire.ParseMessage, so m.Raw is the message as received). It returns
// the Next Payload field of the SK/SKF payload (the first inner payload;
// PayloadNone in non-first fragments) and the inner bytes.
func (c *SKCipher) Decrypt(m *wire.Message) (wire.PayloadType, []byte, error) {
	var off, skHdr int
	var first wire.PayloadType
	if e := m.Encrypted(); e != nil {
		off, skHdr, first = e.Offset, wire.PayloadHeaderLen, e.NextPayload
	} else if f := m.EncryptedFragment(); f != nil {
		off, skHdr, first = f.Offset, wire.SKFHeaderLen, f.NextPayload
	} else {
		return 0, nil, fmt.Errorf("ike/crypto: message has no encrypted payload")
	}
	raw := m.Raw
	if off+skHdr > len(raw) {
		return 0, nil, fmt.Errorf("ike/crypto: encrypted payload offset %d beyond message", off)
	}
	body := raw[off+skHdr:]
	if len(body) < c.ivLen+c.blockLen+c.icvLen {
		return 0, nil, fmt.Errorf("ike/crypto: encrypted payload of %d bytes too short: %w", len(body), wire.ErrMalformed)
	}
	var pt []byte
	if c.aead != nil {
		var nonce [12]byte
		copy(nonce[:4], c.salt[:])
		copy(nonce[4:], body[:8])
		var err error
		pt, err = c.aead.Open(nil, nonce[:], body[8:], raw[:off+skHdr])
		if err != nil {
			return 0, nil, ErrAuthentication
		}
	} else {
		if !hmac.Equal(c.icv(raw[:len(raw)-c.icvLen]), raw[len(raw)-c.icvLen:]) {
			return 0, nil, ErrAuthentication
		}
		iv, ct := body[:c.ivLen], body[c.ivLen:len(body)-c.icvLen]
		if len(ct)%c.blockLen != 0 {
			return 0, nil, fmt.Errorf("ike/crypto: ciphertext of %d bytes not whole blocks: %w", len(ct), wire.ErrMalformed)
		}
		pt = make([]byte, len(ct))
		cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(pt, ct)
	}
	padLen := int(pt[len(pt)-1])
	if padLen+1 > len(pt) {
		return 0, nil, fmt.Errorf("ike/crypto: pad length %d of %d bytes: %w", padLen, len(pt), wire.ErrMalformed)
	}
	return first, pt[:len(pt)-padLen-1], nil
}

// Open decrypts the SK payload of m and parses the inner payloads. For
// fragments use Decrypt on each and wire.ParsePayloads on the joined
// plaintext.
func (c *SKCipher) Open(m *wire.Message) ([]wire.Payload, error) {
	if m.Encrypted() == nil {
		return nil, fmt.Errorf("ike/crypto: message has no SK payload")
	}
	first, pt, err := c.Decrypt(m)
	if err != nil {
		return nil, err
	}
	return wire.ParsePayloads(first, pt)
}

// icv computes the truncated HMAC of data: the integrity checksum.
func (c *SKCipher) icv(data []byte) []byte {
	m := hmac.New(c.integ, c.integKey)
	m.Write(data)
	return m.Sum(nil)[:c.icvLen]
}
