package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// Message is a decoded IKE message: the header and the plaintext payload
// chain. An SK or SKF payload, if any, is the last element of Payloads.
type Message struct {
	Header
	Payloads []Payload
	// Raw is the message as received (a private copy made by ParseMessage);
	// the parsed payloads alias it. The AUTH payload signs these bytes.
	Raw []byte
}

// MaxMessageLen bounds what ParseMessage accepts (the largest UDP payload).
const MaxMessageLen = 65535

// ParseMessage decodes a whole IKE message (the UDP payload, without the
// non-ESP marker on port 4500). The header Length must equal len(b), the
// major version must be 2 and the payload chain must end exactly at the end
// of the message. SK and SKF payloads are kept raw (see Encrypted).
//
// On an *UnsupportedCriticalError, and on errors after the header, the
// returned Message is non-nil and carries the header, so the state machine
// can address its error response.
func ParseMessage(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h}
	if h.MajorVersion != 2 {
		return m, fmt.Errorf("wire: IKE version %d.%d: %w: %w", h.MajorVersion, h.MinorVersion, ErrMajorVersion, ErrMalformed)
	}
	if int(h.Length) != len(b) {
		return m, malformed("header length %d, datagram %d bytes", h.Length, len(b))
	}
	if len(b) > MaxMessageLen {
		return m, malformed("message of %d bytes", len(b))
	}
	m.Raw = append([]byte(nil), b...)
	m.Payloads, err = parseChain(h.NextPayload, m.Raw, HeaderLen, true)
	if err != nil {
		return m, err
	}
	return m, nil
}

// ParsePayloads decodes a plaintext payload chain starting with type first,
// such as the decrypted contents of an SK payload. The payloads alias b.
// SK and SKF payloads are not allowed inside.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, error) {
	return parseChain(first, b, 0, false)
}

func parseChain(next PayloadType, b []byte, off int, outer bool) ([]Payload, error) {
	var ps []Payload
	for next != PayloadNone {
		if len(b)-off < PayloadHeaderLen {
			return nil, malformed("payload %v: truncated header at offset %d", next, off)
		}
		np, critical := PayloadType(b[off]), b[off+1]&0x80 != 0
		l := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		if l < PayloadHeaderLen || l > len(b)-off {
			return nil, malformed("payload %v: length %d at offset %d of %d", next, l, off, len(b))
		}
		body := b[off+PayloadHeaderLen : off+l]
		var p Payload
		var err error
		switch next {
		case PayloadSA:
			p, err = parseSA(body)
		case PayloadKE:
			p, err = parseKE(body)
		case PayloadIDi, PayloadIDr:
			p, err = parseID(next == PayloadIDi, body)
		case PayloadAUTH:
			p, err = parseAuth(body)
		case PayloadNonce:
			p = &Nonce{Data: body}
		case PayloadNotify:
			p, err = parseNotify(body)
		case PayloadDelete:
			p, err = parseDelete(body)
		case PayloadVendorID:
			p = &VendorID{Data: body}
		case PayloadTSi, PayloadTSr:
			p, err = parseTS(next == PayloadTSi, body)
		case PayloadSK, PayloadSKF:
			if !outer {
				return nil, malformed("%v payload inside an encrypted payload", next)
			}
			if off+l != len(b) {
				return nil, malformed("%v payload is not the last payload", next)
			}
			if next == PayloadSK {
				p = &Encrypted{NextPayload: np, Body: body, Offset: off}
			} else {
				var f *EncryptedFragment
				f, err = parseSKF(body)
				if f != nil {
					f.NextPayload, f.Offset = np, off
				}
				p = f
			}
			np = PayloadNone // the chain continues inside the ciphertext
		default:
			if critical && !next.Known() {
				return nil, &UnsupportedCriticalError{Type: next}
			}
			p = &Raw{PayloadType: next, Critical: critical, Body: body}
		}
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
		off += l
		next = np
	}
	if off != len(b) {
		return nil, malformed("%d bytes after the last payload", len(b)-off)
	}
	return ps, nil
}

// FirstType is the type of the first payload of ps, or PayloadNone.
func FirstType(ps []Payload) PayloadType {
	if len(ps) == 0 {
		return PayloadNone
	}
	return ps[0].Type()
}

// nextOf is the Next Payload field written in p's generic header.
func nextOf(ps []Payload, i int) PayloadType {
	switch p := ps[i].(type) {
	case *Encrypted:
		return p.NextPayload
	case *EncryptedFragment:
		return p.NextPayload
	}
	if i+1 < len(ps) {
		return ps[i+1].Type()
	}
	return PayloadNone
}

// PayloadsLen is the encoded length of ps with their generic headers.
func PayloadsLen(ps []Payload) int {
	n := 0
	for _, p := range ps {
		n += PayloadHeaderLen + p.BodyLen()
	}
	return n
}

// AppendPayloads appends the chain ps with generic headers; the type of
// the first one (for the header or the SK payload) is FirstType(ps). The
// critical bit is set only on Raw payloads that ask for it.
func AppendPayloads(b []byte, ps []Payload) []byte {
	for i, p := range ps {
		critical := false
		if r, ok := p.(*Raw); ok {
			critical = r.Critical
		}
		b = AppendPayloadHeader(b, nextOf(ps, i), critical, PayloadHeaderLen+p.BodyLen())
		b = p.AppendBody(b)
	}
	return b
}

// Len is the encoded length of m.
func (m *Message) Len() int { return HeaderLen + PayloadsLen(m.Payloads) }

// Append appends the encoded message. The header's NextPayload and Length
// are computed from Payloads; the other header fields are taken from m.
func (m *Message) Append(b []byte) []byte {
	h := m.Header
	h.NextPayload = FirstType(m.Payloads)
	h.Length = uint32(m.Len())
	if h.MajorVersion == 0 {
		h.MajorVersion = 2
	}
	b = h.Append(b)
	return AppendPayloads(b, m.Payloads)
}

// Encrypted returns the message's SK payload, or nil.
func (m *Message) Encrypted() *Encrypted {
	if len(m.Payloads) > 0 {
		if e, ok := m.Payloads[len(m.Payloads)-1].(*Encrypted); ok {
			return e
		}
	}
	return nil
}

// EncryptedFragment returns the message's SKF payload, or nil.
func (m *Message) EncryptedFragment() *EncryptedFragment {
	if len(m.Payloads) > 0 {
		if e, ok := m.Payloads[len(m.Payloads)-1].(*EncryptedFragment); ok {
			return e
		}
	}
	return nil
}

// Find returns the first payload of type T in ps, for example
// Find[*SA](ps) or Find[*Nonce](ps).
func Find[T Payload](ps []Payload) (T, bool) {
	for _, p := range ps {
		if t, ok := p.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// FindID returns the IDi (initiator true) or IDr payload of ps, or nil.
func FindID(ps []Payload, initiator bool) *ID {
	for _, p := range ps {
		if id, ok := p.(*ID); ok && id.Initiator == initiator {
			return id
		}
	}
	return nil
}

// FindTS returns the TSi (initiator true) or TSr payload of ps, or nil.
func FindTS(ps []Payload, initiator bool) *TS {
	for _, p := range ps {
		if ts, ok := p.(*TS); ok && ts.Initiator == initiator {
			return ts
		}
	}
	return nil
}

// FindNotify returns the first Notify of type t in ps, or nil.
func FindNotify(ps []Payload, t NotifyType) *Notify {
	for _, p := range ps {
		if n, ok := p.(*Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// Notifies returns all Notify payloads of ps, in order.
func Notifies(ps []Payload) []*Notify {
	var ns []*Notify
	for _, p := range ps {
		if n, ok := p.(*Notify); ok {
			ns = append(ns, n)
		}
	}
	return ns
}

// SelectorFromPrefix is the selector for all of prefix p, any protocol and
// any port (as route-based tunnels use: 0.0.0.0/0).
func SelectorFromPrefix(p netip.Prefix) TrafficSelector {
	p = p.Masked()
	ts := TrafficSelector{TSType: TSIPv4AddrRange, EndPort: 65535, Start: p.Addr(), End: lastAddr(p)}
	if p.Addr().Is6() {
		ts.TSType = TSIPv6AddrRange
	}
	return ts
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range a {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			a[i] |= 0xff >> bits
			bits = 0
		default:
			a[i] = 0xff
		}
	}
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

// Prefix returns the address range of ts as a prefix when it is exactly
// one (ports and protocol are not considered).
func (ts *TrafficSelector) Prefix() (netip.Prefix, bool) {
	if !ts.Start.IsValid() || !ts.End.IsValid() || ts.Start.BitLen() != ts.End.BitLen() {
		return netip.Prefix{}, false
	}
	for bits := 0; bits <= ts.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(ts.Start, bits)
		if p.Masked().Addr() == ts.Start && lastAddr(p) == ts.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// AnyPortProtocol reports whether ts covers every protocol and port.
func (ts *TrafficSelector) AnyPortProtocol() bool {
	return ts.IPProtocol == 0 && ts.StartPort == 0 && ts.EndPort == 65535
}

// Summary lists the payload types of ps for log lines, in the manner of
// strongSwan: "SA KE No N(NAT_DETECTION_SOURCE_IP) SK". It shows types
// and notify types only, never payload contents.
func Summary(ps []Payload) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch p := p.(type) {
		case *Notify:
			b.WriteString("N(" + p.NotifyType.String() + ")")
		case *Delete:
			fmt.Fprintf(&b, "D(%d)", p.Protocol)
		case *EncryptedFragment:
			fmt.Fprintf(&b, "SKF(%d/%d)", p.FragmentNumber, p.TotalFragments)
		default:
			b.WriteString(p.Type().String())
		}
	}
	return b.String()
}
