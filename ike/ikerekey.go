package ike

import (
	"bytes"
	"time"
)

// IKE SA rekey by CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18), both roles,
// with the lowest-nonce collision rule (§2.8.1). The Child SAs move to
// the new IKE SA at once; the old IKE SA lives until its DELETE.

// startIKERekey starts our rekey of sa.
func (c *Core) startIKERekey(now time.Time, sa *ikeSA) {
	dh, err := c.newDH(sa.suite.DH.ID)
	if err != nil {
		return
	}
	rk := &ikeRekey{dh: dh, nonce: c.random(nonceLen)}
	spi := c.newIKESPI()
	sa.rekeying = rk
	c.request(now, sa, func(time.Time) *message {
		if sa.state != StateEstablished || sa.replacedBy != nil {
			sa.rekeying = nil
			return nil
		}
		rk.sent = true
		m := &message{Exchange: exCreateChildSA}
		m.SA = ikeOffer(&sa.tun.pol, be64(spi), sa.suite.DH.ID)
		m.Nonce, m.KEGroup, m.KE = rk.nonce, sa.suite.DH.ID, dh.Public()
		return m
	}, func(now time.Time, m *message) { c.ikeRekeyReply(now, sa, rk, spi, m) })
}

// ikeRekeyReply completes our IKE SA rekey.
func (c *Core) ikeRekeyReply(now time.Time, sa *ikeSA, rk *ikeRekey, spi uint64, m *message) {
	sa.rekeying = nil
	if n := m.errorNotify(); n != nil {
		c.log.Info("ike: peer refused IKE SA rekey, retrying later", "tunnel", tunName(sa), "notify", notifyName(n.Type))
		sa.rekeyAt = c.rekeyRetryTime(now, sa.expireAt)
		return
	}
	suite, peerSPI, ok := acceptIKEAnswer(&sa.tun.pol, m.SA)
	if !ok || len(peerSPI) != 8 || m.KEGroup != suite.DH.ID || len(m.Nonce) < 16 {
		c.log.Warn("ike: IKE SA rekey answer does not match our offer", "tunnel", tunName(sa))
		sa.rekeyAt = c.rekeyRetryTime(now, sa.expireAt)
		return
	}
	shared, err := rk.dh.SharedSecret(m.KE)
	if err != nil {
		sa.rekeyAt = c.rekeyRetryTime(now, sa.expireAt)
		return
	}
	nsa := c.rekeyedSA(now, sa, true, spi, uint64FromBytes(peerSPI), suite, shared, rk.nonce, m.Nonce)
	if peer := sa.peerRekey; peer != nil && peer.state != StateDead {
		if bytes.Compare(minNonce(rk.nonce, m.Nonce), minNonce(peer.nonceI, peer.nonceR)) < 0 {
			c.log.Info("ike: IKE SA rekey collision: the peer's new SA wins", "tunnel", tunName(sa))
			c.adoptIKE(now, sa, peer)
			nsa.replacedBy = peer
			c.deleteIKE(now, nsa)
			return
		}
		c.log.Info("ike: IKE SA rekey collision: our new SA wins", "tunnel", tunName(sa))
		peer.replacedBy = nsa
	}
	c.adoptIKE(now, sa, nsa)
	c.deleteIKE(now, sa)
}

// rekeyedSA builds the new IKE SA of a rekey of old (keys per §2.18:
// SKEYSEED = prf_old(SK_d_old, g^ir | Ni | Nr)).
func (c *Core) rekeyedSA(now time.Time, old *ikeSA, weInitiated bool, spiI, spiR uint64, suite IKESuite, shared, nI, nR []byte) *ikeSA {
	if !weInitiated {
		spiI, spiR = spiR, spiI
	}
	n := &ikeSA{
		tun: old.tun, initiator: weInitiated, state: StateEstablished, spiI: spiI, spiR: spiR, suite: suite,
		local: old.local, remote: old.remote, encap: old.encap, natLocal: old.natLocal, natRemote: old.natRemote,
		fragOK: old.fragOK, nonceI: nI, nonceR: nR, peerID: old.peerID, localID: old.localID, psk: old.psk,
		created: now, lastHeard: now,
	}
	if err := n.setKeys(shared, old.keys.d, old.suite.PRF.ID); err != nil {
		c.log.Error("ike: IKE SA rekey key derivation", "err", err)
	}
	c.serial++
	n.serial = c.serial
	lt := old.tun.pol.IKELifetime
	n.rekeyAt, n.expireAt = c.rekeyTime(now, lt), now.Add(lt)
	c.sas[n.localSPI()] = n
	c.joinTunnel(n, old.tun)
	c.mark(n)
	c.keyLogIKE(n)
	return n
}

// adoptIKE moves old's Child SAs to nsa and makes nsa the tunnel's SA.
func (c *Core) adoptIKE(now time.Time, old, nsa *ikeSA) {
	moved := old.children
	for _, ch := range moved {
		ch.ike = nsa
		nsa.children = append(nsa.children, ch)
	}
	old.children = nil
	nsa.recreateAt, old.recreateAt = old.recreateAt, time.Time{}
	old.replacedBy = nsa
	if old.tun != nil && (old.tun.ike == old || old.tun.ike == nil) {
		old.tun.ike = nsa
	}
	// Exchanges for the Child SAs still waiting in old's queue would die
	// with old (its requests send nothing once it is replaced): start
	// them again on nsa. Lost, a rekey would never be tried again and the
	// Child SA would go down at its hard lifetime.
	for _, ch := range moved {
		if rk := ch.rekeying; rk != nil && !rk.sent {
			ch.rekeying = nil
			c.startChildRekey(now, nsa, ch)
		}
		if ch.deleteQueued {
			ch.deleting, ch.deleteQueued = false, false
			c.startChildDelete(now, nsa, ch)
		}
	}
	c.count(nsa.tun, statIKERekeys)
	c.log.Info("ike: IKE SA rekeyed", "tunnel", tunName(nsa), "serial", nsa.serial)
}

// respondIKERekey answers a peer's IKE SA rekey.
func (c *Core) respondIKERekey(now time.Time, sa *ikeSA, m *message) {
	// Our own rekey in flight is a collision (§2.8.1); any other exchange
	// of ours in flight, a Child SA's rekey above all, must finish on this
	// SA first (§2.25.2), or its outcome is lost with the old SA.
	ours := sa.rekeying != nil && sa.rekeying.sent
	if sa.state != StateEstablished || sa.replacedBy != nil || (sa.pending != nil && !ours) {
		c.reply(sa, m, notifyOnly(nTemporaryFailure))
		return
	}
	suite, chosen, ok := chooseIKE(&sa.tun.pol, m.SA)
	if !ok || len(chosen.SPI) != 8 || len(m.Nonce) < 16 {
		c.reply(sa, m, notifyOnly(nNoProposalChosen))
		return
	}
	if m.KEGroup != suite.DH.ID {
		r := &message{}
		r.addNotify(nInvalidKEPayload, []byte{byte(suite.DH.ID >> 8), byte(suite.DH.ID)})
		c.reply(sa, m, r)
		return
	}
	dh, err := c.newDH(suite.DH.ID)
	var shared []byte
	if err == nil {
		shared, err = dh.SharedSecret(m.KE)
	}
	if err != nil {
		c.reply(sa, m, notifyOnly(nNoProposalChosen))
		return
	}
	nonce := c.random(nonceLen)
	spi := c.newIKESPI()
	nsa := c.rekeyedSA(now, sa, false, spi, uint64FromBytes(chosen.SPI), suite, shared, m.Nonce, nonce)
	// Our answer may be lost: until the peer uses nsa or deletes sa, an
	// INVALID_IKE_SPI on nsa means "not yet", not "lost" (peerLostSA).
	nsa.unproven = true
	chosen.SPI = be64(spi)
	c.reply(sa, m, &message{SA: []proposal{chosen}, Nonce: nonce, KEGroup: suite.DH.ID, KE: dh.Public()})
	if ours {
		sa.peerRekey = nsa // collision: resolved when our answer arrives
		return
	}
	c.adoptIKE(now, sa, nsa)
}
