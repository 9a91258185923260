package esp

import (
	"sync"
	"sync/atomic"
)

// replayWindow is an anti-replay window in the style of RFC 6479: a ring of
// 64-bit blocks so that moving the window clears whole words instead of
// shifting a bitmap. Sequence numbers are full 64-bit values (with ESN the
// high half is inferred by inferSeq, RFC 4303 appendix A2).
//
// check may run before the ICV is verified (to drop replays cheaply);
// update runs only after, so a forged packet never moves the window.
type replayWindow struct {
	mu     sync.Mutex
	top    atomic.Uint64 // highest sequence number accepted, 0 if none
	size   uint64        // window size in packets, a multiple of 64
	mask   uint64        // number of blocks - 1
	blocks []uint64
}

func newReplayWindow(size int) *replayWindow {
	if size < 64 {
		size = 64
	}
	size = (size + 63) &^ 63
	// One block more than the window so the block holding top never
	// overlaps the oldest one still in the window.
	n := 1
	for n < size/64+1 {
		n <<= 1
	}
	return &replayWindow{size: uint64(size), mask: uint64(n - 1), blocks: make([]uint64, n)}
}

// check reports whether seq may be accepted: not zero, not older than the
// window, not already seen.
func (w *replayWindow) check(seq uint64) bool {
	w.mu.Lock()
	ok := w.checkLocked(seq)
	w.mu.Unlock()
	return ok
}

func (w *replayWindow) checkLocked(seq uint64) bool {
	if seq == 0 {
		return false
	}
	top := w.top.Load()
	if seq > top {
		return true
	}
	if top-seq >= w.size {
		return false
	}
	return w.blocks[(seq>>6)&w.mask]&(1<<(seq&63)) == 0
}

// update marks seq as received and moves the window. It reports false when
// seq is a replay or too old.
func (w *replayWindow) update(seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.checkLocked(seq) {
		return false
	}
	top := w.top.Load()
	if seq > top {
		// Clear the blocks the window moves past.
		cur, next := top>>6, seq>>6
		diff := next - cur
		if diff > uint64(len(w.blocks)) {
			diff = uint64(len(w.blocks))
		}
		for i := uint64(1); i <= diff; i++ {
			w.blocks[(cur+i)&w.mask] = 0
		}
		w.top.Store(seq)
	}
	w.blocks[(seq>>6)&w.mask] |= 1 << (seq & 63)
	return true
}

// inferSeq returns the full 64-bit sequence number for the low 32 bits
// seen on the wire (RFC 4303 appendix A2.2). Without ESN it is seqLo.
func (w *replayWindow) inferSeq(seqLo uint32, esn bool) uint64 {
	if !esn {
		return uint64(seqLo)
	}
	top := w.top.Load()
	th, tl := uint32(top>>32), uint32(top)
	win := uint32(w.size)
	if tl >= win-1 {
		// Case A: the window lies within one 2^32 subspace.
		if seqLo >= tl-win+1 {
			return uint64(th)<<32 | uint64(seqLo)
		}
		return uint64(th+1)<<32 | uint64(seqLo)
	}
	// Case B: the window straddles two subspaces.
	if seqLo >= tl-win+1 { // arithmetic mod 2^32
		if th == 0 {
			// Would be before the start; the ICV check will reject it.
			return uint64(seqLo)
		}
		return uint64(th-1)<<32 | uint64(seqLo)
	}
	return uint64(th)<<32 | uint64(seqLo)
}
