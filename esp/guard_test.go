package esp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

func TestICVGuardBucket(t *testing.T) {
	var g icvGuard
	a, b := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	for range icvGuardBurst - 1 {
		g.failed(a)
	}
	if g.blocked(a) {
		t.Fatal("blocked before its burst was spent")
	}
	g.failed(a)
	g.failed(a)
	if !g.blocked(a) || g.blocked(b) {
		t.Fatalf("blocked: a %v (want true), b %v (want false)", g.blocked(a), g.blocked(b))
	}
	// The bucket refills at icvGuardRate.
	g.sources[a].last = time.Now().Add(-2 * time.Second / icvGuardRate * 3)
	if g.blocked(a) {
		t.Fatal("still blocked after it earned tokens")
	}
	// Beyond icvGuardSources, new sources share one bucket. At one
	// instant: buckets that refill while the loop runs (it is slow under
	// the race detector) would be pruned.
	now := time.Now()
	for i := range icvGuardSources + 10 {
		src := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		for range 2 {
			g.failedAt(src, now)
		}
	}
	if len(g.sources) > icvGuardSources+1 { // and the shared one
		t.Fatalf("%d sources tracked, bound %d", len(g.sources), icvGuardSources)
	}
	if _, ok := g.sources[netip.Addr{}]; !ok {
		t.Fatal("no shared bucket for the sources beyond the bound")
	}
}

// TestICVGuardEngine: forged ESP with a live SPI from a stranger is
// limited once its bucket is empty, and counted; the peer's own packets
// are delivered throughout and never limited.
func TestICVGuardEngine(t *testing.T) {
	e, a, inject, ft, spi := inboundSetup(t, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128)
	good := ipv4UDP("192.168.2.1", "172.16.1.4", 40, 1)
	peer, stranger := mustAP("198.51.100.6:4500"), mustAP("203.0.113.66:4500")
	const forged = 3 * icvGuardBurst
	for i := range forged {
		p := craft(a, good, uint64(1000+i), protoIPv4, nil)
		p[len(p)-1] ^= 1
		inject(p, stranger)
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the workers drain
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cnt, _ := e.Counters(spi, true)
		st := e.Stats()
		if cnt.IntegrityFailure+st.ICVLimited == forged {
			if st.ICVLimited == 0 || cnt.IntegrityFailure < icvGuardBurst {
				t.Fatalf("%d failed ICVs, %d limited", cnt.IntegrityFailure, st.ICVLimited)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %+v stats %+v: want %d counted", cnt, st, forged)
		}
		time.Sleep(time.Millisecond)
	}
	limited := e.Stats().ICVLimited
	inject(craft(a, good, 5, protoIPv4, nil), peer)
	recv(t, ft)
	bad := craft(a, good, 6, protoIPv4, nil)
	bad[len(bad)-1] ^= 1
	inject(bad, peer)
	inject(craft(a, good, 7, protoIPv4, nil), peer)
	recv(t, ft)
	if got := e.Stats().ICVLimited; got != limited {
		t.Fatalf("the peer's packets were limited: %d -> %d", limited, got)
	}
}

// inboundSetup is an engine with one inbound SA of the suite from
// 198.51.100.6:4500 (192.168.2.0/24 to 172.16.0.0/16) on a fake UDP
// socket: it returns the engine, the peer's side of the SA (to craft
// packets), a function that injects a packet from a source, the TUN and
// the inbound SPI.
func inboundSetup(t *testing.T, encr childsa.EncrID, bits int, integ childsa.IntegID) (*Engine, *sa, func([]byte, netip.AddrPort), *fakeTUN, uint32) {
	t.Helper()
	e := NewEngine(Config{Workers: 2})
	t.Cleanup(func() { e.Close() })
	oa, ob := fakeOuterPair(mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500"))
	if err := e.attachOuter(ob, true, false, netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	ft := newFakeTUN()
	if err := e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, ft); err != nil {
		t.Fatal(err)
	}
	outCfg, inCfg := testSAPair(t, encr, bits, integ, false)
	inCfg.RemoteTS = []netip.Prefix{netip.MustParsePrefix("192.168.2.0/24")}
	inCfg.LocalTS = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/16")}
	if err := e.InstallSA(inCfg); err != nil {
		t.Fatal(err)
	}
	a, err := newSA(&outCfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return e, a, func(p []byte, from netip.AddrPort) { oa.writeTo(p, from, ob.local) }, ft, inCfg.SPI
}
