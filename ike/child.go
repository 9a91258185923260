package ike

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/soft-ix/soft-ix/ike/crypto"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// Child SAs: install, CREATE_CHILD_SA rekeys in both roles with the
// lowest-nonce collision rule (RFC 7296 §2.8.1), and deletes.

// addChild derives keys for ch, installs both directions, and when
// switchOut is set makes it the tunnel's outbound SA (make-before-break:
// inbound first, then outbound, then SetOutbound).
func (c *Core) addChild(now time.Time, sa *ikeSA, ch *childSA, shared []byte, switchOut bool) {
	t := sa.tun
	ch.ike = sa
	ch.created = now
	ch.rekeyAt = c.rekeyTime(now, t.pol.ChildLifetime)
	ch.expireAt = now.Add(t.pol.ChildLifetime)
	in, out, err := c.childSAs(sa, ch, shared)
	if err != nil {
		c.log.Error("ike: Child SA key derivation", "tunnel", t.name, "err", err)
		return
	}
	c.children[ch.inSPI] = ch
	sa.children = append(sa.children, ch)
	c.mark(sa)
	if err = c.opt.DataPlane.InstallSA(in); err != nil {
		c.log.Error("ike: data plane refused inbound SA", "tunnel", t.name, "err", err)
		ch.inFailed = true
	}
	if err := c.opt.DataPlane.InstallSA(out); err != nil {
		// Most likely the peer chose an outbound SPI another tunnel's SA
		// has (chance on a large hub, or a hostile peer): a rekey soon
		// brings a new one; until then the tunnel keeps its other SAs.
		c.log.Error("ike: data plane refused outbound SA; rekeying it", "tunnel", t.name, "err", err)
		ch.outFailed = true
		switchOut = false
		ch.rekeyAt = now.Add(time.Second)
	}
	ch.installed = true
	c.keyLogChild(sa, ch, in, out)
	if switchOut {
		c.switchOutbound(ch)
	}
	c.log.Info("ike: Child SA installed", "tunnel", t.name, "in", fmt.Sprintf("%08x", ch.inSPI),
		"out", fmt.Sprintf("%08x", ch.outSPI), "enc", ch.suite.Enc.Name, "integ", ch.suite.Integ.Name, "udp-encap", sa.encap)
}

// switchOutbound points the tunnel's traffic at ch.
func (c *Core) switchOutbound(ch *childSA) {
	t := ch.ike.tun
	if !ch.installed || ch.outFailed || t == nil || (t.outSet && t.outSPI == ch.outSPI) {
		return
	}
	if err := c.opt.DataPlane.SetOutbound(t.name, ch.outSPI); err != nil {
		c.log.Error("ike: data plane SetOutbound", "tunnel", t.name, "err", err)
	}
	t.outSPI, t.outSet = ch.outSPI, true
}

// outbound reports whether ch is the SA its tunnel's traffic leaves by.
func (ch *childSA) outbound() bool {
	t := ch.ike.tun
	return t != nil && t.outSet && t.outSPI == ch.outSPI
}

// childSAs derives the two directions of ch (RFC 7296 §2.17): keys for
// initiator-to-responder come first in KEYMAT.
func (c *Core) childSAs(sa *ikeSA, ch *childSA, shared []byte) (in, out childsa.SA, err error) {
	k, err := crypto.DeriveChildKeys(sa.suite.PRF.ID, sa.keys.d, childCryptoSuite(ch.suite), shared, ch.nonceI, ch.nonceR)
	if err != nil {
		return in, out, err
	}
	eI, aI, eR, aR := k.EncrI, k.IntegI, k.EncrR, k.IntegR
	t := sa.tun
	// The negotiated transform IDs are IANA's, which childsa's types name.
	base := childsa.SA{
		Tunnel: t.name, EncrID: childsa.EncrID(ch.suite.Enc.ID), EncrKeyBits: ch.suite.Enc.KeyBits,
		IntegID: childsa.IntegID(ch.suite.Integ.ID),
		ESN:     ch.suite.ESN, UDPEncap: sa.encap || sa.natLocal || sa.natRemote,
	}
	if base.EncrKeyBits == 0 {
		base.EncrKeyBits = 192 // 3DES
	}
	if base.UDPEncap {
		base.Local = sa.local
		base.Remote = sa.remote
	} else {
		base.Local = netip.AddrPortFrom(sa.local.Addr(), 0)
		base.Remote = netip.AddrPortFrom(sa.remote.Addr(), 0)
	}
	if kb := t.pol.ChildLifetimeKB; kb > 0 {
		base.HardBytes = kb * 1024
		base.SoftBytes = base.HardBytes / 10 * 9
	}
	in, out = base, base
	in.Inbound, in.SPI = true, ch.inSPI
	out.SPI = ch.outSPI
	in.LocalTS, in.RemoteTS = ch.localTS, ch.remoteTS
	out.LocalTS, out.RemoteTS = ch.localTS, ch.remoteTS
	if ch.initiator {
		out.EncrKey, out.IntegKey, in.EncrKey, in.IntegKey = eI, aI, eR, aR
	} else {
		in.EncrKey, in.IntegKey, out.EncrKey, out.IntegKey = eI, aI, eR, aR
	}
	return in, out, nil
}

// startChildRekey starts a CREATE_CHILD_SA rekey of ch.
func (c *Core) startChildRekey(now time.Time, sa *ikeSA, ch *childSA) {
	pol := &sa.tun.pol
	rk := &childRekey{inSPI: c.newChildSPI(), nonce: c.random(nonceLen)}
	if len(pol.ChildPFS) > 0 {
		dh, err := c.newDH(pol.ChildPFS[0].ID)
		if err != nil {
			return
		}
		rk.dh = dh
	}
	ch.rekeying = rk
	c.request(now, sa, func(time.Time) *message {
		if ch.deleting || ch.replacedBy != nil || sa.state != StateEstablished || sa.replacedBy != nil {
			if ch.rekeying == rk { // not one started again on sa's successor (adoptIKE)
				ch.rekeying = nil
			}
			return nil
		}
		rk.sent = true
		m := &message{Exchange: exCreateChildSA}
		m.Notifies = append(m.Notifies, notify{Protocol: protoESP, SPI: be32(ch.inSPI), Type: nRekeySA})
		m.SA = childOffer(pol, rk.inSPI, true)
		m.Nonce = rk.nonce
		if rk.dh != nil {
			m.KEGroup, m.KE = pol.ChildPFS[0].ID, rk.dh.Public()
		}
		m.TSi, m.TSr = selectorsOf(ch.localTS), selectorsOf(ch.remoteTS)
		return m
	}, func(now time.Time, m *message) { c.childRekeyReply(now, sa, ch, rk, m) })
}

// childRekeyReply completes our rekey of old.
func (c *Core) childRekeyReply(now time.Time, sa *ikeSA, old *childSA, rk *childRekey, m *message) {
	old.rekeying = nil
	if n := m.errorNotify(); n != nil {
		c.log.Info("ike: peer refused Child SA rekey, retrying later", "tunnel", tunName(sa), "notify", notifyName(n.Type))
		if n.Type != nChildSANotFound {
			old.rekeyAt = c.rekeyRetryTime(now, old.expireAt)
		}
		return
	}
	suite, outSPI, ok := acceptChildAnswer(&sa.tun.pol, m.SA, rk.dh != nil)
	if !ok || len(m.Nonce) < 16 {
		c.log.Warn("ike: Child SA rekey answer does not match our offer", "tunnel", tunName(sa))
		old.rekeyAt = c.rekeyRetryTime(now, old.expireAt)
		return
	}
	var shared []byte
	if rk.dh != nil {
		var err error
		if shared, err = rk.dh.SharedSecret(m.KE); err != nil {
			old.rekeyAt = c.rekeyRetryTime(now, old.expireAt)
			return
		}
	}
	nc := &childSA{inSPI: rk.inSPI, outSPI: outSPI, suite: suite, initiator: true, nonceI: rk.nonce, nonceR: m.Nonce,
		localTS: old.localTS, remoteTS: old.remoteTS}
	peer := old.peerRekey
	if peer != nil && peer.installed && lowestNonceIsOurs(nc, peer) {
		// Collision, and our exchange had the lowest nonce: our new SA is
		// the redundant one; the peer deletes the old one.
		c.addChild(now, sa, nc, shared, false)
		c.count(sa.tun, statChildRekeys)
		c.log.Info("ike: Child SA rekey collision: the peer's new SA wins", "tunnel", tunName(sa))
		nc.replacedBy = peer
		old.replacedBy = peer
		// The peer may not have our answer to its rekey yet, so its new
		// SA may not be installed there: traffic moves when the peer,
		// the winner, deletes old (or after orphanTimeout, as for any
		// rekey the peer started).
		c.awaitPeerDelete(now, old)
		c.startChildDelete(now, sa, nc)
		return
	}
	c.addChild(now, sa, nc, shared, true)
	c.count(sa.tun, statChildRekeys)
	old.replacedBy = nc
	if peer != nil {
		c.log.Info("ike: Child SA rekey collision: our new SA wins", "tunnel", tunName(sa))
		peer.replacedBy = nc
	}
	c.startChildDelete(now, sa, old)
}

// lowestNonceIsOurs reports whether the lowest of the four nonces of two
// colliding rekeys belongs to our exchange (RFC 7296 §2.8.1).
func lowestNonceIsOurs(ours, peers *childSA) bool {
	return bytes.Compare(minNonce(ours.nonceI, ours.nonceR), minNonce(peers.nonceI, peers.nonceR)) < 0
}

func minNonce(a, b []byte) []byte {
	if bytes.Compare(a, b) < 0 {
		return a
	}
	return b
}

// respondCreateChild answers a CREATE_CHILD_SA request.
func (c *Core) respondCreateChild(now time.Time, sa *ikeSA, m *message) {
	if len(m.SA) > 0 && m.SA[0].Protocol == protoIKE {
		c.respondIKERekey(now, sa, m)
		return
	}
	n := m.notify(nRekeySA)
	if n == nil {
		c.respondNewChild(now, sa, m)
		return
	}
	old := c.childByOutSPI(sa, uint32FromBytes(n.SPI))
	switch {
	case old == nil:
		c.reply(sa, m, notifyOnly(nChildSANotFound))
		return
	case old.deleting || old.replacedBy != nil || sa.state != StateEstablished:
		c.reply(sa, m, notifyOnly(nTemporaryFailure))
		return
	}
	nc, r, ntype := c.acceptChild(sa, m, old.localTS, old.remoteTS)
	if ntype != 0 {
		c.reply(sa, m, r)
		return
	}
	// Inbound first: the initiator may switch to the new SA as soon as
	// our answer arrives, so its packets must find the SA installed.
	c.addChild(now, sa, nc.ch, nc.shared, false)
	c.reply(sa, m, r)
	if old.rekeying != nil && old.rekeying.sent {
		old.peerRekey = nc.ch // collision: resolved (and counted) when our answer arrives
		return
	}
	// A rekey of ours still waiting in the queue is no collision: the
	// peer's replaces it, and it is never sent (its build sees replacedBy).
	old.rekeying = nil
	c.count(sa.tun, statChildRekeys)
	// The initiator switches first; we switch when its DELETE of old
	// arrives (so a lost answer cannot black-hole our traffic), or on our
	// own after orphanTimeout if that DELETE never comes.
	old.replacedBy = nc.ch
	c.awaitPeerDelete(now, old)
}

// awaitPeerDelete leaves ch, replaced in a rekey the peer won, for the
// peer to delete; if no DELETE comes, the Child timers retire it after
// orphanTimeout, unless the peer still sends on it (peerStillOn).
func (c *Core) awaitPeerDelete(now time.Time, ch *childSA) {
	ch.retireAt = now.Add(orphanTimeout)
	if n, ok := c.opt.DataPlane.Counters(ch.inSPI, true); ok {
		ch.inSeen = n.Packets
	}
}

// orphanTimeout is how long a Child SA replaced by the peer's rekey waits
// for the peer's DELETE before we switch to the new SA and delete it.
const orphanTimeout = 30 * time.Second

type newChild struct {
	ch     *childSA
	shared []byte
}

// acceptChild decides a peer's CREATE_CHILD_SA (a rekey or a new Child
// SA): the new SA and our answer, or an error notify type and its message.
func (c *Core) acceptChild(sa *ikeSA, m *message, localTS, remoteTS []netip.Prefix) (newChild, *message, int) {
	pol := &sa.tun.pol
	pfs := m.KE != nil
	suite, chosen, ok := chooseChild(pol, m.SA, pfs)
	if !ok || len(m.Nonce) < 16 {
		return newChild{}, notifyOnly(nNoProposalChosen), nNoProposalChosen
	}
	r := &message{}
	var shared []byte
	if suite.DH.ID != 0 {
		if m.KEGroup != suite.DH.ID {
			r.addNotify(nInvalidKEPayload, []byte{byte(suite.DH.ID >> 8), byte(suite.DH.ID)})
			return newChild{}, r, nInvalidKEPayload
		}
		dh, err := c.newDH(suite.DH.ID)
		if err == nil {
			shared, err = dh.SharedSecret(m.KE)
		}
		if err != nil {
			return newChild{}, notifyOnly(nNoProposalChosen), nNoProposalChosen
		}
		r.KEGroup, r.KE = suite.DH.ID, dh.Public()
	}
	ch := &childSA{inSPI: c.newChildSPI(), outSPI: uint32FromBytes(chosen.SPI), suite: suite,
		nonceI: m.Nonce, nonceR: c.random(nonceLen), localTS: localTS, remoteTS: remoteTS}
	chosen.SPI = be32(ch.inSPI)
	r.SA, r.Nonce = []proposal{chosen}, ch.nonceR
	r.TSi, r.TSr = m.TSi, m.TSr
	return newChild{ch, shared}, r, 0
}

// childByOutSPI finds the Child SA that the peer, in a request on sa,
// names by spi (its inbound SPI, our outbound one).
func (c *Core) childByOutSPI(sa *ikeSA, spi uint32) *childSA {
	for _, ch := range sa.children {
		if ch.outSPI == spi {
			return ch
		}
	}
	if sa.tun == nil {
		return nil
	}
	// While an IKE SA rekey collision is open here, the Child SAs still
	// sit on the old IKE SA, but the peer, which made sa and may not know
	// of the collision, already addresses them on sa.
	for _, o := range c.peerSAs(sa) {
		if o.peerRekey != sa {
			continue
		}
		for _, ch := range o.children {
			if ch.outSPI == spi {
				return ch
			}
		}
	}
	return nil
}

func selectorsOf(ps []netip.Prefix) []selector {
	if len(ps) == 0 {
		return routeSelectors()
	}
	var out []selector
	for _, p := range ps {
		out = append(out, selector{StartPort: 0, EndPort: 65535, StartAddr: p.Masked().Addr(), EndAd: lastOf(p.Masked())})
	}
	return out
}

// startChildDelete sends an INFORMATIONAL DELETE for ch; ch stays
// installed until the answer (plus a grace period when it was replaced).
func (c *Core) startChildDelete(now time.Time, sa *ikeSA, ch *childSA) {
	if ch.deleting {
		return
	}
	ch.deleting = true
	ch.deleteQueued = true
	c.request(now, sa, func(time.Time) *message {
		if sa.replacedBy != nil || !ch.installed {
			return nil // sa's successor sends it (adoptIKE), or ch is gone
		}
		ch.deleteQueued = false
		return &message{Exchange: exInformational, Deletes: []deletion{{Protocol: protoESP, SPIs: [][]byte{be32(ch.inSPI)}}}}
	}, func(now time.Time, m *message) {
		c.retireChild(now, ch)
	})
}

// retireChild removes ch now, or after the grace period when a newer SA
// replaced it (packets still in flight on it are not lost).
func (c *Core) retireChild(now time.Time, ch *childSA) {
	if ch.replacedBy != nil {
		// Only traffic on ch moves: when ch is the redundant SA of a rekey
		// collision the peer won, the peer may not hold its new SA yet
		// (our answer to its rekey can be lost), and traffic moves when
		// the peer deletes the old SA (awaitPeerDelete).
		if ch.outbound() {
			c.switchOutbound(ch.replacedBy)
		}
		ch.deleteAt = now.Add(c.opt.DeleteGrace)
		return
	}
	c.uninstallChild(ch)
}

// respondInformational answers DELETEs and liveness checks.
func (c *Core) respondInformational(now time.Time, sa *ikeSA, m *message) {
	r := &message{}
	lost := false
	for _, d := range m.Deletes {
		switch d.Protocol {
		case protoIKE:
			c.reply(sa, m, &message{})
			c.peerDeletedIKE(now, sa)
			return
		case protoESP:
			for _, spi := range d.SPIs {
				ch := c.childByOutSPI(sa, uint32FromBytes(spi))
				if ch == nil {
					continue
				}
				if !ch.deleting {
					ch.deleting = true
					r.Deletes = appendESPDelete(r.Deletes, ch.inSPI)
				}
				lost = lost || ch.replacedBy == nil
				c.retireChild(now, ch)
			}
		}
	}
	c.reply(sa, m, r)
	if lost {
		c.childLost(now, sa)
	}
}

func appendESPDelete(ds []deletion, spi uint32) []deletion {
	if len(ds) == 0 {
		ds = []deletion{{Protocol: protoESP}}
	}
	ds[0].SPIs = append(ds[0].SPIs, be32(spi))
	return ds
}

// peerDeletedIKE removes an IKE SA the peer deleted. A replaced (rekeyed)
// SA just goes; a tunnel's only SA is re-initiated for connect-type auto.
func (c *Core) peerDeletedIKE(now time.Time, sa *ikeSA) {
	if peer := sa.peerRekey; sa.replacedBy == nil && peer != nil && peer.state == StateEstablished {
		// Both ends rekeyed at once and the answer to ours has not come:
		// the peer deletes the old SA only when its own new SA won the
		// collision (ikeRekeyReply), so that one is ours too now.
		c.log.Info("ike: IKE SA rekey collision: the peer's new SA won", "tunnel", tunName(sa))
		c.adoptIKE(now, sa, peer)
	}
	c.log.Info("ike: peer deleted IKE SA", "tunnel", tunName(sa), "peer", sa.remote, "replaced", sa.replacedBy != nil)
	if sa.replacedBy != nil {
		// The peer deletes the old SA only once it holds the new one: as
		// good as hearing from it there (an INVALID_IKE_SPI from before is
		// stale, see peerLostSA).
		sa.replacedBy.unproven = false
		sa.replacedBy.lastHeard = now
		c.removeSA(now, sa)
		return
	}
	c.failSA(now, sa, "peer deleted the IKE SA")
}

// startDPD sends an empty INFORMATIONAL as a liveness check.
func (c *Core) startDPD(now time.Time, sa *ikeSA) {
	c.count(sa.tun, statDPD)
	c.request(now, sa, func(time.Time) *message { return &message{Exchange: exInformational} },
		func(time.Time, *message) {})
	if sa.pending != nil {
		sa.pending.giveUpAt = sa.pending.sentAt.Add(c.opt.DPDTimeout)
		sa.pending.onFail = func(now time.Time) {
			c.log.Warn("ike: peer dead (DPD)", "tunnel", tunName(sa), "peer", sa.remote)
			c.failSA(now, sa, "DPD timeout")
		}
	}
}

// deleteIKE sends DELETE for the IKE SA and removes it on the answer (or
// when the peer does not answer).
func (c *Core) deleteIKE(now time.Time, sa *ikeSA) {
	if sa.state == StateDeleting || sa.state == StateDead {
		return
	}
	sa.state = StateDeleting
	sa.queue = nil
	if sa.pending != nil && sa.pending.onReply != nil {
		sa.pending = nil // abandon it: the SA goes away
	}
	done := func(now time.Time) {
		t := sa.tun
		c.removeSA(now, sa)
		if t != nil && t.ike == nil && sa.replacedBy == nil {
			c.scheduleRetry(now, t, "IKE SA deleted")
		}
	}
	c.request(now, sa, func(time.Time) *message {
		return &message{Exchange: exInformational, Deletes: []deletion{{Protocol: protoIKE}}}
	}, func(now time.Time, _ *message) { done(now) })
	if sa.pending != nil {
		sa.pending.onFail = done
	}
}
