package esp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// ipv4UDP builds an IPv4/UDP packet with a payload of n bytes; tag goes
// into the first payload bytes so packets can be told apart.
func ipv4UDP(src, dst string, n int, tag uint32) []byte {
	p := make([]byte, 28+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = 17
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	binary.BigEndian.PutUint16(p[20:], 5000)
	binary.BigEndian.PutUint16(p[22:], 5001)
	binary.BigEndian.PutUint16(p[24:], uint16(8+n))
	if n >= 4 {
		binary.BigEndian.PutUint32(p[28:], tag)
	}
	return p
}

type testPeer struct {
	e     *Engine
	tun   *fakeTUN
	outer *fakeOuter
	ike   chan []byte
}

type recEvents struct {
	mu    sync.Mutex
	soft  []uint32
	hard  []uint32
	moved []movedEvent
}

func (r *recEvents) SoftExpired(spi uint32, inbound bool) {
	r.mu.Lock()
	r.soft = append(r.soft, spi)
	r.mu.Unlock()
}

func (r *recEvents) HardExpired(spi uint32, inbound bool) {
	r.mu.Lock()
	r.hard = append(r.hard, spi)
	r.mu.Unlock()
}

func (r *recEvents) PeerMoved(spi uint32, from netip.AddrPort) {
	r.mu.Lock()
	r.moved = append(r.moved, movedEvent{spi, from})
	r.mu.Unlock()
}

type movedEvent struct {
	spi  uint32
	from netip.AddrPort
}

// newTestPair builds two engines joined by fake outer sockets of the given
// kind, each with a fake TUN "Tunnel0.0", and installs SA pairs.
func newTestPair(t *testing.T, udp bool, encr childsa.EncrID, bits int, integ childsa.IntegID, esn bool, tc TunnelConfig) (*testPeer, *testPeer) {
	t.Helper()
	return newTestPairAt(t, testOuters[0].a, testOuters[0].b, udp, encr, bits, integ, esn, tc)
}

// newTestPairAt is newTestPair with the outer addresses la and lb.
func newTestPairAt(t *testing.T, la, lb netip.AddrPort, udp bool, encr childsa.EncrID, bits int, integ childsa.IntegID, esn bool, tc TunnelConfig) (*testPeer, *testPeer) {
	t.Helper()
	oa, ob := fakeOuterPair(la, lb)
	mk := func(o *fakeOuter) *testPeer {
		p := &testPeer{tun: newFakeTUN(), outer: o, ike: make(chan []byte, 8)}
		p.e = NewEngine(Config{Workers: 2, IKEHandler: func(pkt []byte, src, dst netip.AddrPort) {
			p.ike <- append([]byte(nil), pkt...)
		}})
		if err := p.e.attachOuter(o, udp, o.local.Addr().Is6(), o.local.Addr()); err != nil {
			t.Fatal(err)
		}
		tc.Name = "Tunnel0.0"
		if err := p.e.AttachTunnel(tc, p.tun); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.e.Close() })
		return p
	}
	a, b := mk(oa), mk(ob)
	installPair(t, a, b, 0x1001, 0x2002, udp, encr, bits, integ, esn)
	return a, b
}

// installPair installs a->b SPI ab and b->a SPI ba.
func installPair(t *testing.T, a, b *testPeer, ab, ba uint32, udp bool, encr childsa.EncrID, bits int, integ childsa.IntegID, esn bool) {
	t.Helper()
	la, lb := a.outer.local, b.outer.local
	for _, d := range []struct {
		from, to *testPeer
		spi      uint32
		l, r     netip.AddrPort
	}{{a, b, ab, la, lb}, {b, a, ba, lb, la}} {
		out, in := testSAPair(t, encr, bits, integ, esn)
		out.SPI, in.SPI = d.spi, d.spi
		out.Local, out.Remote, out.UDPEncap = d.l, d.r, udp
		in.Local, in.Remote, in.UDPEncap = d.r, d.l, udp
		if err := d.to.e.InstallSA(in); err != nil {
			t.Fatal(err)
		}
		if err := d.from.e.InstallSA(out); err != nil {
			t.Fatal(err)
		}
		if err := d.from.e.SetOutbound("Tunnel0.0", d.spi); err != nil {
			t.Fatal(err)
		}
	}
}

func recv(t *testing.T, tun *fakeTUN) []byte {
	t.Helper()
	select {
	case p := <-tun.fromEngine:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("timeout waiting for a packet from the tunnel")
		return nil
	}
}

// testOuters are the outer address pairs the two-engine tests run over:
// IPv4 and IPv6.
var testOuters = []struct {
	name string
	a, b netip.AddrPort
}{
	{"ipv4", mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500")},
	{"ipv6", mustAP("[2001:db8:1::94]:4500"), mustAP("[2001:db8:2::6]:4500")},
}

func TestTwoEnginesAllSuites(t *testing.T) {
	for _, s := range testSuites {
		for _, udp := range []bool{false, true} {
			for _, outer := range testOuters {
				esn := s.bits == 256
				t.Run(fmt.Sprintf("%s/udp=%v/%s", s.name, udp, outer.name), func(t *testing.T) {
					a, b := newTestPairAt(t, outer.a, outer.b, udp, s.encr, s.bits, s.integ, esn, TunnelConfig{})
					const count = 300
					sent := 0
					for i := 0; i < count; i++ {
						p := ipv4UDP("192.168.2.1", "172.16.1.4", 4+i*7%1300, uint32(i))
						sent += len(p)
						a.tun.toEngine <- p
					}
					for i := 0; i < count; i++ {
						got := recv(t, b.tun)
						want := ipv4UDP("192.168.2.1", "172.16.1.4", 4+i*7%1300, uint32(i))
						if !bytes.Equal(got, want) {
							t.Fatalf("packet %d differs or out of order (tag %d)", i, binary.BigEndian.Uint32(got[28:]))
						}
					}
					// And back.
					b.tun.toEngine <- ipv4UDP("172.16.1.4", "192.168.2.1", 100, 7)
					if got := recv(t, a.tun); binary.BigEndian.Uint32(got[28:]) != 7 {
						t.Fatal("reply differs")
					}
					co, _ := a.e.Counters(0x1001, false)
					ci, _ := b.e.Counters(0x1001, true)
					if co.Packets != count || ci.Packets != count || co.Octets != uint64(sent) || ci.Octets != uint64(sent) {
						t.Fatalf("counters out %+v in %+v, sent %d octets", co, ci, sent)
					}
					if ci != (childsa.Counters{Packets: count, Octets: uint64(sent)}) {
						t.Fatalf("inbound errors counted: %+v", ci)
					}
				})
			}
		}
	}
}

func TestIKEMarkerAndKeepalive(t *testing.T) {
	a, b := newTestPair(t, true, childsa.EncrAESGCM16, 256, childsa.IntegNone, false, TunnelConfig{})
	if err := a.e.SendIKE([]byte("ike message"), a.outer.local, b.outer.local); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-b.ike:
		if string(m) != "ike message" {
			t.Fatalf("IKE handler got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("IKE message not delivered")
	}
	if err := a.e.SendNATKeepalive(a.outer.local, b.outer.local); err != nil {
		t.Fatal(err)
	}
	b.outer.inject([]byte{0, 0, 0})
	deadline := time.Now().Add(5 * time.Second)
	for b.e.Stats().Keepalives != 1 || b.e.Stats().Truncated != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", b.e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRekeyMakeBeforeBreak(t *testing.T) {
	a, b := newTestPair(t, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, TunnelConfig{})
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 1)
	recv(t, b.tun)
	// New pair: inbound first on both, then outbound switch.
	installPair(t, a, b, 0x3003, 0x4004, true, childsa.EncrAESGCM16, 128, childsa.IntegNone, false)
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 2)
	recv(t, b.tun)
	if c, _ := b.e.Counters(0x3003, true); c.Packets != 1 {
		t.Fatalf("new SA not used: %+v", c)
	}
	// The old inbound SA still takes late packets until deleted.
	if err := a.e.SetOutbound("Tunnel0.0", 0x1001); err != nil {
		t.Fatal(err)
	}
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 3)
	recv(t, b.tun)
	if err := b.e.DeleteSA(0x1001, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.e.Counters(0x1001, true); ok {
		t.Fatal("deleted SA still has counters")
	}
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 4)
	deadline := time.Now().Add(5 * time.Second)
	for b.e.Stats().UnknownSPI != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", b.e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if err := a.e.DeleteSA(0x1001, false); err != nil {
		t.Fatal(err)
	}
	if err := a.e.SetOutbound("Tunnel0.0", 0x1001); err == nil {
		t.Fatal("SetOutbound to a deleted SA succeeded")
	}
}

func TestLifetimeEvents(t *testing.T) {
	ev := &recEvents{}
	e := NewEngine(Config{Events: ev, Workers: 1})
	defer e.Close()
	oa, _ := fakeOuterPair(mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500"))
	e.attachOuter(oa, true, false, netip.Addr{})
	ft := newFakeTUN()
	e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, ft)
	out, _ := testSAPair(t, childsa.EncrAESGCM16, 128, childsa.IntegNone, false)
	out.UDPEncap = true
	out.SoftPackets, out.HardPackets = 3, 5
	if err := e.InstallSA(out); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		ft.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, uint32(i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ev.mu.Lock()
		done := len(ev.soft) == 1 && len(ev.hard) == 1
		ev.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events soft %v hard %v", ev.soft, ev.hard)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSequenceNeverWraps(t *testing.T) {
	o, _ := newTestSAs(t, childsa.EncrAESGCM16, 128, childsa.IntegNone, false)
	o.seq.Store(1<<32 - 2)
	tn := &tunnel{}
	el := getElem()
	defer putElem(el)
	if !tn.seal(o, el, 20, protoIPv4) {
		t.Fatal("last sequence number refused")
	}
	if tn.seal(o, el, 20, protoIPv4) {
		t.Fatal("sequence number wrapped")
	}
	if !o.dead.Load() {
		t.Fatal("SA not hard-expired at the end of the sequence space")
	}
}

func TestLifecycle(t *testing.T) {
	a, b := newTestPair(t, true, childsa.EncrAESGCM16, 128, childsa.IntegNone, false, TunnelConfig{})
	for i := 0; i < 200; i++ {
		a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 100, uint32(i))
	}
	if err := a.e.RemoveTunnel("Tunnel0.0"); err != nil {
		t.Fatal(err)
	}
	if err := a.e.RemoveTunnel("Tunnel0.0"); err == nil {
		t.Fatal("removed twice")
	}
	// A new device for the same tunnel picks up its current outbound SA.
	nt := newFakeTUN()
	if err := a.e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, nt); err != nil {
		t.Fatal(err)
	}
	nt.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 100, 4242)
	deadline := time.After(5 * time.Second)
	for found := false; !found; {
		select {
		case p := <-b.tun.fromEngine:
			found = binary.BigEndian.Uint32(p[28:]) == 4242
		case <-deadline:
			t.Fatal("packet through the re-attached tunnel did not arrive")
		}
	}
	done := make(chan error, 2)
	go func() { done <- a.e.Close() }()
	go func() { done <- b.e.Close() }()
	for i := 0; i < 2; i++ {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close hangs")
		}
	}
	late, _ := testSAPair(t, childsa.EncrAESGCM16, 128, childsa.IntegNone, false)
	late.SPI = 0x9999
	if err := a.e.InstallSA(late); err == nil {
		t.Fatal("InstallSA after Close succeeded")
	}
	if err := a.e.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

// TestTwoTunnels runs two tunnels over one outer socket pair: packets go
// out through each tunnel's own SA and come back into the right TUN.
func TestTwoTunnels(t *testing.T) {
	la, lb := mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500")
	oa, ob := fakeOuterPair(la, lb)
	ea, eb := NewEngine(Config{Workers: 2}), NewEngine(Config{Workers: 2})
	defer ea.Close()
	defer eb.Close()
	ea.attachOuter(oa, true, false, netip.Addr{})
	eb.attachOuter(ob, true, false, netip.Addr{})
	tuns := map[string][2]*fakeTUN{}
	for k, name := range []string{"Tunnel0.0", "Tunnel1.0"} {
		ta, tb := newFakeTUN(), newFakeTUN()
		if err := ea.AttachTunnel(TunnelConfig{Name: name}, ta); err != nil {
			t.Fatal(err)
		}
		if err := eb.AttachTunnel(TunnelConfig{Name: name}, tb); err != nil {
			t.Fatal(err)
		}
		tuns[name] = [2]*fakeTUN{ta, tb}
		out, in := testSAPair(t, childsa.EncrAESCBC, 128, childsa.IntegHMACSHA256128, false)
		out.Tunnel, in.Tunnel = name, name
		out.SPI, in.SPI = uint32(0x5000+k), uint32(0x5000+k)
		out.UDPEncap, in.UDPEncap = true, true
		out.Remote = lb
		if err := eb.InstallSA(in); err != nil {
			t.Fatal(err)
		}
		if err := ea.InstallSA(out); err != nil {
			t.Fatal(err)
		}
	}
	for k, name := range []string{"Tunnel0.0", "Tunnel1.0"} {
		tuns[name][0].toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 50, uint32(k))
	}
	for k, name := range []string{"Tunnel0.0", "Tunnel1.0"} {
		got := recv(t, tuns[name][1])
		if binary.BigEndian.Uint32(got[28:]) != uint32(k) {
			t.Fatalf("%s delivered packet %d", name, binary.BigEndian.Uint32(got[28:]))
		}
		if c, _ := eb.Counters(uint32(0x5000+k), true); c.Packets != 1 {
			t.Fatalf("%s: counters %+v", name, c)
		}
	}
	if err := ea.SetOutbound("Tunnel0.0", 0x5001); err == nil {
		t.Fatal("SetOutbound accepted another tunnel's SA")
	}
}

// TestIPv6Inner carries an IPv6 packet (next header 41) when the traffic
// selectors allow it, and refuses it against IPv4-only selectors.
func TestIPv6Inner(t *testing.T) {
	a, b := newTestPair(t, false, childsa.EncrAESGCM16, 256, childsa.IntegNone, false, TunnelConfig{})
	p := tcpSYN("2001:db8::1", "2001:db8::2", 0x10, nil)
	a.tun.toEngine <- p
	if got := recv(t, b.tun); !bytes.Equal(got, p) {
		t.Fatal("IPv6 packet differs")
	}
	// IPv4-only selectors on a fresh pair.
	installPair(t, a, b, 0x7001, 0x7002, false, childsa.EncrAESGCM16, 256, childsa.IntegNone, false)
	sa := a.e.lookup(0x7001, false)
	sa.remoteTS = newTSList([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	a.tun.toEngine <- p
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, _ := a.e.Counters(0x7001, false); c.TSUnacceptable == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("IPv6 packet not refused by IPv4 selectors")
		}
		time.Sleep(time.Millisecond)
	}
}

// ESP from a peer for an SPI we do not have (here: the peer still sends on
// an SA we deleted) counts as "invalid sa" on that peer's newest inbound
// SA, as well as engine-wide; from anyone else only engine-wide.
func TestInvalidSACountedOnThePeersSA(t *testing.T) {
	a, b := newTestPair(t, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, TunnelConfig{})
	installPair(t, a, b, 0x3003, 0x4004, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
	if err := b.e.DeleteSA(0x1001, true); err != nil {
		t.Fatal(err)
	}
	// a keeps sending on 0x1001, which b no longer has.
	if err := a.e.SetOutbound("Tunnel0.0", 0x1001); err != nil {
		t.Fatal(err)
	}
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 1)
	waitStats(t, b.e, func(st Stats) bool { return st.UnknownSPI == 1 })
	if c, _ := b.e.Counters(0x3003, true); c.InvalidSA != 1 {
		t.Errorf("peer's current inbound SA: invalid sa %d, want 1", c.InvalidSA)
	}
	// The same SPI from an address that is no peer of b.
	b.outer.in <- fakeDgram{[]byte{0, 0, 0x10, 0x01, 0, 0, 0, 9, 1, 2, 3, 4}, mustAP("203.0.113.9:4500"), b.outer.local}
	waitStats(t, b.e, func(st Stats) bool { return st.UnknownSPI == 2 })
	if c, _ := b.e.Counters(0x3003, true); c.InvalidSA != 1 {
		t.Errorf("a stranger's packet moved the peer's invalid sa to %d", c.InvalidSA)
	}
	// With the peer's last inbound SA gone, nothing is left to count on.
	if err := b.e.DeleteSA(0x3003, true); err != nil {
		t.Fatal(err)
	}
	if got := b.e.peerSA(netip4("192.0.2.1")); got != nil {
		t.Errorf("peer index still holds SA 0x%08x", got.spi)
	}
}

func waitStats(t *testing.T, e *Engine, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(e.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDeletedInboundSAGrace: with Config.InboundGrace a deleted inbound SA
// still opens the peer's late packets (those IKE's answer overtook) until
// the grace ends, then they are unknown SPIs; its SPI may be taken again
// meanwhile.
func TestDeletedInboundSAGrace(t *testing.T) {
	a, b := newTestPair(t, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, TunnelConfig{})
	const grace = 300 * time.Millisecond
	b.e.grace = grace
	installPair(t, a, b, 0x3003, 0x4004, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
	if err := a.e.SetOutbound("Tunnel0.0", 0x1001); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	if err := b.e.DeleteSA(0x1001, true); err != nil {
		t.Fatal(err)
	}
	if err := b.e.DeleteSA(0x1001, true); err == nil {
		t.Error("a second DeleteSA of an SA in its grace succeeded")
	}
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 1)
	recv(t, b.tun)
	if time.Since(deleted) < grace {
		if c, ok := b.e.Counters(0x1001, true); !ok || c.Packets != 1 {
			t.Errorf("SA in its grace: counters %+v, %v", c, ok)
		}
	}
	time.Sleep(grace + 100*time.Millisecond)
	if _, ok := b.e.Counters(0x1001, true); ok {
		t.Fatal("the SA outlived its grace")
	}
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 2)
	waitStats(t, b.e, func(st Stats) bool { return st.UnknownSPI == 1 })

	// An SPI in its grace can be installed again at once.
	installPair(t, a, b, 0x5005, 0x6006, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
	if err := b.e.DeleteSA(0x5005, true); err != nil {
		t.Fatal(err)
	}
	if err := a.e.DeleteSA(0x5005, false); err != nil {
		t.Fatal(err)
	}
	installPair(t, a, b, 0x5005, 0x7007, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
}

// TestPeerMovedOnce: an authenticated ESP-in-UDP packet from another port
// than its SA's peer (the NAT in front of the peer has a new mapping) is
// reported to the owner with the new address, once a second at most;
// packets from the peer's own port are not, nor is a forged one from a
// new port.
func TestPeerMovedOnce(t *testing.T) {
	ev := &recEvents{}
	oa, ob := fakeOuterPair(mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500"))
	var peers [2]*testPeer
	for i, o := range []*fakeOuter{oa, ob} {
		p := &testPeer{tun: newFakeTUN(), outer: o, ike: make(chan []byte, 8)}
		cfg := Config{Workers: 1}
		if i == 1 {
			cfg.Events = ev
		}
		p.e = NewEngine(cfg)
		if err := p.e.attachOuter(o, true, false, o.local.Addr()); err != nil {
			t.Fatal(err)
		}
		if err := p.e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, p.tun); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.e.Close() })
		peers[i] = p
	}
	a, b := peers[0], peers[1]
	installPair(t, a, b, 0x1001, 0x2002, true, childsa.EncrAESGCM16, 128, childsa.IntegNone, false)
	moved := func() []movedEvent {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return append([]movedEvent(nil), ev.moved...)
	}

	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 1)
	recv(t, b.tun)
	// A forged packet of the SA from a new port: its ICV fails.
	forged := make([]byte, 64)
	binary.BigEndian.PutUint32(forged, 0x1001)
	binary.BigEndian.PutUint32(forged[4:], 99)
	ob.in <- fakeDgram{forged, mustAP("192.0.2.1:1024"), ob.local}
	// The peer's NAT maps it to port 2048 from now on.
	oa.local = mustAP("192.0.2.1:2048")
	for i := 2; i <= 4; i++ {
		a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, uint32(i))
		recv(t, b.tun)
	}
	time.Sleep(50 * time.Millisecond) // the event is sent from its own goroutine
	want := []movedEvent{{0x1001, mustAP("192.0.2.1:2048")}}
	if got := moved(); !slices.Equal(got, want) {
		t.Fatalf("moved events %v, want %v", got, want)
	}
	if c, _ := b.e.Counters(0x1001, true); c.IntegrityFailure != 1 {
		t.Fatalf("the forged packet was not counted as an integrity failure: %+v", c)
	}
	// While the mismatch lasts (the owner did not move the SAs yet) it is
	// reported again a second later.
	time.Sleep(movedEvery)
	a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 10, 5)
	recv(t, b.tun)
	time.Sleep(50 * time.Millisecond)
	if got := moved(); len(got) != 2 {
		t.Fatalf("moved events after %v: %v, want a second report", movedEvery, got)
	}
}
