//go:build amd64 && !purego

package cbchmac

import (
	"crypto/subtle"
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// cbcEnc8 encrypts nblocks blocks in place in each of eight CBC chains
// (cbc_amd64.s). Lane i starts at lanes[i] and chains from the 16 bytes
// before it; it advances steps[i] bytes per block.
//
//go:noescape
func cbcEnc8(rk *byte, rounds int, lanes *[8]*byte, steps *[8]uintptr, nblocks int)

// cbcDec decrypts nblocks blocks in place at p, chaining from p-16.
//
//go:noescape
func cbcDec(rk *byte, rounds int, p *byte, nblocks int)

// sealStitch CBC-encrypts four blocks at aesp and compresses one SHA-256
// block at shap, per iteration, interleaved (stitch_amd64.s).
//
//go:noescape
func sealStitch(rk *byte, rounds int, aesp *byte, h *[8]uint32, shap *byte, iters int)

//go:generate go run gen_stitch.go

// fastSuite is the amd64 assembly state of a Suite.
type fastSuite struct {
	aes      bool // AES-NI and AVX are present: the assembly paths run
	rounds   int
	enc, dec [15 * 16]byte
	sha256   *hmac256 // HMAC-SHA256 with SHA-NI, or nil
}

// cpuid is the CPUID instruction (cpu_amd64.s).
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// hasSHANI reports the SHA extensions, which x/sys/cpu does not.
func hasSHANI() bool {
	if max, _, _, _ := cpuid(0, 0); max < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0 && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3
}

var useSHANI = hasSHANI()

func (f *fastSuite) init(encKey, macKey []byte, h Hash) {
	// The kernels are legacy-SSE AES-NI code that starts with VZEROUPPER
	// (an AVX instruction) so that no dirty upper YMM state slows them down.
	if !cpu.X86.HasAES || !cpu.X86.HasAVX {
		return
	}
	f.aes = true
	f.rounds, f.enc, f.dec = expandKey(encKey)
	if h == SHA256 && useSHANI {
		f.sha256 = newHMAC256(macKey)
	}
}

// sealBatch is SealBatch on the assembly path; false if it does not apply.
func (f *fastSuite) sealBatch(s *Suite, jobs []Job) bool {
	if !f.aes {
		return false
	}
	if len(jobs) == 1 && f.sha256 != nil {
		f.sealOne(s, &jobs[0])
		return true
	}
	f.encrypt(jobs)
	if f.sha256 != nil {
		f.sha256.run(s, jobs, macSeal, nil)
		return true
	}
	for i := range jobs {
		j := &jobs[i]
		s.icv(j, j.Buf[j.N:j.N+s.icvLen])
	}
	return true
}

// openBatch is OpenBatch on the assembly path; false if it does not apply.
func (f *fastSuite) openBatch(s *Suite, jobs []Job, ok []bool) bool {
	if !f.aes {
		return false
	}
	if f.sha256 != nil {
		clear(ok)
		f.sha256.run(s, jobs, macOpen, ok)
		for i := range jobs {
			j := &jobs[i]
			if blocks := (j.N - HeaderLen) / 16; ok[i] && blocks > 0 {
				cbcDec(&f.dec[0], f.rounds, &j.Buf[HeaderLen], blocks)
			}
		}
		return true
	}
	var sum [maxICVLen]byte
	for i := range jobs {
		j := &jobs[i]
		if !s.check(j) {
			ok[i] = false
			continue
		}
		s.icv(j, sum[:s.icvLen])
		ok[i] = subtle.ConstantTimeCompare(sum[:s.icvLen], j.Buf[j.N:j.N+s.icvLen]) == 1
		if ok[i] {
			if blocks := (j.N - HeaderLen) / 16; blocks > 0 {
				cbcDec(&f.dec[0], f.rounds, &j.Buf[HeaderLen], blocks)
			}
		}
	}
	return true
}

// icv writes the truncated HMAC of j to dst (len(dst) == s.icvLen).
func (s *Suite) icv(j *Job, dst []byte) {
	m := s.macs.Get().(*macState)
	s.macGeneric(m, j)
	copy(dst, m.sum[:])
	s.macs.Put(m)
}

// sealOne seals a lone packet with HMAC-SHA256. With no other packet to
// interleave with, it stitches the packet's own CBC chain with the hash of
// the ciphertext already made: the hash trails the cipher by three blocks,
// because SHA-256 block k (bytes 64k to 64k+63 of the packet) ends in AES
// block 4k+2 (the ciphertext starts at byte 24).
func (f *fastSuite) sealOne(s *Suite, j *Job) {
	b, n := j.Buf, j.N
	msg := b[:n]
	if j.ESN {
		// The ICV slot holds the high sequence bits while they are hashed.
		binary.BigEndian.PutUint32(b[n:], j.SeqHi)
		msg = b[:n+4]
	}
	blocks := (n - HeaderLen) / 16
	lead := min(blocks, 3)
	f.encryptOne(&b[HeaderLen], lead)
	iters := min((blocks-lead)/4, len(msg)/64)
	h := f.sha256.inner
	if iters > 0 {
		sealStitch(&f.enc[0], f.rounds, &b[HeaderLen+16*lead], &h, &b[0], iters)
	}
	if done := lead + 4*iters; done < blocks {
		f.encryptOne(&b[HeaderLen+16*done], blocks-done)
	}
	sum := f.sha256.finish(&h, msg, iters)
	copy(b[n:n+s.icvLen], sum[:])
}

// encryptOne CBC-encrypts nblocks blocks at p, chaining from p-16.
func (f *fastSuite) encryptOne(p *byte, nblocks int) {
	if nblocks == 0 {
		return
	}
	var (
		lanes   [8]*byte
		steps   = [8]uintptr{16}
		scratch [8][32]byte
	)
	lanes[0] = p
	for i := 1; i < 8; i++ {
		lanes[i] = &scratch[i][16]
	}
	cbcEnc8(&f.enc[0], f.rounds, &lanes, &steps, nblocks)
}

// encrypt CBC-encrypts the payload of every job, eight packets at a time. A
// lane whose packet is done takes the next one; when no packet is left it
// idles on a scratch block, so the kernel always runs eight chains.
func (f *fastSuite) encrypt(jobs []Job) {
	var (
		lanes   [8]*byte
		steps   [8]uintptr
		left    [8]int
		scratch [8][32]byte // one per idle lane: no false sharing of a chain
	)
	next := 0
	for {
		active, least := 0, 0
		for i := range lanes {
			for left[i] == 0 && next < len(jobs) {
				j := &jobs[next]
				next++
				if blocks := (j.N - HeaderLen) / 16; blocks > 0 {
					lanes[i], steps[i], left[i] = &j.Buf[HeaderLen], 16, blocks
				}
			}
			if left[i] == 0 {
				lanes[i], steps[i] = &scratch[i][16], 0
				continue
			}
			if active == 0 || left[i] < least {
				least = left[i]
			}
			active++
		}
		if active == 0 {
			return
		}
		cbcEnc8(&f.enc[0], f.rounds, &lanes, &steps, least)
		for i := range lanes {
			if left[i] > 0 {
				left[i] -= least
				lanes[i] = (*byte)(unsafe.Add(unsafe.Pointer(lanes[i]), least*16))
			}
		}
	}
}

// macData computes the full HMAC of data with the assembly, for tests; false
// if the suite has no assembly MAC.
func (f *fastSuite) macData(sum *[64]byte, data []byte) bool {
	if f.sha256 == nil {
		return false
	}
	f.sha256.sum(sum, data)
	return true
}
