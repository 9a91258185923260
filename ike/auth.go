package ike

import (
	"crypto/hmac"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// IKE_AUTH with pre-shared keys and the first Child SA (RFC 7296 §1.2,
// §2.15).

// routeSelectors is the route-based traffic selector: everything.
func routeSelectors() []selector {
	return []selector{{StartPort: 0, EndPort: 65535, StartAddr: netip.IPv4Unspecified(), EndAd: netip.AddrFrom4([4]byte{255, 255, 255, 255})}}
}

func addrIdentity(a netip.Addr) identity {
	a = a.Unmap()
	if a.Is4() {
		return identity{Type: idIPv4, Data: a.AsSlice()}
	}
	return identity{Type: idIPv6, Data: a.AsSlice()}
}

// String prints an identity as "show ikev2 child-sa" does: "IPV4-ADDR 192.0.2.1".
func (id identity) String() string {
	switch id.Type {
	case idIPv4, idIPv6:
		a, _ := netip.AddrFromSlice(id.Data)
		if id.Type == idIPv4 {
			return "IPV4-ADDR " + a.String()
		}
		return "IPV6-ADDR " + a.String()
	case idFQDN:
		return "FQDN " + string(id.Data)
	case idKeyID:
		return "KEY-ID " + string(id.Data)
	}
	return fmt.Sprintf("ID-%d", id.Type)
}

func (id identity) equal(o identity) bool {
	if id.Type == idFQDN && o.Type == idFQDN {
		return strings.EqualFold(string(id.Data), string(o.Data))
	}
	return id.Type == o.Type && string(id.Data) == string(o.Data)
}

// pskFor finds the key of "ikev2 authentication psk id" for the peer's
// identity; a PSK keyed by the peer's address also matches.
func (c *Core) pskFor(peerID identity, peer netip.Addr) []byte {
	if k, ok := c.pskFirst[idKey(peerID)]; ok {
		return k
	}
	if peer.IsValid() {
		return c.pskLast[idKey(addrIdentity(peer))]
	}
	return nil
}

// idKey is an identity as a map key: equal identities (see equal: an
// FQDN's case does not count) have equal keys.
func idKey(id identity) string {
	data := string(id.Data)
	if id.Type == idFQDN {
		data = strings.ToLower(data)
	}
	return strconv.Itoa(id.Type) + ":" + data
}

// localIdentity is the identity tunnel t sends from local: its
// configured one, else the address.
func localIdentity(t *tunnel, local netip.Addr) identity {
	if t != nil && !t.conf.LocalID.IsZero() {
		return t.conf.LocalID.wire()
	}
	return addrIdentity(local)
}

// ownPSK is the key our AUTH payload is made with: the one configured for
// our own identity ("ikev2 authentication psk id" naming it), as an IX
// with a key per identity and strongSwan with asymmetric keys expect,
// else peerKey, the key that authenticates the peer. A peer with one key
// for both ends (Azure, the seed) has only its own identity configured.
func (c *Core) ownPSK(local identity, peerKey []byte) []byte {
	if k, ok := c.pskFirst[idKey(local)]; ok {
		return k
	}
	return peerKey
}

// expectedPeerID is what a tunnel expects the peer to send as its ID.
func expectedPeerID(t *tunnel) (identity, bool) {
	if !t.conf.PeerID.IsZero() {
		return t.conf.PeerID.wire(), true
	}
	if t.conf.Peer.IsValid() {
		return addrIdentity(t.conf.Peer), true
	}
	return identity{}, false
}

// authData computes the PSK AUTH value (RFC 7296 §2.15) of one side:
// prf(prf(PSK, "Key Pad for IKEv2"), msg | peerNonce | prf(SK_p, idBody)),
// where idBody is the ID payload body as sent (identity.body).
func authData(s IKESuite, psk, msg, peerNonce, skP, idBody []byte) []byte {
	octets := make([]byte, 0, len(msg)+len(peerNonce)+64)
	octets = append(append(octets, msg...), peerNonce...)
	octets = append(octets, prfSum(s.PRF.ID, skP, idBody)...)
	return prfSum(s.PRF.ID, prfSum(s.PRF.ID, psk, []byte("Key Pad for IKEv2")), octets)
}

// sendAuth sends the initiator's IKE_AUTH request.
func (c *Core) sendAuth(now time.Time, sa *ikeSA) {
	t := sa.tun
	want, ok := expectedPeerID(t)
	psk := c.pskFor(want, t.conf.Peer)
	if !ok || psk == nil {
		c.log.Warn("ike: no pre-shared key configured for peer", "tunnel", t.name, "peer", sa.remote)
		c.failSA(now, sa, "no PSK")
		return
	}
	sa.peerID, sa.psk = want, psk
	sa.localID = localIdentity(t, sa.local.Addr())
	own := c.ownPSK(sa.localID, psk)
	sa.childSPI = c.newChildSPI()
	c.request(now, sa, func(time.Time) *message {
		m := &message{Exchange: exIKEAuth}
		m.IDi = &sa.localID
		m.AuthM = authSharedKey
		m.Auth = authData(sa.suite, own, sa.initReq, sa.nonceR, sa.keys.pi, sa.localID.body())
		// INITIAL_CONTACT says "I have no other SA with you" (RFC 7296
		// §2.4): not true when the peer's own initiation got in first, and
		// a peer would drop that SA for it.
		if !c.opt.NoInitialContact && !c.opt.InitialContactVendorID && !c.otherEstablished(sa) {
			m.addNotify(nInitialContact, nil)
		}
		m.SA = childOffer(&t.pol, sa.childSPI, false)
		m.TSi, m.TSr = routeSelectors(), routeSelectors()
		return m
	}, func(now time.Time, m *message) { c.authReply(now, sa, m) })
	sa.pending.onFail = func(now time.Time) { c.failSA(now, sa, "no IKE_AUTH answer") }
}

// authReply handles the responder's IKE_AUTH answer.
func (c *Core) authReply(now time.Time, sa *ikeSA, m *message) {
	if err := c.checkPeerAuth(sa, m, sa.nonceI, sa.initResp, sa.keys.pr, m.IDr); err != nil {
		c.log.Warn("ike: IKE_AUTH failed", "tunnel", tunName(sa), "peer", sa.remote, "reason", err.Error())
		if m.notify(nAuthenticationFailed) == nil { // the peer's notify is counted on receipt
			c.count(sa.tun, statAuthFailed)
		}
		c.failSA(now, sa, "authentication failed")
		return
	}
	c.established(now, sa, m)
	if n := m.errorNotify(); n != nil {
		c.log.Warn("ike: peer refused the Child SA", "tunnel", tunName(sa), "notify", notifyName(n.Type))
		c.deleteIKE(now, sa)
		return
	}
	suite, outSPI, ok := acceptChildAnswer(&sa.tun.pol, m.SA, false)
	if !ok {
		c.log.Warn("ike: Child SA answer does not match our offer", "tunnel", tunName(sa))
		c.deleteIKE(now, sa)
		return
	}
	ch := &childSA{ike: sa, inSPI: sa.childSPI, outSPI: outSPI, suite: suite, initiator: true,
		nonceI: sa.nonceI, nonceR: sa.nonceR}
	ch.localTS, ch.remoteTS = prefixes(m.TSi), prefixes(m.TSr)
	c.addChild(now, sa, ch, nil, true)
	c.dropLost(now, sa)
	c.dropDuplicate(now, sa)
}

// checkPeerAuth verifies the peer's ID and AUTH payload.
func (c *Core) checkPeerAuth(sa *ikeSA, m *message, ourNonce, peerInit, skP []byte, id *identity) error {
	if n := m.notify(nAuthenticationFailed); n != nil {
		return fmt.Errorf("peer sent AUTHENTICATION_FAILED (check the pre-shared key and IDs)")
	}
	if id == nil || m.Auth == nil {
		return fmt.Errorf("answer lacks ID or AUTH")
	}
	if m.AuthM != authSharedKey {
		return fmt.Errorf("peer uses auth method %d, not a pre-shared key", m.AuthM)
	}
	if !id.equal(sa.peerID) {
		return fmt.Errorf("peer ID %s, expected %s", id, sa.peerID)
	}
	// Over the ID payload body as received: a peer may set its RESERVED
	// bytes, and its AUTH covers them.
	want := authData(sa.suite, sa.psk, peerInit, ourNonce, skP, id.body())
	if !hmac.Equal(want, m.Auth) {
		return fmt.Errorf("AUTH payload does not verify: pre-shared keys differ")
	}
	return nil
}

// established marks sa authenticated and makes it the tunnel's SA.
func (c *Core) established(now time.Time, sa *ikeSA, m *message) {
	t := sa.tun
	begun := sa.created // when its IKE_SA_INIT began
	sa.state = StateEstablished
	c.serial++
	sa.serial = c.serial
	sa.created = now
	sa.lastHeard = now
	sa.rekeyAt = c.rekeyTime(now, t.pol.IKELifetime)
	sa.expireAt = now.Add(t.pol.IKELifetime)
	c.mark(sa)
	c.leaveHalfOpen(sa)
	// The IKE_SA_INIT messages were only needed for the AUTH payloads.
	sa.initReq, sa.initResp, sa.dh, sa.initOffer = nil, nil, nil, nil
	if !sa.initiator {
		// INITIAL_CONTACT (or Microsoft's Vid-Initial-Contact vendor ID
		// in the IKE_SA_INIT request, which Azure's gateway sends instead)
		// says the peer held no other SA with us when it set this one up:
		// its old SAs are gone. An SA established after
		// this one's exchange began is not one of them: both ends
		// initiated at once, and the peer may hold it by now (the
		// duplicate is resolved below, not dropped unannounced).
		//
		// Without INITIAL_CONTACT, an SA established more than
		// staleDuplicate before the peer began this one is not from
		// both ends dialling at once either: the peer restarted without
		// saying so or reauthenticates, and the new SA replaces the old,
		// as strongSwan's unique IDs do. Kept by the duplicate rule
		// instead, the old SA could outlive the peer's every new one
		// until its rekey, with the tunnel down meanwhile.
		//
		// The vendor ID is said in IKE_SA_INIT, and a retransmitted
		// request repeats it: when both ends dial at once and the peer's
		// first request is lost, its retransmission still says it holds
		// no SA with us, though by then it holds the one we set up. So
		// for an SA younger than staleDuplicate the vendor ID only raises
		// a doubt: the peer is asked on that SA whether it holds it
		// (doubtOld). Found in the lab, where the peer kept the older SA
		// by the duplicate rule while we had dropped it for the new one.
		notified := m.notify(nInitialContact) != nil
		for _, o := range c.peerSAs(sa) {
			if o.state != StateEstablished || !o.created.Before(begun) {
				continue
			}
			stale := o.created.Before(begun.Add(-staleDuplicate))
			initial := notified || sa.vidInitialContact && stale
			switch {
			case initial || (stale && o.replacedBy == nil):
				c.log.Info("ike: the peer's new IKE SA replaces its old one", "tunnel", t.name, "peer", sa.remote,
					"initial_contact", initial)
				c.replaceOld(now, o, sa)
			case sa.vidInitialContact && o.replacedBy == nil:
				c.doubtOld(now, o, sa)
			}
		}
	}
	t.ike = sa
	t.upSince = now // the backoff starts over once it stayed up (scheduleRetry)
	c.log.Info("ike: IKE SA established", "tunnel", t.name, "peer", sa.remote, "id", sa.peerID.String(),
		"role", role(sa.initiator), "enc", sa.suite.Enc.Name, "integ", sa.suite.Integ.Name, "dh", sa.suite.DH.Name)
	c.keyLogIKE(sa)
}

// staleDuplicate is how long before the peer began a new IKE SA ours must
// have been established for the new one to replace it without
// INITIAL_CONTACT (see established): longer than any IKE_SA_INIT
// retransmission of two ends dialling at once.
const staleDuplicate = 30 * time.Second

// replaceOld retires old, which the peer replaced with sa: its Child SAs
// still take what the peer sent before it had sa, for DeleteGrace; our
// traffic moves to sa's as they are installed.
func (c *Core) replaceOld(now time.Time, old, sa *ikeSA) {
	old.state, old.replacedBy, old.deleteAt = StateDeleting, sa, now.Add(c.opt.DeleteGrace)
	c.mark(old)
}

// doubtOld asks the peer, with an empty INFORMATIONAL on old, whether it
// still holds old, which it said it does not with the Vid-Initial-Contact
// of sa's IKE_SA_INIT request. Meanwhile old is left out of the duplicate
// rule and our traffic goes to sa, as the vendor ID asks: a peer that
// restarted holds only sa. If the peer answers on old, the vendor ID was
// stale (a retransmission from before it held old) and the duplicate rule
// decides between the two, as it does at the peer. If it does not, or
// says it has no such SA (an unauthenticated INVALID_IKE_SPI, trusted
// here because it can only confirm what the authenticated vendor ID
// said), old goes.
func (c *Core) doubtOld(now time.Time, old, sa *ikeSA) {
	if old.doubtedFor != nil {
		return
	}
	if old.pending != nil || len(old.queue) > 0 {
		// An exchange on old is under way: its answer would not say which
		// SA the peer holds now. Do what the vendor ID asks.
		c.replaceOld(now, old, sa)
		return
	}
	c.log.Info("ike: the peer says it holds no other IKE SA; asking it on the older one", "tunnel", tunName(old), "peer", old.remote)
	old.doubtedFor = sa
	c.request(now, old, func(time.Time) *message { return &message{Exchange: exInformational} },
		func(now time.Time, _ *message) {
			old.doubtedFor = nil
			c.log.Info("ike: the peer holds the older IKE SA too (a stale Vid-Initial-Contact)", "tunnel", tunName(old), "peer", old.remote)
			// The answer proves only that the peer holds old; sa is
			// proven if the rule keeps it and the peer sends on it.
			keep := sa
			if old.spiI < sa.spiI {
				keep = old
			}
			c.resolveDuplicate(now, keep, keep == old)
		})
	if old.pending != nil {
		old.pending.onFail = func(now time.Time) { c.dropDoubted(now, old, "no answer") }
	}
}

// dropDoubted removes old, which the peer does not hold after all (see
// doubtOld), in favour of the SA whose Vid-Initial-Contact doubted it.
func (c *Core) dropDoubted(now time.Time, old *ikeSA, why string) {
	sa := old.doubtedFor
	old.doubtedFor = nil
	c.log.Info("ike: the peer does not hold the older IKE SA; the new one replaces it", "tunnel", tunName(old), "peer", old.remote, "why", why)
	if sa.state == StateEstablished {
		old.replacedBy = sa
	}
	c.failSA(now, old, "the peer restarted")
}

// dropDuplicate resolves two IKE SAs for one tunnel that both ends set up
// at the same time (both initiate, as IX and Azure both may): the SA with
// the higher initiator SPI goes. Both ends pick the same one and delete
// it, so a peer that keeps duplicates (strongSwan's default) follows too.
//
// An end that only responded for the kept SA cannot know whether its
// IKE_AUTH answer arrived: until it did, the peer has no such SA, and
// moving traffic there or deleting the other would black-hole the
// tunnel. That end first makes sure the peer holds the kept SA: its
// traffic arrives on it, or it answers an empty INFORMATIONAL there (if
// the peer never got our answer, it retransmits its IKE_AUTH, and our
// liveness check is answered once that went through). Meanwhile the
// peer's own DELETE of the duplicate settles it too.
//
// Only tunnels with a configured peer address keep one IKE SA; a "peer
// any" tunnel accepts as many as its peers set up (as strongSwan does
// without a uniqueness policy).
func (c *Core) dropDuplicate(now time.Time, sa *ikeSA) {
	c.resolveDuplicate(now, sa, false)
}

// duplicateCheck is how often an end that waits for proof that the peer
// holds the kept SA looks for the peer's traffic on it.
const duplicateCheck = time.Second

// resolveDuplicate deletes sa's duplicate (or sa) as dropDuplicate says;
// proven says the peer is known to hold the kept SA.
func (c *Core) resolveDuplicate(now time.Time, sa *ikeSA, proven bool) {
	if sa.state != StateEstablished || sa.tun.conf.PeerAny {
		return
	}
	for _, o := range c.peerSAs(sa) {
		if o.state != StateEstablished || o.replacedBy != nil || sa.replacedBy != nil ||
			o.doubtedFor != nil || sa.doubtedFor != nil {
			continue
		}
		keep, drop := sa, o
		if o.spiI < sa.spiI {
			keep, drop = o, sa
		}
		if !keep.initiator && !proven && !c.peerSends(keep) {
			c.proveKept(now, keep, drop)
			return
		}
		drop.dupCheckAt = time.Time{}
		sa.tun.ike = keep
		c.log.Info("ike: duplicate IKE SA for the tunnel, deleting one", "tunnel", sa.tun.name,
			"spi_i", fmt.Sprintf("%016x", drop.spiI))
		// Move traffic to the kept SA before the DELETE goes out: the
		// peer removes the duplicate's inbound SA as soon as it reads
		// our DELETE, and packets still sent on it would be lost.
		c.moveOutboundOff(drop, keep)
		drop.replacedBy = keep // no re-initiation when it goes
		c.deleteIKE(now, drop)
		return
	}
}

// proveKept starts the wait for proof that the peer holds keep: a
// liveness check on keep, and a look at keep's inbound traffic every
// duplicateCheck (the timer is on drop: see Core.saTimers).
func (c *Core) proveKept(now time.Time, keep, drop *ikeSA) {
	drop.dupCheckAt = now.Add(duplicateCheck)
	c.mark(drop)
	if keep.proving {
		return
	}
	keep.proving = true
	c.request(now, keep, func(time.Time) *message { return &message{Exchange: exInformational} },
		func(now time.Time, _ *message) {
			keep.proving = false
			c.resolveDuplicate(now, keep, true)
		})
}

// peerSends reports whether packets from the peer arrived on one of sa's
// Child SAs: then the peer holds sa, whatever became of our answer.
func (c *Core) peerSends(sa *ikeSA) bool {
	for _, ch := range sa.children {
		if n, ok := c.opt.DataPlane.Counters(ch.inSPI, true); ok && n.Packets > 0 {
			return true
		}
	}
	return false
}

// moveOutboundOff points the tunnel's traffic at keep's newest live Child
// SA if it is on one of drop's.
func (c *Core) moveOutboundOff(drop, keep *ikeSA) {
	onDrop := false
	for _, ch := range drop.children {
		onDrop = onDrop || ch.outbound()
	}
	if !onDrop {
		return
	}
	for i := len(keep.children) - 1; i >= 0; i-- {
		if k := keep.children[i]; k.installed && !k.deleting && k.replacedBy == nil {
			c.switchOutbound(k)
			return
		}
	}
}

// otherEstablished reports whether we have another established IKE SA
// with sa's peer (one the peer said it lost, or said it holds none
// besides sa, does not count).
func (c *Core) otherEstablished(sa *ikeSA) bool {
	for _, o := range c.peerSAs(sa) {
		if o.state == StateEstablished && !o.peerLost && o.doubtedFor == nil {
			return true
		}
	}
	return false
}

// peerSAs lists the other live IKE SAs of sa's tunnel with the same peer
// (address and identity): a "peer any" tunnel serves many peers.
func (c *Core) peerSAs(sa *ikeSA) []*ikeSA {
	var out []*ikeSA
	for _, o := range c.sasOf(sa.tun) {
		if o != sa && o.remote.Addr() == sa.remote.Addr() && o.peerID.equal(sa.peerID) {
			out = append(out, o)
		}
	}
	return out
}

func role(initiator bool) string {
	if initiator {
		return "initiator"
	}
	return "responder"
}

// respondAuth handles a peer's IKE_AUTH request.
func (c *Core) respondAuth(now time.Time, sa *ikeSA, m *message) {
	if m.IDi == nil || m.Auth == nil {
		c.reply(sa, m, notifyOnly(nAuthenticationFailed))
		c.removeSA(now, sa)
		return
	}
	t, psk, err := c.matchPeer(sa.remote.Addr(), *m.IDi)
	if err == nil {
		c.joinTunnel(sa, t)
		sa.psk, sa.peerID = psk, *m.IDi
		err = c.checkPeerAuth(sa, m, sa.nonceR, sa.initReq, sa.keys.pi, m.IDi)
	}
	if err != nil {
		c.log.Warn("ike: IKE_AUTH rejected", "peer", sa.remote, "id", m.IDi.String(), "reason", err.Error())
		c.reply(sa, m, notifyOnly(nAuthenticationFailed))
		c.removeSA(now, sa)
		return
	}
	sa.localID = localIdentity(t, sa.local.Addr())
	r := &message{IDr: &sa.localID, AuthM: authSharedKey}
	r.Auth = authData(sa.suite, c.ownPSK(sa.localID, psk), sa.initResp, sa.nonceI, sa.keys.pr, sa.localID.body())
	c.established(now, sa, m)
	ch, chosen, ntype := c.acceptFirstChild(sa, m)
	if ntype != 0 {
		c.log.Warn("ike: first Child SA refused", "tunnel", t.name, "notify", notifyName(ntype))
		r.addNotify(ntype, nil)
		c.reply(sa, m, r)
		c.firstChildRefused(now, sa)
		return
	}
	r.SA = []proposal{chosen}
	r.TSi, r.TSr = m.TSi, m.TSr
	// Installed before the answer can draw traffic. Our own traffic moves
	// here only if the tunnel has no other SA with this peer: while it
	// has (both ends initiated), the peer may never get this answer, and
	// the duplicate's resolution moves the traffic (dropDuplicate).
	c.addChild(now, sa, ch, nil, !c.otherEstablished(sa))
	c.reply(sa, m, r)
	c.dropDuplicate(now, sa)
}

// firstChildRefused follows our refusal of the Child SA of the peer's
// IKE_AUTH. The IKE SA stays (RFC 7296 §1.2), and a peer may keep it
// (charon does), but it carries nothing: Azure offers fewer Child SA
// proposals than it accepts, so an IX whose proposal is only on the
// accepted list refuses every Child SA Azure's IKE_AUTH offers while its
// own initiation succeeds. Where the tunnel has another IKE SA with the
// peer that carries a Child SA (both ends dialled), this one goes and
// the other stays the tunnel's; otherwise a connect-type auto tunnel
// creates a Child SA on it with its own proposals, and a responder-only
// one waits for the peer to.
func (c *Core) firstChildRefused(now time.Time, sa *ikeSA) {
	t := sa.tun
	for _, o := range c.peerSAs(sa) {
		if o.state == StateEstablished && o.replacedBy == nil && o.liveChild() != nil {
			c.log.Info("ike: deleting the IKE SA of the refused Child SA; the tunnel's other one carries it", "tunnel", t.name)
			t.ike = o
			sa.replacedBy = o // no re-initiation when it goes
			c.deleteIKE(now, sa)
			return
		}
	}
	if !t.conf.ConnectAuto || t.responderOnly() {
		c.log.Info("ike: IKE SA without a Child SA; waiting for the peer to create one", "tunnel", t.name)
		return
	}
	c.log.Info("ike: IKE SA without a Child SA; will create one unless the peer does", "tunnel", t.name, "in", childRecreateDelay)
	sa.recreateAt = now.Add(childRecreateDelay)
	c.mark(sa)
}

// acceptFirstChild chooses the Child SA of an IKE_AUTH request.
func (c *Core) acceptFirstChild(sa *ikeSA, m *message) (*childSA, proposal, int) {
	suite, chosen, ok := chooseChild(&sa.tun.pol, m.SA, false)
	if !ok {
		return nil, proposal{}, nNoProposalChosen
	}
	if !selectorsAcceptable(m.TSi) || !selectorsAcceptable(m.TSr) {
		return nil, proposal{}, nTSUnacceptable
	}
	ch := &childSA{ike: sa, inSPI: c.newChildSPI(), outSPI: uint32FromBytes(chosen.SPI), suite: suite,
		nonceI: sa.nonceI, nonceR: sa.nonceR}
	chosen.SPI = be32(ch.inSPI)
	ch.localTS, ch.remoteTS = prefixes(m.TSr), prefixes(m.TSi)
	return ch, chosen, 0
}

// selectorsAcceptable: route-based tunnels take any IPv4/IPv6 selectors
// (a peer offering less than 0.0.0.0/0 narrows; we accept its narrowing).
func selectorsAcceptable(ts []selector) bool {
	n := len(prefixes(ts))
	return n > 0 && n <= maxSelectorPrefixes
}

// maxSelectorPrefixes bounds the prefixes a peer's traffic selectors
// make: the data plane tests a packet's addresses against each.
const maxSelectorPrefixes = 256

// prefixes converts selectors to the prefixes that cover their address
// ranges exactly: 10.0.0.0-10.0.0.255 is 10.0.0.0/24, and a range that
// is no prefix, 10.0.0.5-10.0.0.9, is 10.0.0.5/32, 10.0.0.6/31 and
// 10.0.0.8/31 (left out, such a range made a list without it, and a
// list of none alone meant any address). An inverted or mixed-family
// range is left out. Protocols and ports are not kept: the data plane
// checks addresses.
func prefixes(ts []selector) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ts {
		out = appendRangePrefixes(out, s.StartAddr, s.EndAd)
	}
	return out
}

// appendRangePrefixes appends the prefixes that cover start..end exactly,
// largest first from start.
func appendRangePrefixes(out []netip.Prefix, start, end netip.Addr) []netip.Prefix {
	if !start.IsValid() || !end.IsValid() || start.BitLen() != end.BitLen() || end.Less(start) {
		return out
	}
	for {
		bits := start.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(start, bits-1).Masked()
			if p.Addr() != start || end.Less(lastOf(p)) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(start, bits)
		out = append(out, p)
		last := lastOf(p)
		if last == end || len(out) > maxSelectorPrefixes {
			return out
		}
		start = last.Next()
	}
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// matchPeer finds the tunnel and PSK for a responder-side peer.
func (c *Core) matchPeer(addr netip.Addr, id identity) (*tunnel, []byte, error) {
	cand := c.tunnelByPeer(addr)
	if cand == nil {
		for _, name := range c.order {
			t := c.tunnels[name]
			if !t.conf.PeerAny {
				continue
			}
			if want, ok := expectedPeerID(t); ok && !want.equal(id) {
				continue
			}
			cand = t
			break
		}
	}
	if cand == nil {
		return nil, nil, errNoTunnel
	}
	if cand.initiatorOnly() {
		return nil, nil, fmt.Errorf("tunnel %s only initiates (negotiation-direction initiator)", cand.name)
	}
	if want, ok := expectedPeerID(cand); ok && !want.equal(id) {
		return nil, nil, fmt.Errorf("peer ID %s, tunnel %s expects %s", id, cand.name, want)
	}
	psk := c.pskFor(id, addr)
	if psk == nil {
		return nil, nil, fmt.Errorf("no pre-shared key for %s", id)
	}
	return cand, psk, nil
}

func notifyOnly(t int) *message {
	m := &message{}
	m.addNotify(t, nil)
	return m
}
