package ike

import (
	"net/netip"
	"time"
)

// Config is what the IKE engine runs: one TunnelConfig per tunnel
// interface, in configuration order, and the pre-shared keys it may
// authenticate with. ike reads nothing else; internal/ixike builds it from
// the IX configuration.
type Config struct {
	Tunnels []TunnelConfig
	PSKs    []PSK
	// Default is the policy for an IKE_SA_INIT request no tunnel claims
	// (a responder checks the offer before it knows the peer's identity),
	// and it sizes the pool of pregenerated DH keys.
	Default Policy
}

// Direction limits who may start a tunnel's IKE SA ("ikev2
// negotiation-direction").
type Direction uint8

// The negotiation directions.
const (
	BothDirections Direction = iota // either side may start it
	InitiatorOnly                   // only we start it; the peer's are refused
	ResponderOnly                   // only the peer starts it; we never initiate
)

// TunnelConfig is one tunnel interface with IKEv2.
type TunnelConfig struct {
	Name string // "Tunnel0.0"

	Peer    netip.Addr // the peer's address; invalid with PeerAny
	PeerAny bool       // any peer that authenticates with a known PSK
	PeerID  ID         // the identity the peer must send; zero: its address
	// LocalID is the identity we send ("local-authentication id"); zero:
	// our address. Our AUTH is made with the key configured for it, if
	// one is, else with the peer's (see ownPSK).
	LocalID ID

	ConnectAuto bool // initiate at start and after losing the SA
	Direction   Direction

	// Source is the local address IKE and ESP leave from; invalid: the
	// kernel's source address for the route to the peer.
	Source netip.Addr

	NATKeepalive      time.Duration // NAT-T keepalive interval; 0: the default
	NATKeepaliveForce bool          // send keepalives even without a NAT

	Policy Policy
}

// ID is a configured IKE identity (RFC 7296 §3.5): exactly one of its
// fields is set, or none for "no identity configured".
type ID struct {
	Addr  netip.Addr // ID_IPV4_ADDR or ID_IPV6_ADDR
	FQDN  string     // ID_FQDN
	KeyID string     // ID_KEY_ID
}

// IsZero reports whether no identity is configured.
func (id ID) IsZero() bool { return id == ID{} }

// wire is the identity as IKE sends and compares it.
func (id ID) wire() identity {
	switch {
	case id.Addr.IsValid():
		return addrIdentity(id.Addr)
	case id.FQDN != "":
		return identity{Type: idFQDN, Data: []byte(id.FQDN)}
	}
	return identity{Type: idKeyID, Data: []byte(id.KeyID)}
}

// PSK is a pre-shared key for the peer that authenticates as ID; a key
// whose ID is the peer's address also matches that peer.
type PSK struct {
	ID  ID
	Key []byte // the secret; never log it
}
