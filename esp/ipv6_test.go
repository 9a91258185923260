package esp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// IPv6 outer addresses: the engine, the sockets and the MTU.

// TestIPv4MappedRemote: an SA whose remote address is IPv4-mapped IPv6 is
// an IPv4 SA (it goes out of the IPv4 socket).
func TestIPv4MappedRemote(t *testing.T) {
	out, _ := testSAPair(t, childsa.EncrAESGCM16, 128, childsa.IntegNone, false)
	out.SPI, out.Remote = 0x1001, mustAP("[::ffff:198.51.100.6]:4500")
	a, err := newSA(&out, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.v6 || a.remote != mustAP("198.51.100.6:4500") {
		t.Errorf("v6 %v remote %v", a.v6, a.remote)
	}
	out.Remote = netip.AddrPort{}
	if _, err := newSA(&out, 0); err == nil {
		t.Error("an SA without a remote address was accepted")
	}
}

// TestTwoEnginesIPv6Outer: two engines whose SAs have IPv6 outer addresses
// use the outer sockets of the IPv6 family (with only those attached, an
// SA sent to the IPv4 ones would count send errors and lose the packets;
// TestTwoEnginesAllSuites carries traffic over both families).
func TestTwoEnginesIPv6Outer(t *testing.T) {
	for _, udp := range []bool{false, true} {
		t.Run(fmt.Sprintf("udp=%v", udp), func(t *testing.T) {
			a, b := newTestPairAt(t, testOuters[1].a, testOuters[1].b, udp,
				childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, TunnelConfig{})
			for _, p := range []*testPeer{a, b} {
				if p.e.outerFor(udp, true).Load() == nil || p.e.outerFor(udp, false).Load() != nil {
					t.Fatal("the fake socket is not the engine's IPv6 one")
				}
			}
			a.tun.toEngine <- ipv4UDP("192.168.2.1", "172.16.1.4", 700, 3)
			b.tun.toEngine <- ipv4UDP("172.16.1.4", "192.168.2.1", 64, 9)
			if got := recv(t, b.tun); binary.BigEndian.Uint32(got[28:]) != 3 {
				t.Fatal("packet differs")
			}
			if got := recv(t, a.tun); binary.BigEndian.Uint32(got[28:]) != 9 {
				t.Fatal("reply differs")
			}
			for _, p := range []*testPeer{a, b} {
				if s := p.e.Stats(); s.SendErrors != 0 || s.UnknownSPI != 0 {
					t.Errorf("engine stats %+v", s)
				}
			}
			// ESP from the peer's address that no SA takes counts as
			// "invalid sa" on the peer's SA, IPv6 source or not.
			a.outer.peer.writeTo([]byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 1, 2, 3, 4}, b.outer.local, a.outer.local)
			deadline := time.Now().Add(5 * time.Second)
			for a.e.Stats().UnknownSPI == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if c, _ := a.e.Counters(0x2002, true); c.InvalidSA != 1 {
				t.Errorf("invalid sa on the IPv6 peer's SA: %d, want 1", c.InvalidSA)
			}
		})
	}
}

// TestDeviceMTUIPv6: the 40-byte IPv6 header leaves 20 bytes less for the
// inner packet than IPv4's, give or take the cipher's block alignment: the
// largest inner packet fits the outer MTU, one block more would not.
func TestDeviceMTUIPv6(t *testing.T) {
	for _, tc := range []TunnelConfig{
		{},
		{EncrID: childsa.EncrAESGCM16, EncrKeyBits: 256},
		{EncrID: childsa.EncrAESCBC, EncrKeyBits: 256, IntegID: childsa.IntegHMACSHA256128},
		{OuterMTU: 1280, EncrID: childsa.EncrAESCBC, EncrKeyBits: 128, IntegID: childsa.IntegHMACSHA1_96},
	} {
		v4 := tc.DeviceMTU()
		tc.OuterIPv6 = true
		v6 := tc.DeviceMTU()
		if v6 >= v4 || v4-v6 > 20+16 {
			t.Errorf("%+v: device MTU %d with IPv6, %d with IPv4", tc, v6, v4)
		}
		// The largest inner packet fits the outer MTU with the IPv6
		// header, one more byte of payload would not.
		iv, blk, icv := 16, 16, 32
		if tc.EncrID == childsa.EncrAESGCM16 {
			iv, blk, icv = 8, 4, 16
		} else if tc.IntegID == childsa.IntegHMACSHA256128 {
			icv = 16
		} else if tc.IntegID == childsa.IntegHMACSHA1_96 {
			icv = 12
		}
		mtu := tc.outerMTU()
		if n := outerIPv6Header + 8 + espLen(v6, iv, blk, icv); n > mtu {
			t.Errorf("%+v: a %d-byte inner packet makes a %d-byte IPv6 packet, MTU %d", tc, v6, n, mtu)
		}
		if n := outerIPv6Header + 8 + espLen(v6+blk, iv, blk, icv); n <= mtu {
			t.Errorf("%+v: %d bytes would still fit", tc, v6+blk)
		}
	}
	if maxPayload(1500, 16, 16, 16, false, true) != maxPayload(1480, 16, 16, 16, false, false) {
		t.Error("raw ESP over IPv6 does not lose exactly the 20 header bytes")
	}
}

// TestUDPPacketInfoIPv6: a UDP socket on [::] learns the destination of
// IKE (non-ESP marker) from IPV6_PKTINFO and sends from a given source.
func TestUDPPacketInfoIPv6(t *testing.T) {
	rx, err := listenUDP(mustAP("[::1]:0"))
	if err != nil {
		testenv.Unavailable(t, "no IPv6 UDP on loopback: %v", err)
	}
	defer rx.close()
	tx, err := listenUDP(mustAP("[::]:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.close()
	if err := rx.writeTo([]byte{0, 0, 0, 0, 0xaa}, netip.AddrPort{}, netip.AddrPortFrom(netip.IPv6Loopback(), tx.local.Port())); err != nil {
		t.Fatal(err)
	}
	one := []*elem{getElem()}
	tx.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := tx.readBatch(one); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if !bytes.Equal(one[0].pkt, []byte{0, 0, 0, 0, 0xaa}) || one[0].dst != netip.AddrPortFrom(netip.IPv6Loopback(), tx.local.Port()) {
		t.Fatalf("IKE datagram %x to %v, want to [::1]:%d", one[0].pkt, one[0].dst, tx.local.Port())
	}
	if err := tx.writeTo([]byte{0, 0, 0, 0, 0xbb}, netip.AddrPortFrom(netip.IPv6Loopback(), tx.local.Port()), rx.local); err != nil {
		t.Fatal(err)
	}
	rx.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rx.readBatch(one); err != nil || n != 1 || one[0].pkt[4] != 0xbb || one[0].src.Addr() != netip.IPv6Loopback() {
		t.Fatal(n, err, one[0].src)
	}
}

// TestEngineIPv6Sockets opens both families' sockets on one engine and
// sends IKE over each: SendIKE picks the socket of the destination's
// family, and a family without a socket is an error, not a panic.
func TestEngineIPv6Sockets(t *testing.T) {
	e := NewEngine(Config{Workers: 1})
	defer e.Close()
	if err := e.SendIKE([]byte{1}, netip.AddrPort{}, mustAP("[::1]:4500")); err == nil {
		t.Fatal("SendIKE over IPv6 without an IPv6 socket succeeded")
	}
	if err := e.OpenUDP(mustAP("127.0.0.1:0")); err != nil {
		testenv.Unavailable(t, "UDP: %v", err)
	}
	if err := e.OpenUDP(mustAP("[::1]:0")); err != nil {
		testenv.Unavailable(t, "no IPv6 UDP on loopback: %v", err)
	}
	if err := e.OpenUDP(mustAP("[::1]:0")); err == nil {
		t.Fatal("a second IPv6 UDP socket was attached")
	}
	for _, dst := range []string{"127.0.0.1:0", "[::1]:0"} {
		c, err := listenUDP(mustAP(dst))
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		if err := e.SendIKE([]byte{0xcc}, netip.AddrPort{}, c.local); err != nil {
			t.Fatalf("SendIKE to %v: %v", c.local, err)
		}
		got := []*elem{getElem()}
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.readBatch(got); err != nil || n != 1 || !bytes.Equal(got[0].pkt, []byte{0, 0, 0, 0, 0xcc}) {
			t.Fatalf("to %v: %d, %x, %v", c.local, n, got[0].pkt, err)
		}
		want := e.udp.Load().io.(*udpIO).local.Port()
		if c.v6 {
			want = e.udp6.Load().io.(*udpIO).local.Port()
		}
		if got[0].src.Port() != want {
			t.Errorf("IKE to %v left from port %d, want the %s socket's %d", c.local, got[0].src.Port(), dst, want)
		}
	}
}

// TestBatchWriterAddrNoAllocs: the destination of a message costs no
// allocation in either family (the send path's guard).
func TestBatchWriterAddrNoAllocs(t *testing.T) {
	w := newBatchWriter(false)
	a4, a6 := netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("2001:db8::6")
	if n := testing.AllocsPerRun(100, func() {
		if len(w.addr(0, a4)) != 4 || len(w.addr(1, a6)) != 16 {
			t.Fatal("address length")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	if b, _ := netip.AddrFromSlice(w.addr(1, a6)); b != a6 {
		t.Fatal("IPv6 address differs")
	}
	if b, _ := netip.AddrFromSlice(w.addr(0, a4)); b != a4 {
		t.Fatal("IPv4 address differs")
	}
}
