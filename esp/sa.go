package esp

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
)

// IANA IKEv2 transform IDs accepted in SAConfig (RFC 7296 §3.3.2, RFC 4106,
// RFC 4868). They equal the ike package's constants of the same meaning.
const (
	EncrAESCBC   uint16 = 12 // ENCR_AES_CBC
	EncrAESGCM16 uint16 = 20 // ENCR_AES_GCM_16

	IntegNone          uint16 = 0
	IntegHMACSHA1_96   uint16 = 2
	IntegHMACSHA256128 uint16 = 12
	IntegHMACSHA384192 uint16 = 13
	IntegHMACSHA512256 uint16 = 14
)

// SAConfig is one direction of an ESP SA. It has exactly the fields of
// ike.ChildSA, so the daemon converts with esp.SAConfig(childSA). The engine
// owns the key slices after InstallSA.
type SAConfig struct {
	Tunnel  string // IX tunnel interface, e.g. "Tunnel0.0"
	SPI     uint32
	Inbound bool

	EncrID      uint16 // EncrAESCBC or EncrAESGCM16
	EncrKeyBits int    // 128, 192 or 256
	IntegID     uint16 // IntegNone for AEAD
	EncrKey     []byte // for GCM: key followed by the 4-byte salt (RFC 4106)
	IntegKey    []byte
	ESN         bool

	// Local and Remote are the outer addresses. With UDPEncap the ports are
	// the UDP ports (normally 4500 both); otherwise ESP goes as raw IP
	// protocol 50 and the ports are ignored.
	Local, Remote netip.AddrPort
	UDPEncap      bool

	// Traffic selectors as negotiated. An empty list accepts everything.
	LocalTS, RemoteTS []netip.Prefix

	// Volume limits; zero means none. Events.SoftExpired fires once when a
	// soft limit is passed; at a hard limit the SA stops carrying traffic
	// and Events.HardExpired fires.
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
}

// Counters are the per-SA statistics printed by "show ikev2 child-sa"; the
// fields equal those of ike.SACounters, so ike.SACounters(c) converts.
type Counters struct {
	Packets, Octets uint64

	// Outbound errors.
	CipherFailure, OutOfMemory, TSUnacceptable, MiscError uint64

	// Inbound errors (with CipherFailure, OutOfMemory, TSUnacceptable,
	// MiscError). InvalidSA counts ESP from this SA's peer that no SA
	// takes (an SPI not installed, e.g. one we deleted, or this SA after
	// its hard limit); it is kept on the peer's newest inbound SA.
	InvalidSA, ReplayDetected, IntegrityFailure, PacketTruncated, InvalidPadding, UnknownProtocol uint64
}

// Events is how the engine tells its owner (ike) that an SA needs a rekey.
// The engine calls the methods from their own goroutine, never on the
// packet path.
type Events interface {
	SoftExpired(spi uint32, inbound bool)
	HardExpired(spi uint32, inbound bool)
}

// saCounters holds Counters as atomics so the packet path never locks.
type saCounters struct {
	packets, octets atomic.Uint64

	cipherFailure, outOfMemory, tsUnacceptable, miscError atomic.Uint64

	invalidSA, replayDetected, integrityFailure, packetTruncated, invalidPadding, unknownProtocol atomic.Uint64
}

func (c *saCounters) snapshot() Counters {
	return Counters{
		Packets:          c.packets.Load(),
		Octets:           c.octets.Load(),
		CipherFailure:    c.cipherFailure.Load(),
		OutOfMemory:      c.outOfMemory.Load(),
		TSUnacceptable:   c.tsUnacceptable.Load(),
		MiscError:        c.miscError.Load(),
		InvalidSA:        c.invalidSA.Load(),
		ReplayDetected:   c.replayDetected.Load(),
		IntegrityFailure: c.integrityFailure.Load(),
		PacketTruncated:  c.packetTruncated.Load(),
		InvalidPadding:   c.invalidPadding.Load(),
		UnknownProtocol:  c.unknownProtocol.Load(),
	}
}

// sa is an installed SA. Everything but the atomics is immutable after
// newSA, so the packet path reads it without locks.
type sa struct {
	spi     uint32
	inbound bool
	tunnel  string
	esn     bool
	udp     bool
	local   netip.AddrPort
	remote  netip.AddrPort

	suite suite
	ivLen int
	blk   int // padding alignment of the payload+trailer
	icv   int

	localTS, remoteTS tsList

	softBytes, hardBytes, softPackets, hardPackets uint64

	counters saCounters

	// installed is the Engine's install order (set before the SA is
	// published): the newest inbound SA of a peer counts its strays.
	installed uint64

	// seq is the last sequence number sent (outbound).
	seq atomic.Uint64
	// replay is the anti-replay window (inbound).
	replay *replayWindow

	softFired, hardFired atomic.Bool
	// dead is set once a hard limit is reached; the SA then drops traffic.
	dead atomic.Bool

	events func(soft bool) // set by the engine
}

// MaxReplayWindow is the largest anti-replay window an SA may ask for.
const MaxReplayWindow = 16384

// DefaultReplayWindow is the anti-replay window used when SAConfig has none.
const DefaultReplayWindow = 1024

func newSA(c *SAConfig, window int) (*sa, error) {
	s, err := newSuite(c.EncrID, c.EncrKeyBits, c.IntegID, c.EncrKey, c.IntegKey, c.ESN)
	if err != nil {
		return nil, fmt.Errorf("esp: SA 0x%08x: %w", c.SPI, err)
	}
	if c.SPI < 256 {
		// RFC 4303 §2.1: SPIs 1-255 are reserved, 0 is local only.
		return nil, fmt.Errorf("esp: SA 0x%08x: reserved SPI", c.SPI)
	}
	if !c.Remote.Addr().Is4() {
		return nil, fmt.Errorf("esp: SA 0x%08x: outer remote address %v is not IPv4", c.SPI, c.Remote.Addr())
	}
	iv, blk, icv := s.sizes()
	a := &sa{
		spi:         c.SPI,
		inbound:     c.Inbound,
		tunnel:      c.Tunnel,
		esn:         c.ESN,
		udp:         c.UDPEncap,
		local:       c.Local,
		remote:      c.Remote,
		suite:       s,
		ivLen:       iv,
		blk:         blk,
		icv:         icv,
		localTS:     newTSList(c.LocalTS),
		remoteTS:    newTSList(c.RemoteTS),
		softBytes:   c.SoftBytes,
		hardBytes:   c.HardBytes,
		softPackets: c.SoftPackets,
		hardPackets: c.HardPackets,
	}
	if c.Inbound {
		w := window
		if w == 0 {
			w = DefaultReplayWindow
		}
		if w < 0 || w > MaxReplayWindow {
			return nil, fmt.Errorf("esp: SA 0x%08x: replay window %d out of range", c.SPI, w)
		}
		a.replay = newReplayWindow(w)
	}
	return a, nil
}

// maxSeq is the last sequence number the SA may use: the counter must
// never wrap (RFC 4303 §3.3.3).
func (a *sa) maxSeq() uint64 {
	if a.esn {
		return ^uint64(0)
	}
	return 1<<32 - 1
}

// account adds one packet of n octets and fires lifetime events. It
// reports false once the SA has passed a hard limit.
func (a *sa) account(n int) bool {
	p := a.counters.packets.Add(1)
	o := a.counters.octets.Add(uint64(n))
	if (a.hardPackets != 0 && p > a.hardPackets) || (a.hardBytes != 0 && o > a.hardBytes) {
		a.expireHard()
		return false
	}
	if (a.softPackets != 0 && p >= a.softPackets) || (a.softBytes != 0 && o >= a.softBytes) {
		if !a.softFired.Load() && a.softFired.CompareAndSwap(false, true) && a.events != nil {
			a.events(true)
		}
	}
	return true
}

func (a *sa) expireHard() {
	a.dead.Store(true)
	if !a.hardFired.Load() && a.hardFired.CompareAndSwap(false, true) && a.events != nil {
		a.events(false)
	}
}

// tsList is a traffic-selector list with a fast path for "everything".
type tsList struct {
	any      bool
	prefixes []netip.Prefix
}

func newTSList(p []netip.Prefix) tsList {
	if len(p) == 0 {
		return tsList{any: true}
	}
	l := tsList{prefixes: append([]netip.Prefix(nil), p...)}
	for i, q := range l.prefixes {
		l.prefixes[i] = q.Masked()
	}
	return l
}

func (l *tsList) contains(a netip.Addr) bool {
	if l.any {
		return true
	}
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var errNoSA = errors.New("no such SA")
