package ike

import (
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// IANA transform type values (RFC 7296 §3.3.2).
const (
	transformENCR  = 1
	transformPRF   = 2
	transformINTEG = 3
	transformDH    = 4
	transformESN   = 5
)

// IANA transform IDs not already declared in dataplane.go.
const (
	encr3DES uint16 = 3

	prfHMACSHA1   uint16 = 2
	prfHMACSHA256 uint16 = 5
	prfHMACSHA384 uint16 = 6
	prfHMACSHA512 uint16 = 7
)

// Algorithm is one negotiable algorithm: an IKEv2 transform ID (with its
// key length for variable-length ciphers) and the name IX prints for it.
type Algorithm struct {
	ID      uint16
	KeyBits int    // ENCR only; 0 for fixed-length ciphers
	Name    string // as "show ikev2 sa" prints it, e.g. "AES-CBC-256"
}

// aead reports whether an ENCR algorithm carries its own integrity.
func (a Algorithm) aead() bool { return a.ID == wire.EncrAESGCM16 }

var encByName = map[string]Algorithm{
	"aes-cbc-128": {wire.EncrAESCBC, 128, "AES-CBC-128"},
	"aes-cbc-192": {wire.EncrAESCBC, 192, "AES-CBC-192"},
	"aes-cbc-256": {wire.EncrAESCBC, 256, "AES-CBC-256"},
	"aes-gcm-128": {wire.EncrAESGCM16, 128, "AES-GCM-128"},
	"aes-gcm-256": {wire.EncrAESGCM16, 256, "AES-GCM-256"},
	"3des":        {encr3DES, 0, "3DES-CBC"},
	// The spellings IX itself uses for the same ciphers.
	"aes-gcm-128-16": {wire.EncrAESGCM16, 128, "AES-GCM-128"},
	"aes-gcm-256-16": {wire.EncrAESGCM16, 256, "AES-GCM-256"},
	"3des-cbc":       {encr3DES, 0, "3DES-CBC"},
}

var integByName = map[string]Algorithm{
	"sha1":     {wire.IntegHMACSHA196, 0, "HMAC-SHA1-96"},
	"sha2-256": {wire.IntegHMACSHA256128, 0, "HMAC-SHA2-256-128"},
	"sha2-384": {wire.IntegHMACSHA384192, 0, "HMAC-SHA2-384-192"},
	"sha2-512": {wire.IntegHMACSHA512256, 0, "HMAC-SHA2-512-256"},
}

var prfByName = map[string]Algorithm{
	"sha1":     {prfHMACSHA1, 0, "PRF-HMAC-SHA1"},
	"sha2-256": {prfHMACSHA256, 0, "PRF-HMAC-SHA2-256"},
	"sha2-384": {prfHMACSHA384, 0, "PRF-HMAC-SHA2-384"},
	"sha2-512": {prfHMACSHA512, 0, "PRF-HMAC-SHA2-512"},
}

var dhByName = map[string]Algorithm{
	"1024-bit":     {2, 0, "1024-bit"},
	"1536-bit":     {5, 0, "1536-bit"},
	"2048-bit":     {14, 0, "2048-bit"},
	"3072-bit":     {15, 0, "3072-bit"},
	"2048-bit-256": {24, 0, "2048-bit-256"},
	"256-bit-ecp":  {19, 0, "256-bit-ecp"},
	"384-bit-ecp":  {20, 0, "384-bit-ecp"},
	"curve25519":   {31, 0, "curve25519"},
}

// Policy is the negotiable part of an IKEv2 profile: algorithm lists in
// order of preference and lifetimes. It is what soft-ix offers as
// initiator (exactly these, in this order) and accepts as responder (any
// combination of these the peer offers anywhere in its list, picking by
// this order).
type Policy struct {
	IKEEnc, IKEInteg, IKEPRF, IKEDH []Algorithm
	ChildEnc, ChildInteg            []Algorithm
	ChildPFS                        []Algorithm // empty: no PFS
	// ChildPFSAnswer are DH groups accepted, in order, when a peer's
	// Child SA proposal asks for PFS and ChildPFS is empty: never offered
	// (Azure offers no PFS but answers a peer's PFS with groups 2, 14
	// and 24).
	ChildPFSAnswer []Algorithm
	ESN            bool // offer/accept extended sequence numbers

	// IKEOffer and ChildOffer, when set, replace the cross product of the
	// lists above as what is offered: one proposal per suite, in order
	// (Azure offers fixed pairs). Selection as responder still uses the
	// lists above.
	IKEOffer   []IKESuite
	ChildOffer []ChildSuite

	IKELifetime     time.Duration
	ChildLifetime   time.Duration
	ChildLifetimeKB uint64
	DPDInterval     time.Duration // 0: no liveness checks
}

// The algorithm tables by name: the names soft-ix's configuration uses,
// which are IX's keywords ("aes-cbc-256", "sha2-256", "2048-bit", ...).
// A configuration layer (internal/ixike) turns names into a Policy with
// them.

// EncAlgorithm returns the encryption algorithm named name.
func EncAlgorithm(name string) (Algorithm, bool) { a, ok := encByName[name]; return a, ok }

// IntegAlgorithm returns the integrity algorithm named name.
func IntegAlgorithm(name string) (Algorithm, bool) { a, ok := integByName[name]; return a, ok }

// PRFAlgorithm returns the pseudo-random function named name.
func PRFAlgorithm(name string) (Algorithm, bool) { a, ok := prfByName[name]; return a, ok }

// DHAlgorithm returns the Diffie-Hellman group named name.
func DHAlgorithm(name string) (Algorithm, bool) { a, ok := dhByName[name]; return a, ok }

// AzurePolicy is Azure VPN Gateway's documented default IKEv2 policy
// (route-based gateway, no custom IPsec policy), in Azure's order of
// offer: IKE AES256/SHA1, AES256/SHA256, AES128/SHA1, AES128/SHA256,
// 3DES/SHA1, 3DES/SHA256 with DH group 2; ESP GCM-AES256, AES256/SHA1,
// 3DES/SHA1, AES256/SHA256, AES128/SHA1, 3DES/SHA256 without PFS (a
// peer's PFS with groups 2, 14 or 24 accepted, never offered); IKE SA
// 28800 s, Child SA 27000 s / 102400000 KB, DPD 45 s. The lab's Azure
// emulation runs a soft-ix with it; AzureOffer gives the exact proposal
// lists Azure sends.
func AzurePolicy() Policy {
	e := func(n string) Algorithm { return encByName[n] }
	i := func(n string) Algorithm { return integByName[n] }
	aes256, aes128, des3 := e("aes-cbc-256"), e("aes-cbc-128"), e("3des")
	sha1, sha256 := i("sha1"), i("sha2-256")
	p1, p256 := prfByName["sha1"], prfByName["sha2-256"]
	return Policy{
		IKEOffer: []IKESuite{
			{Enc: aes256, Integ: sha1, PRF: p1}, {Enc: aes256, Integ: sha256, PRF: p256},
			{Enc: aes128, Integ: sha1, PRF: p1}, {Enc: aes128, Integ: sha256, PRF: p256},
			{Enc: des3, Integ: sha1, PRF: p1}, {Enc: des3, Integ: sha256, PRF: p256},
		},
		ChildOffer: []ChildSuite{
			{Enc: e("aes-gcm-256")}, {Enc: aes256, Integ: sha1}, {Enc: des3, Integ: sha1},
			{Enc: aes256, Integ: sha256}, {Enc: aes128, Integ: sha1}, {Enc: des3, Integ: sha256},
		},
		IKEEnc:          []Algorithm{e("aes-cbc-256"), e("aes-cbc-128"), e("3des")},
		IKEInteg:        []Algorithm{i("sha1"), i("sha2-256")},
		IKEPRF:          []Algorithm{prfByName["sha1"], prfByName["sha2-256"]},
		IKEDH:           []Algorithm{dhByName["1024-bit"]},
		ChildEnc:        []Algorithm{e("aes-gcm-256"), e("aes-cbc-256"), e("3des"), e("aes-cbc-128")},
		ChildInteg:      []Algorithm{i("sha1"), i("sha2-256")},
		ChildPFSAnswer:  []Algorithm{dhByName["1024-bit"], dhByName["2048-bit"], dhByName["2048-bit-256"]},
		IKELifetime:     28800 * time.Second,
		ChildLifetime:   27000 * time.Second,
		ChildLifetimeKB: 102400000,
		DPDInterval:     45 * time.Second,
	}
}

// IKESuite is a negotiated IKE SA algorithm set.
type IKESuite struct {
	Enc, Integ, PRF, DH Algorithm // Integ.ID == 0 for AEAD
}

// ChildSuite is a negotiated Child SA algorithm set.
type ChildSuite struct {
	Enc, Integ Algorithm
	DH         Algorithm // ID 0: no PFS
	ESN        bool
}
