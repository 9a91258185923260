package esp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Next header values (IANA protocol numbers) in the ESP trailer.
const (
	protoIPv4   = 4
	protoIPv6   = 41
	protoNoNxt  = 59 // dummy packet (RFC 4303 §2.6)
	protoTCP    = 6
	protoICMP   = 1
	protoICMPv6 = 58
	protoUDP    = 17
	protoESP    = 50
)

// Errors of openPacket; the engine maps each to a counter.
var (
	errTruncated = errors.New("packet truncated")
	errPadding   = errors.New("invalid padding")
	errDummy     = errors.New("dummy packet")
	errProtocol  = errors.New("unknown inner protocol")
)

// trailerLen returns the padding length so that payload, padding and the
// two trailer bytes end on a multiple of blk (RFC 4303 §2.4).
func padLen(payload, blk int) int {
	return (blk - (payload+2)%blk) % blk
}

// espLen returns the length of the ESP packet (header to ICV) that carries
// a payload of n bytes with the given sizes.
func espLen(n, ivLen, blk, icv int) int {
	return espHeaderLen + ivLen + n + padLen(n, blk) + 2 + icv
}

// maxPayload returns the largest inner packet whose ESP packet, with the
// outer IPv4 (IPv6 with v6) header and (with udp) a UDP header, fits in
// outerMTU.
func maxPayload(outerMTU, ivLen, blk, icv int, udp, v6 bool) int {
	avail := outerMTU - outerHeader(v6) - espHeaderLen - ivLen - icv
	if udp {
		avail -= 8
	}
	avail -= avail % blk
	return avail - 2
}

// buildESP writes the ESP header and trailer around the inner packet at
// buf[start:start+n] and returns the packet to seal, buf[start-8-ivLen:...].
// start must leave room for the header and IV; buf must have room for the
// trailer, padding and maxICVRoom.
func buildESP(buf []byte, start, n int, spi uint32, seq uint64, ivLen, blk int, nextHeader byte) []byte {
	p := padLen(n, blk)
	end := start + n
	for i := 0; i < p; i++ {
		buf[end+i] = byte(i + 1) // monotonic pad bytes 1, 2, 3, ...
	}
	buf[end+p] = byte(p)
	buf[end+p+1] = nextHeader
	h := start - ivLen - espHeaderLen
	binary.BigEndian.PutUint32(buf[h:], spi)
	binary.BigEndian.PutUint32(buf[h+4:], uint32(seq))
	return buf[h : end+p+2]
}

// parseTrailer checks the decrypted payload's trailer (pad bytes must be
// 1, 2, 3, ...) and returns the inner packet and its next header.
func parseTrailer(pt []byte) ([]byte, byte, error) {
	if len(pt) < 2 {
		return nil, 0, errTruncated
	}
	nh := pt[len(pt)-1]
	p := int(pt[len(pt)-2])
	if p+2 > len(pt) {
		return nil, 0, errPadding
	}
	n := len(pt) - 2 - p
	for i := 0; i < p; i++ {
		if pt[n+i] != byte(i+1) {
			return nil, 0, errPadding
		}
	}
	return pt[:n], nh, nil
}

// innerAddrs validates the inner IP header against the next header and
// returns the packet trimmed to its IP length with its addresses.
func innerAddrs(pkt []byte, nh byte) ([]byte, netip.Addr, netip.Addr, error) {
	switch nh {
	case protoIPv4:
		if len(pkt) < 20 || pkt[0]>>4 != 4 || int(pkt[0]&0xf)*4 < 20 {
			return nil, netip.Addr{}, netip.Addr{}, errProtocol
		}
		tl := int(binary.BigEndian.Uint16(pkt[2:]))
		if tl < int(pkt[0]&0xf)*4 || tl > len(pkt) {
			return nil, netip.Addr{}, netip.Addr{}, errTruncated
		}
		return pkt[:tl], netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), nil
	case protoIPv6:
		if len(pkt) < 40 || pkt[0]>>4 != 6 {
			return nil, netip.Addr{}, netip.Addr{}, errProtocol
		}
		tl := 40 + int(binary.BigEndian.Uint16(pkt[4:]))
		if tl > len(pkt) {
			return nil, netip.Addr{}, netip.Addr{}, errTruncated
		}
		return pkt[:tl], netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), nil
	case protoNoNxt:
		return nil, netip.Addr{}, netip.Addr{}, errDummy
	default:
		return nil, netip.Addr{}, netip.Addr{}, errProtocol
	}
}

// openResult classifies the outcome of opening one packet.
type openResult uint8

const (
	openOK openResult = iota
	openTruncated
	openIntegrity
	openCipher
	openPadding
	openProtocol
	openDummy
)

// openPacket verifies and decrypts the ESP packet b (header to ICV) of SA
// a whose full sequence number is seq. On success it returns the inner
// packet (inside b) and its next header. The replay window is not touched.
func openPacket(a *sa, b []byte, seq uint64) ([]byte, byte, openResult) {
	if res := precheckOpen(a, b); res != openOK {
		return nil, 0, res
	}
	pt, err := a.suite.open(b, seq)
	return finishOpen(pt, err)
}

// precheckOpen checks the length and alignment of an ESP packet before
// any cryptography.
func precheckOpen(a *sa, b []byte) openResult {
	if len(b) < espHeaderLen+a.ivLen+a.blk+a.icv {
		return openTruncated
	}
	if (len(b)-espHeaderLen-a.ivLen-a.icv)%a.blk != 0 {
		// GCM needs 4-byte alignment, CBC whole blocks (RFC 4303 §2.4).
		return openCipher
	}
	return openOK
}

// finishOpen classifies the suite's result and checks the trailer.
func finishOpen(pt []byte, err error) ([]byte, byte, openResult) {
	switch err {
	case nil:
	case errIntegrity:
		return nil, 0, openIntegrity
	default:
		return nil, 0, openCipher
	}
	inner, nh, err := parseTrailer(pt)
	if err != nil {
		return nil, 0, openPadding
	}
	if nh == protoNoNxt {
		return nil, nh, openDummy
	}
	if nh != protoIPv4 && nh != protoIPv6 {
		return nil, nh, openProtocol
	}
	return inner, nh, openOK
}
