package ike

import "net/netip"

// IANA IKEv2 transform IDs used in ChildSA (RFC 7296 §3.3.2, RFC 4106, RFC 4868).
const (
	EncrAESCBC   uint16 = 12 // ENCR_AES_CBC
	EncrAESGCM16 uint16 = 20 // ENCR_AES_GCM_16

	IntegNone          uint16 = 0
	IntegHMACSHA1_96   uint16 = 2
	IntegHMACSHA256128 uint16 = 12
	IntegHMACSHA384192 uint16 = 13
	IntegHMACSHA512256 uint16 = 14
)

// ChildSA is one direction of an ESP Child SA as the data plane needs it.
// Keys are owned by the receiver after the call; never log them.
type ChildSA struct {
	Tunnel  string // IX tunnel interface, e.g. "Tunnel0.0"
	SPI     uint32
	Inbound bool

	EncrID      uint16 // EncrAESCBC or EncrAESGCM16
	EncrKeyBits int    // 128, 192 or 256
	IntegID     uint16 // IntegNone for AEAD
	EncrKey     []byte // for GCM: key followed by the 4-byte salt (RFC 4106)
	IntegKey    []byte
	ESN         bool

	// Local and Remote are the outer addresses. With UDPEncap the ports are
	// the UDP ports (normally 4500 both); otherwise ports are zero and ESP
	// goes as raw IP protocol 50.
	Local, Remote netip.AddrPort
	UDPEncap      bool

	// Traffic selectors as negotiated (route-based: 0.0.0.0/0 both ways).
	LocalTS, RemoteTS []netip.Prefix

	// Volume limits from child-lifetime KB; zero means none. The data plane
	// calls DataPlaneEvents.SoftExpired when SoftBytes or SoftPackets is
	// passed and stops using the SA at the hard limits.
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
}

// DataPlane is what ike needs from the ESP data plane. Make-before-break:
// ike installs the new inbound SA, then the outbound one, then calls
// SetOutbound, and deletes the old pair after a grace period.
type DataPlane interface {
	InstallSA(sa ChildSA) error
	// SetOutbound makes spi the SA that traffic routed into tunnel uses.
	SetOutbound(tunnel string, spi uint32) error
	DeleteSA(spi uint32, inbound bool) error
	// Counters reports the per-SA counters shown by "show ikev2 child-sa".
	Counters(spi uint32, inbound bool) (SACounters, bool)
}

// DataPlaneEvents is how the data plane tells ike that an SA needs a rekey.
type DataPlaneEvents interface {
	SoftExpired(spi uint32, inbound bool)
	HardExpired(spi uint32, inbound bool)
}

// SACounters are the per-SA statistics of "show ikev2 child-sa".
type SACounters struct {
	Packets, Octets uint64

	// Outbound errors.
	CipherFailure, OutOfMemory, TSUnacceptable, MiscError uint64

	// Inbound errors (with CipherFailure, OutOfMemory, TSUnacceptable, MiscError).
	InvalidSA, ReplayDetected, IntegrityFailure, PacketTruncated, InvalidPadding, UnknownProtocol uint64
}
