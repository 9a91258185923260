package ike

import (
	"crypto/hmac"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// A flood of IKE_SA_INIT requests from spoofed addresses (issue 14: up to
// 180,000 a second from 4,096 address:port pairs) fills the IKE workers'
// intake queues faster than the workers, which parse each request under
// the Manager's lock, can answer it with a COOKIE, and what the packet
// reader cannot take in the kernel drops at the socket: a legitimate
// peer's own IKE_SA_INIT is lost with the flood and only a retransmission
// seconds later gets through. So while cookies are demanded (half-open
// SAs at CookieThreshold) the reader answers such requests itself, before
// they are queued, looking at no more than the header and the payload
// chain (no lock), and it answers addresses that are not configured peers
// at most cookieRate times a second in all: beyond that their requests
// cost a header check and are dropped (counted as cookie_rate_limited).
// A configured peer's requests are always answered, and a request with a
// valid COOKIE always goes on to the workers, so the queues hold what can
// complete an exchange. respondInit checks the same things for what gets
// through.

const (
	cookieRate  = 2000 // COOKIEs per second to addresses that are not configured peers
	cookieBurst = 4000
)

// answerCookie answers pkt with a COOKIE notify (RFC 7296 §2.6) if it is
// an IKE_SA_INIT request that carries no valid COOKIE, or drops it beyond
// the rate for unknown addresses, and reports whether it did. Anything else (other messages, a valid COOKIE, a request the
// Core would refuse for another reason first, e.g. a missing nonce) is
// left to the Core. Safe for concurrent use: it reads the Core's cookie
// secret, which never changes, and its peer set, and counts with atomics.
func (c *Core) answerCookie(pkt []byte, from, to netip.AddrPort) bool {
	if len(pkt) < wire.HeaderLen || binary.BigEndian.Uint64(pkt[8:16]) != 0 ||
		pkt[18] != exIKESAInit || wire.Flags(pkt[19])&wire.FlagResponse != 0 ||
		binary.BigEndian.Uint32(pkt[24:28]) != uint32(len(pkt)) {
		return false
	}
	known := (*c.peers.Load())[from.Addr()]
	var nonce, cookie []byte
	first := true
	for next, off := pkt[16], wire.HeaderLen; next != 0; first = false {
		if off+4 > len(pkt) {
			return false
		}
		n := int(binary.BigEndian.Uint16(pkt[off+2:]))
		if n < 4 || off+n > len(pkt) {
			return false
		}
		body := pkt[off+4 : off+n]
		switch next {
		case byte(wire.PayloadNonce):
			nonce = body
		case byte(wire.PayloadNotify):
			// A COOKIE counts only as the first payload (§2.6); the Core
			// looks for it anywhere, so leave the others to it.
			if first && len(body) >= 4 && body[1] == 0 && int(binary.BigEndian.Uint16(body[2:])) == nCookie {
				cookie = body[4:]
			}
		}
		next, off = pkt[off], off+n
	}
	if len(nonce) < 16 || len(nonce) > 256 {
		return false // the Core answers INVALID_SYNTAX
	}
	spiI := binary.BigEndian.Uint64(pkt[0:8])
	want := c.cookieFor(nonce, from.Addr(), spiI)
	if cookie != nil && hmac.Equal(cookie, want) {
		return false
	}
	if !known {
		c.cookies.Lock()
		ok := c.cookies.take(time.Now(), cookieRate, cookieBurst)
		c.cookies.Unlock()
		if !ok {
			c.count(nil, statCookieLimited)
			return true
		}
	}
	// The answer: IKE header and one COOKIE notify, as Core.stateless
	// would encode it.
	resp := make([]byte, 0, wire.HeaderLen+8+len(want))
	resp = binary.BigEndian.AppendUint64(resp, spiI)
	resp = binary.BigEndian.AppendUint64(resp, 0)
	resp = append(resp, byte(wire.PayloadNotify), 0x20, exIKESAInit, byte(wire.FlagResponse))
	resp = binary.BigEndian.AppendUint32(resp, 0)
	resp = binary.BigEndian.AppendUint32(resp, uint32(wire.HeaderLen+8+len(want)))
	resp = append(resp, 0, 0)
	resp = binary.BigEndian.AppendUint16(resp, uint16(8+len(want)))
	resp = append(resp, 0, 0)
	resp = binary.BigEndian.AppendUint16(resp, nCookie)
	resp = append(resp, want...)
	c.count(nil, statCookiesSent)
	if err := c.opt.Transport.Send(resp, to, from); err != nil {
		c.log.Debug("ike: send failed", "peer", from, "err", err)
	}
	return true
}
