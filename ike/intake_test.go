package ike

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// dropTransport sends nothing.
type dropTransport struct{}

func (dropTransport) Send([]byte, netip.AddrPort, netip.AddrPort) error { return nil }

// TestDeliverNeverWaitsForIKE holds IKE processing still for 2 s (workers
// stuck and the Core's lock held, as a PFS rekey's DH or a tunnel going up
// would) while a reader keeps delivering: each Deliver returns at once, the
// queue takes IntakeQueue datagrams and counts the rest as QueueFull, and
// everything queued is processed once IKE moves again. This is what keeps
// ESP's UDP 4500 receive loop, which hands IKE datagrams over inline,
// flowing during an IKE stall.
func TestDeliverNeverWaitsForIKE(t *testing.T) {
	peer := netip.MustParseAddr("198.51.100.6")
	m, err := NewManager(ManagerConfig{Config: testConfig(peer, "k", false, nil), DataPlane: newFakeDP(),
		Transport: dropTransport{}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	m.testHookWorker = func() { <-hold }
	m.mu.Lock() // the Core is busy too
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	from, to := netip.AddrPortFrom(peer, 4500), netip.MustParseAddrPort("203.0.113.94:4500")
	stall := time.Now()
	var accepted, slowest int
	var worst time.Duration
	sent := IntakeQueue + runtime.GOMAXPROCS(0) + 200
	for i := 0; i < sent; i++ {
		start := time.Now()
		if m.Deliver(make([]byte, 40), from, to) {
			accepted++
		}
		if d := time.Since(start); d > worst {
			worst, slowest = d, i
		}
	}
	if worst > 50*time.Millisecond {
		t.Errorf("Deliver %d took %v while IKE was stalled", slowest, worst)
	}
	// The workers may each have taken one datagram before the hook stopped
	// them; the queue holds IntakeQueue more.
	if accepted < IntakeQueue || accepted > IntakeQueue+runtime.GOMAXPROCS(0) {
		t.Errorf("accepted %d of %d, want the queue's %d (+ one per worker)", accepted, sent, IntakeQueue)
	}
	if got := m.Stats().Failures.QueueFull; got != uint64(sent-accepted) {
		t.Errorf("QueueFull = %d, want %d", got, sent-accepted)
	}
	time.Sleep(2*time.Second - time.Since(stall))
	m.mu.Unlock()
	close(hold)
	for deadline := time.Now().Add(5 * time.Second); len(m.intake) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d datagrams still queued after the stall", len(m.intake))
		}
	}
}
