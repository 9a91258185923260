//go:build amd64 && !purego

package cbchmac

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"unsafe"
)

// sha256x2 compresses nblocks blocks of two messages at once (sha256_amd64.s).
// Message i starts at p[i] and advances step[i] bytes (64 or 0) per block.
//
//go:noescape
func sha256x2(h *[2][8]uint32, p *[2]*byte, step *[2]uintptr, nblocks int)

var sha256IV = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

// hmac256 holds HMAC-SHA256 pre-keyed: the states after compressing the key
// xored with ipad and with opad (FIPS 198-1 section 6 allows storing these
// in place of the key).
type hmac256 struct {
	inner, outer [8]uint32
}

func newHMAC256(key []byte) *hmac256 {
	if len(key) > 64 {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	var pads [2][64]byte
	copy(pads[0][:], key)
	copy(pads[1][:], key)
	for i := range 64 {
		pads[0][i] ^= 0x36
		pads[1][i] ^= 0x5c
	}
	h := [2][8]uint32{sha256IV, sha256IV}
	p := [2]*byte{&pads[0][0], &pads[1][0]}
	step := [2]uintptr{64, 64}
	sha256x2(&h, &p, &step, 1)
	return &hmac256{inner: h[0], outer: h[1]}
}

// macLane is one of the two messages in flight in hmac256.run.
type macLane struct {
	job   int // index in jobs, or -1 when idle
	phase int // 0: whole blocks in the packet, 1: padded tail, 2: outer hash
	left  int // blocks left in this phase
	tail  int // blocks in the padded tail (1 or 2)
	n     int // MAC input length in the packet
	saved [4]byte
	pad   [128]byte // padded tail of the message, then the outer block
}

const (
	macSeal = iota // write the ICV after b[n]
	macOpen        // compare with the ICV after b[n], result in ok
)

// run computes HMAC-SHA256 of every job, two jobs at a time so that their
// rounds interleave, and either writes (macSeal) or checks (macOpen) the
// icvLen-byte ICV. With ESN, the high sequence bits are put where the ICV
// goes, so that the MAC input is one contiguous run b[0:n+4], and the bytes
// there are put back before the ICV is written or compared. In macOpen mode
// jobs that fail Suite.check are skipped and left false.
func (m *hmac256) run(s *Suite, jobs []Job, mode int, ok []bool) {
	var (
		h     [2][8]uint32
		p     [2]*byte
		step  [2]uintptr
		lanes [2]macLane
		idle  [64]byte
	)
	next := 0
	// start puts the next job into lane i, or idles it.
	start := func(i int) {
		l := &lanes[i]
		for ; next < len(jobs); next++ {
			if mode == macOpen && !s.check(&jobs[next]) {
				continue
			}
			j := &jobs[next]
			l.job = next
			next++
			b := j.Buf
			l.n = j.N
			if j.ESN {
				copy(l.saved[:], b[j.N:j.N+4])
				binary.BigEndian.PutUint32(b[j.N:], j.SeqHi)
				l.n += 4
			}
			l.tail = padTail(&l.pad, b[:l.n])
			h[i] = m.inner
			if whole := l.n / 64; whole > 0 {
				l.phase, l.left = 0, whole
				p[i], step[i] = &b[0], 64
			} else {
				l.phase, l.left = 1, l.tail
				p[i], step[i] = &l.pad[0], 64
			}
			return
		}
		l.job, l.left = -1, 0
		p[i], step[i] = &idle[0], 0
	}
	// finish moves lane i on after its current phase.
	finish := func(i int) {
		l := &lanes[i]
		switch l.phase {
		case 0:
			l.phase, l.left = 1, l.tail
			p[i] = &l.pad[0]
			return
		case 1:
			// The outer hash: opad state, then the inner digest and
			// padding for a 64+32-byte message.
			outerBlock(&l.pad, &h[i])
			h[i] = m.outer
			l.phase, l.left = 2, 1
			p[i] = &l.pad[0]
			return
		}
		j := &jobs[l.job]
		b := j.Buf
		if j.ESN {
			copy(b[j.N:j.N+4], l.saved[:])
		}
		var sum [32]byte
		for k, v := range h[i] {
			binary.BigEndian.PutUint32(sum[4*k:], v)
		}
		icv := b[j.N : j.N+s.icvLen]
		if mode == macSeal {
			copy(icv, sum[:])
		} else {
			ok[l.job] = subtle.ConstantTimeCompare(sum[:s.icvLen], icv) == 1
		}
		start(i)
	}
	start(0)
	start(1)
	for lanes[0].job >= 0 || lanes[1].job >= 0 {
		k := lanes[0].left
		if lanes[0].job < 0 || (lanes[1].job >= 0 && lanes[1].left < k) {
			k = lanes[1].left
		}
		sha256x2(&h, &p, &step, k)
		for i := range lanes {
			l := &lanes[i]
			if l.job < 0 {
				continue
			}
			l.left -= k
			p[i] = (*byte)(unsafe.Add(unsafe.Pointer(p[i]), k*int(step[i])))
			if l.left == 0 {
				finish(i)
			}
		}
	}
}

// padTail writes the last, partial block of the inner hash of msg to pad,
// with SHA-256 padding for a message of 64 (the ipad block) + len(msg)
// bytes, and returns its length in blocks (1 or 2).
func padTail(pad *[128]byte, msg []byte) int {
	r := len(msg) % 64
	clear(pad[:])
	copy(pad[:], msg[len(msg)-r:])
	pad[r] = 0x80
	blocks := 1
	if r+9 > 64 {
		blocks = 2
	}
	binary.BigEndian.PutUint64(pad[64*blocks-8:], uint64(64+len(msg))*8)
	return blocks
}

// outerBlock writes the one block the outer hash compresses after the opad
// block: the inner digest h and padding for a 64+32-byte message.
func outerBlock(pad *[128]byte, h *[8]uint32) {
	clear(pad[:64])
	for k, v := range h {
		binary.BigEndian.PutUint32(pad[4*k:], v)
	}
	pad[32] = 0x80
	binary.BigEndian.PutUint64(pad[56:], (64+32)*8)
}

// finish completes the HMAC of msg whose first done blocks the inner state h
// has already absorbed, one message alone, and returns the full digest.
func (m *hmac256) finish(h *[8]uint32, msg []byte, done int) (sum [32]byte) {
	var (
		hh   = [2][8]uint32{*h}
		idle [64]byte
		pad  [128]byte
		p    = [2]*byte{&idle[0], &idle[0]}
		step = [2]uintptr{64, 0}
	)
	if whole := len(msg) / 64; whole > done {
		p[0] = &msg[64*done]
		sha256x2(&hh, &p, &step, whole-done)
	}
	tail := padTail(&pad, msg)
	p[0] = &pad[0]
	sha256x2(&hh, &p, &step, tail)
	outerBlock(&pad, &hh[0])
	hh[0] = m.outer
	p[0] = &pad[0]
	sha256x2(&hh, &p, &step, 1)
	for k, v := range hh[0] {
		binary.BigEndian.PutUint32(sum[4*k:], v)
	}
	return sum
}

// sum computes the full HMAC-SHA256 of data into out, for tests.
func (m *hmac256) sum(out *[64]byte, data []byte) {
	b := make([]byte, len(data)+32)
	copy(b, data)
	s := &Suite{icvLen: 32} // the whole digest as the "ICV"
	m.run(s, []Job{{Buf: b, N: len(data)}}, macSeal, nil)
	copy(out[:], b[len(data):])
}
