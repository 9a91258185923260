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
	pkt := make([]byte, 40) // one IKE SA's (initiator SPI 0)
	stall := time.Now()
	var accepted, slowest int
	var worst time.Duration
	sent := IntakeQueue + runtime.GOMAXPROCS(0) + 200
	for i := 0; i < sent; i++ {
		start := time.Now()
		if m.Deliver(pkt, from, to) {
			accepted++
		}
		if d := time.Since(start); d > worst {
			worst, slowest = d, i
		}
	}
	if worst > 50*time.Millisecond {
		t.Errorf("Deliver %d took %v while IKE was stalled", slowest, worst)
	}
	// One peer's datagrams all wait in its worker's queue; the worker may
	// have taken one before the hook stopped it.
	if room := cap(m.queueFor(pkt, from)); accepted < room || accepted > room+1 {
		t.Errorf("accepted %d of %d, want the peer's queue's %d (+ one)", accepted, sent, room)
	}
	if got := m.Stats().Failures.QueueFull; got != uint64(sent-accepted) {
		t.Errorf("QueueFull = %d, want %d", got, sent-accepted)
	}
	time.Sleep(2*time.Second - time.Since(stall))
	m.mu.Unlock()
	close(hold)
	for deadline := time.Now().Add(5 * time.Second); len(m.queueFor(pkt, from)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d datagrams still queued after the stall", len(m.queueFor(pkt, from)))
		}
	}
}

// TestDeliverKeepsAnSAsOrder: the datagrams of one IKE SA are handled in
// the order they arrived (one worker per SA), whichever port they came
// on; different SAs, even of one peer, spread over the workers.
func TestDeliverKeepsAnSAsOrder(t *testing.T) {
	m := &Manager{}
	for range 4 {
		m.intake = append(m.intake, make(chan received, 8))
	}
	a := netip.MustParseAddrPort("198.51.100.6:500")
	sa := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0xaa}
	if m.queueFor(sa, a) != m.queueFor(sa[:8], netip.AddrPortFrom(a.Addr(), 4500)) {
		t.Error("one SA's UDP 500 and 4500 datagrams go to different workers")
	}
	seen := map[chan received]bool{}
	for i := range 64 {
		seen[m.queueFor([]byte{byte(i), 0, 0, 0, 0, 0, 0, 1}, a)] = true
	}
	if len(seen) < 2 {
		t.Error("64 IKE SAs of one peer all went to one worker")
	}
}
