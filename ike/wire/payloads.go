package wire

import (
	"encoding/binary"
	"net/netip"
)

// Payload is one payload of an IKE message. AppendBody appends the payload
// body without the generic payload header; BodyLen is its length.
type Payload interface {
	Type() PayloadType
	BodyLen() int
	AppendBody(b []byte) []byte
}

// ---- SA (RFC 7296 §3.3) ----

// SA is the Security Association payload: a list of proposals.
type SA struct {
	Proposals []Proposal
}

// Proposal is one proposal substructure. Number starts at 1 and is echoed
// by the responder for the proposal it picks.
type Proposal struct {
	Number     uint8
	Protocol   ProtocolID
	SPI        []byte // empty in IKE_SA_INIT, 8 bytes for an IKE rekey, 4 for ESP
	Transforms []Transform
}

// Transform is one transform substructure.
type Transform struct {
	Type      TransformType
	ID        uint16
	KeyLength uint16 // key length attribute in bits; 0 when absent
	// OtherAttrs holds any attributes besides the key length, raw. A
	// transform with attributes it does not understand must not be chosen.
	OtherAttrs []byte
}

// Type implements Payload.
func (*SA) Type() PayloadType { return PayloadSA }

// BodyLen implements Payload.
func (p *SA) BodyLen() int {
	n := 0
	for i := range p.Proposals {
		n += p.Proposals[i].len()
	}
	return n
}

func (t *Transform) len() int {
	n := 8 + len(t.OtherAttrs)
	if t.KeyLength != 0 {
		n += 4
	}
	return n
}

func (pr *Proposal) len() int {
	n := 8 + len(pr.SPI)
	for i := range pr.Transforms {
		n += pr.Transforms[i].len()
	}
	return n
}

// AppendBody implements Payload.
func (p *SA) AppendBody(b []byte) []byte {
	for i := range p.Proposals {
		pr := &p.Proposals[i]
		last := byte(2)
		if i == len(p.Proposals)-1 {
			last = 0
		}
		b = append(b, last, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(pr.len()))
		b = append(b, pr.Number, byte(pr.Protocol), byte(len(pr.SPI)), byte(len(pr.Transforms)))
		b = append(b, pr.SPI...)
		for j := range pr.Transforms {
			t := &pr.Transforms[j]
			last := byte(3)
			if j == len(pr.Transforms)-1 {
				last = 0
			}
			b = append(b, last, 0)
			b = binary.BigEndian.AppendUint16(b, uint16(t.len()))
			b = append(b, byte(t.Type), 0)
			b = binary.BigEndian.AppendUint16(b, t.ID)
			if t.KeyLength != 0 {
				b = binary.BigEndian.AppendUint16(b, 0x8000|AttrKeyLength)
				b = binary.BigEndian.AppendUint16(b, t.KeyLength)
			}
			b = append(b, t.OtherAttrs...)
		}
	}
	return b
}

func parseSA(body []byte) (*SA, error) {
	p := &SA{}
	for len(body) > 0 {
		if len(body) < 8 {
			return nil, malformed("SA: truncated proposal")
		}
		last, plen := body[0], int(binary.BigEndian.Uint16(body[2:4]))
		if plen < 8 || plen > len(body) {
			return nil, malformed("SA: proposal length %d of %d bytes", plen, len(body))
		}
		if (last == 0) != (plen == len(body)) || (last != 0 && last != 2) {
			return nil, malformed("SA: bad last-substructure %d", last)
		}
		pb := body[8:plen]
		pr := Proposal{Number: body[4], Protocol: ProtocolID(body[5])}
		spiSize, nt := int(body[6]), int(body[7])
		if spiSize > len(pb) {
			return nil, malformed("SA: SPI size %d too long", spiSize)
		}
		if spiSize > 0 {
			pr.SPI = pb[:spiSize]
		}
		pb = pb[spiSize:]
		if nt > 0 {
			pr.Transforms = make([]Transform, 0, nt)
		}
		for len(pb) > 0 {
			if len(pb) < 8 {
				return nil, malformed("SA: truncated transform")
			}
			tlast, tlen := pb[0], int(binary.BigEndian.Uint16(pb[2:4]))
			if tlen < 8 || tlen > len(pb) {
				return nil, malformed("SA: transform length %d of %d bytes", tlen, len(pb))
			}
			if (tlast == 0) != (tlen == len(pb)) || (tlast != 0 && tlast != 3) {
				return nil, malformed("SA: bad transform last-substructure %d", tlast)
			}
			t := Transform{Type: TransformType(pb[4]), ID: binary.BigEndian.Uint16(pb[6:8])}
			if err := parseAttrs(&t, pb[8:tlen]); err != nil {
				return nil, err
			}
			pr.Transforms = append(pr.Transforms, t)
			pb = pb[tlen:]
		}
		if len(pr.Transforms) != nt {
			return nil, malformed("SA: proposal announces %d transforms, has %d", nt, len(pr.Transforms))
		}
		p.Proposals = append(p.Proposals, pr)
		body = body[plen:]
	}
	if len(p.Proposals) == 0 {
		return nil, malformed("SA: no proposals")
	}
	return p, nil
}

func parseAttrs(t *Transform, b []byte) error {
	var other []byte
	for len(b) > 0 {
		if len(b) < 4 {
			return malformed("SA: truncated transform attribute")
		}
		at := binary.BigEndian.Uint16(b[0:2])
		n := 4
		if at&0x8000 == 0 {
			n += int(binary.BigEndian.Uint16(b[2:4]))
			if n > len(b) {
				return malformed("SA: attribute length %d of %d bytes", n, len(b))
			}
		}
		switch {
		case at == 0x8000|AttrKeyLength:
			v := binary.BigEndian.Uint16(b[2:4])
			if t.KeyLength != 0 || v == 0 {
				return malformed("SA: duplicate or zero key length attribute")
			}
			t.KeyLength = v
		case at&0x7fff == AttrKeyLength:
			return malformed("SA: key length attribute in TLV format")
		default:
			other = append(other, b[:n]...)
		}
		b = b[n:]
	}
	t.OtherAttrs = other
	return nil
}

// ---- KE (RFC 7296 §3.4) ----

// KE is the Key Exchange payload.
type KE struct {
	Group uint16 // Diffie-Hellman group number (DHxxx constants)
	Data  []byte // public value, fixed length for the group
}

// Type implements Payload.
func (*KE) Type() PayloadType { return PayloadKE }

// BodyLen implements Payload.
func (p *KE) BodyLen() int { return 4 + len(p.Data) }

// AppendBody implements Payload.
func (p *KE) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, p.Group)
	return append(append(b, 0, 0), p.Data...)
}

func parseKE(body []byte) (*KE, error) {
	if len(body) < 4 {
		return nil, malformed("KE: %d bytes", len(body))
	}
	return &KE{Group: binary.BigEndian.Uint16(body[0:2]), Data: body[4:]}, nil
}

// ---- IDi / IDr (RFC 7296 §3.5) ----

// ID is the Identification payload, IDi when Initiator is set, else IDr.
// AppendBody gives the IDx' octets that the AUTH computation signs.
type ID struct {
	Initiator bool
	IDType    IDType
	// Reserved is kept as received because the peer's AUTH signs the ID
	// body including these bytes; senders leave it zero.
	Reserved [3]byte
	Data     []byte
}

// Type implements Payload.
func (p *ID) Type() PayloadType {
	if p.Initiator {
		return PayloadIDi
	}
	return PayloadIDr
}

// BodyLen implements Payload.
func (p *ID) BodyLen() int { return 4 + len(p.Data) }

// AppendBody implements Payload.
func (p *ID) AppendBody(b []byte) []byte {
	return append(append(b, byte(p.IDType), p.Reserved[0], p.Reserved[1], p.Reserved[2]), p.Data...)
}

func parseID(initiator bool, body []byte) (*ID, error) {
	if len(body) < 4 {
		return nil, malformed("ID: %d bytes", len(body))
	}
	return &ID{Initiator: initiator, IDType: IDType(body[0]), Reserved: [3]byte(body[1:4]), Data: body[4:]}, nil
}

// ---- AUTH (RFC 7296 §3.8) ----

// Auth is the Authentication payload.
type Auth struct {
	Method AuthMethod
	Data   []byte
}

// Type implements Payload.
func (*Auth) Type() PayloadType { return PayloadAUTH }

// BodyLen implements Payload.
func (p *Auth) BodyLen() int { return 4 + len(p.Data) }

// AppendBody implements Payload.
func (p *Auth) AppendBody(b []byte) []byte {
	return append(append(b, byte(p.Method), 0, 0, 0), p.Data...)
}

func parseAuth(body []byte) (*Auth, error) {
	if len(body) < 4 {
		return nil, malformed("AUTH: %d bytes", len(body))
	}
	return &Auth{Method: AuthMethod(body[0]), Data: body[4:]}, nil
}

// ---- Nonce (RFC 7296 §3.9) ----

// Nonce is the Nonce payload. RFC 7296 wants 16 to 256 bytes; the state
// machine enforces that, the codec accepts any length.
type Nonce struct {
	Data []byte
}

// Type implements Payload.
func (*Nonce) Type() PayloadType { return PayloadNonce }

// BodyLen implements Payload.
func (p *Nonce) BodyLen() int { return len(p.Data) }

// AppendBody implements Payload.
func (p *Nonce) AppendBody(b []byte) []byte { return append(b, p.Data...) }

// ---- Notify (RFC 7296 §3.10) ----

// Notify is the Notify payload.
type Notify struct {
	Protocol   ProtocolID // 0 (or IKE) for IKE SA notifications
	SPI        []byte
	NotifyType NotifyType
	Data       []byte
}

// Type implements Payload.
func (*Notify) Type() PayloadType { return PayloadNotify }

// BodyLen implements Payload.
func (p *Notify) BodyLen() int { return 4 + len(p.SPI) + len(p.Data) }

// AppendBody implements Payload.
func (p *Notify) AppendBody(b []byte) []byte {
	b = append(b, byte(p.Protocol), byte(len(p.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(p.NotifyType))
	return append(append(b, p.SPI...), p.Data...)
}

func parseNotify(body []byte) (*Notify, error) {
	if len(body) < 4 {
		return nil, malformed("N: %d bytes", len(body))
	}
	spiSize := int(body[1])
	if 4+spiSize > len(body) {
		return nil, malformed("N: SPI size %d of %d bytes", spiSize, len(body))
	}
	p := &Notify{Protocol: ProtocolID(body[0]), NotifyType: NotifyType(binary.BigEndian.Uint16(body[2:4]))}
	if spiSize > 0 {
		p.SPI = body[4 : 4+spiSize]
	}
	if len(body) > 4+spiSize {
		p.Data = body[4+spiSize:]
	}
	return p, nil
}

// ---- Delete (RFC 7296 §3.11) ----

// Delete is the Delete payload. For the IKE SA, SPISize is 0 and SPIs empty;
// for ESP, SPISize is 4.
type Delete struct {
	Protocol ProtocolID
	SPISize  uint8
	SPIs     [][]byte // each SPISize bytes
}

// Type implements Payload.
func (*Delete) Type() PayloadType { return PayloadDelete }

// BodyLen implements Payload.
func (p *Delete) BodyLen() int { return 4 + len(p.SPIs)*int(p.SPISize) }

// AppendBody implements Payload. SPIs of the wrong size are padded or cut
// to SPISize, and none are written when SPISize is 0, so that the length
// fields stay consistent.
func (p *Delete) AppendBody(b []byte) []byte {
	b = append(b, byte(p.Protocol), p.SPISize)
	if p.SPISize == 0 {
		return append(b, 0, 0) // IKE SA: no SPIs whatever SPIs holds
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.SPIs)))
	for _, s := range p.SPIs {
		var spi [255]byte
		copy(spi[:p.SPISize], s)
		b = append(b, spi[:p.SPISize]...)
	}
	return b
}

func parseDelete(body []byte) (*Delete, error) {
	if len(body) < 4 {
		return nil, malformed("D: %d bytes", len(body))
	}
	p := &Delete{Protocol: ProtocolID(body[0]), SPISize: body[1]}
	n := int(binary.BigEndian.Uint16(body[2:4]))
	rest := body[4:]
	if n*int(p.SPISize) != len(rest) || (p.SPISize == 0 && n != 0) {
		return nil, malformed("D: %d SPIs of %d bytes in %d bytes", n, p.SPISize, len(rest))
	}
	// RFC 7296 §3.11: the SPI size is zero for IKE and four for AH and
	// ESP. Anything else is malformed, and would let a short message
	// expand into a slice per byte.
	want := byte(4) // AH, ESP
	if p.Protocol == 1 {
		want = 0 // IKE
	}
	if p.Protocol < 1 || p.Protocol > 3 || p.SPISize != want {
		return nil, malformed("D: protocol %d with %d-byte SPIs", p.Protocol, p.SPISize)
	}
	for i := 0; i < n; i++ {
		p.SPIs = append(p.SPIs, rest[i*int(p.SPISize):(i+1)*int(p.SPISize)])
	}
	return p, nil
}

// ---- Vendor ID (RFC 7296 §3.12) ----

// VendorID is the Vendor ID payload.
type VendorID struct {
	Data []byte
}

// Type implements Payload.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

// BodyLen implements Payload.
func (p *VendorID) BodyLen() int { return len(p.Data) }

// AppendBody implements Payload.
func (p *VendorID) AppendBody(b []byte) []byte { return append(b, p.Data...) }

// ---- TSi / TSr (RFC 7296 §3.13) ----

// TS is the Traffic Selector payload, TSi when Initiator is set, else TSr.
type TS struct {
	Initiator bool
	Selectors []TrafficSelector
}

// TrafficSelector is one selector: an address range, an IP protocol (0 =
// any) and a port range (0-65535 = any).
type TrafficSelector struct {
	TSType     TSType
	IPProtocol uint8
	StartPort  uint16
	EndPort    uint16
	Start, End netip.Addr
	// Raw holds the selector bytes after the length field for TS types
	// other than IPv4/IPv6 address ranges; Start and End are then invalid.
	Raw []byte
}

// Type implements Payload.
func (p *TS) Type() PayloadType {
	if p.Initiator {
		return PayloadTSi
	}
	return PayloadTSr
}

func (ts *TrafficSelector) len() int {
	switch ts.TSType {
	case TSIPv4AddrRange:
		return 16
	case TSIPv6AddrRange:
		return 40
	}
	return 4 + len(ts.Raw)
}

// BodyLen implements Payload.
func (p *TS) BodyLen() int {
	n := 4
	for i := range p.Selectors {
		n += p.Selectors[i].len()
	}
	return n
}

// AppendBody implements Payload. An address of the wrong family for the
// selector type is written as zeros.
func (p *TS) AppendBody(b []byte) []byte {
	b = append(b, byte(len(p.Selectors)), 0, 0, 0)
	for i := range p.Selectors {
		ts := &p.Selectors[i]
		b = append(b, byte(ts.TSType), ts.IPProtocol)
		b = binary.BigEndian.AppendUint16(b, uint16(ts.len()))
		switch ts.TSType {
		case TSIPv4AddrRange:
			b = binary.BigEndian.AppendUint16(b, ts.StartPort)
			b = binary.BigEndian.AppendUint16(b, ts.EndPort)
			var s, e [4]byte
			if ts.Start.Is4() {
				s = ts.Start.As4()
			}
			if ts.End.Is4() {
				e = ts.End.As4()
			}
			b = append(append(b, s[:]...), e[:]...)
		case TSIPv6AddrRange:
			b = binary.BigEndian.AppendUint16(b, ts.StartPort)
			b = binary.BigEndian.AppendUint16(b, ts.EndPort)
			var s, e [16]byte
			if ts.Start.Is6() {
				s = ts.Start.As16()
			}
			if ts.End.Is6() {
				e = ts.End.As16()
			}
			b = append(append(b, s[:]...), e[:]...)
		default:
			b = append(b, ts.Raw...)
		}
	}
	return b
}

func parseTS(initiator bool, body []byte) (*TS, error) {
	if len(body) < 4 {
		return nil, malformed("TS: %d bytes", len(body))
	}
	n := int(body[0])
	rest := body[4:]
	p := &TS{Initiator: initiator, Selectors: make([]TrafficSelector, 0, n)}
	for len(rest) > 0 {
		if len(rest) < 4 {
			return nil, malformed("TS: truncated selector")
		}
		ts := TrafficSelector{TSType: TSType(rest[0]), IPProtocol: rest[1]}
		l := int(binary.BigEndian.Uint16(rest[2:4]))
		if l < 4 || l > len(rest) {
			return nil, malformed("TS: selector length %d of %d bytes", l, len(rest))
		}
		sb := rest[4:l]
		switch ts.TSType {
		case TSIPv4AddrRange, TSIPv6AddrRange:
			alen := 4
			if ts.TSType == TSIPv6AddrRange {
				alen = 16
			}
			if len(sb) != 4+2*alen {
				return nil, malformed("TS: selector type %d with length %d", ts.TSType, l)
			}
			ts.StartPort = binary.BigEndian.Uint16(sb[0:2])
			ts.EndPort = binary.BigEndian.Uint16(sb[2:4])
			ts.Start, _ = netip.AddrFromSlice(sb[4 : 4+alen])
			ts.End, _ = netip.AddrFromSlice(sb[4+alen:])
		default:
			ts.Raw = sb
		}
		p.Selectors = append(p.Selectors, ts)
		rest = rest[l:]
	}
	if len(p.Selectors) != n || n == 0 {
		return nil, malformed("TS: announces %d selectors, has %d", n, len(p.Selectors))
	}
	return p, nil
}

// ---- Raw (CERT, CERTREQ, CP, EAP, unknown non-critical) ----

// Raw is a payload this package does not model: CERT, CERTREQ, CP, EAP, or
// an unknown type without the critical bit. Its body is kept as is.
type Raw struct {
	PayloadType PayloadType
	Critical    bool
	Body        []byte
}

// Type implements Payload.
func (p *Raw) Type() PayloadType { return p.PayloadType }

// BodyLen implements Payload.
func (p *Raw) BodyLen() int { return len(p.Body) }

// AppendBody implements Payload.
func (p *Raw) AppendBody(b []byte) []byte { return append(b, p.Body...) }

// ---- SK (RFC 7296 §3.14) and SKF (RFC 7383 §2.5) ----

// Encrypted is the Encrypted and Authenticated payload, kept raw. It is
// always the last payload of a message. Body is IV | ciphertext | ICV.
type Encrypted struct {
	NextPayload PayloadType // type of the first payload inside
	Body        []byte
	// Offset is where the SK payload header starts in the message (set by
	// ParseMessage): the GCM associated data is msg[:Offset+4] and the
	// integrity checksum covers msg[:len(msg)-icvLen].
	Offset int
}

// Type implements Payload.
func (*Encrypted) Type() PayloadType { return PayloadSK }

// BodyLen implements Payload.
func (p *Encrypted) BodyLen() int { return len(p.Body) }

// AppendBody implements Payload.
func (p *Encrypted) AppendBody(b []byte) []byte { return append(b, p.Body...) }

// EncryptedFragment is the Encrypted Fragment payload (RFC 7383), kept raw.
// Body is IV | ciphertext | ICV; the associated data for AEAD ciphers is
// msg[:Offset+8] (both fragment numbers are covered).
type EncryptedFragment struct {
	FragmentNumber uint16 // 1-based
	TotalFragments uint16
	NextPayload    PayloadType // first inner payload type in fragment 1, else 0
	Body           []byte
	Offset         int
}

// SKFHeaderLen is the length of the SKF payload header: the generic header
// and the two fragment numbers.
const SKFHeaderLen = 8

// Type implements Payload.
func (*EncryptedFragment) Type() PayloadType { return PayloadSKF }

// BodyLen implements Payload.
func (p *EncryptedFragment) BodyLen() int { return 4 + len(p.Body) }

// AppendBody implements Payload.
func (p *EncryptedFragment) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, p.FragmentNumber)
	b = binary.BigEndian.AppendUint16(b, p.TotalFragments)
	return append(b, p.Body...)
}

func parseSKF(body []byte) (*EncryptedFragment, error) {
	if len(body) < 4 {
		return nil, malformed("SKF: %d bytes", len(body))
	}
	p := &EncryptedFragment{
		FragmentNumber: binary.BigEndian.Uint16(body[0:2]),
		TotalFragments: binary.BigEndian.Uint16(body[2:4]),
		Body:           body[4:],
	}
	if p.FragmentNumber == 0 || p.FragmentNumber > p.TotalFragments {
		return nil, malformed("SKF: fragment %d of %d", p.FragmentNumber, p.TotalFragments)
	}
	return p, nil
}
