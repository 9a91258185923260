package esp

import (
	"os"
	"testing"
	"time"
)

// pipeTUN is a fakeTUN whose File is the read end of a pipe, so the
// reader's readiness check sees a real descriptor.
type pipeTUN struct {
	*fakeTUN
	r *os.File
}

func (p pipeTUN) File() *os.File { return p.r }

// TestReadinessIdleWait checks what lets an idle tunnel hold no buffers:
// now() tells an empty descriptor from one with data, without allocating,
// and wait() returns once data arrives.
func TestReadinessIdleWait(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	rd := newReadiness(pipeTUN{newFakeTUN(), r})
	if rd == nil {
		t.Fatal("no readiness for a device with a descriptor")
	}
	if newReadiness(newFakeTUN()) != nil {
		t.Fatal("readiness for a device without a descriptor")
	}
	if rd.now() {
		t.Fatal("empty pipe reported readable")
	}
	if n := testing.AllocsPerRun(100, func() { rd.now() }); n != 0 {
		t.Fatalf("now() allocates %v times", n)
	}
	done := make(chan error, 1)
	go func() { done <- rd.wait() }()
	select {
	case <-done:
		t.Fatal("wait returned before any data")
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := w.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after data arrived")
	}
	if !rd.now() {
		t.Fatal("pipe with data reported empty")
	}
}
