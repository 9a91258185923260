package cbchmac

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var allHashes = []Hash{SHA1, SHA256, SHA384, SHA512}

// packet lays out header, iv and plaintext as the package expects and leaves
// room for the ICV.
func packet(seq uint32, iv, plain []byte, icvLen int) Job {
	n := HeaderLen + len(plain)
	b := make([]byte, n+icvLen)
	b[0], b[1], b[2], b[3] = 0xde, 0xad, 0xbe, 0xef
	b[4], b[5], b[6], b[7] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	copy(b[8:], iv)
	copy(b[HeaderLen:], plain)
	return Job{Buf: b, N: n}
}

// RFC 3602 section 4 (cases 1 and 2) and NIST SP 800-38A F.2.1, F.2.3, F.2.5.
var cbcVectors = []struct{ key, iv, plain, cipher string }{
	{"06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
		"53696e676c6520626c6f636b206d7367", "e353779c1079aeb82708942dbe77181a"},
	{"c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
	{"2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f", sp800plain,
		"7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
	{"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", "000102030405060708090a0b0c0d0e0f", sp800plain,
		"4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd"},
	{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", "000102030405060708090a0b0c0d0e0f", sp800plain,
		"f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
}

const sp800plain = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"

func TestCBCVectors(t *testing.T) {
	for i, v := range cbcVectors {
		for _, h := range allHashes {
			s, err := New(unhex(v.key), make([]byte, h.KeyLen()), h)
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(v.cipher)
			for path, seal := range map[string]func(*Job){
				"generic": s.sealGeneric,
				"batch":   s.Seal,
			} {
				j := packet(1, unhex(v.iv), unhex(v.plain), s.ICVLen())
				seal(&j)
				if got := j.Buf[HeaderLen:j.N]; !bytes.Equal(got, want) {
					t.Errorf("vector %d %v %s: ciphertext\n%x, want\n%x", i, h, path, got, want)
				}
				if !s.Open(&j) {
					t.Errorf("vector %d %v %s: Open failed", i, h, path)
				}
				if got := j.Buf[HeaderLen:j.N]; !bytes.Equal(got, unhex(v.plain)) {
					t.Errorf("vector %d %v %s: opened to %x", i, h, path, got)
				}
			}
		}
	}
}

// HMAC vectors from RFC 2202 (SHA1) and RFC 4231 (SHA2) test cases 1, 2 and
// 6 (key longer than the block), and RFC 4868 section 2.7.2 (keys of the
// length ESP uses).
var hmacVectors = []struct {
	h         Hash
	key, data string
	mac       string
}{
	{SHA1, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "b617318655057264e28bc0b6fb378c8ef146be00"},
	{SHA1, "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	{SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{SHA256, "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{SHA256, rfc4231Key6, rfc4231Data6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	{SHA384, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
	{SHA384, "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
	{SHA512, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	{SHA512, "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	{SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
	{SHA384, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc4c5df61d5b3297b4fb68dab9f1b582c2"},
	{SHA512, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"},
}

// RFC 4231 test case 6: a 131-byte key, hashed first.
var (
	rfc4231Key6  = hex.EncodeToString(bytes.Repeat([]byte{0xaa}, 131))
	rfc4231Data6 = hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First"))
)

func TestHMACVectors(t *testing.T) {
	for i, v := range hmacVectors {
		s, err := newSuite(make([]byte, 32), unhex(v.key), v.h)
		if err != nil {
			t.Fatal(err)
		}
		want := unhex(v.mac)
		m := s.macs.Get().(*macState)
		m.mac.Reset()
		m.mac.Write(unhex(v.data))
		if got := m.mac.Sum(nil); !bytes.Equal(got, want) {
			t.Errorf("vector %d %v generic: %x, want %x", i, v.h, got, want)
		}
		var sum [64]byte
		if s.fast.macData(&sum, unhex(v.data)) {
			if got := sum[:len(want)]; !bytes.Equal(got, want) {
				t.Errorf("vector %d %v fast: %x, want %x", i, v.h, got, want)
			}
		}
	}
}

// TestFastMACLengths checks the assembly HMAC against crypto/hmac for every
// message length across several blocks, so that each padding case is hit.
func TestFastMACLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, h := range allHashes {
		key := make([]byte, h.KeyLen())
		fill(r, key)
		s, _ := New(make([]byte, 16), key, h)
		msg := make([]byte, 400)
		fill(r, msg)
		for n := 0; n <= len(msg); n++ {
			var sum [64]byte
			if !s.fast.macData(&sum, msg[:n]) {
				break
			}
			ref := hmac.New(h.newFunc(), key)
			ref.Write(msg[:n])
			want := ref.Sum(nil)
			if !bytes.Equal(sum[:len(want)], want) {
				t.Fatalf("%v len %d: %x, want %x", h, n, sum[:len(want)], want)
			}
		}
	}
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func randomSuite(t testing.TB, r *rand.Rand, aesLen int, h Hash) *Suite {
	ek := make([]byte, aesLen)
	mk := make([]byte, h.KeyLen())
	fill(r, ek)
	fill(r, mk)
	s, err := New(ek, mk, h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomJobs makes count packets of random lengths up to maxBlocks blocks,
// each with its own spare capacity after the ICV.
func randomJobs(r *rand.Rand, count, maxBlocks, icvLen int) []Job {
	jobs := make([]Job, count)
	for i := range jobs {
		n := HeaderLen + 16*r.IntN(maxBlocks+1)
		b := make([]byte, n+icvLen+r.IntN(3))
		fill(r, b)
		jobs[i] = Job{Buf: b, N: n, SeqHi: r.Uint32(), ESN: r.IntN(2) == 0}
	}
	return jobs
}

func cloneJobs(jobs []Job) []Job {
	c := make([]Job, len(jobs))
	for i, j := range jobs {
		c[i] = j
		c[i].Buf = bytes.Clone(j.Buf)
	}
	return c
}

// TestBatchMatchesGeneric compares SealBatch and OpenBatch (the assembly path
// on amd64) with the block-by-block reference for random keys, batch sizes
// and mixed lengths, and checks that tampering is caught.
func TestBatchMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, aesLen := range []int{16, 24, 32} {
		for _, h := range allHashes {
			t.Run(fmt.Sprintf("aes%d-%v", aesLen*8, h), func(t *testing.T) {
				s := randomSuite(t, r, aesLen, h)
				for count := 1; count <= 19; count++ {
					maxBlocks := []int{0, 1, 3, 20, 100}[count%5]
					jobs := randomJobs(r, count, maxBlocks, s.ICVLen())
					plain := cloneJobs(jobs)
					want := cloneJobs(jobs)
					for i := range want {
						s.sealGeneric(&want[i])
					}
					s.SealBatch(jobs)
					for i := range jobs {
						if !bytes.Equal(jobs[i].Buf, want[i].Buf) {
							t.Fatalf("count %d job %d (n=%d): batch seal differs from generic", count, i, jobs[i].N)
						}
					}
					// Tamper with every third packet: header, ciphertext or ICV.
					tampered := make([]bool, count)
					for i := 0; i < count; i += 3 {
						b := jobs[i].Buf
						b[r.IntN(jobs[i].N+s.ICVLen())] ^= 1 << r.IntN(8)
						tampered[i] = true
						want[i].Buf = bytes.Clone(b)
					}
					ok := make([]bool, count)
					s.OpenBatch(jobs, ok)
					for i := range jobs {
						if ok[i] == tampered[i] {
							t.Fatalf("count %d job %d: ok=%v, tampered=%v", count, i, ok[i], tampered[i])
						}
						if tampered[i] {
							if !bytes.Equal(jobs[i].Buf, want[i].Buf) {
								t.Fatalf("count %d job %d: failed Open changed the packet", count, i)
							}
							continue
						}
						n := jobs[i].N
						if !bytes.Equal(jobs[i].Buf[:n], plain[i].Buf[:n]) {
							t.Fatalf("count %d job %d: Open did not restore the plaintext", count, i)
						}
					}
				}
			})
		}
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(make([]byte, 20), make([]byte, 32), SHA256); err == nil {
		t.Error("20-byte AES key accepted")
	}
	if _, err := New(make([]byte, 16), make([]byte, 20), SHA256); err == nil {
		t.Error("20-byte HMAC-SHA256 key accepted")
	}
	if _, err := New(make([]byte, 16), make([]byte, 20), Hash(9)); err == nil {
		t.Error("unknown hash accepted")
	}
}

func TestMalformed(t *testing.T) {
	s, _ := New(make([]byte, 16), make([]byte, 32), SHA256)
	for _, j := range []Job{
		{Buf: make([]byte, 100), N: 23},
		{Buf: make([]byte, 100), N: 30},
		{Buf: make([]byte, 50), N: 40},
	} {
		if s.Open(&j) {
			t.Errorf("Open accepted N=%d len=%d", j.N, len(j.Buf))
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Seal accepted N=%d len=%d", j.N, len(j.Buf))
				}
			}()
			s.Seal(&j)
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, h := range allHashes {
		s := randomSuite(t, r, 32, h)
		jobs := randomJobs(r, 8, 90, s.ICVLen())
		ok := make([]bool, len(jobs))
		s.SealBatch(jobs)
		s.OpenBatch(jobs, ok)
		if n := testing.AllocsPerRun(50, func() {
			s.SealBatch(jobs)
			s.OpenBatch(jobs, ok)
		}); n != 0 {
			t.Errorf("%v: %v allocs per seal+open", h, n)
		}
	}
}

// FuzzSealOpen compares the batch path with the generic one for fuzzed keys,
// payloads and batch shapes and checks that Open reverses Seal.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), []byte("payload"), uint8(3), uint8(1), uint32(7), true)
	f.Add(make([]byte, 32), make([]byte, 1500), uint8(8), uint8(2), uint32(0), false)
	f.Add(make([]byte, 16), []byte{}, uint8(1), uint8(0), uint32(1), false)
	f.Fuzz(func(t *testing.T, key, data []byte, count, suite uint8, seqHi uint32, esn bool) {
		aesLen := []int{16, 24, 32}[suite%3]
		h := allHashes[(suite/3)%4]
		ek := make([]byte, aesLen)
		copy(ek, key)
		mk := make([]byte, h.KeyLen())
		copy(mk, key[min(len(key), aesLen):])
		s, err := New(ek, mk, h)
		if err != nil {
			t.Fatal(err)
		}
		n := int(count%12) + 1
		jobs := make([]Job, n)
		for i := range jobs {
			// Packet i carries a rotating slice of data, so lengths differ.
			part := data[min(len(data), i*7):]
			blocks := (len(part) + 15) / 16
			b := make([]byte, HeaderLen+16*blocks+s.ICVLen())
			copy(b[8:], key)
			copy(b[HeaderLen:], part)
			jobs[i] = Job{Buf: b, N: HeaderLen + 16*blocks, SeqHi: seqHi + uint32(i), ESN: esn}
		}
		plain := cloneJobs(jobs)
		want := cloneJobs(jobs)
		for i := range want {
			s.sealGeneric(&want[i])
		}
		s.SealBatch(jobs)
		for i := range jobs {
			if !bytes.Equal(jobs[i].Buf, want[i].Buf) {
				t.Fatalf("job %d: batch seal differs from generic", i)
			}
		}
		ok := make([]bool, n)
		s.OpenBatch(jobs, ok)
		for i := range jobs {
			if !ok[i] || !bytes.Equal(jobs[i].Buf[:jobs[i].N], plain[i].Buf[:jobs[i].N]) {
				t.Fatalf("job %d: open failed (ok=%v)", i, ok[i])
			}
			if !s.openGeneric(&want[i]) || !bytes.Equal(want[i].Buf[:jobs[i].N], plain[i].Buf[:jobs[i].N]) {
				t.Fatalf("job %d: generic open failed", i)
			}
		}
	})
}

var benchSuites = []struct {
	name   string
	aesLen int
	h      Hash
}{
	{"aes128-sha1", 16, SHA1},
	{"aes128-sha256", 16, SHA256},
	{"aes256-sha256", 32, SHA256},
	{"aes256-sha384", 32, SHA384},
	{"aes256-sha512", 32, SHA512},
}

// benchJobs makes batch packets of size payload bytes, padded with the ESP
// trailer (pad length and next header) to a whole number of blocks.
func benchJobs(s *Suite, size, batch int) []Job {
	blocks := (size + 2 + 15) / 16
	jobs := make([]Job, batch)
	for i := range jobs {
		n := HeaderLen + 16*blocks
		jobs[i] = Job{Buf: make([]byte, n+s.ICVLen()), N: n}
	}
	return jobs
}

// BenchmarkSeal reports throughput per packet payload byte:
// BenchmarkSeal/<suite>/<payload size>/batch<k>, in MB/s of wall-clock time
// and in cpu-MB/s of thread CPU time.
func BenchmarkSeal(b *testing.B) {
	benchmark(b, false)
}

// BenchmarkOpen is BenchmarkSeal for Open, on packets that verify.
func BenchmarkOpen(b *testing.B) {
	benchmark(b, true)
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func benchmark(b *testing.B, open bool) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, bs := range benchSuites {
		b.Run(bs.name, func(b *testing.B) {
			s := randomSuite(b, r, bs.aesLen, bs.h)
			for _, size := range []int{64, 512, 1400} {
				b.Run(fmt.Sprint(size), func(b *testing.B) {
					for _, batch := range []int{1, 8} {
						b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
							jobs := benchJobs(s, size, batch)
							ok := make([]bool, batch)
							sealed := cloneJobs(jobs)
							s.SealBatch(sealed)
							b.SetBytes(int64(size))
							b.ReportAllocs()
							runtime.LockOSThread()
							defer runtime.UnlockOSThread()
							b.ResetTimer()
							cpu0 := threadCPU()
							for i := 0; i < b.N; i += batch {
								if open {
									// Opening decrypts in place; the
									// copy back is part of the cost.
									for k := range jobs {
										copy(jobs[k].Buf, sealed[k].Buf)
									}
									s.OpenBatch(jobs, ok)
								} else {
									s.SealBatch(jobs)
								}
							}
							// Like openssl speed (without -elapsed), also
							// report throughput per second of this
							// thread's CPU time, which the load of other
							// processes on a shared machine does not skew.
							if d := threadCPU() - cpu0; d > 0 {
								b.ReportMetric(float64(size)*float64(b.N)/d.Seconds()/1e6, "cpu-MB/s")
							}
						})
					}
				})
			}
		})
	}
}

// TestConcurrent runs several goroutines on one Suite (the data plane's
// workers share an SA); run it with -race.
func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, h := range []Hash{SHA256, SHA1} {
		s := randomSuite(t, r, 32, h)
		done := make(chan error)
		for w := range 4 {
			go func() {
				r := rand.New(rand.NewPCG(uint64(w), 11))
				for range 50 {
					jobs := randomJobs(r, 1+r.IntN(9), 40, s.ICVLen())
					plain := cloneJobs(jobs)
					s.SealBatch(jobs)
					ok := make([]bool, len(jobs))
					s.OpenBatch(jobs, ok)
					for i := range jobs {
						if !ok[i] || !bytes.Equal(jobs[i].Buf[:jobs[i].N], plain[i].Buf[:jobs[i].N]) {
							done <- fmt.Errorf("%v worker %d: round trip failed", h, w)
							return
						}
					}
				}
				done <- nil
			}()
		}
		for range 4 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
}

// TestSealOneMatchesGeneric seals lone packets of every length up to 100
// blocks, with and without ESN (Seal of one packet takes the stitched path
// on amd64 with SHA-NI).
func TestSealOneMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	for _, aesLen := range []int{16, 24, 32} {
		for _, h := range allHashes {
			s := randomSuite(t, r, aesLen, h)
			for blocks := 0; blocks <= 100; blocks++ {
				for _, esn := range []bool{false, true} {
					j := randomJobs(r, 1, 0, s.ICVLen())[0]
					j.Buf = make([]byte, HeaderLen+16*blocks+s.ICVLen())
					fill(r, j.Buf)
					j.N, j.ESN = HeaderLen+16*blocks, esn
					want := cloneJobs([]Job{j})[0]
					s.sealGeneric(&want)
					s.Seal(&j)
					if !bytes.Equal(j.Buf, want.Buf) {
						t.Fatalf("aes%d-%v %d blocks esn=%v: Seal differs from generic", aesLen*8, h, blocks, esn)
					}
				}
			}
		}
	}
}

// TestWithoutAssembly checks that a Suite whose CPU lacks the features the
// assembly needs (modelled by clearing its assembly state) takes the
// pure-Go path and interoperates with one that does not.
func TestWithoutAssembly(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	ek := make([]byte, 32)
	mk := make([]byte, 32)
	fill(r, ek)
	fill(r, mk)
	fast, _ := New(ek, mk, SHA256)
	slow, _ := New(ek, mk, SHA256)
	slow.fast = fastSuite{}
	jobs := randomJobs(r, 9, 90, 16)
	plain := cloneJobs(jobs)
	want := cloneJobs(jobs)
	fast.SealBatch(want)
	slow.SealBatch(jobs)
	ok := make([]bool, len(jobs))
	for i := range jobs {
		if !bytes.Equal(jobs[i].Buf, want[i].Buf) {
			t.Fatalf("job %d: sealed differently without assembly", i)
		}
	}
	fast.OpenBatch(jobs, ok)
	for i := range jobs {
		if !ok[i] || !bytes.Equal(jobs[i].Buf[:jobs[i].N], plain[i].Buf[:jobs[i].N]) {
			t.Fatalf("job %d: assembly Open of a pure-Go seal failed", i)
		}
	}
}

// TestICVLenRFC pins the ICV lengths to RFC 2404 (HMAC-SHA1-96) and RFC
// 4868 and checks a SHA1 ICV against crypto/hmac: a 10-byte SHA1 ICV once
// made esp skip this package for SHA1.
func TestICVLenRFC(t *testing.T) {
	for h, want := range map[Hash]int{SHA1: 12, SHA256: 16, SHA384: 24, SHA512: 32} {
		if got := h.ICVLen(); got != want {
			t.Errorf("%v.ICVLen() = %d, want %d", h, got, want)
		}
	}
	encKey, macKey := make([]byte, 16), make([]byte, 20)
	for i := range macKey {
		macKey[i] = byte(i)
	}
	s, err := New(encKey, macKey, SHA1)
	if err != nil {
		t.Fatal(err)
	}
	n := HeaderLen + 32
	b := make([]byte, n+s.ICVLen())
	s.Seal(&Job{Buf: b, N: n})
	m := hmac.New(sha1.New, macKey)
	m.Write(b[:n])
	if want := m.Sum(nil)[:12]; !bytes.Equal(b[n:], want) {
		t.Errorf("SHA1 ICV %x, want %x", b[n:], want)
	}
}
