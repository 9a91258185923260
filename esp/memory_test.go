package esp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// rssKiB is this process's resident set (VmRSS) in KiB.
func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// maxFloodHeap bounds the heap the engine may hold while a flood of forged
// ESP arrives: receive buffers sized by what arrives (2 KiB, not 64 KiB per
// datagram) kept it at about 25 MiB where it used to reach 103-118 MiB.
const maxFloodHeap = 64 << 20

// TestReceiveMemoryUnderFlood measures the engine's memory with its outer
// sockets open, idle and during a 3-second flood of forged ESP (the live
// SPI, bad ICVs) on UDP 4500 from loopback, and fails when the heap in use
// passes maxFloodHeap. The race detector inflates the heap, so test.sh runs
// it in its pass without -race:
//
//	go test -count=1 -run TestReceiveMemoryUnderFlood -v ./esp
func TestReceiveMemoryUnderFlood(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures mean nothing under the race detector; test.sh runs this without -race")
	}
	settle := func() int {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(100 * time.Millisecond)
		return rssKiB(t)
	}
	base := settle()
	e := NewEngine(Config{Workers: 2})
	defer e.Close()
	if err := e.OpenUDP(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := e.OpenRawESP(netip.MustParseAddr("127.0.0.1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, newFakeTUN()); err != nil {
		t.Fatal(err)
	}
	local := e.udp.Load().io.(*udpIO).local
	_, in := testSAPair(t, childsa.EncrAESGCM16, 256, childsa.IntegNone, false)
	in.Local, in.Remote, in.UDPEncap = local, netip.MustParseAddrPort("127.0.0.1:4500"), true
	if err := e.InstallSA(in); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	idle := settle()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("idle engine (UDP + raw socket, one tunnel): RSS +%d KiB, heap in use %d KiB", idle-base, ms.HeapInuse>>10)

	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sent atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := make([]byte, 1400)
		binary.BigEndian.PutUint32(p, in.SPI)
		for seq := uint32(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			binary.BigEndian.PutUint32(p[4:], seq)
			if _, err := c.Write(p); err == nil {
				sent.Add(1)
			}
		}
	}()
	peak := idle
	var peakHeap uint64
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		peak = max(peak, rssKiB(t))
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
	}
	close(stop)
	<-done
	time.Sleep(200 * time.Millisecond)
	after := settle()
	co, _ := e.Counters(in.SPI, true)
	t.Logf("flood: %d forged datagrams sent, %d integrity failures counted", sent.Load(), co.IntegrityFailure)
	t.Logf("flood: peak RSS +%d KiB over idle, peak heap in use %d KiB; after GC and FreeOSMemory RSS +%d KiB over idle",
		peak-idle, peakHeap>>10, after-idle)
	if sent.Load() == 0 {
		t.Fatal("the flood sent nothing")
	}
	if peakHeap > maxFloodHeap {
		t.Errorf("peak heap in use %d KiB during the flood, want at most %d KiB", peakHeap>>10, maxFloodHeap>>10)
	}
}
