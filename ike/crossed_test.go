package ike

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// probeMagic marks a fake data packet on the pair's network: it stands for
// one ESP packet that a node sends on its tunnel's outbound SPI at that
// moment. It travels in order with the IKE messages, as packets on one
// path do, so it arrives after every message sent before it.
const probeMagic = 0xee

// probeRun advances the pair's clock to d like pair.run, but after every
// IKE message it delivers, each node sends a probe on its current
// outbound SPI. It returns how many probes arrived at a peer that had no
// inbound SA for them (packets the data plane would have dropped), from
// the moment probes had passed both ways.
func probeRun(p *pair, d time.Duration) (sent, lost int) {
	r := probeRunOutage(p, d, 0)
	return r.sent, r.lost
}

// probeResult is what probeRunOutage saw: probes sent, probes lost, and
// the (simulated) times of the first and the last lost one.
type probeResult struct {
	sent, lost  int
	first, last time.Time
}

// outage is how long probes were lost, first to last.
func (r probeResult) outage() time.Duration { return r.last.Sub(r.first) }

// probeRunOutage is probeRun reporting when probes were lost; with every
// set, the nodes also send probes that often, as steady traffic would.
func probeRunOutage(p *pair, d, every time.Duration) (r probeResult) {
	probe := func(from, to *node) {
		spi, ok := from.dp.outbound["Tunnel0.0"]
		if !ok {
			return
		}
		if _, installed := from.dp.sas[dpKey{spi, false}]; !installed {
			return
		}
		pkt := make([]byte, 5)
		pkt[0] = probeMagic
		binary.BigEndian.PutUint32(pkt[1:], spi)
		p.net.queue = append(p.net.queue, datagram{pkt,
			netip.AddrPortFrom(from.addr, 4500), netip.AddrPortFrom(to.addr, 4500)})
		r.sent++
	}
	// Probes count once the tunnel has worked both ways: before that a
	// lost IKE_AUTH answer leaves the responder sending on an SA the
	// initiator does not have yet, as with any IKEv2 peer.
	if p.probed == nil {
		p.probed = map[netip.Addr]bool{}
	}
	arrived := p.probed
	deliver := func() {
		for i := 0; len(p.net.queue) > 0 && i < 100000; i++ {
			dg := p.net.queue[0]
			p.net.queue = p.net.queue[1:]
			dst := p.net.nodes[dg.to.Addr()]
			if dst == nil || len(dg.pkt) == 1 {
				continue
			}
			if len(dg.pkt) == 5 && dg.pkt[0] == probeMagic {
				spi := binary.BigEndian.Uint32(dg.pkt[1:])
				dst.dp.rx[spi]++
				_, ok := dst.dp.sas[dpKey{spi, true}]
				if ok {
					arrived[dst.addr] = true
				}
				if !ok && len(arrived) == 2 {
					r.lost++
					if r.first.IsZero() {
						r.first = p.now
					}
					r.last = p.now
					if os.Getenv("PROBE_DEBUG") != "" {
						fmt.Printf("LOST spi %08x to %s at %v\n  a: %v\n  b: %v\n", binary.BigEndian.Uint32(dg.pkt[1:]), dg.to.Addr(), p.now, tail(p.a.dp.log), tail(p.b.dp.log))
					}
				}
				continue
			}
			drop := p.net.filter != nil && p.net.filter(dg)
			if os.Getenv("MSG_TRACE") != "" { // every IKE packet's header, to read a failing run
				if h, err := wire.ParseHeader(dg.pkt); err == nil {
					fmt.Printf("MSG %s->%s spi %016x/%016x ex %d msgid %d flags %02x drop=%v\n", dg.from.Addr(), dg.to.Addr(), h.SPIi, h.SPIr, h.Exchange, h.MessageID, h.Flags, drop)
				}
			}
			if drop {
				continue
			}
			dst.core.HandlePacket(p.now, dg.pkt, dg.from, dg.to)
			probe(p.a, p.b)
			probe(p.b, p.a)
		}
	}
	for _, n := range []*node{p.a, p.b} {
		if n.dp.rx == nil {
			n.dp.rx = map[uint32]uint64{}
		}
	}
	end := p.now.Add(d)
	nextProbe := p.now
	deliver()
	for i := 0; i < 1000000; i++ {
		limit := end
		if every > 0 && nextProbe.Before(limit) {
			limit = nextProbe
		}
		p.tick(limit)
		p.net.release(p.now)
		if every > 0 && !p.now.Before(nextProbe) {
			probe(p.a, p.b)
			probe(p.b, p.a)
			nextProbe = p.now.Add(every)
		}
		deliver()
		checkIndex(p.t, p.a.core)
		checkIndex(p.t, p.b.core)
		if !p.now.Before(end) {
			return r
		}
	}
	p.t.Fatal("probeRun: timer loop did not settle")
	return r
}

// TestCrossedInitiationLosesNothing: both ends initiate at once (IX and
// Azure both connect automatically), so each briefly holds two IKE SAs
// and drops the duplicate. From the moment a node has an outbound SA,
// every packet it sends must find an inbound SA at the peer: resolving
// the duplicate must move traffic before the duplicate's SAs go.
func TestCrossedInitiationLosesNothing(t *testing.T) {
	for i := 0; i < 20; i++ {
		p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
		p.a.core.Start(p.now)
		p.b.core.Start(p.now)
		sent, lost := probeRun(p, 10*time.Second)
		p.checkUp()
		if sent == 0 || lost != 0 {
			t.Fatalf("run %d: %d of %d probe packets found no inbound SA\na: %v\nb: %v",
				i, lost, sent, p.a.dp.log, p.b.dp.log)
		}
	}
}

// TestRekeysLoseNothing: Child and IKE SA rekeys from both ends, with and
// without PFS, over hours of lifetimes: no packet a node sends on its
// outbound SA finds the peer without the inbound SA.
func TestRekeysLoseNothing(t *testing.T) {
	for _, pfs := range []string{"", "2048-bit"} {
		for i := 0; i < 5; i++ {
			prof := func() *testProfile {
				pr := seedProfile()
				pr.ChildLifetime, pr.Lifetime, pr.ChildPFS = 10*time.Minute, 30*time.Minute, pfs
				return pr
			}
			p := newPair(t, testConfig(addrB, "k", true, prof()), testConfig(addrA, "k", true, prof()), nil)
			p.a.core.Start(p.now)
			p.b.core.Start(p.now)
			sent, lost := probeRun(p, 3*time.Hour)
			p.checkUp()
			installs := 0
			for _, l := range p.a.dp.log {
				if strings.HasPrefix(l, "install ") {
					installs++
				}
			}
			if installs < 2*15 { // at least 15 Child SAs in 3 hours of 10-minute lifetimes
				t.Fatalf("pfs %q run %d: only %d SAs installed: rekeys did not run", pfs, i, installs)
			}
			if sent == 0 || lost != 0 {
				t.Fatalf("pfs %q run %d: %d of %d probe packets found no inbound SA", pfs, i, lost, sent)
			}
		}
	}
}

// TestLossyRekeysLoseNothing: the same on a bad path: one IKE message in
// twenty lost, one in ten held back for up to 4 s (so it arrives after
// retransmissions, out of order), one in twenty duplicated. Requests and
// answers are retransmitted and exchanges cross late. (Much more loss and
// an exchange sometimes fails all its retransmissions: the peer counts as
// dead and the SA is set up again, which loses traffic by design.)
func TestLossyRekeysLoseNothing(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		if v := os.Getenv("PROBE_SEED"); v != "" && v != fmt.Sprint(seed) {
			continue
		}
		rng := rand.New(rand.NewSource(seed))
		prof := func() *testProfile {
			pr := seedProfile()
			pr.ChildLifetime, pr.Lifetime, pr.ChildPFS = 10*time.Minute, 30*time.Minute, "2048-bit"
			return pr
		}
		p := newPair(t, testConfig(addrB, "k", true, prof()), testConfig(addrA, "k", true, prof()), nil)
		p.net.filter = func(d datagram) bool {
			switch rng.Intn(20) {
			case 0:
				return true // lost
			case 1, 2:
				p.net.hold(d, p.now.Add(time.Duration(rng.Int63n(int64(4*time.Second)))))
				return true
			case 3:
				p.net.queue = append(p.net.queue, d) // duplicated, the copy after what is in flight
			}
			return false
		}
		p.a.core.Start(p.now)
		p.b.core.Start(p.now)
		sent, lost := probeRun(p, 3*time.Hour)
		if sent == 0 || lost != 0 {
			t.Errorf("seed %d: %d of %d probe packets found no inbound SA", seed, lost, sent)
		}
	}
}

// TestShortLifetimeLossyRekeys: two hours of one-minute Child SA
// lifetimes on both ends and a one-minute IKE SA lifetime on a, against
// b's eight hours (Azure's), as the lossy rekey reliability scenario runs
// them. Half the messages are delayed 20 to 40 ms (1 % up to 500 ms), so
// exchanges cross, and 1 % of the other exchanges' messages (DELETE,
// liveness checks) are lost, which leaves them pending for seconds. A
// rekey starts 6 to 9 s before expiry, and b, busy with such an exchange,
// refuses it (TEMPORARY_FAILURE): a must try again before its SA expires,
// since b never rekeys that IKE SA itself. No IKE_SA_INIT after the
// start, no probe lost. A fixed 10 s retry failed 9 runs in 10.
func TestShortLifetimeLossyRekeys(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		if v := os.Getenv("PROBE_SEED"); v != "" && v != fmt.Sprint(seed) {
			continue
		}
		rng := rand.New(rand.NewSource(seed))
		prof := func(ikeLifetime time.Duration) *testProfile {
			pr := seedProfile()
			pr.ChildLifetime, pr.Lifetime = time.Minute, ikeLifetime
			return pr
		}
		// b keeps an IKE SA for 8 hours as Azure does: a must get its own
		// IKE SA rekeys through, refused or not.
		p := newPair(t, testConfig(addrB, "k", true, prof(time.Minute)), testConfig(addrA, "k", true, prof(8*time.Hour)), nil)
		p.a.core.Start(p.now)
		p.b.core.Start(p.now)
		p.run(10 * time.Second) // the start's crossed IKE SAs resolved
		p.checkUp()
		inits := 0
		held := map[*byte]bool{} // released packets pass
		p.net.filter = func(d datagram) bool {
			if held[&d.pkt[0]] {
				delete(held, &d.pkt[0])
				return false
			}
			if isInitRequest(d) {
				inits++
			}
			// Only other exchanges (DELETE, liveness checks) lose
			// messages, so a pending one makes the peer refuse a rekey
			// while the rekey itself cannot fail: an IKE_SA_INIT then
			// means a refused rekey was not tried again in time.
			h, err := parseHeader(d.pkt)
			lossy := err == nil && h.Exchange != exCreateChildSA
			switch r := rng.Intn(1000); {
			case r < 10 && lossy:
				return true // lost
			case r < 15:
				p.net.queue = append(p.net.queue, d) // duplicated
			case r < 515:
				// Held 20 to 40 ms, so exchanges overlap as on a real
				// path; one in a hundred up to 500 ms, out of order.
				hold := 20*time.Millisecond + time.Duration(rng.Int63n(int64(20*time.Millisecond)))
				if r < 25 {
					hold = time.Duration(rng.Int63n(int64(500 * time.Millisecond)))
				}
				held[&d.pkt[0]] = true
				p.net.hold(d, p.now.Add(hold))
				return true
			}
			return false
		}
		sent, lost := probeRun(p, 2*time.Hour)
		p.net.filter = nil
		p.run(5 * time.Second) // a rekey held in flight ends
		p.checkUp()
		st := p.a.core.Stats()
		if st.IKERekeys < 100 {
			t.Errorf("seed %d: %d IKE SA rekeys in two hours of one-minute lifetimes", seed, st.IKERekeys)
		}
		if inits != 0 || sent == 0 || lost != 0 {
			t.Errorf("seed %d: IKE_SA_INIT sent %d times after the start; %d of %d probes lost", seed, inits, lost, sent)
		}
	}
}

func tail(l []string) []string {
	if len(l) > 14 {
		return l[len(l)-14:]
	}
	return l
}

// TestRecoveryOutages measures, on a clean path, how long traffic stops
// when one end clears its SAs or restarts with no state, with every
// timer as the daemon sets it. Only protocol waits count here (the fake
// network takes no time), so the bound is about timers, not round trips.
func TestRecoveryOutages(t *testing.T) {
	const every = 100 * time.Millisecond
	// dpd interval 10, as the README's reliability figures use.
	prof := func() *testProfile {
		pr := seedProfile()
		pr.DPDInterval = 10 * time.Second
		return pr
	}
	up := func(autoB bool) *pair {
		p := newPair(t, testConfig(addrB, "k", true, prof()), testConfig(addrA, "k", autoB, prof()), nil)
		p.a.core.Start(p.now)
		p.b.core.Start(p.now)
		if r := probeRunOutage(p, 10*time.Second, every); r.lost != 0 {
			t.Fatalf("setup lost %d probes", r.lost)
		}
		return p
	}
	restart := func(p *pair, auto bool) {
		cfg := testConfig(addrA, "k", auto, prof())
		n := &node{dp: newFakeDP(), addr: addrB}
		c, err := NewCore(CoreConfig{Config: cfg, DataPlane: n.dp, Transport: p.net,
			Logger: testLogger(t).With("node", "B'"), LocalAddr: func(netip.Addr) netip.Addr { return addrB }})
		if err != nil {
			t.Fatal(err)
		}
		n.core = c
		p.net.nodes[addrB] = n
		p.b = n
		c.Start(p.now)
	}
	for _, tc := range []struct {
		name  string
		event func(p *pair)
		autoB bool
		max   time.Duration
	}{
		{"A clears its SA (both auto)", func(p *pair) { memManager(p, p.a).ClearSA(netip.Addr{}) }, true, time.Second},
		{"B clears its SA (B auto)", func(p *pair) { memManager(p, p.b).ClearSA(netip.Addr{}) }, true, time.Second},
		{"B clears its SA (B responder only)", func(p *pair) { memManager(p, p.b).ClearSA(netip.Addr{}) }, false, time.Second},
		{"B restarts and initiates", func(p *pair) { restart(p, true) }, true, time.Second},
		{"B restarts as a responder only", func(p *pair) { restart(p, false) }, false, 11 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := up(tc.autoB)
			tc.event(p)
			r := probeRunOutage(p, 5*time.Minute, every)
			p.checkUp()
			t.Logf("%s: %d of %d probes lost, outage %v", tc.name, r.lost, r.sent, r.outage())
			if r.outage() > tc.max {
				t.Errorf("%s: outage %v, want at most %v", tc.name, r.outage(), tc.max)
			}
		})
	}
}

// TestForgedInvalidIKESPI: an attacker who sees our SPIs answers our
// liveness check with a forged INVALID_IKE_SPI. We may not end the SA on
// it, and do not: a new IKE SA is set up beside it (INITIAL_CONTACT tells
// the live peer to drop the old one too), once per SA, and no packet is
// lost on the way.
func TestForgedInvalidIKESPI(t *testing.T) {
	prof := seedProfile()
	prof.DPDInterval = 10 * time.Second
	p := newPair(t, testConfig(addrB, "k", true, prof), testConfig(addrA, "k", false, prof), nil)
	p.a.core.Start(p.now)
	probeRunOutage(p, 5*time.Second, 100*time.Millisecond)
	old, _ := p.checkUp()
	forged := 0
	p.net.filter = func(d datagram) bool {
		m, err := parseHeader(d.pkt)
		if err != nil || d.to.Addr() != addrB || m.Exchange != exInformational || m.Response || forged >= 3 {
			return false
		}
		// The attacker answers first, as if from the peer.
		r := &message{SPIi: m.SPIi, SPIr: m.SPIr, Exchange: exInformational, Response: true, MsgID: m.MsgID}
		r.addNotify(nInvalidIKESPI, nil)
		pkt, err := encodePlain(r)
		if err != nil {
			t.Fatal(err)
		}
		forged++
		p.net.queue = append(p.net.queue, datagram{pkt, d.to, d.from})
		return false
	}
	r := probeRunOutage(p, 2*time.Minute, 100*time.Millisecond)
	sa, _ := p.checkUp()
	if r.lost != 0 {
		t.Errorf("%d of %d probes lost", r.lost, r.sent)
	}
	if sa == old || forged == 0 {
		t.Errorf("forged %d answers; the IKE SA was replaced: %v", forged, sa != old)
	}
	if n := len(p.a.core.sas) + len(p.b.core.sas); n != 2 {
		t.Errorf("%d IKE SAs on the two ends, want one each", n)
	}
}
