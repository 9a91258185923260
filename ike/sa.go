package ike

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/soft-ix/soft-ix/ike/crypto"
)

// SAState is where an IKE SA stands; "show ikev2 sa" lists only
// established ones.
type SAState uint8

// The states of an IKE SA.
const (
	StateInitSent    SAState = iota // initiator: IKE_SA_INIT request out
	StateAuthSent                   // initiator: IKE_AUTH request out
	StateHalfOpen                   // responder: IKE_SA_INIT answered, waiting for IKE_AUTH
	StateEstablished                // authenticated
	StateDeleting                   // our DELETE is out, or the SA was replaced
	StateDead                       // removed
)

var stateNames = [...]string{"init-sent", "auth-sent", "half-open", "established", "deleting", "dead"}

func (s SAState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("SAState(%d)", uint8(s))
}

// MarshalText writes the state's name, so JSON carries "established".
func (s SAState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name MarshalText wrote.
func (s *SAState) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = SAState(i)
			return nil
		}
	}
	return fmt.Errorf("ike: unknown IKE SA state %q", b)
}

// ikeKeys are the keys of one IKE SA (RFC 7296 §2.14). Never logged.
type ikeKeys struct {
	d, ai, ar, ei, er, pi, pr []byte
}

// request is our outstanding request on an IKE SA (window size 1).
type request struct {
	msgID   uint32
	packets [][]byte // as sent (fragments, markers included)
	sentAt  time.Time
	tries   int
	next    time.Time // next retransmission
	// giveUpAt ends the retransmissions early (zero: after
	// RetransmitTries) and caps their backoff (see DPDTimeout); DPD sets
	// it.
	giveUpAt time.Time
	onReply  func(now time.Time, m *message)
	onFail   func(now time.Time) // retransmissions exhausted
	// refused: the peer answered, refusing (IKE_SA_INIT, see
	// initRefused); the request waits for a better answer, and its end
	// is no timeout.
	refused bool
}

// ikeSA is one IKE SA, as initiator or responder.
type ikeSA struct {
	tun       *tunnel // nil for a responder SA before IKE_AUTH picks the tunnel; set with joinTunnel
	indexed   string  // the tunnel name under which Core.tunSAs holds it ("" none)
	initiator bool    // we are the original initiator of this IKE SA
	state     SAState
	spiI      uint64
	spiR      uint64
	serial    int

	suite IKESuite
	keys  ikeKeys
	out   *crypto.SKCipher // protects what we send
	in    *crypto.SKCipher // checks what the peer sends
	hoKey halfOpenKey      // key in Core.halfOpen while half-open
	// hoCookied: its request carried a valid COOKIE, so it counts in
	// Core.halfOpenByAddr.
	hoCookied bool

	local, remote netip.AddrPort
	encap         bool      // floated to the NAT-T port; IKE carries the non-ESP marker
	natLocal      bool      // we are behind a NAT
	natRemote     bool      // the peer is behind a NAT
	movedAt       time.Time // last followPeer to a new NAT mapping
	fragOK        bool      // both sides sent IKEV2_FRAGMENTATION_SUPPORTED

	// IKE_SA_INIT state, kept for IKE_AUTH's signed octets.
	dh           dhKey
	dhGroup      uint16 // group of our KE
	nonceI       []byte
	nonceR       []byte
	initReq      []byte // IKE_SA_INIT request as sent/received
	initResp     []byte // IKE_SA_INIT response as sent/received
	cookie       []byte
	cookieRounds int // COOKIEs followed (maxCookieRounds)
	initOffer    []proposal
	childSPI     uint32 // our inbound SPI offered in IKE_AUTH
	peerID       identity
	localID      identity
	psk          []byte
	authFailed   bool
	// vidInitialContact: the peer's IKE_SA_INIT request carried
	// Microsoft's Vid-Initial-Contact vendor ID (see
	// vendorIDInitialContact), its INITIAL_CONTACT.
	vidInitialContact bool

	// Message IDs: ours (as requester) and the peer's (as responder).
	nextMsgID  uint32
	pending    *request
	queue      []func(now time.Time) // exchanges waiting for the window
	peerMsgID  uint32                // next request ID expected from the peer
	lastResp   [][]byte              // packets of our reply to peerMsgID-1
	lastReq    [32]byte              // SHA-256 of the request lastResp answers (see resend.go)
	resends    tokenBucket           // limits resending lastResp
	frags      *fragBuffer
	lastHeard  time.Time // last valid message from the peer
	created    time.Time
	rekeyAt    time.Time
	expireAt   time.Time
	deleteAt   time.Time // replaced SA: remove after a grace period
	dupCheckAt time.Time // a duplicate to delete once the peer holds the kept SA: look then
	proving    bool      // a liveness check asks whether the peer holds this SA
	peerLost   bool      // the peer said it lost this SA; a new one is being set up
	doubtedFor *ikeSA    // the peer's Vid-Initial-Contact on this SA says it holds none but this; asked (doubtOld)
	unproven   bool      // made by a rekey we answered; the peer may not have our answer yet
	children   []*childSA
	rekeying   *ikeRekey // our outstanding IKE SA rekey
	peerRekey  *ikeSA    // IKE SA the peer's rekey created (collision tracking)
	replacedBy *ikeSA
	creating   *childCreate // our outstanding CREATE_CHILD_SA without REKEY_SA
	recreateAt time.Time    // create a Child SA then (the peer deleted the only one)

	lastSent time.Time // last IKE packet or keepalive to the peer

	dirty     bool      // in Core.dirty, to be rescheduled
	scheduled time.Time // earliest entry in Core.timers (zero: none)
}

// localSPI is the SPI the peer addresses us by.
func (sa *ikeSA) localSPI() uint64 {
	if sa.initiator {
		return sa.spiI
	}
	return sa.spiR
}

// childSA is one ESP Child SA pair of an IKE SA.
type childSA struct {
	ike       *ikeSA
	inSPI     uint32
	outSPI    uint32
	suite     ChildSuite
	initiator bool // we started the exchange that made it (decides key order)
	installed bool
	// inFailed and outFailed record a direction the data plane refused
	// to install: it is neither pointed at nor deleted later, since the
	// SPI may be another tunnel's (peers choose outbound SPIs).
	inFailed, outFailed bool
	localTS             []netip.Prefix
	remoteTS            []netip.Prefix
	nonceI              []byte
	nonceR              []byte
	created             time.Time
	rekeyAt             time.Time
	expireAt            time.Time
	deleteAt            time.Time // grace period of a replaced SA
	retireAt            time.Time // replaced by the peer's rekey: retire if no DELETE by then
	inSeen              uint64    // inbound packets at the last look (peerStillOn)
	rekeying            *childRekey
	peerRekey           *childSA // SA the peer's rekey of this one created (collision)
	replacedBy          *childSA
	deleting            bool
	// deleteQueued: our DELETE of it waits in its IKE SA's queue.
	deleteQueued bool
}

// ikeRekey is an IKE SA rekey we started.
type ikeRekey struct {
	dh    dhKey
	nonce []byte
	sent  bool // the request is out, so a rekey by the peer collides with it
}

// childRekey is a Child SA rekey we started.
type childRekey struct {
	inSPI uint32
	nonce []byte
	dh    dhKey
	sent  bool // the request is out, so a rekey by the peer collides with it
}
