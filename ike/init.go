package ike

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"net/netip"
	"time"
)

// IKE_SA_INIT (RFC 7296 §1.2), both roles.

const nonceLen = 32

// initiate starts a new IKE SA for tunnel t.
func (c *Core) initiate(now time.Time, t *tunnel) {
	local := t.source
	if !local.IsValid() && c.opt.LocalAddr != nil {
		local = c.opt.LocalAddr(t.conf.Peer)
	}
	if !local.IsValid() {
		local = unspecified(t.conf.Peer)
	}
	sa := &ikeSA{
		tun: t, initiator: true, state: StateInitSent, spiI: c.newIKESPI(),
		local:   netip.AddrPortFrom(local, c.opt.IKEPort),
		remote:  netip.AddrPortFrom(t.conf.Peer, c.opt.IKEPort),
		dhGroup: t.pol.IKEDH[0].ID, created: now, lastHeard: now,
	}
	c.sas[sa.spiI] = sa
	c.joinTunnel(sa, t)
	c.mark(sa)
	t.ike = sa
	c.log.Info("ike: initiating", "tunnel", t.name, "peer", sa.remote)
	c.sendInit(now, sa)
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// sendInit sends (or, after COOKIE / INVALID_KE_PAYLOAD, re-sends) our
// IKE_SA_INIT request.
func (c *Core) sendInit(now time.Time, sa *ikeSA) {
	// After COOKIE everything but the cookie stays as it was (RFC 7296
	// §2.6); after INVALID_KE_PAYLOAD only the KE changes.
	if sa.dh == nil {
		dh, err := c.newDH(sa.dhGroup)
		if err != nil {
			c.log.Error("ike: DH", "group", sa.dhGroup, "err", err)
			c.failSA(now, sa, "DH setup failed")
			return
		}
		sa.dh = dh
	}
	if sa.nonceI == nil {
		sa.nonceI = c.random(nonceLen)
	}
	dh := sa.dh
	m := &message{SPIi: sa.spiI, Exchange: exIKESAInit, Initiator: true}
	if sa.cookie != nil {
		m.addNotify(nCookie, sa.cookie)
	}
	m.SA = ikeOffer(&sa.tun.pol, nil, sa.dhGroup)
	m.KEGroup, m.KE, m.Nonce = sa.dhGroup, dh.Public(), sa.nonceI
	m.addNotify(nNATDetectionSource, c.natSourceHash(sa.spiI, 0, sa.local))
	m.addNotify(nNATDetectionDest, natHash(sa.spiI, 0, sa.remote))
	m.addNotify(nFragmentationSupp, nil)
	m.VendorIDs = c.opt.VendorIDs
	if c.opt.InitialContactVendorID && !c.opt.NoInitialContact && !c.holdsSAWith(sa) {
		m.VendorIDs = append(append([][]byte(nil), m.VendorIDs...), vendorIDInitialContact)
	}
	pkt, err := encodePlain(m)
	if err != nil {
		c.log.Error("ike: encode IKE_SA_INIT", "err", err)
		return
	}
	sa.initReq = pkt
	c.count(sa.tun, exchangeStat(statSent, exIKESAInit))
	sa.pending = &request{msgID: 0, packets: [][]byte{pkt}, sentAt: now, next: now.Add(c.opt.RetransmitBase)}
	c.resend(sa, sa.pending.packets)
}

// initRefused handles an IKE_SA_INIT answer that refuses our request or
// does not match our offer. Nothing in it is authenticated, so one forged
// by an attacker on the path would end every attempt at once (RFC 7296
// §2.21.1: "the recipient should continue trying for some time before
// giving up"). The request stays open for initRefusalWait, in which the
// peer's own answer, if this was not it, sets the SA up; then the attempt
// fails for reason, as it did at once before.
func (c *Core) initRefused(now time.Time, sa *ikeSA, reason string) {
	fail := func(now time.Time) {
		c.log.Warn("ike: "+reason, "tunnel", tunName(sa), "peer", sa.remote)
		c.failSA(now, sa, reason)
	}
	r := sa.pending
	if r == nil {
		fail(now)
		return
	}
	if !r.refused {
		r.refused = true
		end := now.Add(initRefusalWait)
		if r.giveUpAt.IsZero() || end.Before(r.giveUpAt) {
			r.giveUpAt = end
		}
		if end.Before(r.next) {
			r.next = end
		}
		c.mark(sa)
	}
	r.onFail = fail // the latest refusal's reason
	c.log.Debug("ike: IKE_SA_INIT answer refuses; waiting for another", "tunnel", tunName(sa), "peer", sa.remote, "reason", reason)
}

// initRefusalWait is how long an IKE_SA_INIT request refused by an
// unauthenticated answer waits for a better one from the peer: more than
// a round trip across the internet.
const initRefusalWait = time.Second

// vendorIDInitialContact is Microsoft's "Vid-Initial-Contact" vendor ID,
// MD5("Vid-Initial-Contact") ([MS-IKEE] §1.3.4 and appendix A note 6).
// Windows' IKEv2 initiators, and so Azure's VPN gateway, say "I hold no
// SA with you" with it in the IKE_SA_INIT request, not with an
// INITIAL_CONTACT notify in IKE_AUTH. It counts once the IKE SA
// authenticates: the initiator's AUTH covers its IKE_SA_INIT request.
var vendorIDInitialContact = []byte{0x26, 0x24, 0x4d, 0x38, 0xed, 0xdb, 0x61, 0xb3, 0x17, 0x2a, 0x36, 0xe3, 0xd0, 0xcf, 0xb8, 0x19}

// holdsSAWith reports whether sa's tunnel has another established IKE SA
// with sa's peer address (not one the peer said it lost): the IKE_SA_INIT
// request's test for Vid-Initial-Contact, made before the peer's identity
// is known (otherEstablished compares it too).
func (c *Core) holdsSAWith(sa *ikeSA) bool {
	if sa.tun == nil {
		return false
	}
	for _, o := range c.sasOf(sa.tun) {
		if o != sa && o.state == StateEstablished && !o.peerLost && o.remote.Addr() == sa.remote.Addr() {
			return true
		}
	}
	return false
}

// natHash is the NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP | port).
func natHash(spiI, spiR uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	h.Write(be64(spiI))
	h.Write(be64(spiR))
	h.Write(ap.Addr().Unmap().AsSlice())
	h.Write([]byte{byte(ap.Port() >> 8), byte(ap.Port())})
	return h.Sum(nil)
}

// natSourceHash is our NAT_DETECTION_SOURCE_IP data: the true hash, or
// with ForceUDPEncap a random one that no address of ours can match.
func (c *Core) natSourceHash(spiI, spiR uint64, local netip.AddrPort) []byte {
	if c.opt.ForceUDPEncap {
		return c.random(sha1.Size)
	}
	return natHash(spiI, spiR, local)
}

// maxCookieRounds bounds the COOKIEs one IKE_SA_INIT follows: a
// responder asks once; more are forged, or a loop.
const maxCookieRounds = 3

// initReply handles the responder's IKE_SA_INIT answer.
func (c *Core) initReply(now time.Time, sa *ikeSA, pkt []byte, from, to netip.AddrPort) {
	if from.Addr() != sa.remote.Addr() {
		// Nothing in an IKE_SA_INIT answer is authenticated: one from
		// another address than the peer we asked is forged (it could
		// refuse our request, or demand a cookie that spoils the AUTH).
		c.count(sa.tun, statMalformed)
		c.log.Debug("ike: IKE_SA_INIT answer from another address than the peer's; dropped", "peer", sa.remote, "from", from)
		return
	}
	m, err := decodePlain(pkt)
	if err != nil {
		c.count(sa.tun, statMalformed)
		c.log.Debug("ike: bad IKE_SA_INIT response", "peer", from, "err", err)
		return
	}
	c.countErrorNotifies(sa.tun, m)
	if n := m.notify(nCookie); n != nil && m.SA == nil {
		// RFC 7296 §2.6: a cookie is 1 to 64 octets.
		if len(n.Data) < 1 || len(n.Data) > 64 || sa.cookieRounds >= maxCookieRounds {
			c.count(sa.tun, statMalformed)
			c.log.Debug("ike: COOKIE ignored (bad length or too many)", "peer", from, "bytes", len(n.Data))
			return
		}
		sa.cookieRounds++
		c.log.Debug("ike: responder demands a cookie", "peer", from)
		sa.cookie = append([]byte(nil), n.Data...)
		c.sendInit(now, sa)
		return
	}
	if n := m.notify(nInvalidKEPayload); n != nil {
		c.retryWithGroup(now, sa, n.Data)
		return
	}
	if n := m.errorNotify(); n != nil {
		c.initRefused(now, sa, "IKE_SA_INIT refused: "+notifyName(n.Type))
		return
	}
	suite, _, ok := acceptIKEAnswer(&sa.tun.pol, m.SA)
	if !ok || m.KEGroup != sa.dhGroup || suite.DH.ID != sa.dhGroup || len(m.Nonce) < 16 {
		c.count(sa.tun, statNoProposal)
		c.initRefused(now, sa, "IKE_SA_INIT answer does not match our offer")
		return
	}
	shared, err := sa.dh.SharedSecret(m.KE)
	if err != nil {
		c.failSA(now, sa, "bad KE from peer")
		return
	}
	sa.pending, sa.nextMsgID = nil, 1
	sa.spiR, sa.suite, sa.nonceR, sa.initResp = m.SPIr, suite, m.Nonce, pkt
	if to.Addr().IsValid() && !to.Addr().IsUnspecified() {
		sa.local = to
	}
	if err := sa.setKeys(shared, nil, 0); err != nil {
		c.failSA(now, sa, "key derivation failed")
		return
	}
	sa.dh = nil
	natT := c.detectNAT(sa, m)
	sa.fragOK = m.notify(nFragmentationSupp) != nil
	if sa.natLocal || sa.natRemote || (natT && c.opt.ForceUDPEncap) {
		c.float(sa)
	}
	sa.state = StateAuthSent
	c.sendAuth(now, sa)
}

// retryWithGroup restarts IKE_SA_INIT with the group the responder asked
// for in INVALID_KE_PAYLOAD, if our policy allows it.
func (c *Core) retryWithGroup(now time.Time, sa *ikeSA, data []byte) {
	if len(data) != 2 {
		c.failSA(now, sa, "malformed INVALID_KE_PAYLOAD")
		return
	}
	g := uint16(data[0])<<8 | uint16(data[1])
	for _, a := range sa.tun.pol.IKEDH {
		if a.ID == g && g != sa.dhGroup {
			c.log.Info("ike: peer wants another DH group, retrying", "tunnel", tunName(sa), "group", g)
			sa.dhGroup, sa.dh = g, nil
			c.sendInit(now, sa)
			return
		}
	}
	c.log.Warn("ike: peer wants a DH group our policy does not allow", "tunnel", tunName(sa), "group", g)
	c.failSA(now, sa, "INVALID_KE_PAYLOAD")
}

// detectNAT compares the responder's NAT detection hashes with the
// addresses its answer really had (RFC 7296 §2.23). It reports whether
// the responder sent them, that is, supports NAT traversal.
func (c *Core) detectNAT(sa *ikeSA, m *message) bool {
	src, dst := m.notify(nNATDetectionSource), m.notify(nNATDetectionDest)
	if src == nil || dst == nil {
		return false
	}
	sa.natRemote = !hmac.Equal(src.Data, natHash(sa.spiI, m.SPIr, sa.remote))
	sa.natLocal = !hmac.Equal(dst.Data, natHash(sa.spiI, m.SPIr, sa.local))
	return true
}

// float moves an initiator's IKE SA to the NAT-T port.
func (c *Core) float(sa *ikeSA) {
	sa.encap = true
	sa.local = netip.AddrPortFrom(sa.local.Addr(), c.opt.NATTPort)
	sa.remote = netip.AddrPortFrom(sa.remote.Addr(), c.opt.NATTPort)
}

// maxHalfOpenPerAddr bounds the half-open SAs of one peer address, and
// maxHalfOpen all of them (cookies are demanded from threshold on).
const maxHalfOpenPerAddr = 16

func maxHalfOpen(threshold int) int { return 16 * threshold }

// maxInitRequest bounds an IKE_SA_INIT request (kept whole for the AUTH
// payload while the SA is half-open): RFC 7296 §7 asks for 3,000 octets,
// the largest real ones (big MODP groups, many proposals and vendor IDs)
// stay under 2,000.
const maxInitRequest = 8192

// leaveHalfOpen takes sa out of the half-open SAs, if it is one.
func (c *Core) leaveHalfOpen(sa *ikeSA) {
	if c.halfOpen[sa.hoKey] != sa {
		return
	}
	delete(c.halfOpen, sa.hoKey)
	if !sa.hoCookied {
		return
	}
	a := sa.hoKey.peer.Addr()
	if c.halfOpenByAddr[a]--; c.halfOpenByAddr[a] <= 0 {
		delete(c.halfOpenByAddr, a)
	}
}

// respondInit answers a peer's IKE_SA_INIT request.
func (c *Core) respondInit(now time.Time, pkt []byte, from, to netip.AddrPort, pre *initPre) {
	if len(pkt) > maxInitRequest {
		c.count(nil, statMalformed)
		c.log.Debug("ike: IKE_SA_INIT request too large", "peer", from, "bytes", len(pkt))
		return
	}
	m, err := decodePlain(pkt)
	if t, ok := unsupportedCritical(err); ok {
		h, _ := parseHeader(pkt)
		c.stateless(h, from, to, nUnsupportedCritical, []byte{t})
		return
	}
	if err != nil {
		c.count(nil, statMalformed)
		c.log.Debug("ike: bad IKE_SA_INIT request", "peer", from, "err", err)
		return
	}
	if old := c.halfOpen[halfOpenKey{from, m.SPIi}]; old != nil {
		c.resendInit(now, old, pkt)
		return
	}
	peerTun := c.tunnelByPeer(from.Addr())
	if peerTun != nil && c.madeBy(peerTun, from, m.SPIi) {
		// A late copy (delayed or duplicated on the path) of the request
		// that made an SA now past IKE_SA_INIT: answering it would set up
		// a half-open SA, DH and all, that nobody completes.
		c.log.Debug("ike: late copy of an IKE_SA_INIT already answered; dropped", "peer", from)
		return
	}
	c.count(peerTun, exchangeStat(statReceived, exIKESAInit))
	if peerTun != nil && peerTun.initiatorOnly() {
		c.log.Info("ike: IKE_SA_INIT refused: the tunnel only initiates (negotiation-direction initiator)", "tunnel", peerTun.name, "peer", from)
		c.stateless(m, from, to, nNoProposalChosen, nil)
		return
	}
	if len(m.Nonce) < 16 || len(m.Nonce) > 256 || m.KE == nil {
		c.stateless(m, from, to, nInvalidSyntax, nil)
		return
	}
	cookied := false
	if len(c.halfOpen) >= c.opt.CookieThreshold {
		want := c.cookieFor(m.Nonce, from.Addr(), m.SPIi)
		if n := m.notify(nCookie); n == nil || !hmac.Equal(n.Data, want) {
			c.count(nil, statCookiesSent)
			c.stateless(m, from, to, nCookie, want)
			return
		}
		cookied = true
	}
	// A cookie proves the address, not the port: one address that
	// has one may send the request again from every port, and each
	// copy would make a half-open SA (DH and the request kept). So an
	// address gets maxHalfOpenPerAddr cookie-proven half-open SAs at a
	// time (strongSwan's block_threshold serves the same end), and all
	// together maxHalfOpen; an initiator retries what is dropped. Only
	// proven ones count: requests spoofed from a peer's address below
	// the cookie threshold must not use up the peer's share.
	if (cookied && c.halfOpenByAddr[from.Addr()] >= maxHalfOpenPerAddr) || len(c.halfOpen) >= maxHalfOpen(c.opt.CookieThreshold) {
		c.count(peerTun, statHalfOpenLimited)
		c.log.Debug("ike: IKE_SA_INIT dropped: too many half-open SAs", "peer", from)
		return
	}
	pol := c.responderPolicy(from.Addr())
	suite, chosen, ok := chooseIKE(pol, m.SA)
	if !ok {
		c.log.Warn("ike: IKE_SA_INIT: no acceptable proposal", "peer", from)
		c.stateless(m, from, to, nNoProposalChosen, nil)
		return
	}
	if m.KEGroup != suite.DH.ID {
		c.stateless(m, from, to, nInvalidKEPayload, []byte{byte(suite.DH.ID >> 8), byte(suite.DH.ID)})
		return
	}
	sa, resp, err := c.newResponderSA(now, m, suite, chosen, from, to, pre)
	if err != nil {
		c.log.Debug("ike: IKE_SA_INIT rejected", "peer", from, "err", err)
		c.stateless(m, from, to, nInvalidSyntax, nil)
		return
	}
	sa.initReq, sa.initResp = pkt, resp
	sa.lastResp, sa.lastReq = [][]byte{resp}, sha256.Sum256(pkt)
	c.sas[sa.spiR] = sa
	c.mark(sa)
	sa.hoKey = halfOpenKey{from, m.SPIi}
	c.halfOpen[sa.hoKey] = sa
	if cookied {
		sa.hoCookied = true
		c.halfOpenByAddr[from.Addr()]++
	}
	c.resend(sa, sa.lastResp)
}

// newResponderSA derives a half-open responder SA and its answer.
func (c *Core) newResponderSA(now time.Time, m *message, suite IKESuite, chosen proposal, from, to netip.AddrPort, pre *initPre) (*ikeSA, []byte, error) {
	dh, shared, err := pre.use(suite.DH.ID, m.KE)
	if dh == nil {
		if dh, err = c.newDH(suite.DH.ID); err != nil {
			return nil, nil, err
		}
		shared, err = dh.SharedSecret(m.KE)
	}
	if err != nil {
		return nil, nil, err
	}
	sa := &ikeSA{
		state: StateHalfOpen, spiI: m.SPIi, spiR: c.newIKESPI(), suite: suite,
		local: to, remote: from, encap: to.Port() == c.opt.NATTPort,
		nonceI: m.Nonce, nonceR: c.random(nonceLen), created: now, lastHeard: now, peerMsgID: 1,
	}
	if err := sa.setKeys(shared, nil, 0); err != nil {
		return nil, nil, err
	}
	sa.detectNATRequest(m)
	sa.fragOK = m.notify(nFragmentationSupp) != nil
	sa.vidInitialContact = m.hasVendorID(vendorIDInitialContact)
	r := &message{SPIi: sa.spiI, SPIr: sa.spiR, Exchange: exIKESAInit, Response: true}
	r.VendorIDs = c.opt.VendorIDs
	r.SA = []proposal{chosen}
	r.KEGroup, r.KE, r.Nonce = suite.DH.ID, dh.Public(), sa.nonceR
	r.addNotify(nNATDetectionSource, c.natSourceHash(sa.spiI, sa.spiR, sa.local))
	r.addNotify(nNATDetectionDest, natHash(sa.spiI, sa.spiR, sa.remote))
	if sa.fragOK {
		r.addNotify(nFragmentationSupp, nil)
	}
	resp, err := encodePlain(r)
	return sa, resp, err
}

func (sa *ikeSA) detectNATRequest(m *message) {
	src, dst := m.notify(nNATDetectionSource), m.notify(nNATDetectionDest)
	if src == nil || dst == nil {
		return
	}
	sa.natRemote = !hmac.Equal(src.Data, natHash(sa.spiI, 0, sa.remote))
	sa.natLocal = !hmac.Equal(dst.Data, natHash(sa.spiI, 0, sa.local))
}

// stateless answers an IKE_SA_INIT request with a single notify and keeps
// no state (errors, COOKIE, INVALID_KE_PAYLOAD).
func (c *Core) stateless(m *message, from, to netip.AddrPort, ntype int, data []byte) {
	r := &message{SPIi: m.SPIi, Exchange: exIKESAInit, Response: true}
	r.addNotify(ntype, data)
	pkt, err := encodePlain(r)
	if err != nil {
		return
	}
	c.countNotify(c.tunnelByPeer(from.Addr()), ntype)
	if err := c.opt.Transport.Send(pkt, to, from); err != nil {
		c.log.Debug("ike: send failed", "peer", from, "err", err)
	}
}

// responderPolicy is the policy offered to a peer before IKE_AUTH names
// it: the tunnel configured for its address, else the first "peer any"
// tunnel, else the default profile.
func (c *Core) responderPolicy(peer netip.Addr) *Policy {
	if t := c.tunnelByPeer(peer); t != nil {
		return &t.pol
	}
	var anyT *tunnel
	for _, name := range c.order {
		t := c.tunnels[name]
		if t.conf.PeerAny && anyT == nil {
			anyT = t
		}
	}
	if anyT != nil {
		return &anyT.pol
	}
	pol := c.cfg.Default
	return &pol
}

// madeBy reports whether one of t's SAs was set up by the peer at from's
// address with initiator SPI spiI (its port may have moved to 4500).
func (c *Core) madeBy(t *tunnel, from netip.AddrPort, spiI uint64) bool {
	for _, sa := range c.sasOf(t) {
		if !sa.initiator && sa.spiI == spiI && sa.remote.Addr() == from.Addr() {
			return true
		}
	}
	return false
}

// tunnelByPeer is the (first) tunnel configured with peer address peer,
// or nil. From the byPeer index, like matchPeer: a scan of the tunnels
// here made each IKE_SA_INIT on a hub of N tunnels cost N map lookups.
func (c *Core) tunnelByPeer(peer netip.Addr) *tunnel {
	return c.byPeer[peer]
}
