package ike

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// countDP is a data plane that keeps nothing, so that memory measurements
// see only the ike package's own state.
type countDP struct{ installs int }

func (d *countDP) InstallSA(childsa.SA) error                     { d.installs++; return nil }
func (d *countDP) SetOutbound(string, uint32) error               { return nil }
func (d *countDP) DeleteSA(uint32, bool) error                    { return nil }
func (d *countDP) Counters(uint32, bool) (childsa.Counters, bool) { return childsa.Counters{}, false }

// manyPair builds an initiator with n tunnels to one responder that takes
// any peer.
func manyPair(tb testing.TB, n int) (*pair, *countDP, *countDP) {
	prof := &testProfile{Enc: []string{"aes-cbc-256"}, Integrity: []string{"sha1"},
		DH: []string{"1024-bit"}, ChildEnc: []string{"aes-cbc-256"}, ChildIntegrity: []string{"sha2-256"},
		Lifetime: 8 * time.Hour, ChildLifetime: 8 * time.Hour}
	cfgA := testConfig(addrB, "k", false, prof)
	pol := prof.policy()
	cfgA.Tunnels = nil
	for i := 0; i < n; i++ {
		cfgA.Tunnels = append(cfgA.Tunnels, TunnelConfig{Name: fmt.Sprintf("Tunnel%d.0", i), Peer: addrB, Policy: pol})
	}
	cfgB := testConfig(addrA, "k", false, prof)
	cfgB.Tunnels[0].Peer, cfgB.Tunnels[0].PeerAny = netip.Addr{}, true
	cfgB.Tunnels[0].PeerID = ID{}
	t, _ := tb.(*testing.T)
	p := newPair(t, cfgA, cfgB, func(c *CoreConfig) { c.NoInitialContact = true; c.DPDDisabled = true })
	da, db := &countDP{}, &countDP{}
	p.a.core.opt.DataPlane, p.b.core.opt.DataPlane = da, db
	return p, da, db
}

// BenchmarkSetup measures full IKE_SA_INIT + IKE_AUTH + Child SA setups,
// both ends in this process (so one op costs initiator plus responder).
func BenchmarkSetup(b *testing.B) {
	p, _, db := manyPair(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.a.core.Initiate(p.now, fmt.Sprintf("Tunnel%d.0", i))
		p.net.deliver(p.now)
	}
	if db.installs != 2*b.N {
		b.Fatalf("%d installs for %d setups", db.installs, b.N)
	}
}

// TestMemoryPerSAPair establishes 10,000 IKE+Child SA pairs and reports
// the heap each side holds per pair (target: at most 16 KiB).
func TestMemoryPerSAPair(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 setups; skipped with -short")
	}
	if raceEnabled {
		t.Skip("heap numbers mean nothing under the race detector")
	}
	const n = 10000
	p, _, db := manyPair(t, n)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		p.a.core.Initiate(p.now, fmt.Sprintf("Tunnel%d.0", i))
		p.net.deliver(p.now)
	}
	if db.installs != 2*n {
		t.Fatalf("%d installs for %d setups", db.installs, n)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perPair := float64(after.HeapInuse-before.HeapInuse) / 2 / n
	t.Logf("heap in use per established IKE+Child SA pair (per side): %.0f bytes (%.1f KiB)", perPair, perPair/1024)
	if perPair > 16*1024 {
		t.Fatalf("%.0f bytes per pair, want <= 16 KiB", perPair)
	}
	runtime.KeepAlive(p)
}
