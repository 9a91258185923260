package ike

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/soft-ix/soft-ix/ike/crypto"
	"github.com/soft-ix/soft-ix/ike/wire"
)

// The adapter between the state machine's message and package ike/wire
// (encoding) and ike/crypto (SK payload protection, RFC 7383 fragments).

func headerOf(m *message) wire.Header {
	h := wire.Header{SPIi: m.SPIi, SPIr: m.SPIr, MajorVersion: 2, Exchange: wire.ExchangeType(m.Exchange), MessageID: m.MsgID}
	if m.Initiator {
		h.Flags |= wire.FlagInitiator
	}
	if m.Response {
		h.Flags |= wire.FlagResponse
	}
	return h
}

func fromHeader(h wire.Header) *message {
	return &message{SPIi: h.SPIi, SPIr: h.SPIr, Exchange: int(h.Exchange), Response: h.IsResponse(),
		Initiator: h.IsInitiator(), MsgID: h.MessageID}
}

// parseHeader decodes just the IKE header.
func parseHeader(pkt []byte) (*message, error) {
	h, err := wire.ParseHeader(pkt)
	if err != nil {
		return nil, err
	}
	if h.MajorVersion != 2 {
		return nil, fmt.Errorf("IKE major version %d", h.MajorVersion)
	}
	return fromHeader(h), nil
}

// decodePlain decodes an unencrypted message (IKE_SA_INIT).
func decodePlain(pkt []byte) (*message, error) {
	wm, err := wire.ParseMessage(pkt)
	if err != nil {
		return nil, err
	}
	m := fromHeader(wm.Header)
	fill(m, wm.Payloads)
	return m, nil
}

// encodePlain encodes an unencrypted message.
func encodePlain(m *message) ([]byte, error) {
	wm := &wire.Message{Header: headerOf(m), Payloads: toPayloads(m)}
	return wm.Append(nil), nil
}

// fragBuffer collects the SKF fragments of one message (RFC 7383 §2.6).
type fragBuffer struct {
	msgID    uint32
	response bool
	total    int
	first    wire.PayloadType
	hash1    [32]byte // SHA-256 of fragment 1's datagram (RFC 7383 §2.6.1)
	parts    [][]byte
	got      int
	bytes    int // in parts
}

// maxUnauthMessage bounds the reassembled plaintext of a fragmented
// message on an IKE SA whose peer has not authenticated yet.
const maxUnauthMessage = 64 << 10

// openSK authenticates, decrypts and decodes an encrypted message of sa.
// complete is false while fragments are missing.
func (c *Core) openSK(sa *ikeSA, pkt []byte) (*message, bool, error) {
	wm, err := wire.ParseMessage(pkt)
	if err != nil {
		return nil, false, err
	}
	if sa.in == nil {
		return nil, false, errors.New("no keys yet")
	}
	m := fromHeader(wm.Header)
	m.HasSK = true
	if wm.Encrypted() != nil {
		ps, err := sa.in.Open(wm)
		if err != nil {
			return nil, false, err
		}
		fill(m, ps)
		if !m.Response {
			m.wireHash = sha256.Sum256(pkt)
		}
		return m, true, nil
	}
	f := wm.EncryptedFragment()
	if f == nil {
		return nil, false, errors.New("message without SK payload")
	}
	if f.TotalFragments == 0 || f.FragmentNumber == 0 || f.FragmentNumber > f.TotalFragments || f.TotalFragments > 64 {
		return nil, false, errors.New("bad fragment numbering")
	}
	if !sa.fragOK {
		return nil, false, errors.New("fragment, but IKE fragmentation was not negotiated")
	}
	first, pt, err := sa.in.Decrypt(wm)
	if err != nil {
		return nil, false, err
	}
	fb := sa.frags
	if fb == nil || fb.msgID != m.MsgID || fb.response != m.Response || fb.total != int(f.TotalFragments) {
		fb = &fragBuffer{msgID: m.MsgID, response: m.Response, total: int(f.TotalFragments), parts: make([][]byte, f.TotalFragments)}
		sa.frags = fb
	}
	i := int(f.FragmentNumber) - 1
	if fb.parts[i] == nil {
		// Until the peer has authenticated (IKE_AUTH), a message is a
		// pre-shared key exchange of a few KiB: a larger one is held
		// for nobody knows whom.
		if sa.state != StateEstablished && fb.bytes+len(pt) > maxUnauthMessage {
			sa.frags = nil
			return nil, false, errors.New("fragments of an unauthenticated message exceed its bound")
		}
		fb.parts[i] = append([]byte{}, pt...)
		fb.bytes += len(pt)
		fb.got++
	}
	if i == 0 {
		fb.first = first
		if !m.Response {
			fb.hash1 = sha256.Sum256(pkt)
		}
	}
	if fb.got < fb.total {
		return nil, false, nil
	}
	var all []byte
	for _, p := range fb.parts {
		all = append(all, p...)
	}
	sa.frags = nil
	ps, err := wire.ParsePayloads(fb.first, all)
	if err != nil {
		return nil, false, err
	}
	fill(m, ps)
	m.wireHash = fb.hash1
	return m, true, nil
}

// sealSK encrypts m for sa, as RFC 7383 fragments when both sides support
// them and the message would exceed the fragment size.
func (c *Core) sealSK(sa *ikeSA, m *message) ([][]byte, error) {
	if sa.out == nil {
		return nil, errors.New("no keys")
	}
	h := headerOf(m)
	ps := toPayloads(m)
	var pkts [][]byte
	size := wire.HeaderLen + wire.PayloadHeaderLen + sa.out.Overhead(wire.PayloadsLen(ps)) + wire.PayloadsLen(ps)
	if sa.fragOK && size > c.opt.FragmentSize && m.Exchange != exIKESAInit {
		frags, err := sa.out.SealFragments(h, ps, c.opt.FragmentSize)
		if err != nil {
			return nil, err
		}
		pkts = frags
	} else {
		p, err := sa.out.Seal(h, ps)
		if err != nil {
			return nil, err
		}
		pkts = [][]byte{p}
	}
	return pkts, nil
}

// unsupportedCritical reports whether err is wire's unsupported critical
// payload error, and the payload type for the notify.
func unsupportedCritical(err error) (byte, bool) {
	var uc *wire.UnsupportedCriticalError
	if errors.As(err, &uc) {
		return byte(uc.Type), true
	}
	return 0, false
}

// fill copies wire payloads into m.
func fill(m *message, ps []wire.Payload) {
	for _, p := range ps {
		switch p := p.(type) {
		case *wire.SA:
			for _, wp := range p.Proposals {
				pr := proposal{Num: int(wp.Number), Protocol: int(wp.Protocol), SPI: append([]byte(nil), wp.SPI...)}
				for _, t := range wp.Transforms {
					if len(t.OtherAttrs) > 0 {
						continue // attributes we do not understand: never choose it
					}
					pr.Transforms = append(pr.Transforms, transform{Type: int(t.Type), ID: t.ID, KeyBits: int(t.KeyLength)})
				}
				m.SA = append(m.SA, pr)
			}
		case *wire.KE:
			m.KEGroup, m.KE = p.Group, append([]byte(nil), p.Data...)
		case *wire.Nonce:
			m.Nonce = append([]byte(nil), p.Data...)
		case *wire.Notify:
			m.Notifies = append(m.Notifies, notify{Protocol: int(p.Protocol), SPI: append([]byte(nil), p.SPI...),
				Type: int(p.NotifyType), Data: append([]byte(nil), p.Data...)})
		case *wire.ID:
			id := &identity{Type: int(p.IDType), Data: append([]byte(nil), p.Data...), raw: p.AppendBody(nil)}
			if p.Initiator {
				m.IDi = id
			} else {
				m.IDr = id
			}
		case *wire.Auth:
			m.AuthM, m.Auth = int(p.Method), append([]byte(nil), p.Data...)
		case *wire.TS:
			var sels []selector
			for _, s := range p.Selectors {
				sels = append(sels, selector{IPProto: int(s.IPProtocol), StartPort: s.StartPort, EndPort: s.EndPort, StartAddr: s.Start, EndAd: s.End})
			}
			if p.Initiator {
				m.TSi = sels
			} else {
				m.TSr = sels
			}
		case *wire.Delete:
			d := deletion{Protocol: int(p.Protocol)}
			for _, s := range p.SPIs {
				d.SPIs = append(d.SPIs, append([]byte(nil), s...))
			}
			m.Deletes = append(m.Deletes, d)
		case *wire.VendorID:
			m.VendorIDs = append(m.VendorIDs, append([]byte(nil), p.Data...))
		}
	}
}

// toPayloads builds the wire payloads of m in the order RFC 7296 shows.
func toPayloads(m *message) []wire.Payload {
	var ps []wire.Payload
	// A COOKIE must come first (RFC 7296 §2.6).
	for _, n := range m.Notifies {
		if n.Type == nCookie {
			ps = append(ps, wireNotify(n))
		}
	}
	if m.IDi != nil {
		ps = append(ps, &wire.ID{Initiator: true, IDType: wire.IDType(m.IDi.Type), Data: m.IDi.Data})
	}
	if m.IDr != nil {
		ps = append(ps, &wire.ID{Initiator: false, IDType: wire.IDType(m.IDr.Type), Data: m.IDr.Data})
	}
	if m.Auth != nil {
		ps = append(ps, &wire.Auth{Method: wire.AuthMethod(m.AuthM), Data: m.Auth})
	}
	for _, n := range m.Notifies {
		if n.Type == nRekeySA || (n.Type < 16384 && m.Exchange != exIKESAInit) {
			ps = append(ps, wireNotify(n))
		}
	}
	if len(m.SA) > 0 {
		sa := &wire.SA{}
		for _, p := range m.SA {
			wp := wire.Proposal{Number: uint8(p.Num), Protocol: wire.ProtocolID(p.Protocol), SPI: p.SPI}
			for _, t := range p.Transforms {
				wp.Transforms = append(wp.Transforms, wire.Transform{Type: wire.TransformType(t.Type), ID: t.ID, KeyLength: uint16(t.KeyBits)})
			}
			sa.Proposals = append(sa.Proposals, wp)
		}
		ps = append(ps, sa)
	}
	if m.KE != nil {
		ps = append(ps, &wire.KE{Group: m.KEGroup, Data: m.KE})
	}
	if m.Nonce != nil {
		ps = append(ps, &wire.Nonce{Data: m.Nonce})
	}
	if m.TSi != nil {
		ps = append(ps, wireTS(true, m.TSi))
	}
	if m.TSr != nil {
		ps = append(ps, wireTS(false, m.TSr))
	}
	for _, d := range m.Deletes {
		wd := &wire.Delete{Protocol: wire.ProtocolID(d.Protocol), SPIs: d.SPIs}
		if d.Protocol == protoESP {
			wd.SPISize = 4
		}
		ps = append(ps, wd)
	}
	for _, n := range m.Notifies {
		if n.Type == nCookie || n.Type == nRekeySA || (n.Type < 16384 && m.Exchange != exIKESAInit) {
			continue
		}
		ps = append(ps, wireNotify(n))
	}
	for _, v := range m.VendorIDs {
		ps = append(ps, &wire.VendorID{Data: v})
	}
	return ps
}

func wireNotify(n notify) *wire.Notify {
	return &wire.Notify{Protocol: wire.ProtocolID(n.Protocol), SPI: n.SPI, NotifyType: wire.NotifyType(n.Type), Data: n.Data}
}

func wireTS(initiator bool, sels []selector) *wire.TS {
	ts := &wire.TS{Initiator: initiator}
	for _, s := range sels {
		t := wire.TrafficSelector{TSType: wire.TSIPv4AddrRange, IPProtocol: uint8(s.IPProto), StartPort: s.StartPort,
			EndPort: s.EndPort, Start: s.StartAddr, End: s.EndAd}
		if s.StartAddr.Is6() {
			t.TSType = wire.TSIPv6AddrRange
		}
		ts.Selectors = append(ts.Selectors, t)
	}
	return ts
}

// ---- crypto adapter ----

type dhKey = crypto.PrivateKey

func newDH(group uint16, r interface{ Read([]byte) (int, error) }) (dhKey, error) {
	g, err := crypto.GroupByID(group)
	if err != nil {
		return nil, err
	}
	return g.Generate(r)
}

func cryptoSuite(s IKESuite) crypto.Suite {
	return crypto.Suite{Encr: s.Enc.ID, EncrKeyBits: s.Enc.KeyBits, Integ: s.Integ.ID, PRF: s.PRF.ID, DH: s.DH.ID}
}

func childCryptoSuite(s ChildSuite) crypto.Suite {
	return crypto.Suite{Encr: s.Enc.ID, EncrKeyBits: s.Enc.KeyBits, Integ: s.Integ.ID, DH: s.DH.ID, ESN: s.ESN}
}

// setKeys derives the IKE SA keys and SK ciphers of sa from g^ir. With
// oldSKd set it is a rekey (RFC 7296 §2.18) with the old SA's PRF.
func (sa *ikeSA) setKeys(shared []byte, oldSKd []byte, oldPRF uint16) error {
	cs := cryptoSuite(sa.suite)
	var k *crypto.IKEKeys
	var err error
	if oldSKd != nil {
		k, err = crypto.DeriveIKEKeysRekey(oldPRF, oldSKd, cs, shared, sa.nonceI, sa.nonceR, sa.spiI, sa.spiR)
	} else {
		k, err = crypto.DeriveIKEKeys(cs, shared, sa.nonceI, sa.nonceR, sa.spiI, sa.spiR)
	}
	if err != nil {
		return err
	}
	sa.keys = ikeKeys{d: k.SKd, ai: k.SKai, ar: k.SKar, ei: k.SKei, er: k.SKer, pi: k.SKpi, pr: k.SKpr}
	sa.out, sa.in, err = k.Ciphers(cs, sa.initiator)
	return err
}

// prfSum is prf(key, data) of the PRF with transform ID id.
func prfSum(id uint16, key, data []byte) []byte {
	p, err := crypto.NewPRF(id)
	if err != nil {
		return nil
	}
	return p.Compute(key, data)
}
