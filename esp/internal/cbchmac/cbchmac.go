// Package cbchmac seals and opens ESP packets (RFC 4303) protected with
// AES-CBC (RFC 3602; 128, 192 or 256-bit keys) and an HMAC integrity check
// value (RFC 2404 HMAC-SHA1-96, RFC 4868 HMAC-SHA2-256-128, -384-192,
// -512-256), in place and in batches of packets that belong to the same SA.
//
// CBC encryption of one packet is a serial chain of AES calls and therefore
// bound by the latency of the AES instruction, not its throughput; SHA-256
// with the SHA extensions is likewise bound by the latency of SHA256RNDS2.
// The chains of different packets are independent, so on amd64 (AES-NI,
// AVX) SealBatch encrypts eight packets at once, one per lane, and hashes
// two packets at once with SHA-NI from pre-keyed ipad/opad states. A lone
// packet (a batch of one) instead runs its CBC chain stitched with the hash
// of the ciphertext it has already produced. Decryption is parallel within
// a packet and runs eight blocks wide. HMAC-SHA1, -SHA384 and -SHA512 use
// crypto/hmac on every platform. Without the CPU features, on other
// platforms, or with the purego build tag, everything uses crypto/aes,
// crypto/cipher and crypto/hmac.
//
// Batches of eight or more are what the package is built for: on the AMD
// EPYC development VM, AES-256-CBC/HMAC-SHA256 seals 1400-byte packets at
// about 2 GB/s per core in batches of 8 and about 0.87 GB/s alone (see
// bench.sh for the comparison with OpenSSL).
//
// Buffer layout of one packet (Job.Buf), with n = Job.N:
//
//	b[0:8]        ESP header (SPI, sequence number), written by the caller
//	b[8:24]       IV, written by the caller
//	b[24:n]       payload incl. ESP trailer, padded to a multiple of 16
//	b[n:n+icvLen] ICV (written by Seal, checked by Open)
//
// The ICV covers b[0:n], followed for extended sequence numbers (ESN) by the
// high 32 bits of the sequence number (RFC 4303 section 3.3.2.1), which are
// not transmitted.
package cbchmac

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
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
)

// Hash names the HMAC of a suite and so its key and ICV lengths.
type Hash int

const (
	SHA1   Hash = iota + 1 // HMAC-SHA1-96: 20-byte key, 12-byte ICV
	SHA256                 // HMAC-SHA2-256-128: 32-byte key, 16-byte ICV
	SHA384                 // HMAC-SHA2-384-192: 48-byte key, 24-byte ICV
	SHA512                 // HMAC-SHA2-512-256: 64-byte key, 32-byte ICV
)

// KeyLen is the HMAC key length the RFCs give for h (the hash output size).
func (h Hash) KeyLen() int {
	switch h {
	case SHA1:
		return 20
	case SHA256:
		return 32
	case SHA384:
		return 48
	case SHA512:
		return 64
	}
	return 0
}

// ICVLen is the length of the truncated HMAC that ESP transmits: 96 bits
// for HMAC-SHA1 (RFC 2404), half the output for SHA-2 (RFC 4868).
func (h Hash) ICVLen() int {
	if h == SHA1 {
		return 12
	}
	return h.KeyLen() / 2
}

func (h Hash) String() string {
	switch h {
	case SHA1:
		return "sha1"
	case SHA256:
		return "sha256"
	case SHA384:
		return "sha384"
	case SHA512:
		return "sha512"
	}
	return fmt.Sprintf("Hash(%d)", int(h))
}

func (h Hash) newFunc() func() hash.Hash {
	switch h {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA384:
		return sha512.New384
	case SHA512:
		return sha512.New
	}
	return nil
}

const (
	// HeaderLen is the length of the ESP header plus IV that precedes the
	// ciphertext: the offset of the first payload byte.
	HeaderLen = 8 + aes.BlockSize
	// maxICVLen is the longest ICV of any Hash.
	maxICVLen = 32
)

// Job is one packet of a batch.
type Job struct {
	// Buf holds the whole ESP packet: header, IV, payload and room for
	// the ICV; len(Buf) >= N + ICVLen().
	Buf []byte
	// N is the end of the ciphertext (offset of the ICV). N-HeaderLen
	// must be a non-negative multiple of 16.
	N int
	// SeqHi is the high half of the 64-bit sequence number; it enters the
	// ICV only when ESN is set.
	SeqHi uint32
	ESN   bool
}

// Suite is an AES-CBC + HMAC transform keyed for one SA and direction. It is
// safe for concurrent use by several goroutines.
type Suite struct {
	hash   Hash
	icvLen int
	block  cipher.Block // pure-Go path
	macs   sync.Pool    // of *macState, for the pure-Go MAC path

	fast fastSuite // amd64 assembly state; zero when unused
}

// macState is a pre-keyed HMAC with scratch room for its output, kept in a
// pool so that neither escapes to the heap on each call.
type macState struct {
	mac hash.Hash
	sum [64]byte
	tmp [4]byte
}

// New returns a Suite for the AES key encKey (16, 24 or 32 bytes) and the
// HMAC key macKey (h.KeyLen() bytes).
func New(encKey, macKey []byte, h Hash) (*Suite, error) {
	switch len(encKey) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("cbchmac: AES key length %d, want 16, 24 or 32", len(encKey))
	}
	if h.KeyLen() == 0 {
		return nil, fmt.Errorf("cbchmac: unknown hash %v", h)
	}
	if len(macKey) != h.KeyLen() {
		return nil, fmt.Errorf("cbchmac: HMAC-%v key length %d, want %d", h, len(macKey), h.KeyLen())
	}
	return newSuite(encKey, macKey, h)
}

// newSuite is New without the RFC key length check on macKey, so that tests
// can use the HMAC test vectors of RFC 2202 and RFC 4231.
func newSuite(encKey, macKey []byte, h Hash) (*Suite, error) {
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("cbchmac: %w", err)
	}
	s := &Suite{hash: h, icvLen: h.ICVLen(), block: block}
	newHash := h.newFunc()
	key := append([]byte(nil), macKey...)
	s.macs.New = func() any {
		m := &macState{mac: hmac.New(newHash, key)}
		return m
	}
	s.fast.init(encKey, macKey, h)
	return s, nil
}

// ICVLen is the length of the ICV that Seal appends and Open checks.
func (s *Suite) ICVLen() int { return s.icvLen }

// BlockSize is the cipher block size: the payload must be padded to it.
func (s *Suite) BlockSize() int { return aes.BlockSize }

// Hash is the suite's HMAC.
func (s *Suite) Hash() Hash { return s.hash }

var errJob = errors.New("cbchmac: malformed job")

// check reports whether j has the layout the package documents.
func (s *Suite) check(j *Job) bool {
	n := j.N
	return n >= HeaderLen && (n-HeaderLen)%aes.BlockSize == 0 && n <= len(j.Buf)-s.icvLen
}

// Seal encrypts one packet and writes its ICV; see SealBatch.
func (s *Suite) Seal(j *Job) {
	s.SealBatch(unsafe.Slice(j, 1))
}

// Open checks and decrypts one packet; see OpenBatch.
func (s *Suite) Open(j *Job) bool {
	var ok [1]bool
	s.OpenBatch(unsafe.Slice(j, 1), ok[:])
	return ok[0]
}

// SealBatch encrypts b[24:n] of every job in CBC mode, with the IV at
// b[8:24], then writes the ICV over b[0:n] (plus SeqHi when ESN) to
// b[n:n+ICVLen()]. It panics if a job breaks the documented layout, as
// crypto/cipher does for misuse.
func (s *Suite) SealBatch(jobs []Job) {
	for i := range jobs {
		if !s.check(&jobs[i]) {
			panic(errJob)
		}
	}
	if s.fast.sealBatch(s, jobs) {
		return
	}
	for i := range jobs {
		s.sealGeneric(&jobs[i])
	}
}

// OpenBatch checks the ICV of every job in constant time and, where it
// matches, decrypts b[24:n] in place; ok[i] reports the result for jobs[i]
// (false also for a malformed job). A job that fails is left as it came.
// len(ok) must be at least len(jobs).
func (s *Suite) OpenBatch(jobs []Job, ok []bool) {
	ok = ok[:len(jobs)]
	if s.fast.openBatch(s, jobs, ok) {
		return
	}
	for i := range jobs {
		ok[i] = s.openGeneric(&jobs[i])
	}
}

// sealGeneric is the reference implementation: crypto/aes block by block,
// then crypto/hmac.
func (s *Suite) sealGeneric(j *Job) {
	b := j.Buf
	iv := b[8:HeaderLen]
	for off := HeaderLen; off < j.N; off += aes.BlockSize {
		blk := b[off : off+aes.BlockSize]
		subtle.XORBytes(blk, blk, iv)
		s.block.Encrypt(blk, blk)
		iv = blk
	}
	m := s.macs.Get().(*macState)
	s.macGeneric(m, j)
	copy(b[j.N:j.N+s.icvLen], m.sum[:])
	s.macs.Put(m)
}

func (s *Suite) openGeneric(j *Job) bool {
	if !s.check(j) {
		return false
	}
	b := j.Buf
	m := s.macs.Get().(*macState)
	s.macGeneric(m, j)
	good := subtle.ConstantTimeCompare(m.sum[:s.icvLen], b[j.N:j.N+s.icvLen]) == 1
	s.macs.Put(m)
	if !good {
		return false
	}
	// Decrypt from the last block back to the first, so that the
	// ciphertext block each one chains from is still in place.
	for off := j.N - aes.BlockSize; off >= HeaderLen; off -= aes.BlockSize {
		blk := b[off : off+aes.BlockSize]
		s.block.Decrypt(blk, blk)
		subtle.XORBytes(blk, blk, b[off-aes.BlockSize:off])
	}
	return true
}

// macGeneric leaves the full HMAC of j in m.sum.
func (s *Suite) macGeneric(m *macState, j *Job) {
	m.mac.Reset()
	m.mac.Write(j.Buf[:j.N])
	if j.ESN {
		binary.BigEndian.PutUint32(m.tmp[:], j.SeqHi)
		m.mac.Write(m.tmp[:])
	}
	m.mac.Sum(m.sum[:0])
}
