package esp

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchSizes = []int{64, 512, 1400}

// BenchmarkSeal measures framing and sealing one packet in place.
func BenchmarkSeal(b *testing.B) {
	for _, s := range testSuites {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				o, _ := newTestSAs(b, s.encr, s.bits, s.integ, false)
				buf := make([]byte, bufSize)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					seq := uint64(i + 1)
					p := buildESP(buf, txOffset, n, o.spi, seq, o.ivLen, o.blk, protoIPv4)
					o.suite.seal(p, seq)
				}
			})
		}
	}
}

// BenchmarkOpen measures verifying and decrypting one packet in place.
func BenchmarkOpen(b *testing.B) {
	for _, s := range testSuites {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				o, in := newTestSAs(b, s.encr, s.bits, s.integ, false)
				buf := make([]byte, bufSize)
				inner := make([]byte, n)
				p := sealTest(o, buf, inner, 1, protoIPv4)
				sealed := append([]byte(nil), p...)
				work := make([]byte, len(sealed))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					copy(work, sealed)
					if _, _, res := openPacket(in, work, 1); res != openOK {
						b.Fatal(res)
					}
				}
			})
		}
	}
}

// BenchmarkSealBatch measures sealing one container of packets through
// suite.sealBatch, the call the pipeline's workers make (and where a
// multi-buffer implementation works on several packets at once).
func BenchmarkSealBatch(b *testing.B) {
	for _, s := range testSuites {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				o, _ := newTestSAs(b, s.encr, s.bits, s.integ, false)
				bufs := make([][]byte, containerMax)
				for i := range bufs {
					bufs[i] = make([]byte, 2048+n)
				}
				jobs := make([]sealJob, containerMax)
				b.SetBytes(int64(n * containerMax))
				b.ReportAllocs()
				// CPU time of this thread, to compare with openssl speed,
				// which divides by user CPU time: on a shared machine
				// wall-clock MB/s understate both.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU()
				b.ResetTimer()
				seq := uint64(0)
				for i := 0; i < b.N; i++ {
					for k := range jobs {
						seq++
						jobs[k] = sealJob{b: buildESP(bufs[k], txOffset, n, o.spi, seq, o.ivLen, o.blk, protoIPv4), seq: seq}
					}
					o.suite.sealBatch(jobs)
				}
				b.StopTimer()
				if d := threadCPU() - cpu0; d > 0 {
					b.ReportMetric(float64(b.N*n*containerMax)/d.Seconds()/1e6, "cpu-MB/s")
				}
			})
		}
	}
}

// BenchmarkOpenBatch measures opening one container of packets of one SA
// through suite.openBatch, as the inbound workers do.
func BenchmarkOpenBatch(b *testing.B) {
	for _, s := range testSuites {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				o, in := newTestSAs(b, s.encr, s.bits, s.integ, false)
				sealed := make([][]byte, containerMax)
				work := make([][]byte, containerMax)
				for k := range sealed {
					sealed[k] = append([]byte(nil), sealTest(o, make([]byte, 4096), make([]byte, n), uint64(k+1), protoIPv4)...)
					work[k] = make([]byte, len(sealed[k]))
				}
				jobs := make([]openJob, containerMax)
				b.SetBytes(int64(n * containerMax))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for k := range jobs {
						copy(work[k], sealed[k])
						jobs[k] = openJob{b: work[k], seq: uint64(k + 1)}
					}
					in.suite.openBatch(jobs)
					if jobs[0].err != nil {
						b.Fatal(jobs[0].err)
					}
				}
			})
		}
	}
}
