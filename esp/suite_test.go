package esp

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// testSuites lists every supported suite as (name, encr, bits, integ).
var testSuites = []struct {
	name  string
	encr  childsa.EncrID
	bits  int
	integ childsa.IntegID
}{
	{"aes128-sha1", childsa.EncrAESCBC, 128, childsa.IntegHMACSHA1_96},
	{"aes192-sha256", childsa.EncrAESCBC, 192, childsa.IntegHMACSHA256128},
	{"aes256-sha1", childsa.EncrAESCBC, 256, childsa.IntegHMACSHA1_96},
	{"aes256-sha256", childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128},
	{"aes256-sha384", childsa.EncrAESCBC, 256, childsa.IntegHMACSHA384192},
	{"aes256-sha512", childsa.EncrAESCBC, 256, childsa.IntegHMACSHA512256},
	{"aes128gcm16", childsa.EncrAESGCM16, 128, childsa.IntegNone},
	{"aes256gcm16", childsa.EncrAESGCM16, 256, childsa.IntegNone},
}

// testSAPair returns an outbound and an inbound childsa.SA sharing keys.
func testSAPair(t testing.TB, encr childsa.EncrID, bits int, integ childsa.IntegID, esn bool) (childsa.SA, childsa.SA) {
	t.Helper()
	ek := make([]byte, bits/8)
	if encr == childsa.EncrAESGCM16 {
		ek = make([]byte, bits/8+4)
	}
	ik := make([]byte, integ.KeyLen())
	rand.Read(ek)
	rand.Read(ik)
	out := childsa.SA{
		Tunnel: "Tunnel0.0", SPI: 0x1000, EncrID: encr, EncrKeyBits: bits, IntegID: integ,
		EncrKey: ek, IntegKey: ik, ESN: esn,
		Local: mustAP("192.0.2.1:4500"), Remote: mustAP("198.51.100.6:4500"),
	}
	in := out
	in.Inbound = true
	in.EncrKey = append([]byte(nil), ek...)
	in.IntegKey = append([]byte(nil), ik...)
	return out, in
}

func newTestSAs(t testing.TB, encr childsa.EncrID, bits int, integ childsa.IntegID, esn bool) (*sa, *sa) {
	t.Helper()
	oc, ic := testSAPair(t, encr, bits, integ, esn)
	o, err := newSA(&oc, 0)
	if err != nil {
		t.Fatal(err)
	}
	i, err := newSA(&ic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return o, i
}

// sealTest frames and seals inner with seq into a fresh buffer.
func sealTest(a *sa, buf []byte, inner []byte, seq uint64, nh byte) []byte {
	copy(buf[txOffset:], inner)
	p := buildESP(buf, txOffset, len(inner), a.spi, seq, a.ivLen, a.blk, nh)
	return a.suite.seal(p, seq)
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, s := range testSuites {
		for _, esn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/esn=%v", s.name, esn), func(t *testing.T) {
				o, in := newTestSAs(t, s.encr, s.bits, s.integ, esn)
				buf := make([]byte, bufSize)
				for _, n := range []int{0, 1, 2, 13, 14, 15, 16, 17, 20, 64, 511, 512, 1400, 1438, 9000} {
					inner := make([]byte, n)
					rand.Read(inner)
					seq := uint64(n + 1)
					if esn {
						seq |= 7 << 32
					}
					p := sealTest(o, buf, inner, seq, protoIPv4)
					if len(p) != espLen(n, o.ivLen, o.blk, o.icv) {
						t.Fatalf("n=%d: sealed %d bytes, want %d", n, len(p), espLen(n, o.ivLen, o.blk, o.icv))
					}
					if (len(p)-espHeaderLen-o.ivLen-o.icv)%o.blk != 0 {
						t.Fatalf("n=%d: misaligned", n)
					}
					got, nh, res := openPacket(in, append([]byte(nil), p...), seq)
					if res != openOK || nh != protoIPv4 || !bytes.Equal(got, inner) {
						t.Fatalf("n=%d: open = %v nh %d, equal %v", n, res, nh, bytes.Equal(got, inner))
					}
					// A flipped bit anywhere fails the ICV.
					for _, i := range []int{0, 4, 9, len(p) / 2, len(p) - 1} {
						q := append([]byte(nil), p...)
						q[i] ^= 0x20
						if _, _, res := openPacket(in, q, seq); res != openIntegrity && res != openCipher {
							t.Fatalf("n=%d: bit flip at %d opened: %v", n, i, res)
						}
					}
					if esn {
						// Wrong high bits must fail: they are in the ICV/AAD.
						if _, _, res := openPacket(in, append([]byte(nil), p...), seq+1<<32); res != openIntegrity {
							t.Fatalf("n=%d: wrong ESN high bits opened: %v", n, res)
						}
					}
				}
			})
		}
	}
}

func TestCBCIVsDiffer(t *testing.T) {
	o, _ := newTestSAs(t, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
	seen := map[string]bool{}
	buf := make([]byte, bufSize)
	for seq := uint64(1); seq < 1000; seq++ {
		p := sealTest(o, buf, []byte("same plaintext every time"), seq, protoIPv4)
		iv := string(p[8:24])
		if seen[iv] {
			t.Fatalf("IV repeated at seq %d", seq)
		}
		seen[iv] = true
	}
}

func TestNewSuiteRejects(t *testing.T) {
	bad := []struct {
		encr  childsa.EncrID
		bits  int
		integ childsa.IntegID
		ek    int
		ik    int
	}{
		{childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, 31, 32},
		{childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, 32, 31},
		{childsa.EncrAESCBC, 256, childsa.IntegNone, 32, 0},
		{childsa.EncrAESCBC, 100, childsa.IntegHMACSHA256128, 32, 32},
		{childsa.EncrAESGCM16, 256, childsa.IntegHMACSHA256128, 36, 32},
		{childsa.EncrAESGCM16, 256, childsa.IntegNone, 32, 0},
		{childsa.EncrAESGCM16, 192, childsa.IntegNone, 28, 0},
		{3, 256, childsa.IntegHMACSHA256128, 32, 32},
	}
	for i, b := range bad {
		if _, err := newSuite(b.encr, b.bits, b.integ, make([]byte, b.ek), make([]byte, b.ik), false); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

// TestFastCBCMatchesStdlib seals with package cbchmac and opens with the
// standard-library path and the other way round, for every CBC suite.
func TestFastCBCMatchesStdlib(t *testing.T) {
	defer func() { useFastCBC = true }()
	for _, s := range testSuites {
		if s.encr != childsa.EncrAESCBC {
			continue
		}
		for _, esn := range []bool{false, true} {
			oc, ic := testSAPair(t, s.encr, s.bits, s.integ, esn)
			mk := func(c childsa.SA, fast bool) *sa {
				useFastCBC = fast
				a, err := newSA(&c, 0)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			pairs := [][2]*sa{{mk(oc, true), mk(ic, false)}, {mk(oc, false), mk(ic, true)}}
			for k, p := range pairs {
				buf := make([]byte, bufSize)
				for _, n := range []int{0, 1, 14, 15, 100, 1400} {
					inner := make([]byte, n)
					rand.Read(inner)
					seq := uint64(3)<<32 | uint64(n+1)
					pkt := sealTest(p[0], buf, inner, seq, protoIPv6)
					got, nh, res := openPacket(p[1], append([]byte(nil), pkt...), seq)
					if res != openOK || nh != protoIPv6 || !bytes.Equal(got, inner) {
						t.Fatalf("%s esn=%v dir %d n=%d: %v", s.name, esn, k, n, res)
					}
				}
				// Batch seal through the fast path equals one-by-one.
				jobs := make([]sealJob, 20)
				for i := range jobs {
					b := make([]byte, 2048)
					jobs[i] = sealJob{b: buildESP(b, txOffset, 100+i*37, p[0].spi, uint64(i+1), 16, 16, protoIPv4), seq: uint64(i + 1)}
				}
				p[0].suite.sealBatch(jobs)
				for i := range jobs {
					if _, _, res := openPacket(p[1], jobs[i].out, uint64(i+1)); res != openOK {
						t.Fatalf("%s batch job %d: %v", s.name, i, res)
					}
				}
			}
		}
	}
}

// TestOpenBatch opens a batch mixing good, forged and misaligned packets
// of every suite and expects the same verdicts as one-by-one opens.
func TestOpenBatch(t *testing.T) {
	for _, s := range testSuites {
		o, in := newTestSAs(t, s.encr, s.bits, s.integ, true)
		var jobs []openJob
		var want []error
		for i := 0; i < 2*containerMax+3; i++ {
			seq := uint64(i+1) | 1<<32
			p := append([]byte(nil), sealTest(o, make([]byte, 4096), make([]byte, 40+i*13), seq, protoIPv4)...)
			var w error
			switch i % 5 {
			case 1:
				p[len(p)-1] ^= 1
				w = errIntegrity
			case 3:
				if s.encr == childsa.EncrAESCBC {
					p = append(p[:len(p)-o.icv-1], p[len(p)-o.icv:]...) // ciphertext not whole blocks
					w = errCipher
				}
			}
			jobs = append(jobs, openJob{b: p, seq: seq})
			want = append(want, w)
		}
		in.suite.openBatch(jobs)
		for i, j := range jobs {
			if j.err != want[i] && !(want[i] == errCipher && j.err == errIntegrity) {
				t.Fatalf("%s job %d: err %v, want %v", s.name, i, j.err, want[i])
			}
			if j.err == nil {
				if _, nh, err := parseTrailer(j.pt); err != nil || nh != protoIPv4 {
					t.Fatalf("%s job %d: trailer %v", s.name, i, err)
				}
			}
		}
	}
}
