package ike

import (
	"crypto/sha256"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// Resending a cached answer (RFC 7296 §2.1). A peer that lost our answer
// retransmits its request, and gets the answer again without the
// exchange running twice. The header that names the SA and the message
// ID is not authenticated, though, and anyone on the path sees it: were
// every datagram with the live SPIs and the last message ID answered, a
// forged 28-byte header would make us fire our (larger) cached answer
// at the real peer as often as the forger likes. So the answer goes
// again only for a byte-identical copy of the request that produced it
// (we keep its SHA-256, not the bytes), and at most resendRate times a
// second per SA, which also bounds a replay of a captured request.

const (
	resendRate  = 2 // cached answers resent per second per IKE SA
	resendBurst = 4 // resends an SA may spend at once
)

// resendCached answers pkt, a request with the message ID sa answered
// last, with the cached answer if pkt is that request again.
func (c *Core) resendCached(now time.Time, sa *ikeSA, pkt []byte) {
	if sha256.Sum256(pkt) != sa.lastReq {
		if laterFragment(pkt) {
			// RFC 7383 §2.6.1: only fragment 1 of a retransmitted
			// request triggers the answer; the others are ignored.
			return
		}
		c.count(sa.tun, statResendMismatch)
		c.log.Debug("ike: request reuses an answered message ID but is no retransmission, ignored",
			"peer", sa.remote, "msgid", sa.peerMsgID-1)
		return
	}
	if !sa.resends.take(now, resendRate, resendBurst) {
		c.count(sa.tun, statResendLimited)
		return
	}
	c.log.Debug("ike: retransmitted request, resending cached answer", "peer", sa.remote, "msgid", sa.peerMsgID-1)
	c.resend(sa, sa.lastResp)
}

// resendInit answers a retransmitted IKE_SA_INIT request of the
// half-open SA sa (found by peer address and initiator SPI) again.
func (c *Core) resendInit(now time.Time, sa *ikeSA, pkt []byte) {
	if string(sa.initReq) != string(pkt) {
		c.count(sa.tun, statResendMismatch)
		return
	}
	if !sa.resends.take(now, resendRate, resendBurst) {
		c.count(sa.tun, statResendLimited)
		return
	}
	c.resend(sa, sa.lastResp)
}

// laterFragment reports whether pkt is an SKF fragment other than the
// first (RFC 7383).
func laterFragment(pkt []byte) bool {
	wm, err := wire.ParseMessage(pkt)
	if err != nil {
		return false
	}
	f := wm.EncryptedFragment()
	return f != nil && f.FragmentNumber > 1
}
