package esp

import "testing"

func TestReplayWindow(t *testing.T) {
	for _, size := range []int{64, 1024, 4096} {
		w := newReplayWindow(size)
		if w.update(0) {
			t.Fatal("seq 0 accepted")
		}
		for s := uint64(1); s <= 10; s++ {
			if !w.update(s) {
				t.Fatalf("size %d: fresh %d rejected", size, s)
			}
		}
		if w.update(5) || w.check(10) {
			t.Fatalf("size %d: replay accepted", size)
		}
		// Jump ahead; everything older than the window is rejected.
		top := uint64(10 + 3*size)
		if !w.update(top) {
			t.Fatal("jump rejected")
		}
		if w.check(top - uint64(size)) {
			t.Fatalf("size %d: seq at window edge accepted", size)
		}
		if !w.check(top - uint64(size) + 1) {
			t.Fatalf("size %d: oldest seq inside window rejected", size)
		}
		// Out of order inside the window, each once.
		for s := top - 1; s > top-uint64(size); s -= 3 {
			if !w.update(s) {
				t.Fatalf("size %d: in-window %d rejected", size, s)
			}
			if w.update(s) {
				t.Fatalf("size %d: in-window %d accepted twice", size, s)
			}
		}
		// Old bits must not survive a move of the window.
		if !w.update(top + 64) {
			t.Fatal("advance rejected")
		}
		if !w.check(top + 63) {
			t.Fatalf("size %d: stale bit after advance", size)
		}
	}
}

func TestReplayCheckOnlyDoesNotMove(t *testing.T) {
	w := newReplayWindow(1024)
	if !w.check(5000) {
		t.Fatal("check rejected")
	}
	if !w.update(1) {
		t.Fatal("window moved by check")
	}
}

func TestInferSeqESN(t *testing.T) {
	w := newReplayWindow(1024)
	w.update(5<<32 | 100)
	cases := []struct {
		lo   uint32
		want uint64
	}{
		{200, 5<<32 | 200},
		{50, 5<<32 | 50},
		{0xffffff00, 4<<32 | 0xffffff00}, // just behind, straddling
		{0x80000000, 5<<32 | 0x80000000},
	}
	for _, c := range cases {
		if got := w.inferSeq(c.lo, true); got != c.want {
			t.Errorf("inferSeq(%#x) = %#x, want %#x", c.lo, got, c.want)
		}
	}
	w2 := newReplayWindow(1024)
	w2.update(5<<32 | 0xfffffff0)
	if got := w2.inferSeq(3, true); got != 6<<32|3 {
		t.Errorf("wrap: got %#x", got)
	}
	if got := w2.inferSeq(0xfffffc00, true); got != 5<<32|0xfffffc00 {
		t.Errorf("in window: got %#x", got)
	}
	if got := w2.inferSeq(7, false); got != 7 {
		t.Errorf("no ESN: got %#x", got)
	}
}
