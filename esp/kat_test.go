package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGCMKnownAnswer opens ESP packets from draft-mcgrew-gcm-test-01
// (the test vectors for RFC 4106): case 1 uses a 64-bit extended sequence
// number in the AAD, case 3 AES-256 with a 32-bit one.
func TestGCMKnownAnswer(t *testing.T) {
	cases := []struct {
		name            string
		key, salt       string
		spi             uint32
		seq             uint64
		esn             bool
		iv, ct, tag, pt string
	}{
		{
			name: "case 1, AES-128, ESN", key: "4c80cdefbb5d10da906ac73c3613a634", salt: "2e443b68",
			spi: 0x4321, seq: 0x8765432100000000, esn: true, iv: "4956ed7e3b244cfe",
			pt: "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000" +
				"00000000045f736970045f756470037369700963796265726369747902646b00" +
				"0021000101020201",
			ct: "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34" +
				"cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce" +
				"61bc17d768fd9732",
			tag: "459018148f6cbe722fd04796562dfdb4",
		},
		{
			name: "case 3, AES-256", key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
			salt: "11223344", spi: 0x4a2cbfe3, seq: 2, iv: "0102030405060708",
			pt: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000" +
				"7002400020bf0000020405b40101040201020201",
			ct: "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763" +
				"748a637985771d347f0545659f14e99def842d8eb335f4eecfdbf831824b4c49",
			tag: "15956c96",
		},
	}
	for _, c := range cases {
		key := append(unhex(c.key), unhex(c.salt)...)
		s, err := newSuite(childsa.EncrAESGCM16, len(unhex(c.key))*8, childsa.IntegNone, key, nil, c.esn)
		if err != nil {
			t.Fatal(err)
		}
		pkt := make([]byte, 8)
		binary.BigEndian.PutUint32(pkt, c.spi)
		binary.BigEndian.PutUint32(pkt[4:], uint32(c.seq))
		pkt = append(pkt, unhex(c.iv)...)
		pkt = append(pkt, unhex(c.ct)...)
		pkt = append(pkt, unhex(c.tag)...)
		pt, err := s.open(pkt, c.seq)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(pt, unhex(c.pt)) {
			t.Fatalf("%s: plaintext %x", c.name, pt)
		}
		// The draft's payloads end in pad 1 2, pad length 2, next header 1.
		if _, nh, err := parseTrailer(pt); err != nil || nh != 1 {
			t.Fatalf("%s: trailer: nh %d err %v", c.name, nh, err)
		}
	}
}

// TestCBCHMACConstruction rebuilds a sealed CBC packet with the standard
// library alone: ICV = HMAC-SHA-256 over header, IV and ciphertext (and
// the ESN high bits, RFC 4303 appendix A) truncated to 128 bits (RFC 4868),
// payload = AES-CBC decryption with the packet's IV (RFC 3602).
func TestCBCHMACConstruction(t *testing.T) {
	for _, esn := range []bool{false, true} {
		cfg, _ := testSAPair(t, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, esn)
		encKey := append([]byte(nil), cfg.EncrKey...)
		a, err := newSA(&cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		inner := ipv4UDP("192.168.2.1", "172.16.1.4", 77, 5)
		seq := uint64(9)<<32 | 42
		p := sealTest(a, make([]byte, bufSize), inner, seq, protoIPv4)

		n := len(p) - 16
		m := hmac.New(sha256.New, cfg.IntegKey)
		m.Write(p[:n])
		if esn {
			m.Write([]byte{0, 0, 0, 9})
		}
		if !bytes.Equal(m.Sum(nil)[:16], p[n:]) {
			t.Fatalf("esn=%v: ICV is not HMAC-SHA-256-128 of the packet", esn)
		}
		if binary.BigEndian.Uint32(p[4:]) != 42 || binary.BigEndian.Uint32(p) != cfg.SPI {
			t.Fatal("header")
		}
		block, _ := aes.NewCipher(encKey)
		ct := append([]byte(nil), p[24:n]...)
		cipher.NewCBCDecrypter(block, p[8:24]).CryptBlocks(ct, ct)
		got, nh, err := parseTrailer(ct)
		if err != nil || nh != protoIPv4 || !bytes.Equal(got, inner) {
			t.Fatalf("esn=%v: CBC payload wrong (nh %d, err %v)", esn, nh, err)
		}
	}
}
