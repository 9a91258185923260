//go:build amd64 && !purego

package cbchmac

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestCPUTime prints the thread CPU time per 1400-byte packet of each stage
// (AES-CBC alone, HMAC alone, whole seal) for batches of 1, 8 and 16. On a
// shared machine wall-clock benchmarks swing with the neighbours' load;
// CLOCK_THREAD_CPUTIME_ID counts only this thread's time. Run with
//
//	CPUTIME=1 taskset -c 1 go test -run CPUTime -v ./esp/internal/cbchmac
func TestCPUTime(t *testing.T) {
	if os.Getenv("CPUTIME") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	s, _ := New(make([]byte, 32), make([]byte, 32), SHA256)
	j1 := benchJobs(s, 1400, 1)
	j8 := benchJobs(s, 1400, 8)
	j16 := benchJobs(s, 1400, 16)
	ok := make([]bool, 16)
	for _, c := range []struct {
		name string
		per  int
		f    func()
	}{
		{"aes1", 1, func() { s.fast.encrypt(j1) }},
		{"aes8", 8, func() { s.fast.encrypt(j8) }},
		{"mac1", 1, func() { s.fast.sha256.run(s, j1, macSeal, nil) }},
		{"mac8", 8, func() { s.fast.sha256.run(s, j8, macSeal, nil) }},
		{"seal1", 1, func() { s.SealBatch(j1) }},
		{"seal8", 8, func() { s.SealBatch(j8) }},
		{"seal16", 16, func() { s.SealBatch(j16) }},
		{"open8", 8, func() { s.SealBatch(j8); s.OpenBatch(j8, ok) }},
		{"generic1", 1, func() { s.sealGeneric(&j1[0]) }},
	} {
		best := time.Duration(1 << 62)
		for range 50 {
			n := 2000 / c.per
			t0 := threadCPU()
			for range n {
				c.f()
			}
			if d := (threadCPU() - t0) / time.Duration(n*c.per); d < best {
				best = d
			}
		}
		t.Logf("%-8s %6d ns/packet %7.0f MB/s", c.name, best.Nanoseconds(), 1400/float64(best.Nanoseconds())*1000)
	}
}
