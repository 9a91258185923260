package esp

import (
	"net"
	"net/netip"
	"testing"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// TestReceiveNoAllocs: taking a datagram in from the UDP and the raw ESP
// socket allocates nothing (x/net's ReadBatch made a net.Addr for each,
// issue 14), and the source address still arrives.
func TestReceiveNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector; test.sh runs this without -race")
	}
	u, err := listenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.close()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(u.local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := make([]byte, 200)
	pkt[0] = 1 // ESP (SPI 0x01000000), not IKE
	elems := make([]*elem, outerBatch)
	for i := range elems {
		elems[i] = getRxElem(0)
	}
	recv := func() {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		n, err := u.readBatch(elems)
		if err != nil || n != 1 || len(elems[0].pkt) != len(pkt) {
			t.Fatalf("udp: n %d err %v", n, err)
		}
	}
	recv()
	if got := elems[0].src; got != c.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Errorf("udp: source %v, want %v", got, c.LocalAddr())
	}
	if a := testing.AllocsPerRun(100, recv); a != 0 {
		t.Errorf("udp: %v allocations per datagram sent and received", a)
	}

	testenv.RequireRoot(t) // the raw socket
	r, err := listenRawESP(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		testenv.Unavailable(t, "raw ESP socket: %v", err)
	}
	defer r.close()
	out := getElem()
	out.pkt = out.buf[txOffset : txOffset+200]
	out.sa = &sa{remote: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)}
	rawRecv := func() {
		if n, err := r.writeBatch([]*elem{out}); err != nil || n != 1 {
			t.Fatal(n, err)
		}
		n, err := r.readBatch(elems)
		if err != nil || n != 1 || len(elems[0].pkt) != 200 {
			t.Fatalf("raw: n %d err %v", n, err)
		}
	}
	rawRecv()
	if got := elems[0].src.Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("raw: source %v", got)
	}
	if a := testing.AllocsPerRun(100, rawRecv); a != 0 {
		t.Errorf("raw: %v allocations per datagram sent and received", a)
	}
}
