package esp

import (
	"errors"
	"os"
	"sync/atomic"
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
// a read under hold() ends with os.ErrDeadlineExceeded, hold() does not
// allocate, and wait() returns once data arrives.
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
	if n := testing.AllocsPerRun(100, rd.hold); n != 0 {
		t.Fatalf("hold() allocates %v times", n)
	}
	r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	rd.release()
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
}

// countingPipeTUN is a pipeTUN that counts its reads and whose Close
// closes the pipe, as closing a TUN device closes its descriptor.
type countingPipeTUN struct {
	pipeTUN
	reads *atomic.Int32
}

func (p countingPipeTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	p.reads.Add(1)
	return p.pipeTUN.Read(bufs, sizes, offset)
}

func (p countingPipeTUN) Close() error {
	p.pipeTUN.Close()
	return p.r.Close()
}

// TestIdleReaderClose checks that an idle tunnel's reader ends on its
// device's close without a read: a read takes a buffer for each segment
// of a batch, which the engine then returns (a hub's reload removing one
// tunnel set off an idle engine's FreeOSMemory that way).
func TestIdleReaderClose(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dev := countingPipeTUN{pipeTUN{newFakeTUN(), r}, new(atomic.Int32)}
	e := NewEngine(Config{Workers: 1})
	defer e.Close()
	if err := e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, dev); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the reader waits, idle
	done := make(chan struct{})
	go func() {
		e.producers.Wait()
		close(done)
	}()
	if err := e.RemoveTunnel("Tunnel0.0"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not end after its device closed")
	}
	if n := dev.reads.Load(); n != 0 {
		t.Errorf("the idle reader read %d times after its device closed, want 0", n)
	}
}
