// Package childsa holds what ike negotiates and esp carries out: one
// direction of an ESP Child SA (transforms, keys, outer addresses, traffic
// selectors, volume limits), its per-SA counters, the events by which the
// data plane asks for a rekey, and the transform IDs as typed constants.
//
// It is a leaf: ike, esp and the daemon import it and it imports nothing of
// theirs, so a Child SA is declared once instead of once per package.
package childsa

import (
	"fmt"
	"net/netip"
)

// EncrID is an IKEv2 encryption transform ID (RFC 7296 §3.3.2, RFC 4106).
type EncrID uint16

// The encryption transforms a Child SA can use.
const (
	EncrAESCBC   EncrID = 12 // ENCR_AES_CBC
	EncrAESGCM16 EncrID = 20 // ENCR_AES_GCM_16
)

// IsAEAD reports whether e authenticates by itself (no integrity transform).
func (e EncrID) IsAEAD() bool { return e == EncrAESGCM16 }

func (e EncrID) String() string {
	switch e {
	case EncrAESCBC:
		return "ENCR_AES_CBC"
	case EncrAESGCM16:
		return "ENCR_AES_GCM_16"
	}
	return fmt.Sprintf("ENCR(%d)", uint16(e))
}

// IntegID is an IKEv2 integrity transform ID (RFC 7296 §3.3.2, RFC 4868).
type IntegID uint16

// The integrity transforms a Child SA can use; IntegNone with an AEAD.
const (
	IntegNone          IntegID = 0
	IntegHMACSHA1_96   IntegID = 2
	IntegHMACSHA256128 IntegID = 12
	IntegHMACSHA384192 IntegID = 13
	IntegHMACSHA512256 IntegID = 14
)

// KeyLen is the key length in bytes of integrity transform i (RFC 4868:
// the hash's output size), 0 for IntegNone or an unknown ID.
func (i IntegID) KeyLen() int {
	switch i {
	case IntegHMACSHA1_96:
		return 20
	case IntegHMACSHA256128:
		return 32
	case IntegHMACSHA384192:
		return 48
	case IntegHMACSHA512256:
		return 64
	}
	return 0
}

func (i IntegID) String() string {
	switch i {
	case IntegNone:
		return "NONE"
	case IntegHMACSHA1_96:
		return "AUTH_HMAC_SHA1_96"
	case IntegHMACSHA256128:
		return "AUTH_HMAC_SHA2_256_128"
	case IntegHMACSHA384192:
		return "AUTH_HMAC_SHA2_384_192"
	case IntegHMACSHA512256:
		return "AUTH_HMAC_SHA2_512_256"
	}
	return fmt.Sprintf("AUTH(%d)", uint16(i))
}

// SA is one direction of an ESP Child SA as the data plane needs it. The
// data plane owns the key slices once it has the SA; never log them.
type SA struct {
	Tunnel  string // IX tunnel interface, e.g. "Tunnel0.0"
	SPI     uint32
	Inbound bool

	EncrID      EncrID
	EncrKeyBits int     // 128, 192 or 256
	IntegID     IntegID // IntegNone for AEAD
	EncrKey     []byte  // for GCM: key followed by the 4-byte salt (RFC 4106)
	IntegKey    []byte
	ESN         bool

	// Local and Remote are the outer addresses. With UDPEncap the ports are
	// the UDP ports (normally 4500 both); otherwise ESP goes as raw IP
	// protocol 50 and the ports are ignored.
	Local, Remote netip.AddrPort
	UDPEncap      bool

	// Traffic selectors as negotiated (route-based: 0.0.0.0/0 both ways).
	// An empty list accepts everything.
	LocalTS, RemoteTS []netip.Prefix

	// Volume limits from the child lifetime in KB; zero means none.
	// Events.SoftExpired fires once when a soft limit is passed; at a hard
	// limit the SA stops carrying traffic and Events.HardExpired fires.
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
}

// Counters are the per-SA statistics "show ikev2 child-sa" prints.
type Counters struct {
	Packets, Octets uint64

	// Outbound errors.
	CipherFailure, OutOfMemory, TSUnacceptable, MiscError uint64

	// Inbound errors (with CipherFailure, OutOfMemory, TSUnacceptable,
	// MiscError). InvalidSA counts ESP from this SA's peer that no SA
	// takes (an SPI not installed, e.g. one we deleted, or this SA after
	// its hard limit); the data plane keeps it on the peer's newest
	// inbound SA.
	InvalidSA, ReplayDetected, IntegrityFailure, PacketTruncated, InvalidPadding, UnknownProtocol uint64
}

// Events is how the data plane tells its owner (ike) that an SA needs a
// rekey. The data plane calls them from their own goroutine, never on the
// packet path.
type Events interface {
	SoftExpired(spi uint32, inbound bool)
	HardExpired(spi uint32, inbound bool)
	// PeerMoved reports that inbound SA spi, carried in UDP, received an
	// authenticated packet from another address or port than its peer's
	// (from): the NAT in front of the peer changed its mapping. It is
	// reported again, at most once a second, while that lasts.
	PeerMoved(spi uint32, from netip.AddrPort)
}
