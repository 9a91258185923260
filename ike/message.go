package ike

import (
	"net/netip"
)

// This file is the state machine's view of an IKEv2 message: the decoded
// payloads it acts on, independent of the byte layout. codec.go converts
// to and from package ike/wire.

// Exchange types (RFC 7296 §3.1).
const (
	exIKESAInit     = 34
	exIKEAuth       = 35
	exCreateChildSA = 36
	exInformational = 37
)

// Protocol IDs (RFC 7296 §3.3.1).
const (
	protoIKE = 1
	protoESP = 3
)

// Notify types used by the state machine (RFC 7296 §3.10.1, RFC 7383).
const (
	nUnsupportedCritical  = 1
	nInvalidIKESPI        = 4
	nInvalidSyntax        = 7
	nInvalidMessageID     = 9
	nNoProposalChosen     = 14
	nInvalidKEPayload     = 17
	nAuthenticationFailed = 24
	nNoAdditionalSAs      = 35
	nTSUnacceptable       = 38
	nTemporaryFailure     = 43
	nChildSANotFound      = 44

	nInitialContact      = 16384
	nNATDetectionSource  = 16388
	nNATDetectionDest    = 16389
	nCookie              = 16390
	nUseTransportMode    = 16391
	nRekeySA             = 16393
	nFragmentationSupp   = 16430
	nESPTFCPaddingNotSup = 16394
)

// ID types (RFC 7296 §3.5).
const (
	idIPv4  = 1
	idFQDN  = 2
	idIPv6  = 5
	idKeyID = 11
)

const authSharedKey = 2 // Shared Key Message Integrity Code

// transform is one transform of a proposal.
type transform struct {
	Type    int
	ID      uint16
	KeyBits int // key length attribute; 0 when absent
}

// proposal is one proposal of an SA payload.
type proposal struct {
	Num        int
	Protocol   int
	SPI        []byte // 8 bytes for IKE rekeys, 4 for ESP, empty in IKE_SA_INIT
	Transforms []transform
}

// notify is a Notify payload.
type notify struct {
	Protocol int
	SPI      []byte
	Type     int
	Data     []byte
}

// identity is an IDi/IDr payload.
type identity struct {
	Type int
	Data []byte
	// raw is the payload body exactly as received (type, three RESERVED
	// bytes, data); nil for identities we build. The peer's AUTH signs
	// these bytes, RESERVED included, whatever it put there.
	raw []byte
}

// body is the ID payload body the AUTH computation signs (RFC 7296 §2.15):
// as received, or type, three zero reserved bytes and data for our own.
func (id identity) body() []byte {
	if id.raw != nil {
		return id.raw
	}
	b := make([]byte, 4+len(id.Data))
	b[0] = byte(id.Type)
	copy(b[4:], id.Data)
	return b
}

// selector is one IPv4 or IPv6 address-range traffic selector.
type selector struct {
	IPProto          int
	StartPort        uint16
	EndPort          uint16
	StartAddr, EndAd netip.Addr
}

// deletion is a Delete payload.
type deletion struct {
	Protocol int
	SPIs     [][]byte // empty for IKE
}

// message is a decoded IKEv2 message; encrypted payloads appear decrypted.
type message struct {
	SPIi, SPIr uint64
	Exchange   int
	Response   bool
	Initiator  bool // I flag: sent by the original initiator
	MsgID      uint32

	SA       []proposal
	KEGroup  uint16
	KE       []byte
	Nonce    []byte
	Notifies []notify
	IDi, IDr *identity
	AuthM    int
	Auth     []byte
	TSi, TSr []selector
	Deletes  []deletion
	// VendorIDs are the Vendor ID payloads' contents (RFC 7296 §3.12).
	VendorIDs [][]byte
	HasSK     bool // had an SK/SKF payload (set by the decoder)

	// wireHash is the SHA-256 of the datagram that carried a received
	// request (of its first fragment when fragmented), kept with our
	// answer so only a byte-identical retransmission gets it again.
	wireHash [32]byte
}

// notify returns the first notify of type t, or nil.
func (m *message) notify(t int) *notify {
	for i := range m.Notifies {
		if m.Notifies[i].Type == t {
			return &m.Notifies[i]
		}
	}
	return nil
}

// errorNotify returns the first error notify (type < 16384), or nil.
func (m *message) errorNotify() *notify {
	for i := range m.Notifies {
		if m.Notifies[i].Type < 16384 {
			return &m.Notifies[i]
		}
	}
	return nil
}

// hasVendorID reports whether m carries a Vendor ID payload equal to id.
func (m *message) hasVendorID(id []byte) bool {
	for _, v := range m.VendorIDs {
		if string(v) == string(id) {
			return true
		}
	}
	return false
}

func (m *message) addNotify(t int, data []byte) {
	m.Notifies = append(m.Notifies, notify{Type: t, Data: data})
}

// exchangeName is for log lines.
func exchangeName(ex int) string {
	switch ex {
	case exIKESAInit:
		return "IKE_SA_INIT"
	case exIKEAuth:
		return "IKE_AUTH"
	case exCreateChildSA:
		return "CREATE_CHILD_SA"
	case exInformational:
		return "INFORMATIONAL"
	}
	return "EXCHANGE?"
}

// notifyName is for log lines and errors.
func notifyName(t int) string {
	switch t {
	case nInvalidIKESPI:
		return "INVALID_IKE_SPI"
	case nInvalidSyntax:
		return "INVALID_SYNTAX"
	case nNoProposalChosen:
		return "NO_PROPOSAL_CHOSEN"
	case nInvalidKEPayload:
		return "INVALID_KE_PAYLOAD"
	case nAuthenticationFailed:
		return "AUTHENTICATION_FAILED"
	case nTSUnacceptable:
		return "TS_UNACCEPTABLE"
	case nTemporaryFailure:
		return "TEMPORARY_FAILURE"
	case nChildSANotFound:
		return "CHILD_SA_NOT_FOUND"
	case nNoAdditionalSAs:
		return "NO_ADDITIONAL_SAS"
	}
	return "NOTIFY-" + itoa(t)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
