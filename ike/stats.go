package ike

import "sync/atomic"

// Operator counters. The Core counts under the Manager's lock but stores
// with atomics, so Manager.Stats reads them without taking the lock (a
// metrics scrape never waits behind a DH computation).

// ExchangeCounts counts IKE exchanges by type.
type ExchangeCounts struct {
	IKESAInit, IKEAuth, CreateChildSA, Informational uint64
}

// ByName returns the counts keyed by the RFC 7296 exchange names
// (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL).
func (e ExchangeCounts) ByName() map[string]uint64 {
	return map[string]uint64{
		"IKE_SA_INIT": e.IKESAInit, "IKE_AUTH": e.IKEAuth,
		"CREATE_CHILD_SA": e.CreateChildSA, "INFORMATIONAL": e.Informational,
	}
}

// FailureCounts counts failed or refused exchanges and dropped messages
// by reason, whichever side detected them.
type FailureCounts struct {
	AuthFailed uint64 // AUTH did not verify, unknown peer or ID, or the peer sent AUTHENTICATION_FAILED
	NoProposal uint64 // NO_PROPOSAL_CHOSEN sent or received (or an answer that matches no offer)
	InvalidKE  uint64 // INVALID_KE_PAYLOAD sent or received
	Timeout    uint64 // requests unanswered after every retransmission (peer dead, DPD)
	Malformed  uint64 // messages that did not parse or did not decrypt
	UnknownSPI uint64 // messages for an IKE SA we do not have
	// Requests with the message ID we last answered that are not a
	// byte-identical retransmission of that request: forged or altered
	// copies, which get no resent answer (see ike/resend.go).
	ResendMismatch uint64
	// Retransmitted requests left unanswered because the SA resent its
	// cached answer too often already (a replay flood).
	ResendLimited uint64
	// Datagrams dropped because the Manager's intake queue was full
	// (Deliver): more arrived than the IKE workers could take.
	QueueFull uint64
	// IKE_SA_INIT requests from addresses that are not configured peers
	// dropped unanswered while cookies were demanded, beyond the rate of
	// COOKIEs sent to such addresses (see ike/cookie.go).
	CookieLimited uint64
	// IKE_SA_INIT requests dropped unanswered because their address, or
	// all peers together, held as many half-open SAs as allowed (see
	// maxHalfOpenPerAddr in ike/init.go).
	HalfOpenLimited uint64
}

// ByReason returns the counts keyed by short label values:
// authentication_failed, no_proposal_chosen, invalid_ke, timeout,
// malformed, unknown_spi, resend_mismatch, resend_rate_limited, queue_full,
// cookie_rate_limited, half_open_limited.
func (f FailureCounts) ByReason() map[string]uint64 {
	return map[string]uint64{
		"authentication_failed": f.AuthFailed, "no_proposal_chosen": f.NoProposal, "invalid_ke": f.InvalidKE,
		"timeout": f.Timeout, "malformed": f.Malformed, "unknown_spi": f.UnknownSPI,
		"resend_mismatch": f.ResendMismatch, "resend_rate_limited": f.ResendLimited, "queue_full": f.QueueFull,
		"cookie_rate_limited": f.CookieLimited, "half_open_limited": f.HalfOpenLimited,
	}
}

// Stats are the IKE counters of a Manager or of one tunnel, counted since
// the Manager started. It is a plain value, cheap to copy.
type Stats struct {
	Sent           ExchangeCounts // requests we started (first transmissions)
	Received       ExchangeCounts // new requests from peers (retransmitted ones not counted)
	Retransmits    uint64         // our requests sent again for want of an answer
	Failures       FailureCounts
	IKERekeys      uint64 // IKE SAs replaced by a rekey, either side started
	ChildRekeys    uint64 // Child SAs replaced by a rekey, either side started
	DPDProbes      uint64 // liveness checks sent
	InvalidSPISent uint64 // INVALID_IKE_SPI notifies sent for unknown IKE SAs
	CookiesSent    uint64 // IKE_SA_INIT requests answered with a COOKIE (RFC 7296 §2.6)
	PeerMoves      uint64 // peers behind a NAT followed to a new address or port (RFC 7296 §2.23)
}

// stat indexes the counters array.
type stat int

const (
	statSent stat = iota // + exchange offset (4 entries)
	_
	_
	_
	statReceived // + exchange offset (4 entries)
	_
	_
	_
	statRetransmits
	statAuthFailed
	statNoProposal
	statInvalidKE
	statTimeout
	statMalformed
	statUnknownSPI
	statIKERekeys
	statChildRekeys
	statDPD
	statInvalidSPISent
	statResendMismatch
	statResendLimited
	statQueueFull
	statCookiesSent
	statCookieLimited
	statHalfOpenLimited
	statPeerMoved
	numStats
)

// counters is one set of atomically updated counters.
type counters [numStats]atomic.Uint64

// exchangeStat is the counter of exchange type ex at base (statSent or
// statReceived), or -1 for an exchange we do not count.
func exchangeStat(base stat, ex int) stat {
	if ex < exIKESAInit || ex > exInformational {
		return -1
	}
	return base + stat(ex-exIKESAInit)
}

func (s *counters) snapshot() Stats {
	ex := func(base stat) ExchangeCounts {
		return ExchangeCounts{s[base].Load(), s[base+1].Load(), s[base+2].Load(), s[base+3].Load()}
	}
	return Stats{
		Sent: ex(statSent), Received: ex(statReceived), Retransmits: s[statRetransmits].Load(),
		Failures: FailureCounts{
			AuthFailed: s[statAuthFailed].Load(), NoProposal: s[statNoProposal].Load(), InvalidKE: s[statInvalidKE].Load(),
			Timeout: s[statTimeout].Load(), Malformed: s[statMalformed].Load(), UnknownSPI: s[statUnknownSPI].Load(),
			ResendMismatch: s[statResendMismatch].Load(), ResendLimited: s[statResendLimited].Load(),
			QueueFull: s[statQueueFull].Load(), CookieLimited: s[statCookieLimited].Load(),
			HalfOpenLimited: s[statHalfOpenLimited].Load(),
		},
		IKERekeys: s[statIKERekeys].Load(), ChildRekeys: s[statChildRekeys].Load(), DPDProbes: s[statDPD].Load(),
		InvalidSPISent: s[statInvalidSPISent].Load(), CookiesSent: s[statCookiesSent].Load(),
		PeerMoves: s[statPeerMoved].Load(),
	}
}

// count adds one to counter k of the Core and of tunnel t (when known).
func (c *Core) count(t *tunnel, k stat) {
	if k < 0 {
		return
	}
	c.stats[k].Add(1)
	if t != nil && t.stats != nil {
		t.stats[k].Add(1)
	}
}

// countNotify counts an error notify sent or received on t's behalf.
func (c *Core) countNotify(t *tunnel, ntype int) {
	switch ntype {
	case nAuthenticationFailed:
		c.count(t, statAuthFailed)
	case nNoProposalChosen:
		c.count(t, statNoProposal)
	case nInvalidKEPayload:
		c.count(t, statInvalidKE)
	}
}

// countErrorNotifies counts the error notifies of message m.
func (c *Core) countErrorNotifies(t *tunnel, m *message) {
	for _, n := range m.Notifies {
		c.countNotify(t, n.Type)
	}
}

// Stats returns the Core's counters.
func (c *Core) Stats() Stats { return c.stats.snapshot() }

// TunnelStats returns the counters of the named tunnel; false when the
// configuration has no such tunnel. Counts survive reloads.
func (c *Core) TunnelStats(name string) (Stats, bool) {
	t := c.tunnels[name]
	if t == nil {
		return Stats{}, false
	}
	return t.stats.snapshot(), true
}
