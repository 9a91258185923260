package crypto

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"testing"
	"time"

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

// RFC 5903 §8.1 and §8.2 (ECP groups 19 and 20), RFC 5114 A.7 (P-384) and
// RFC 7748 §6.1 (X25519).
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
		{"RFC 5903 8.2", wire.DHECP384,
			"099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
			"667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA" +
				"9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
			"41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
			"E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571" +
				"DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
			"11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"},
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

func TestReuseKeys(t *testing.T) {
	g, _ := GroupByID(wire.DHCurve25519)
	now := time.Unix(1000, 0)
	r := ReuseKeys(g, time.Minute, 3, func() time.Time { return now })
	if r.ID() != wire.DHCurve25519 || r.PublicLen() != 32 {
		t.Fatal("wrapper hides the group")
	}
	k1, _ := r.Generate(rand.Reader)
	k2, _ := r.Generate(rand.Reader)
	k3, _ := r.Generate(rand.Reader)
	k4, _ := r.Generate(rand.Reader) // fourth use: fresh key
	if k1 != k2 || k2 != k3 || k4 == k3 {
		t.Fatal("maxUses not honoured")
	}
	now = now.Add(61 * time.Second)
	if k5, _ := r.Generate(rand.Reader); k5 == k4 {
		t.Fatal("maxAge not honoured")
	}
}

func TestFixedBasePower(t *testing.T) {
	for _, id := range []uint16{wire.DHModp1024, wire.DHModp2048, wire.DHModp2048256, wire.DHModp3072} {
		m := modpGroups[id]
		for i := 0; i < 20; i++ {
			buf := make([]byte, m.expBits/8)
			rand.Read(buf)
			if i == 0 {
				clear(buf)
				buf[len(buf)-1] = 2
			}
			if i == 1 {
				for j := range buf {
					buf[j] = 0xff
				}
			}
			x := new(big.Int).SetBytes(buf)
			if got, want := m.powG(x), new(big.Int).Exp(m.g, x, m.p); got.Cmp(want) != 0 {
				t.Fatalf("group %d: fixed-base power differs for x=%x", id, buf)
			}
		}
	}
}

// Group 14 against OpenSSL 3 (openssl genpkey -pkeyopt group:modp_2048,
// pkeyutl -derive): public value and shared secret for a known exponent.
func TestMODPOpenSSLVector(t *testing.T) {
	m := modpGroups[wire.DHModp2048]
	x := new(big.Int).SetBytes(unhex(t, "8f164fddf3e9d8d69e483fdb5bab7aed539406c168ae6e161f421912"))
	k := &modpKey{g: m, x: x, pub: m.powG(x).FillBytes(make([]byte, m.size))}
	aPub := "d56dbd2d7830884c341417019b8523ed9fc6865d781d53fa75bcbe8f837abc3f959ad84166504993a459665ebc27c189464331af13186aaad6ffbb5c72151a1d8a71a631cfaee488c255bad9500029493acd339ff9464a2ebe5db1327b8b047b140ca0d23054098104a89a91b03383ce4ca7b755cf4ff24bd2d8712b00397fe39979597ff3094d7e50ba7865f03e784558dd7e4329e6640003b9e92e1ab95b676f8f2fd1ffa99138eab87734222d47675236d9de195b174801848683fe578f51dce2046501723ef4353c95829d04f789b3d947296d06d212b92b35b3fc8a825c9747875eabf49670ec3e421019c8f95ffac6c437e8c1509f837f3caa0ee9f2e9"
	bPub := "a0fa2d61a5b03018fff008d22a5fcb8867a2835b9765729507afbf756faea1b54cb4c169c2f4044b23c141b3ab0add2c03fb5f6c41569c64ada47bd0f1d68cd4809cfca645648c93b459fa967fb9305b24de25f2e64cf9634f04f50cbdaf53bd1c4360dce5af9b9301bc564e6e252737b616ad6bb30d22a0cab926e9cd9a8f0bb831760e8dc91d4d4cc4aa58430c4a5e62bfa6b5d4560292989e4fca0f25226a49adc1c02967c74e20f8248efe705d1d4e017c5b6b413d4b002996e32394cee2aae4b0cad57b130335ba28814329d77de808f31a11979e40bc28d31e7a48b1353af7ce4dcc062df5f4f0606f43bb3a45815e76c2ba315177558ae5f0030fcc1e"
	z := "127e76e12dd11267fab8f9ec5c9ca4cc5be54b9fd0808c9c50313358ab8cd947edd30cb82a676c1edbce210882c5663f5c08edcb4e25000e47ce4566eb705fe92037ab66e436bed367af542fe0f79ed67decb24ebf3991bf70dd0afca3215c0f8912c52131256bcaadf0af862bc233fe40e2627cdc733f65a1c928b46af47b2dc35098498f53aad7fc078b300f95ed3839e4f4e28b6d40e3c52e011af849405f31a6366f4cd3dcf61eb0632cc80c11045e4cb5cee46a311c285215c7619eb713886047b548d2f49361fca60d1e1ae632af701cad25088b929fcb439ba192d8bcac667701fced2d96590e795cffbc1afeccf5f0c1b344f224774c4b98ec50653b"
	if !bytes.Equal(k.Public(), unhex(t, aPub)) {
		t.Fatalf("public value differs from OpenSSL's")
	}
	got, err := k.SharedSecret(unhex(t, bPub))
	if err != nil || !bytes.Equal(got, unhex(t, z)) {
		t.Fatalf("shared secret differs from OpenSSL's (%v)", err)
	}
}
