// Package wire encodes and decodes IKEv2 messages (RFC 7296 §3) and the
// IKE fragmentation payload (RFC 7383).
//
// One Go type per payload, each with a parser, an AppendBody method and a
// BodyLen method, in the manner of crypto/tls's handshake messages. Decoders
// check every length against the bytes they have and against the lengths
// the enclosing structure declares; any inconsistency is an error wrapping
// ErrMalformed. The Encrypted (SK) and EncryptedFragment (SKF) payloads are
// kept as raw bytes together with their offset in the message, so that
// package ike/crypto can authenticate and decrypt them; their decrypted
// contents are parsed with ParsePayloads.
//
// Byte slices in parsed payloads alias the buffer they were parsed from:
// ParseMessage's private copy of the datagram (Message.Raw), or the buffer
// given to ParsePayloads. Copy what must outlive that buffer.
package wire

import "fmt"

// ExchangeType is the IKE header's exchange type (RFC 7296 §3.1).
type ExchangeType uint8

// Exchange types.
const (
	IKE_SA_INIT     ExchangeType = 34
	IKE_AUTH        ExchangeType = 35
	CREATE_CHILD_SA ExchangeType = 36
	INFORMATIONAL   ExchangeType = 37
)

func (e ExchangeType) String() string {
	switch e {
	case IKE_SA_INIT:
		return "IKE_SA_INIT"
	case IKE_AUTH:
		return "IKE_AUTH"
	case CREATE_CHILD_SA:
		return "CREATE_CHILD_SA"
	case INFORMATIONAL:
		return "INFORMATIONAL"
	}
	return fmt.Sprintf("EXCHANGE(%d)", uint8(e))
}

// Flags are the IKE header flags (RFC 7296 §3.1).
type Flags uint8

// Header flag bits.
const (
	FlagInitiator Flags = 0x08 // sent by the original initiator of the IKE SA
	FlagVersion   Flags = 0x10 // sender could speak a higher major version
	FlagResponse  Flags = 0x20 // message is a response
)

// PayloadType identifies a payload in the chain (RFC 7296 §3.2, RFC 7383).
type PayloadType uint8

// Payload types.
const (
	PayloadNone     PayloadType = 0
	PayloadSA       PayloadType = 33
	PayloadKE       PayloadType = 34
	PayloadIDi      PayloadType = 35
	PayloadIDr      PayloadType = 36
	PayloadCERT     PayloadType = 37
	PayloadCERTREQ  PayloadType = 38
	PayloadAUTH     PayloadType = 39
	PayloadNonce    PayloadType = 40
	PayloadNotify   PayloadType = 41
	PayloadDelete   PayloadType = 42
	PayloadVendorID PayloadType = 43
	PayloadTSi      PayloadType = 44
	PayloadTSr      PayloadType = 45
	PayloadSK       PayloadType = 46
	PayloadCP       PayloadType = 47
	PayloadEAP      PayloadType = 48
	PayloadSKF      PayloadType = 53
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi", PayloadIDr: "IDr",
	PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ", PayloadAUTH: "AUTH", PayloadNonce: "No",
	PayloadNotify: "N", PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi",
	PayloadTSr: "TSr", PayloadSK: "SK", PayloadCP: "CP", PayloadEAP: "EAP", PayloadSKF: "SKF",
}

func (p PayloadType) String() string {
	if s, ok := payloadNames[p]; ok {
		return s
	}
	return fmt.Sprintf("PAYLOAD(%d)", uint8(p))
}

// Known reports whether this package understands payload type p, i.e.
// whether its critical bit may be ignored (RFC 7296 §2.5).
func (p PayloadType) Known() bool {
	return (p >= PayloadSA && p <= PayloadEAP) || p == PayloadSKF
}

// ProtocolID names the protocol of a proposal, notify or delete (RFC 7296 §3.3.1).
type ProtocolID uint8

// Protocol IDs.
const (
	ProtocolNone ProtocolID = 0
	ProtocolIKE  ProtocolID = 1
	ProtocolAH   ProtocolID = 2
	ProtocolESP  ProtocolID = 3
)

// TransformType is the kind of a transform (RFC 7296 §3.3.2).
type TransformType uint8

// Transform types.
const (
	TransformENCR  TransformType = 1
	TransformPRF   TransformType = 2
	TransformINTEG TransformType = 3
	TransformDH    TransformType = 4 // Diffie-Hellman group (KE)
	TransformESN   TransformType = 5
)

func (t TransformType) String() string {
	switch t {
	case TransformENCR:
		return "ENCR"
	case TransformPRF:
		return "PRF"
	case TransformINTEG:
		return "INTEG"
	case TransformDH:
		return "DH"
	case TransformESN:
		return "ESN"
	}
	return fmt.Sprintf("TRANSFORM(%d)", uint8(t))
}

// Encryption transform IDs (IANA "Transform Type 1").
const (
	EncrDES              uint16 = 2
	Encr3DES             uint16 = 3
	EncrNULL             uint16 = 11
	EncrAESCBC           uint16 = 12
	EncrAESCTR           uint16 = 13
	EncrAESCCM8          uint16 = 14
	EncrAESCCM12         uint16 = 15
	EncrAESCCM16         uint16 = 16
	EncrAESGCM8          uint16 = 18
	EncrAESGCM12         uint16 = 19
	EncrAESGCM16         uint16 = 20
	EncrChaCha20Poly1305 uint16 = 28
)

// Pseudo-random function transform IDs (IANA "Transform Type 2").
const (
	PRFHMACMD5     uint16 = 1
	PRFHMACSHA1    uint16 = 2
	PRFAES128XCBC  uint16 = 4
	PRFHMACSHA2256 uint16 = 5
	PRFHMACSHA2384 uint16 = 6
	PRFHMACSHA2512 uint16 = 7
)

// Integrity transform IDs (IANA "Transform Type 3").
const (
	IntegNone          uint16 = 0
	IntegHMACMD596     uint16 = 1
	IntegHMACSHA196    uint16 = 2
	IntegAESXCBC96     uint16 = 5
	IntegHMACSHA256128 uint16 = 12
	IntegHMACSHA384192 uint16 = 13
	IntegHMACSHA512256 uint16 = 14
)

// Diffie-Hellman group transform IDs (IANA "Transform Type 4").
const (
	DHNone        uint16 = 0
	DHModp768     uint16 = 1
	DHModp1024    uint16 = 2
	DHModp1536    uint16 = 5
	DHModp2048    uint16 = 14
	DHModp3072    uint16 = 15
	DHModp4096    uint16 = 16
	DHModp6144    uint16 = 17
	DHModp8192    uint16 = 18
	DHECP256      uint16 = 19
	DHECP384      uint16 = 20
	DHECP521      uint16 = 21
	DHModp2048256 uint16 = 24 // 2048-bit MODP with 256-bit prime order subgroup (RFC 5114)
	DHCurve25519  uint16 = 31
	DHCurve448    uint16 = 32
)

// Extended sequence number transform IDs (IANA "Transform Type 5").
const (
	ESNNo  uint16 = 0
	ESNYes uint16 = 1
)

// AttrKeyLength is the transform attribute type of the key length in bits,
// always sent in TV format (RFC 7296 §3.3.5).
const AttrKeyLength uint16 = 14

// IDType is the identification type of an IDi/IDr payload (RFC 7296 §3.5).
type IDType uint8

// Identification types.
const (
	IDIPv4Addr   IDType = 1
	IDFQDN       IDType = 2
	IDRFC822Addr IDType = 3
	IDIPv6Addr   IDType = 5
	IDDERASN1DN  IDType = 9
	IDDERASN1GN  IDType = 10
	IDKeyID      IDType = 11
)

// AuthMethod is the method of an AUTH payload (RFC 7296 §3.8, RFC 7427).
type AuthMethod uint8

// Authentication methods.
const (
	AuthRSASig        AuthMethod = 1
	AuthSharedKey     AuthMethod = 2 // Shared Key Message Integrity Code (PSK)
	AuthDSSSig        AuthMethod = 3
	AuthECDSA256      AuthMethod = 9
	AuthECDSA384      AuthMethod = 10
	AuthECDSA521      AuthMethod = 11
	AuthDigitalSignat AuthMethod = 14
)

// TSType is the traffic selector type (RFC 7296 §3.13.1).
type TSType uint8

// Traffic selector types.
const (
	TSIPv4AddrRange TSType = 7
	TSIPv6AddrRange TSType = 8
)

// NotifyType is the Notify Message Type (RFC 7296 §3.10.1). Values below
// 16384 are errors, values from 16384 are status notifications.
type NotifyType uint16

// Error notify types.
const (
	UNSUPPORTED_CRITICAL_PAYLOAD NotifyType = 1
	INVALID_IKE_SPI              NotifyType = 4
	INVALID_MAJOR_VERSION        NotifyType = 5
	INVALID_SYNTAX               NotifyType = 7
	INVALID_MESSAGE_ID           NotifyType = 9
	INVALID_SPI                  NotifyType = 11
	NO_PROPOSAL_CHOSEN           NotifyType = 14
	INVALID_KE_PAYLOAD           NotifyType = 17
	AUTHENTICATION_FAILED        NotifyType = 24
	SINGLE_PAIR_REQUIRED         NotifyType = 34
	NO_ADDITIONAL_SAS            NotifyType = 35
	INTERNAL_ADDRESS_FAILURE     NotifyType = 36
	FAILED_CP_REQUIRED           NotifyType = 37
	TS_UNACCEPTABLE              NotifyType = 38
	INVALID_SELECTORS            NotifyType = 39
	TEMPORARY_FAILURE            NotifyType = 43
	CHILD_SA_NOT_FOUND           NotifyType = 44
)

// Status notify types.
const (
	INITIAL_CONTACT               NotifyType = 16384
	SET_WINDOW_SIZE               NotifyType = 16385
	ADDITIONAL_TS_POSSIBLE        NotifyType = 16386
	IPCOMP_SUPPORTED              NotifyType = 16387
	NAT_DETECTION_SOURCE_IP       NotifyType = 16388
	NAT_DETECTION_DESTINATION_IP  NotifyType = 16389
	COOKIE                        NotifyType = 16390
	USE_TRANSPORT_MODE            NotifyType = 16391
	HTTP_CERT_LOOKUP_SUPPORTED    NotifyType = 16392
	REKEY_SA                      NotifyType = 16393
	ESP_TFC_PADDING_NOT_SUPPORTED NotifyType = 16394
	NON_FIRST_FRAGMENTS_ALSO      NotifyType = 16395
	MOBIKE_SUPPORTED              NotifyType = 16396
	ADDITIONAL_IP4_ADDRESS        NotifyType = 16397
	ADDITIONAL_IP6_ADDRESS        NotifyType = 16398
	NO_ADDITIONAL_ADDRESSES       NotifyType = 16399
	UPDATE_SA_ADDRESSES           NotifyType = 16400
	COOKIE2                       NotifyType = 16401
	NO_NATS_ALLOWED               NotifyType = 16402
	AUTH_LIFETIME                 NotifyType = 16403
	MULTIPLE_AUTH_SUPPORTED       NotifyType = 16404
	ANOTHER_AUTH_FOLLOWS          NotifyType = 16405
	REDIRECT_SUPPORTED            NotifyType = 16406
	REDIRECT                      NotifyType = 16407
	REDIRECTED_FROM               NotifyType = 16408
	EAP_ONLY_AUTHENTICATION       NotifyType = 16417
	CHILDLESS_IKEV2_SUPPORTED     NotifyType = 16418
	IKEV2_FRAGMENTATION_SUPPORTED NotifyType = 16430
	SIGNATURE_HASH_ALGORITHMS     NotifyType = 16431
)

var notifyNames = map[NotifyType]string{
	UNSUPPORTED_CRITICAL_PAYLOAD: "UNSUPPORTED_CRITICAL_PAYLOAD", INVALID_IKE_SPI: "INVALID_IKE_SPI",
	INVALID_MAJOR_VERSION: "INVALID_MAJOR_VERSION", INVALID_SYNTAX: "INVALID_SYNTAX",
	INVALID_MESSAGE_ID: "INVALID_MESSAGE_ID", INVALID_SPI: "INVALID_SPI",
	NO_PROPOSAL_CHOSEN: "NO_PROPOSAL_CHOSEN", INVALID_KE_PAYLOAD: "INVALID_KE_PAYLOAD",
	AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED", SINGLE_PAIR_REQUIRED: "SINGLE_PAIR_REQUIRED",
	NO_ADDITIONAL_SAS: "NO_ADDITIONAL_SAS", INTERNAL_ADDRESS_FAILURE: "INTERNAL_ADDRESS_FAILURE",
	FAILED_CP_REQUIRED: "FAILED_CP_REQUIRED", TS_UNACCEPTABLE: "TS_UNACCEPTABLE",
	INVALID_SELECTORS: "INVALID_SELECTORS", TEMPORARY_FAILURE: "TEMPORARY_FAILURE",
	CHILD_SA_NOT_FOUND: "CHILD_SA_NOT_FOUND",
	INITIAL_CONTACT:    "INITIAL_CONTACT", SET_WINDOW_SIZE: "SET_WINDOW_SIZE",
	ADDITIONAL_TS_POSSIBLE: "ADDITIONAL_TS_POSSIBLE", IPCOMP_SUPPORTED: "IPCOMP_SUPPORTED",
	NAT_DETECTION_SOURCE_IP: "NAT_DETECTION_SOURCE_IP", NAT_DETECTION_DESTINATION_IP: "NAT_DETECTION_DESTINATION_IP",
	COOKIE: "COOKIE", USE_TRANSPORT_MODE: "USE_TRANSPORT_MODE",
	HTTP_CERT_LOOKUP_SUPPORTED: "HTTP_CERT_LOOKUP_SUPPORTED", REKEY_SA: "REKEY_SA",
	ESP_TFC_PADDING_NOT_SUPPORTED: "ESP_TFC_PADDING_NOT_SUPPORTED", NON_FIRST_FRAGMENTS_ALSO: "NON_FIRST_FRAGMENTS_ALSO",
	MOBIKE_SUPPORTED: "MOBIKE_SUPPORTED", ADDITIONAL_IP4_ADDRESS: "ADDITIONAL_IP4_ADDRESS",
	ADDITIONAL_IP6_ADDRESS: "ADDITIONAL_IP6_ADDRESS", NO_ADDITIONAL_ADDRESSES: "NO_ADDITIONAL_ADDRESSES",
	UPDATE_SA_ADDRESSES: "UPDATE_SA_ADDRESSES", COOKIE2: "COOKIE2", NO_NATS_ALLOWED: "NO_NATS_ALLOWED",
	AUTH_LIFETIME: "AUTH_LIFETIME", MULTIPLE_AUTH_SUPPORTED: "MULTIPLE_AUTH_SUPPORTED",
	ANOTHER_AUTH_FOLLOWS: "ANOTHER_AUTH_FOLLOWS", REDIRECT_SUPPORTED: "REDIRECT_SUPPORTED",
	REDIRECT: "REDIRECT", REDIRECTED_FROM: "REDIRECTED_FROM", EAP_ONLY_AUTHENTICATION: "EAP_ONLY_AUTHENTICATION",
	CHILDLESS_IKEV2_SUPPORTED: "CHILDLESS_IKEV2_SUPPORTED", IKEV2_FRAGMENTATION_SUPPORTED: "IKEV2_FRAGMENTATION_SUPPORTED",
	SIGNATURE_HASH_ALGORITHMS: "SIGNATURE_HASH_ALGORITHMS",
}

func (n NotifyType) String() string {
	if s, ok := notifyNames[n]; ok {
		return s
	}
	return fmt.Sprintf("NOTIFY(%d)", uint16(n))
}

// IsError reports whether n is an error notification (types below 16384).
func (n NotifyType) IsError() bool { return n < 16384 }
