package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"unsafe"

	"github.com/soft-ix/soft-ix/esp/internal/cbchmac"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// espHeaderLen is the SPI and sequence number in front of every ESP packet.
const espHeaderLen = 8

// suite is the cryptographic transform of one SA direction. It works in
// place on a packet laid out as
//
//	[ESP header 8][IV][payload | padding | pad length | next header][ICV]
//
// Implementations are safe for concurrent use: the seal and open workers
// share one suite per SA.
type suite interface {
	// sizes returns the IV length, the alignment of the encrypted part and
	// the ICV length.
	sizes() (ivLen, blockLen, icvLen int)
	// seal fills the IV, encrypts b[espHeaderLen+ivLen:] in place and
	// appends the ICV (cap(b) must leave room for maxICVRoom more bytes).
	// seq is the full 64-bit sequence number; the header is already written.
	seal(b []byte, seq uint64) []byte
	// sealBatch seals several packets, possibly in parallel lanes.
	sealBatch(jobs []sealJob)
	// open checks the ICV of the whole ESP packet b and decrypts the
	// payload in place. It returns the decrypted part (payload and trailer).
	open(b []byte, seq uint64) ([]byte, error)
	// openBatch opens several packets of the SA, possibly in parallel lanes.
	openBatch(jobs []openJob)
}

// openJob is one packet of an openBatch call; pt and err receive open's
// results.
type openJob struct {
	b   []byte
	seq uint64
	pt  []byte
	err error
}

// sealJob is one packet of a sealBatch call; out receives the sealed packet.
type sealJob struct {
	b   []byte
	seq uint64
	out []byte
}

// maxICVRoom is the room a sealed packet may need past its end: a full
// hash output before truncation.
const maxICVRoom = 64

var (
	errIntegrity = errors.New("integrity check failed")
	errCipher    = errors.New("ciphertext is not a whole number of blocks")
)

// newSuite builds the transform for one SA direction from IANA IDs.
func newSuite(encrID childsa.EncrID, keyBits int, integID childsa.IntegID, encKey, intKey []byte, esn bool) (suite, error) {
	switch keyBits {
	case 128, 192, 256:
	default:
		return nil, fmt.Errorf("unsupported AES key size %d", keyBits)
	}
	switch encrID {
	case childsa.EncrAESGCM16:
		if integID != childsa.IntegNone {
			return nil, fmt.Errorf("AES-GCM with integrity transform %d", integID)
		}
		if keyBits == 192 {
			return nil, errors.New("AES-GCM-192 is not supported")
		}
		if len(encKey) != keyBits/8+4 {
			return nil, fmt.Errorf("AES-GCM-%d key must be %d bytes with salt, have %d", keyBits, keyBits/8+4, len(encKey))
		}
		return newGCMSuite(encKey, esn)
	case childsa.EncrAESCBC:
		if len(encKey) != keyBits/8 {
			return nil, fmt.Errorf("AES-CBC-%d key must be %d bytes, have %d", keyBits, keyBits/8, len(encKey))
		}
		var (
			h      func() hash.Hash
			icvLen int
		)
		switch integID {
		case childsa.IntegHMACSHA1_96:
			h, icvLen = sha1.New, 12
		case childsa.IntegHMACSHA256128:
			h, icvLen = sha256.New, 16
		case childsa.IntegHMACSHA384192:
			h, icvLen = sha512.New384, 24
		case childsa.IntegHMACSHA512256:
			h, icvLen = sha512.New, 32
		default:
			return nil, fmt.Errorf("unsupported integrity transform %d", integID)
		}
		if len(intKey) != h().Size() {
			return nil, fmt.Errorf("integrity key must be %d bytes, have %d", h().Size(), len(intKey))
		}
		return newCBCSuite(encKey, intKey, h, icvLen, esn, integID)
	default:
		return nil, fmt.Errorf("unsupported encryption transform %d", encrID)
	}
}

// gcmSuite is AES-GCM with a 16-byte ICV (RFC 4106). The 8-byte explicit
// IV is the sequence number, so it never repeats under one key.
type gcmSuite struct {
	aead    cipher.AEAD
	salt    [4]byte
	esn     bool
	scratch sync.Pool // *gcmScratch
}

type gcmScratch struct {
	nonce [12]byte
	aad   [12]byte
}

func newGCMSuite(key []byte, esn bool) (*gcmSuite, error) {
	n := len(key) - 4
	block, err := aes.NewCipher(key[:n])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &gcmSuite{aead: aead, esn: esn}
	copy(s.salt[:], key[n:])
	s.scratch.New = func() any { return new(gcmScratch) }
	return s, nil
}

func (s *gcmSuite) sizes() (int, int, int) { return 8, 4, 16 }

// prepare fills nonce and AAD. RFC 4106 §5: AAD is SPI and the 32-bit
// sequence number, or SPI and the 64-bit extended sequence number.
func (s *gcmSuite) prepare(sc *gcmScratch, b []byte, iv []byte, seq uint64) []byte {
	copy(sc.nonce[:4], s.salt[:])
	copy(sc.nonce[4:], iv)
	// The low 32 bits come from the packet, as the HMAC suites cover them.
	copy(sc.aad[:4], b[:4])
	if s.esn {
		binary.BigEndian.PutUint32(sc.aad[4:], uint32(seq>>32))
		copy(sc.aad[8:12], b[4:8])
		return sc.aad[:12]
	}
	copy(sc.aad[4:8], b[4:8])
	return sc.aad[:8]
}

func (s *gcmSuite) seal(b []byte, seq uint64) []byte {
	iv := b[espHeaderLen : espHeaderLen+8]
	binary.BigEndian.PutUint64(iv, seq)
	sc := s.scratch.Get().(*gcmScratch)
	aad := s.prepare(sc, b, iv, seq)
	pt := b[espHeaderLen+8:]
	out := s.aead.Seal(pt[:0], sc.nonce[:], pt, aad)
	s.scratch.Put(sc)
	return b[:espHeaderLen+8+len(out)]
}

func (s *gcmSuite) sealBatch(jobs []sealJob) {
	for i := range jobs {
		jobs[i].out = s.seal(jobs[i].b, jobs[i].seq)
	}
}

func (s *gcmSuite) openBatch(jobs []openJob) {
	for i := range jobs {
		jobs[i].pt, jobs[i].err = s.open(jobs[i].b, jobs[i].seq)
	}
}

func (s *gcmSuite) open(b []byte, seq uint64) ([]byte, error) {
	if len(b) < espHeaderLen+8+16+4 {
		return nil, errCipher
	}
	iv := b[espHeaderLen : espHeaderLen+8]
	sc := s.scratch.Get().(*gcmScratch)
	aad := s.prepare(sc, b, iv, seq)
	ct := b[espHeaderLen+8:]
	pt, err := s.aead.Open(ct[:0], sc.nonce[:], ct, aad)
	s.scratch.Put(sc)
	if err != nil {
		return nil, errIntegrity
	}
	return pt, nil
}

// cbcSuite is AES-CBC with an HMAC truncated to icvLen (RFC 3602, RFC 2404,
// RFC 4868). The IV of each packet is the sequence number encrypted under a
// random key of its own, so IVs are unpredictable and never repeat.
type cbcSuite struct {
	// fast is the multi-buffer AES-CBC+HMAC of package cbchmac (assembly
	// on amd64, the standard library elsewhere); nil means this file's
	// standard-library path, which the tests keep as the reference.
	fast   *cbchmac.Suite
	block  cipher.Block
	ivGen  cipher.Block
	newMAC func() hash.Hash
	macKey []byte
	icvLen int
	esn    bool
	states sync.Pool // *cbcState
}

// cbcState is the per-call state: a keyed HMAC that Reset returns to its
// keyed start, the CBC modes whose IV is set per packet, and scratch room.
type cbcState struct {
	jobs  [containerMax]cbchmac.Job
	ok    [containerMax]bool
	mac   hash.Hash
	enc   cipher.BlockMode
	dec   cipher.BlockMode
	ctr   [16]byte
	seqHi [4]byte
	sum   [64]byte
}

type ivSetter interface{ SetIV([]byte) }

// useFastCBC selects package cbchmac for new CBC suites (tests turn it off
// to compare against the standard-library path).
var useFastCBC = true

func newCBCSuite(encKey, macKey []byte, h func() hash.Hash, icvLen int, esn bool, integID childsa.IntegID) (*cbcSuite, error) {
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	var ivKey [16]byte
	if _, err := rand.Read(ivKey[:]); err != nil {
		return nil, err
	}
	ivGen, err := aes.NewCipher(ivKey[:])
	if err != nil {
		return nil, err
	}
	s := &cbcSuite{block: block, ivGen: ivGen, newMAC: h, macKey: append([]byte(nil), macKey...), icvLen: icvLen, esn: esn}
	if useFastCBC {
		hs := map[childsa.IntegID]cbchmac.Hash{childsa.IntegHMACSHA1_96: cbchmac.SHA1, childsa.IntegHMACSHA256128: cbchmac.SHA256,
			childsa.IntegHMACSHA384192: cbchmac.SHA384, childsa.IntegHMACSHA512256: cbchmac.SHA512}[integID]
		fast, err := cbchmac.New(encKey, macKey, hs)
		if err != nil {
			return nil, err
		}
		// Use it only where it agrees on the ICV length (its HMAC-SHA1-96
		// is 10 bytes at the time of writing, RFC 2404 says 12).
		if fast.ICVLen() == icvLen {
			s.fast = fast
		}
	}
	var zero [16]byte
	s.states.New = func() any {
		st := &cbcState{
			mac: hmac.New(s.newMAC, s.macKey),
			enc: cipher.NewCBCEncrypter(s.block, zero[:]),
			dec: cipher.NewCBCDecrypter(s.block, zero[:]),
		}
		if _, ok := st.enc.(ivSetter); !ok {
			panic("esp: CBC mode cannot reset its IV")
		}
		return st
	}
	return s, nil
}

func (s *cbcSuite) sizes() (int, int, int) { return 16, 16, s.icvLen }

// mac computes the ICV over b (and the high sequence bits with ESN, RFC
// 4303 appendix A) into st.sum.
func (s *cbcSuite) mac(st *cbcState, b []byte, seq uint64) []byte {
	st.mac.Reset()
	st.mac.Write(b)
	if s.esn {
		binary.BigEndian.PutUint32(st.seqHi[:], uint32(seq>>32))
		st.mac.Write(st.seqHi[:])
	}
	return st.mac.Sum(st.sum[:0])[:s.icvLen]
}

// setIV writes the packet's IV: seq encrypted under the SA's IV key.
func (s *cbcSuite) setIV(st *cbcState, b []byte, seq uint64) {
	binary.BigEndian.PutUint64(st.ctr[:8], seq)
	binary.BigEndian.PutUint64(st.ctr[8:], 0)
	s.ivGen.Encrypt(b[espHeaderLen:espHeaderLen+16], st.ctr[:])
}

func (s *cbcSuite) seal(b []byte, seq uint64) []byte {
	if s.fast != nil {
		j := sealJob{b: b, seq: seq}
		s.sealBatch(unsafeOne(&j))
		return j.out
	}
	st := s.states.Get().(*cbcState)
	iv := b[espHeaderLen : espHeaderLen+16]
	s.setIV(st, b, seq)
	st.enc.(ivSetter).SetIV(iv)
	pt := b[espHeaderLen+16:]
	st.enc.CryptBlocks(pt, pt)
	icv := s.mac(st, b, seq)
	n := len(b)
	b = b[:n+s.icvLen]
	copy(b[n:], icv)
	s.states.Put(st)
	return b
}

func (s *cbcSuite) sealBatch(jobs []sealJob) {
	if s.fast == nil {
		for i := range jobs {
			jobs[i].out = s.seal(jobs[i].b, jobs[i].seq)
		}
		return
	}
	st := s.states.Get().(*cbcState)
	for len(jobs) > 0 {
		k := min(len(jobs), len(st.jobs))
		for i := range jobs[:k] {
			j := &jobs[i]
			s.setIV(st, j.b, j.seq)
			st.jobs[i] = cbchmac.Job{Buf: j.b[:len(j.b)+s.icvLen], N: len(j.b), SeqHi: uint32(j.seq >> 32), ESN: s.esn}
			j.out = j.b[:len(j.b)+s.icvLen]
		}
		s.fast.SealBatch(st.jobs[:k])
		clear(st.jobs[:k])
		jobs = jobs[k:]
	}
	s.states.Put(st)
}

func (s *cbcSuite) openBatch(jobs []openJob) {
	if s.fast == nil {
		for i := range jobs {
			jobs[i].pt, jobs[i].err = s.open(jobs[i].b, jobs[i].seq)
		}
		return
	}
	st := s.states.Get().(*cbcState)
	for len(jobs) > 0 {
		k := min(len(jobs), len(st.jobs))
		for i := range jobs[:k] {
			j := &jobs[i]
			n := len(j.b) - s.icvLen
			if n < espHeaderLen+16+16 || (n-espHeaderLen-16)%16 != 0 {
				// cbchmac reports a malformed job as failed; tell them apart.
				st.jobs[i] = cbchmac.Job{}
				continue
			}
			st.jobs[i] = cbchmac.Job{Buf: j.b, N: n, SeqHi: uint32(j.seq >> 32), ESN: s.esn}
		}
		s.fast.OpenBatch(st.jobs[:k], st.ok[:k])
		for i := range jobs[:k] {
			j := &jobs[i]
			switch {
			case st.jobs[i].Buf == nil:
				j.pt, j.err = nil, errCipher
			case st.ok[i]:
				j.pt, j.err = j.b[espHeaderLen+16:st.jobs[i].N], nil
			default:
				j.pt, j.err = nil, errIntegrity
			}
		}
		clear(st.jobs[:k])
		jobs = jobs[k:]
	}
	s.states.Put(st)
}

func (s *cbcSuite) open(b []byte, seq uint64) ([]byte, error) {
	n := len(b) - s.icvLen
	if n < espHeaderLen+16+16 {
		return nil, errCipher
	}
	if s.fast != nil {
		if (n-espHeaderLen-16)%16 != 0 {
			return nil, errCipher
		}
		j := cbchmac.Job{Buf: b, N: n, SeqHi: uint32(seq >> 32), ESN: s.esn}
		if !s.fast.Open(&j) {
			return nil, errIntegrity
		}
		return b[espHeaderLen+16 : n], nil
	}
	st := s.states.Get().(*cbcState)
	defer s.states.Put(st)
	icv := s.mac(st, b[:n], seq)
	if subtle.ConstantTimeCompare(icv, b[n:]) != 1 {
		return nil, errIntegrity
	}
	ct := b[espHeaderLen+16 : n]
	if len(ct)%16 != 0 {
		return nil, errCipher
	}
	st.dec.(ivSetter).SetIV(b[espHeaderLen : espHeaderLen+16])
	st.dec.CryptBlocks(ct, ct)
	return ct, nil
}

// unsafeOne returns a one-element slice of *j without allocating.
func unsafeOne(j *sealJob) []sealJob { return unsafe.Slice(j, 1) }
