package esp

import (
	"fmt"
	"testing"
)

// TestNoAllocsPerPacket is the guard behind the README's "0 allocs per
// sealed / opened packet": it runs what the Seal, Open, SealBatch and
// OpenBatch benchmarks run, for every suite and size, and fails on any
// allocation. The race detector allocates on its own, so test.sh runs this
// in its pass without -race.
func TestNoAllocsPerPacket(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector; test.sh runs this without -race")
	}
	for _, s := range testSuites {
		for _, n := range benchSizes {
			t.Run(fmt.Sprintf("%s/%d", s.name, n), func(t *testing.T) {
				o, in := newTestSAs(t, s.encr, s.bits, s.integ, false)
				buf := make([]byte, 4096)
				seq := uint64(0)
				if a := testing.AllocsPerRun(100, func() {
					seq++
					p := buildESP(buf, txOffset, n, o.spi, seq, o.ivLen, o.blk, protoIPv4)
					o.suite.seal(p, seq)
				}); a != 0 {
					t.Errorf("seal: %v allocs per packet", a)
				}

				sealed := append([]byte(nil), sealTest(o, buf, make([]byte, n), 1, protoIPv4)...)
				work := make([]byte, len(sealed))
				if a := testing.AllocsPerRun(100, func() {
					copy(work, sealed)
					if _, _, res := openPacket(in, work, 1); res != openOK {
						t.Fatal(res)
					}
				}); a != 0 {
					t.Errorf("open: %v allocs per packet", a)
				}

				bufs := make([][]byte, containerMax)
				for i := range bufs {
					bufs[i] = make([]byte, 2048+n)
				}
				sjobs := make([]sealJob, containerMax)
				if a := testing.AllocsPerRun(20, func() {
					for k := range sjobs {
						seq++
						sjobs[k] = sealJob{b: buildESP(bufs[k], txOffset, n, o.spi, seq, o.ivLen, o.blk, protoIPv4), seq: seq}
					}
					o.suite.sealBatch(sjobs)
				}); a != 0 {
					t.Errorf("sealBatch: %v allocs per container", a)
				}

				works := make([][]byte, containerMax)
				for k := range works {
					works[k] = make([]byte, len(sealed))
				}
				ojobs := make([]openJob, containerMax)
				if a := testing.AllocsPerRun(20, func() {
					for k := range ojobs {
						copy(works[k], sealed)
						ojobs[k] = openJob{b: works[k], seq: 1}
					}
					in.suite.openBatch(ojobs)
					if ojobs[0].err != nil {
						t.Fatal(ojobs[0].err)
					}
				}); a != 0 {
					t.Errorf("openBatch: %v allocs per container", a)
				}
			})
		}
	}
}
