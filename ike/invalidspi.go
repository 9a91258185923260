package ike

import (
	"net/netip"
	"time"
)

// INVALID_IKE_SPI (RFC 7296 §1.5, §2.21.4): a request for an IKE SA we do
// not have (we restarted, or deleted it) is answered with an unprotected
// INFORMATIONAL notify, so the peer can give up on the SA quickly instead
// of waiting for its retransmissions to run out. Responses are never
// answered, and answers are rate limited per peer and in total so that
// spoofed requests cannot turn us into a reflector.

const (
	invalidSPIRate       = 2  // answers per second per peer address
	invalidSPIBurst      = 4  // tokens a peer's bucket holds
	invalidSPIGlobalRate = 50 // answers per second to all peers together
	invalidSPIMaxPeers   = 4096
)

// tokenBucket holds up to burst tokens and gains rate per second.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(burst, b.tokens+d*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// invalidSPILimiter is a token bucket per peer address plus one for all.
type invalidSPILimiter struct {
	peers map[netip.Addr]*tokenBucket
	all   tokenBucket
}

func (l *invalidSPILimiter) allow(now time.Time, peer netip.Addr) bool {
	if l.peers == nil {
		l.peers = map[netip.Addr]*tokenBucket{}
	}
	b := l.peers[peer]
	if b == nil {
		if len(l.peers) >= invalidSPIMaxPeers {
			l.prune(now)
		}
		if len(l.peers) >= invalidSPIMaxPeers {
			return false
		}
		b = &tokenBucket{}
		l.peers[peer] = b
	}
	if !b.take(now, invalidSPIRate, invalidSPIBurst) {
		return false
	}
	return l.all.take(now, invalidSPIGlobalRate, invalidSPIGlobalRate)
}

// prune forgets peers whose buckets have refilled (they would start full).
func (l *invalidSPILimiter) prune(now time.Time) {
	full := time.Duration(float64(time.Second) * invalidSPIBurst / invalidSPIRate)
	for a, b := range l.peers {
		if now.Sub(b.last) >= full {
			delete(l.peers, a)
		}
	}
}

// answerInvalidSPI answers request m (reqLen bytes), which names no IKE
// SA of ours, with an unprotected INFORMATIONAL INVALID_IKE_SPI carrying
// its SPIs and message ID (RFC 7296 §1.5). The answer is never larger
// than the request (a real one carries an SK payload), so it amplifies
// nothing.
func (c *Core) answerInvalidSPI(now time.Time, m *message, reqLen int, from, to netip.AddrPort) {
	if m.Response || m.Exchange == exIKESAInit {
		return
	}
	r := &message{SPIi: m.SPIi, SPIr: m.SPIr, Exchange: exInformational, Response: true, Initiator: !m.Initiator, MsgID: m.MsgID}
	r.addNotify(nInvalidIKESPI, nil)
	pkt, err := encodePlain(r)
	if err != nil || len(pkt) > reqLen || !c.invalid.allow(now, from.Addr()) {
		return
	}
	c.count(nil, statInvalidSPISent)
	if err := c.opt.Transport.Send(pkt, to, from); err != nil {
		c.log.Debug("ike: send failed", "peer", from, "err", err)
	}
}

// peerLostSA reports whether pkt, an answer on sa that did not decrypt,
// is the peer's unprotected INVALID_IKE_SPI. It is unauthenticated, so it
// ends nothing that is alive: retransmission (or DPD) still decides when
// the SA is dead. Only an SA we are deleting anyway goes at once (the
// peer already dropped it, e.g. for our new SA's INITIAL_CONTACT).
func (c *Core) peerLostSA(now time.Time, sa *ikeSA, pkt []byte) bool {
	m, err := decodePlain(pkt)
	if err != nil || m.Exchange != exInformational || m.notify(nInvalidIKESPI) == nil {
		return false
	}
	if sa.state == StateDeleting && sa.pending != nil {
		c.log.Debug("ike: peer no longer has the IKE SA we are deleting", "tunnel", tunName(sa), "peer", sa.remote)
		req := sa.pending
		sa.pending = nil
		req.onReply(now, &message{Exchange: exInformational, Response: true})
		c.pump(now, sa)
		return true
	}
	if r := sa.pending; r == nil || sa.lastHeard.After(r.sentAt) {
		// The peer spoke on sa after our request went out, so this
		// answers a copy that reached it before it held sa, delayed on
		// the path (or a request long answered): stale.
		c.log.Debug("ike: stale INVALID_IKE_SPI ignored", "tunnel", tunName(sa), "peer", sa.remote)
		return true
	}
	if sa.doubtedFor != nil {
		c.dropDoubted(now, sa, "INVALID_IKE_SPI")
		return true
	}
	if sa.unproven {
		// We answered the rekey that made sa, and that answer has not
		// reached the peer yet: its retransmitted rekey request gets the
		// answer again, and ours on sa is retransmitted until then.
		c.log.Debug("ike: peer does not hold the rekeyed IKE SA yet", "tunnel", tunName(sa), "peer", sa.remote)
		return true
	}
	c.log.Info("ike: peer says it has no such IKE SA (unauthenticated INVALID_IKE_SPI)", "tunnel", tunName(sa), "peer", sa.remote)
	c.replaceLost(now, sa)
	return true
}

// replaceLost sets up a new IKE SA beside sa, which the peer says it lost
// (a restart, most often, of a peer that only responds): waiting for DPD
// to give up on sa would cost its whole retransmission schedule. The old
// SA keeps the traffic until the new one is authenticated, so a forged
// INVALID_IKE_SPI costs no more than one new IKE SA, once per SA; the new
// SA carries INITIAL_CONTACT, so a peer that did keep sa drops it too.
func (c *Core) replaceLost(now time.Time, sa *ikeSA) {
	t := sa.tun
	if sa.state != StateEstablished || sa.peerLost || sa.replacedBy != nil || t == nil ||
		!t.auto || t.conf.PeerAny || t.ike != sa {
		return
	}
	sa.peerLost = true
	c.log.Info("ike: setting up a new IKE SA beside the one the peer says it lost", "tunnel", t.name, "peer", sa.remote)
	c.initiate(now, t)
}

// dropLost removes the SAs with sa's peer that the peer said it lost, now
// that sa, which replaces them, is up and carries the traffic.
func (c *Core) dropLost(now time.Time, sa *ikeSA) {
	for _, o := range c.peerSAs(sa) {
		if o.peerLost && o.state == StateEstablished {
			c.log.Info("ike: new IKE SA up; dropping the one the peer lost", "tunnel", tunName(sa), "peer", sa.remote)
			o.replacedBy = sa
			c.removeSA(now, o)
		}
	}
}
