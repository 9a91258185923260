package crypto

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/soft-ix/soft-ix/ike/wire"
)

func ecKeyFromScalar(t *testing.T, id uint16, scalar []byte) *ecKey {
	t.Helper()
	g, err := GroupByID(id)
	if err != nil {
		t.Fatal(err)
	}
	eg := g.(*ecGroup)
	priv, err := eg.curve.NewPrivateKey(scalar)
	if err != nil {
		t.Fatal(err)
	}
	return &ecKey{g: eg, priv: priv}
}

// RFC 5903 §8.1 and §8.2 (ECP groups 19 and 20) and RFC 7748 §6.1 (X25519).
func TestECDHVectors(t *testing.T) {
	cases := []struct {
		name  string
		id    uint16
		i, gi string
		r, gr string
		gir   string
	}{
		{"RFC 5903 8.1", wire.DHECP256,
			"C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
			"DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180 5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
			"C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
			"D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63 56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
			"D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE"},
		{"RFC 5114 A.7", wire.DHECP384,
			"D27335EA 71664AF2 44DD14E9 FD126071 5DFD8A79 65571C48 D709EE7A 7962A156 D706A90C BCB5DF29 86F05FEA DB9376F1",
			"793148F1 787634D5 DA4C6D90 74417D05 E057AB62 F82054D1 0EE6B040 3D627954 7E6A8EA9 D1FD7742 7D016FE2 7A8B8C66 C6C41294 331D23E6 F480F4FB 4CD40504 C947392E 94F4C3F0 6B8F398B B29E4236 8F7A6859 23DE3B67 BACED214 A1A1D128",
			"52D1791F DB4B70F8 9C0F00D4 56C2F702 3B612526 2C36A7DF 1F802311 21CCE3D3 9BE52E00 C194A413 2C4A6C76 8BCD94D2",
			"5CD42AB9 C41B5347 F74B8D4E FB708B3D 5B36DB65 915359B4 4ABC1764 7B6B9999 789D72A8 4865AE2F 223F12B5 A1ABC120 E171458F EAA939AA A3A8BFAC 46B404BD 8F6D5B34 8C0FA4D8 0CECA163 56CA9332 40BDE872 3415A8EC E035B0ED F36755DE",
			"5EA1FC4A F7256D20 55981B11 0575E0A8 CAE53160 137D904C 59D926EB 1B8456E4 27AA8A45 40884C37 DE159A58 028ABC0E"},
		{"RFC 7748 6.1", wire.DHCurve25519,
			"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
			"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
			"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
			"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
			"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
	}
	for _, c := range cases {
		ki := ecKeyFromScalar(t, c.id, unhex(t, c.i))
		kr := ecKeyFromScalar(t, c.id, unhex(t, c.r))
		if got := ki.Public(); !bytes.Equal(got, unhex(t, c.gi)) {
			t.Errorf("%s: g^i = %x", c.name, got)
		}
		if got := kr.Public(); !bytes.Equal(got, unhex(t, c.gr)) {
			t.Errorf("%s: g^r = %x", c.name, got)
		}
		zi, err := ki.SharedSecret(unhex(t, c.gr))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		zr, err := kr.SharedSecret(unhex(t, c.gi))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(zi, unhex(t, c.gir)) || !bytes.Equal(zr, zi) {
			t.Errorf("%s: g^ir = %x / %x", c.name, zi, zr)
		}
	}
}

func TestGroupsAgree(t *testing.T) {
	for _, id := range SupportedGroups {
		g, err := GroupByID(id)
		if err != nil {
			t.Fatal(err)
		}
		a, err := g.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := g.Generate(rand.Reader)
		if len(a.Public()) != g.PublicLen() || len(b.Public()) != g.PublicLen() {
			t.Fatalf("group %d: public length %d, want %d", id, len(a.Public()), g.PublicLen())
		}
		za, err := a.SharedSecret(b.Public())
		if err != nil {
			t.Fatalf("group %d: %v", id, err)
		}
		zb, err := b.SharedSecret(a.Public())
		if err != nil || !bytes.Equal(za, zb) {
			t.Fatalf("group %d: secrets differ (%v)", id, err)
		}
		// Bad public values: wrong length, zero, one, p-1 (MODP), off-curve.
		bad := [][]byte{nil, make([]byte, g.PublicLen()-1), append(a.Public(), 0)}
		if m, ok := g.(*modpGroup); ok {
			one := make([]byte, m.size)
			one[m.size-1] = 1
			bad = append(bad, make([]byte, m.size), one, m.pm1.FillBytes(make([]byte, m.size)), m.p.FillBytes(make([]byte, m.size)))
		} else if id != wire.DHCurve25519 {
			off := append([]byte(nil), b.Public()...)
			off[len(off)-1] ^= 1
			bad = append(bad, off, make([]byte, g.PublicLen()))
		} else {
			bad = append(bad, make([]byte, 32)) // low-order point: all-zero result
		}
		for i, p := range bad {
			if _, err := a.SharedSecret(p); err == nil {
				t.Errorf("group %d: bad public %d accepted", id, i)
			}
		}
	}
	if _, err := GroupByID(99); err == nil {
		t.Error("group 99 accepted")
	}
}

// The shared secret keeps its leading zeros: find a pair whose g^ir has a
// leading zero byte (about 1 in 256 tries) and check its length.
func TestMODPSecretFixedLength(t *testing.T) {
	g, _ := GroupByID(wire.DHModp1024)
	a, _ := g.Generate(rand.Reader)
	for i := 0; i < 2000; i++ {
		b, _ := g.Generate(rand.Reader)
		z, err := a.SharedSecret(b.Public())
		if err != nil {
			t.Fatal(err)
		}
		if len(z) != 128 {
			t.Fatalf("secret of %d bytes", len(z))
		}
		if z[0] == 0 {
			return
		}
	}
	t.Log("no leading zero seen; length still checked")
}

func benchDH(b *testing.B, id uint16) {
	g, _ := GroupByID(id)
	peer, _ := g.Generate(rand.Reader)
	pub := peer.Public()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k, err := g.Generate(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.SharedSecret(pub); err != nil {
			b.Fatal(err)
		}
	}
}

// Each iteration is one side's DH work in a setup: generate + shared secret.
func BenchmarkDHModp1024(b *testing.B)   { benchDH(b, wire.DHModp1024) }
func BenchmarkDHModp2048(b *testing.B)   { benchDH(b, wire.DHModp2048) }
func BenchmarkDHECP256(b *testing.B)     { benchDH(b, wire.DHECP256) }
func BenchmarkDHCurve25519(b *testing.B) { benchDH(b, wire.DHCurve25519) }
