package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error that means the bytes do
// not form a valid message: the state machine answers INVALID_SYNTAX (or
// drops the message, for an unauthenticated one).
var ErrMalformed = errors.New("malformed IKE message")

// UnsupportedCriticalError is returned when a payload of a type this
// package does not know has the critical bit set (RFC 7296 §2.5). The
// state machine rejects the message with UNSUPPORTED_CRITICAL_PAYLOAD,
// whose notification data is Type.
type UnsupportedCriticalError struct {
	Type PayloadType
}

func (e *UnsupportedCriticalError) Error() string {
	return fmt.Sprintf("wire: unsupported critical payload %d", uint8(e.Type))
}

// ErrMajorVersion is wrapped (together with ErrMalformed) when the IKE
// major version is not 2; a responder answers INVALID_MAJOR_VERSION.
var ErrMajorVersion = errors.New("unsupported IKE major version")

func malformed(format string, args ...any) error {
	return fmt.Errorf("wire: "+format+": %w", append(args, ErrMalformed)...)
}

// HeaderLen is the length of the IKE header (RFC 7296 §3.1).
const HeaderLen = 28

// PayloadHeaderLen is the length of the generic payload header (RFC 7296 §3.2).
const PayloadHeaderLen = 4

// Header is the fixed IKE header (RFC 7296 §3.1).
type Header struct {
	SPIi, SPIr                 uint64
	NextPayload                PayloadType
	MajorVersion, MinorVersion uint8
	Exchange                   ExchangeType
	Flags                      Flags
	MessageID                  uint32
	Length                     uint32 // whole message including the header
}

// IsInitiator reports whether the sender is the original initiator of the IKE SA.
func (h *Header) IsInitiator() bool { return h.Flags&FlagInitiator != 0 }

// IsResponse reports whether the message is a response.
func (h *Header) IsResponse() bool { return h.Flags&FlagResponse != 0 }

// ParseHeader decodes the IKE header at the start of b. It checks only that
// b is long enough; ParseMessage checks the rest.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, malformed("message of %d bytes shorter than the IKE header", len(b))
	}
	return Header{
		SPIi:         binary.BigEndian.Uint64(b[0:8]),
		SPIr:         binary.BigEndian.Uint64(b[8:16]),
		NextPayload:  PayloadType(b[16]),
		MajorVersion: b[17] >> 4,
		MinorVersion: b[17] & 0x0f,
		Exchange:     ExchangeType(b[18]),
		Flags:        Flags(b[19]),
		MessageID:    binary.BigEndian.Uint32(b[20:24]),
		Length:       binary.BigEndian.Uint32(b[24:28]),
	}, nil
}

// Append appends the header as it is, including NextPayload and Length.
func (h *Header) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, h.SPIi)
	b = binary.BigEndian.AppendUint64(b, h.SPIr)
	b = append(b, byte(h.NextPayload), h.MajorVersion<<4|h.MinorVersion&0x0f, byte(h.Exchange), byte(h.Flags))
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// AppendPayloadHeader appends a generic payload header; length includes
// the 4 header bytes.
func AppendPayloadHeader(b []byte, next PayloadType, critical bool, length int) []byte {
	var c byte
	if critical {
		c = 0x80
	}
	return append(b, byte(next), c, byte(length>>8), byte(length))
}
