package esp

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// saCounters holds childsa.Counters as atomics so the packet path never locks.
type saCounters struct {
	packets, octets atomic.Uint64

	cipherFailure, outOfMemory, tsUnacceptable, miscError atomic.Uint64

	invalidSA, replayDetected, integrityFailure, packetTruncated, invalidPadding, unknownProtocol atomic.Uint64
}

func (c *saCounters) snapshot() childsa.Counters {
	return childsa.Counters{
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
	v6      bool // the outer addresses are IPv6
	local   netip.AddrPort
	remote  netip.AddrPort

	suite suite
	ivLen int
	blk   int // padding alignment of the payload+trailer
	icv   int

	localTS, remoteTS tsList

	softBytes, hardBytes, softPackets, hardPackets uint64

	counters saCounters

	// path is the path MTU record of the SA's tunnel (outbound only).
	path *pathMTU

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
	// leaving is set (under Engine.mu) when a deleted inbound SA is in
	// its grace (Config.InboundGrace): it still opens packets, but is
	// deleted already.
	leaving bool

	events func(soft bool) // set by the engine
	// moved reports an authenticated packet from another address than
	// remote (set by the engine); movedAt (unix nanoseconds of the last
	// report) makes that at most once per movedEvery.
	moved   func(from netip.AddrPort)
	movedAt atomic.Int64
}

// MaxReplayWindow is the largest anti-replay window an SA may ask for.
const MaxReplayWindow = 16384

// DefaultReplayWindow is the anti-replay window used when childsa.SA has none.
const DefaultReplayWindow = 1024

func newSA(c *childsa.SA, window int) (*sa, error) {
	s, err := newSuite(c.EncrID, c.EncrKeyBits, c.IntegID, c.EncrKey, c.IntegKey, c.ESN)
	if err != nil {
		return nil, fmt.Errorf("esp: SA 0x%08x: %w", c.SPI, err)
	}
	if c.SPI < 256 {
		// RFC 4303 §2.1: SPIs 1-255 are reserved, 0 is local only.
		return nil, fmt.Errorf("esp: SA 0x%08x: reserved SPI", c.SPI)
	}
	remote := netip.AddrPortFrom(c.Remote.Addr().Unmap(), c.Remote.Port())
	if !remote.Addr().IsValid() || remote.Addr().IsUnspecified() {
		return nil, fmt.Errorf("esp: SA 0x%08x: no outer remote address", c.SPI)
	}
	iv, blk, icv := s.sizes()
	a := &sa{
		spi:         c.SPI,
		inbound:     c.Inbound,
		tunnel:      c.Tunnel,
		esn:         c.ESN,
		udp:         c.UDPEncap,
		v6:          remote.Addr().Is6(),
		local:       c.Local,
		remote:      remote,
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

// peerMoved is called for an authenticated inbound packet from another
// outer address or port than the SA's peer: the NAT in front of the peer
// has a new mapping (RFC 7296 §2.23). The owner learns it, at most once
// per movedEvery while it lasts (it may refuse or defer a move), and
// moves the tunnel's SAs there; until then packets still go to remote.
func (a *sa) peerMoved(from netip.AddrPort) {
	if a.moved == nil {
		return
	}
	now := time.Now().UnixNano()
	last := a.movedAt.Load()
	if last != 0 && now-last < int64(movedEvery) {
		return
	}
	if a.movedAt.CompareAndSwap(last, now) {
		a.moved(from)
	}
}

// movedEvery is the least time between two reports of one SA's peer at
// another address (peerMoved).
const movedEvery = time.Second

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
