package crypto

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// Group is a Diffie-Hellman group as negotiated by transform type 4.
type Group interface {
	// ID is the transform ID (wire.DHxxx).
	ID() uint16
	// PublicLen is the length of the KE payload's key exchange data.
	PublicLen() int
	// Generate makes an ephemeral key pair from rand.
	Generate(rand io.Reader) (PrivateKey, error)
}

// PrivateKey is one side's ephemeral Diffie-Hellman key.
type PrivateKey interface {
	// Public is the key exchange data for the KE payload (PublicLen bytes).
	Public() []byte
	// SharedSecret validates the peer's key exchange data and returns
	// g^ir as a fixed-length string (left-padded for MODP groups, the
	// x coordinate for ECP groups, RFC 5903 §7).
	SharedSecret(peerPublic []byte) ([]byte, error)
}

// ErrInvalidPublic is returned for a peer public value that is the wrong
// length or not a valid group element; the state machine treats it like a
// failed exchange (INVALID_SYNTAX / NO_PROPOSAL_CHOSEN as it sees fit).
var ErrInvalidPublic = errors.New("ike/crypto: invalid Diffie-Hellman public value")

// GroupByID returns the group with transform ID id.
func GroupByID(id uint16) (Group, error) {
	switch id {
	case wire.DHModp1024, wire.DHModp1536, wire.DHModp2048, wire.DHModp3072, wire.DHModp2048256:
		return modpGroups[id], nil
	case wire.DHECP256:
		return &ecGroup{id: id, curve: ecdh.P256(), plen: 64}, nil
	case wire.DHECP384:
		return &ecGroup{id: id, curve: ecdh.P384(), plen: 96}, nil
	case wire.DHCurve25519:
		return &ecGroup{id: id, curve: ecdh.X25519(), plen: 32}, nil
	}
	return nil, fmt.Errorf("ike/crypto: unsupported DH group %d", id)
}

// SupportedGroups lists the groups GroupByID knows, in no particular order
// of preference.
var SupportedGroups = []uint16{wire.DHModp1024, wire.DHModp1536, wire.DHModp2048, wire.DHModp3072,
	wire.DHModp2048256, wire.DHECP256, wire.DHECP384, wire.DHCurve25519}

// ---- MODP groups (RFC 2409 §6.2, RFC 3526, RFC 5114 §2.3) ----

type modpGroup struct {
	id      uint16
	p, g, q *big.Int // q is the subgroup order (RFC 5114) or nil for safe primes
	pm1     *big.Int // p - 1
	size    int      // length of p in bytes
	expBits int      // private exponent length

	// Fixed-base table for the public value g^x, built on first use:
	// powers[i][d-1] = g^(d * 16^i) mod p, so that g^x is one modular
	// multiplication per 4-bit digit of x and no squarings.
	once   sync.Once
	powers [][]*big.Int
}

const fixedBaseBits = 4

func (m *modpGroup) buildPowers() {
	rows := (m.expBits + fixedBaseBits - 1) / fixedBaseBits
	m.powers = make([][]*big.Int, rows)
	base := new(big.Int).Set(m.g) // g^(16^i)
	for i := range m.powers {
		row := make([]*big.Int, 1<<fixedBaseBits-1)
		row[0] = new(big.Int).Set(base)
		for d := 1; d < len(row); d++ {
			row[d] = new(big.Int).Mul(row[d-1], base)
			row[d].Mod(row[d], m.p)
		}
		m.powers[i] = row
		base = new(big.Int).Mul(row[len(row)-1], base) // g^(16 * 16^i)
		base.Mod(base, m.p)
	}
}

// powG returns g^x mod p for 0 < x < 2^expBits using the fixed-base table.
// Like math/big's Exp it is not constant-time; the digit lookups depend on
// the secret exponent.
func (m *modpGroup) powG(x *big.Int) *big.Int {
	m.once.Do(m.buildPowers)
	digits := x.FillBytes(make([]byte, len(m.powers)*fixedBaseBits/8+1))
	// QuoRem with its own quotient, where Mod would allocate one per
	// digit: a hub's burst of setups is paced by its garbage.
	r, t, q := big.NewInt(1), new(big.Int), new(big.Int)
	for i := range m.powers {
		b := digits[len(digits)-1-i/2]
		d := b & 0x0f
		if i%2 == 1 {
			d = b >> 4
		}
		if d == 0 {
			continue
		}
		t.Mul(r, m.powers[i][d-1])
		q.QuoRem(t, m.p, r)
	}
	return r
}

func mustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("ike/crypto: bad constant")
	}
	return n
}

func newModp(id uint16, p, g, q string, expBits int) *modpGroup {
	m := &modpGroup{id: id, p: mustHex(p), g: mustHex(g), expBits: expBits}
	if q != "" {
		m.q = mustHex(q)
	}
	m.pm1 = new(big.Int).Sub(m.p, big.NewInt(1))
	m.size = (m.p.BitLen() + 7) / 8
	return m
}

// The RFC 3526 primes share a prefix; they are written out in full so that
// each can be compared with its RFC by eye.
const (
	prime1024 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"
	prime1536 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"
	prime2048 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"
	prime3072 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"

	// RFC 5114 §2.3: 2048-bit MODP group with 256-bit prime order subgroup.
	prime2048s256 = "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8EF6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"
	gen2048s256   = "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0ADB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C32F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659"
	order2048s256 = "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"
)

// Private exponents are twice the group's security strength in bits (NIST
// SP 800-57 strengths: 80, ~96, 112 and 128 bits; RFC 3526 §8 and RFC 7296
// §2.12 allow such short exponents with safe primes), 256 bits for the
// RFC 5114 group whose subgroup order q has 256 bits. Short exponents keep
// modular exponentiation, the main cost of an IKE setup, low.
var modpGroups = map[uint16]*modpGroup{
	wire.DHModp1024:    newModp(wire.DHModp1024, prime1024, "2", "", 160),
	wire.DHModp1536:    newModp(wire.DHModp1536, prime1536, "2", "", 192),
	wire.DHModp2048:    newModp(wire.DHModp2048, prime2048, "2", "", 224),
	wire.DHModp3072:    newModp(wire.DHModp3072, prime3072, "2", "", 256),
	wire.DHModp2048256: newModp(wire.DHModp2048256, prime2048s256, gen2048s256, order2048s256, 256),
}

func (m *modpGroup) ID() uint16     { return m.id }
func (m *modpGroup) PublicLen() int { return m.size }

type modpKey struct {
	g   *modpGroup
	x   *big.Int
	pub []byte
}

func (m *modpGroup) Generate(rand io.Reader) (PrivateKey, error) {
	buf := make([]byte, m.expBits/8)
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("ike/crypto: DH key generation: %w", err)
		}
		x := new(big.Int).SetBytes(buf)
		if m.q != nil {
			x.Mod(x, m.q)
		}
		if x.Cmp(big.NewInt(1)) <= 0 {
			continue
		}
		y := m.powG(x)
		return &modpKey{g: m, x: x, pub: y.FillBytes(make([]byte, m.size))}, nil
	}
}

func (k *modpKey) Public() []byte { return k.pub }

func (k *modpKey) SharedSecret(peer []byte) ([]byte, error) {
	m := k.g
	if len(peer) != m.size {
		return nil, ErrInvalidPublic
	}
	y := new(big.Int).SetBytes(peer)
	// 1 < y < p-1 rejects the small-subgroup values 0, 1 and p-1.
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(m.pm1) >= 0 {
		return nil, ErrInvalidPublic
	}
	// Without a safe prime, y must lie in the order-q subgroup (RFC 6989).
	if m.q != nil && new(big.Int).Exp(y, m.q, m.p).Cmp(big.NewInt(1)) != 0 {
		return nil, ErrInvalidPublic
	}
	z := new(big.Int).Exp(y, k.x, m.p)
	return z.FillBytes(make([]byte, m.size)), nil
}

// ---- ECP (RFC 5903) and Curve25519 (RFC 8031) ----

type ecGroup struct {
	id    uint16
	curve ecdh.Curve
	plen  int
}

func (e *ecGroup) ID() uint16     { return e.id }
func (e *ecGroup) PublicLen() int { return e.plen }

type ecKey struct {
	g    *ecGroup
	priv *ecdh.PrivateKey
}

func (e *ecGroup) Generate(rand io.Reader) (PrivateKey, error) {
	priv, err := e.curve.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("ike/crypto: DH key generation: %w", err)
	}
	return &ecKey{g: e, priv: priv}, nil
}

// Public strips the 0x04 uncompressed-point prefix: IKEv2 sends X | Y.
func (k *ecKey) Public() []byte {
	b := k.priv.PublicKey().Bytes()
	if k.g.id != wire.DHCurve25519 {
		b = b[1:]
	}
	return b
}

func (k *ecKey) SharedSecret(peer []byte) ([]byte, error) {
	if len(peer) != k.g.plen {
		return nil, ErrInvalidPublic
	}
	enc := peer
	if k.g.id != wire.DHCurve25519 {
		enc = append([]byte{4}, peer...)
	}
	pub, err := k.g.curve.NewPublicKey(enc) // checks the point is on the curve
	if err != nil {
		return nil, ErrInvalidPublic
	}
	z, err := k.priv.ECDH(pub) // rejects an all-zero X25519 result
	if err != nil {
		return nil, ErrInvalidPublic
	}
	return z, nil
}
