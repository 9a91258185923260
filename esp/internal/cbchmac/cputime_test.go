//go:build amd64 && !purego

package cbchmac

import (
	"runtime"
	"testing"
)

// BenchmarkStages measures the thread CPU time per 1400-byte packet of
// each stage (AES-CBC alone, HMAC alone, whole seal) for batches of 1, 8
// and 16, reported as cpu-ns/packet beside the wall-clock ns/op. On a
// shared machine wall-clock benchmarks swing with the neighbours' load;
// CLOCK_THREAD_CPUTIME_ID counts only this thread's time. Run with
//
//	taskset -c 1 go test -run '^$' -bench Stages ./esp/internal/cbchmac
func BenchmarkStages(b *testing.B) {
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
		b.Run(c.name, func(b *testing.B) {
			// The thread clock is per OS thread: keep the loop on one.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.SetBytes(int64(1400 * c.per))
			t0 := threadCPU()
			for b.Loop() {
				c.f()
			}
			cpu := threadCPU() - t0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*c.per), "cpu-ns/packet")
		})
	}
}
