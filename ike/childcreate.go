package ike

import (
	"fmt"
	"time"
)

// New Child SAs on an established IKE SA (CREATE_CHILD_SA without
// REKEY_SA). A peer deletes a tunnel's only Child SA and creates another
// on the same IKE SA when that Child SA expired before its rekey (charon
// does this; so does "swanctl --terminate --child" then "--initiate
// --child"). We accept such a request while the tunnel has no live Child
// SA, and a connect-type auto tunnel creates one itself when the peer has
// not done so within childRecreateDelay.

// childRecreateDelay is how long a connect-type auto tunnel waits, after
// the peer deleted its only Child SA, for the peer to create a new one
// before creating one itself (the peer's usually comes at once).
const childRecreateDelay = 2 * time.Second

// childCreate is our outstanding CREATE_CHILD_SA without REKEY_SA.
type childCreate struct {
	inSPI uint32
	nonce []byte
	dh    dhKey
}

// liveChild returns a Child SA of sa that is installed and neither being
// deleted nor replaced, or nil.
func (sa *ikeSA) liveChild() *childSA {
	for _, ch := range sa.children {
		if ch.installed && !ch.deleting && ch.replacedBy == nil {
			return ch
		}
	}
	return nil
}

// childLost follows the peer's DELETE of a Child SA that nothing
// replaces: when the tunnel is left without one, a connect-type auto
// tunnel schedules a new one; a responder-only tunnel waits for the peer.
func (c *Core) childLost(now time.Time, sa *ikeSA) {
	t := sa.tun
	if t == nil || t.ike != sa || sa.state != StateEstablished || sa.liveChild() != nil {
		return
	}
	if !t.conf.ConnectAuto || t.responderOnly() {
		c.log.Info("ike: peer deleted the tunnel's Child SA; waiting for it to create a new one", "tunnel", t.name)
		return
	}
	c.log.Info("ike: peer deleted the tunnel's Child SA; will create a new one unless it does", "tunnel", t.name,
		"in", childRecreateDelay)
	sa.recreateAt = now.Add(childRecreateDelay)
	c.mark(sa)
}

// startChildCreate asks the peer for a new Child SA unless the tunnel
// has one by the time the request can go out.
func (c *Core) startChildCreate(now time.Time, sa *ikeSA) {
	c.request(now, sa, func(time.Time) *message {
		t := sa.tun
		if sa.state != StateEstablished || t == nil || t.ike != sa || sa.liveChild() != nil {
			return nil
		}
		pol := &t.pol
		cr := &childCreate{inSPI: c.newChildSPI(), nonce: c.random(nonceLen)}
		m := &message{Exchange: exCreateChildSA, SA: childOffer(pol, cr.inSPI, true), Nonce: cr.nonce}
		if len(pol.ChildPFS) > 0 {
			dh, err := c.newDH(pol.ChildPFS[0].ID)
			if err != nil {
				return nil
			}
			cr.dh = dh
			m.KEGroup, m.KE = pol.ChildPFS[0].ID, dh.Public()
		}
		m.TSi, m.TSr = routeSelectors(), routeSelectors()
		sa.creating = cr
		c.log.Info("ike: creating a new Child SA", "tunnel", t.name)
		return m
	}, func(now time.Time, m *message) { c.childCreateReply(now, sa, m) })
}

// childCreateReply installs the Child SA our CREATE_CHILD_SA made. A
// refusal other than TEMPORARY_FAILURE ends the IKE SA, so a connect-type
// auto tunnel starts over rather than stay up without a Child SA.
func (c *Core) childCreateReply(now time.Time, sa *ikeSA, m *message) {
	cr := sa.creating
	sa.creating = nil
	if cr == nil || sa.state != StateEstablished {
		return
	}
	if n := m.errorNotify(); n != nil {
		switch {
		case sa.liveChild() != nil:
			// The peer's own new Child SA got in first.
		case n.Type == nTemporaryFailure:
			sa.recreateAt = now.Add(childRecreateDelay)
		default:
			c.log.Warn("ike: peer refused a new Child SA; re-initiating", "tunnel", tunName(sa), "notify", notifyName(n.Type))
			c.deleteIKE(now, sa)
		}
		return
	}
	suite, outSPI, ok := acceptChildAnswer(&sa.tun.pol, m.SA, cr.dh != nil)
	var shared []byte
	var err error
	if ok && cr.dh != nil {
		shared, err = cr.dh.SharedSecret(m.KE)
	}
	if !ok || err != nil || len(m.Nonce) < 16 {
		c.log.Warn("ike: new Child SA answer does not match our offer; re-initiating", "tunnel", tunName(sa))
		c.deleteIKE(now, sa)
		return
	}
	nc := &childSA{inSPI: cr.inSPI, outSPI: outSPI, suite: suite, initiator: true, nonceI: cr.nonce, nonceR: m.Nonce,
		localTS: prefixes(m.TSi), remoteTS: prefixes(m.TSr)}
	c.installNewChild(now, sa, nc, shared)
}

// respondNewChild answers a CREATE_CHILD_SA without REKEY_SA: one Child
// SA per tunnel, so it is accepted only while the tunnel has none.
func (c *Core) respondNewChild(now time.Time, sa *ikeSA, m *message) {
	t := sa.tun
	if t == nil || t.ike != sa || sa.state != StateEstablished || sa.liveChild() != nil {
		c.reply(sa, m, notifyOnly(nNoAdditionalSAs))
		return
	}
	if !selectorsAcceptable(m.TSi) || !selectorsAcceptable(m.TSr) {
		c.reply(sa, m, notifyOnly(nTSUnacceptable))
		return
	}
	nc, r, ntype := c.acceptChild(sa, m, prefixes(m.TSr), prefixes(m.TSi))
	if ntype != 0 {
		c.reply(sa, m, r)
		c.log.Warn("ike: peer's new Child SA refused", "tunnel", t.name, "notify", notifyName(ntype))
		return
	}
	sa.recreateAt = time.Time{}
	c.log.Info("ike: peer created a new Child SA", "tunnel", t.name)
	c.installNewChild(now, sa, nc.ch, nc.shared) // before the answer can draw traffic
	c.reply(sa, m, r)
}

// installNewChild installs nc as the tunnel's Child SA (inbound, then
// outbound, then SetOutbound). If the peer's and our creations crossed,
// both ends keep the same one: the SA whose exchange has the lowest of
// the four nonces is redundant and the end that started that exchange
// deletes it (as for rekeys, RFC 7296 §2.8.1); the other end deletes it
// itself after orphanTimeout if that DELETE never comes.
func (c *Core) installNewChild(now time.Time, sa *ikeSA, nc *childSA, shared []byte) {
	other := sa.liveChild()
	if other == nil {
		c.addChild(now, sa, nc, shared, true)
		return
	}
	redundant, keep := other, nc
	if lowestNonceIsOurs(nc, other) {
		redundant, keep = nc, other
	}
	c.addChild(now, sa, nc, shared, keep == nc)
	c.log.Info("ike: new Child SAs crossed; keeping one", "tunnel", tunName(sa),
		"keep", fmt.Sprintf("%08x", keep.inSPI), "drop", fmt.Sprintf("%08x", redundant.inSPI))
	redundant.replacedBy = keep
	if redundant.initiator {
		c.startChildDelete(now, sa, redundant)
	} else {
		c.awaitPeerDelete(now, redundant)
	}
}
