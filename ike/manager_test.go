package ike

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// TestManagersOverLoopback runs two Managers with their own UDP sockets
// on 127.0.0.1 and 127.0.0.2 (unprivileged ports) and checks that the
// tunnel comes up and Close deletes it on the peer.
func TestManagersOverLoopback(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	mk := func(local, peer netip.Addr, auto bool) (*Manager, *fakeDP) {
		dp := newFakeDP()
		cfg := testConfig(peer, "k", auto, nil)
		cfg.Tunnels[0].Source = local
		m, err := NewManager(ManagerConfig{Config: cfg, DataPlane: dp, ListenAddr: local, IKEPort: 15500, NATTPort: 15501,
			Logger: testLogger(t)})
		if err != nil {
			testenv.Unavailable(t, "cannot open loopback sockets: %v", err)
		}
		return m, dp
	}
	mb, dpb := mk(b, a, false)
	ma, dpa := mk(a, b, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	doneA, doneB := make(chan struct{}), make(chan struct{})
	go func() { mb.Run(ctx); close(doneB) }()
	go func() { ma.Run(ctx); close(doneA) }()
	deadline := time.Now().Add(5 * time.Second)
	for dpa.count() != 2 || dpb.count() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no tunnel: a %d SAs, b %d SAs", dpa.count(), dpb.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := ma.IKESAs(); len(s) != 1 || s[0].LocalAddr != netip.AddrPortFrom(a, 15500) || s[0].State != StateEstablished {
		t.Fatalf("IKE SAs %+v", s)
	}
	ma.Close()
	deadline = time.Now().Add(3 * time.Second)
	for dpb.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("peer kept its SAs after Close")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-doneA
	<-doneB
}
