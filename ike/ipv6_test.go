package ike

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/crypto"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// IPv6 outer addresses: NAT detection, the cores, the sockets.

var (
	addr6A = netip.MustParseAddr("2001:db8:1::94")
	addr6B = netip.MustParseAddr("2001:db8:2::6")
)

// TestNATHashIPv6 computes RFC 7296 §2.23's SHA-1(SPIi | SPIr | IP | Port)
// by hand for a 16-byte IPv6 address and compares both implementations
// (the core's and ike/crypto's) with it. An IPv4-mapped address hashes as
// its 4 IPv4 bytes, as it travels as IPv4.
func TestNATHashIPv6(t *testing.T) {
	const spiI, spiR = 0x0123456789abcdef, 0xfedcba9876543210
	for _, c := range []struct {
		ap   string
		addr []byte
	}{
		{"[2001:db8:1::94]:500", []byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x94}},
		{"[2001:db8:2::6]:4500", []byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6}},
		{"[::ffff:198.51.100.6]:500", []byte{198, 51, 100, 6}},
	} {
		ap := netip.MustParseAddrPort(c.ap)
		var b []byte
		b = binary.BigEndian.AppendUint64(b, spiI)
		b = binary.BigEndian.AppendUint64(b, spiR)
		b = append(b, c.addr...)
		b = binary.BigEndian.AppendUint16(b, ap.Port())
		want := sha1.Sum(b)
		if got := natHash(spiI, spiR, ap); !bytes.Equal(got, want[:]) {
			t.Errorf("%v: natHash %x, want %x", ap, got, want)
		}
		if got := crypto.NATDetectionHash(spiI, spiR, ap); !bytes.Equal(got, want[:]) {
			t.Errorf("%v: crypto.NATDetectionHash %x, want %x", ap, got, want)
		}
	}
}

// TestCoresOverIPv6: two cores whose tunnel peers are IPv6 addresses come
// up without detecting a NAT (so their IPv6 NAT detection hashes agree),
// and install ESP SAs with the IPv6 outer addresses, raw ESP; with
// ForceUDPEncap on one side both move to UDP 4500.
func TestCoresOverIPv6(t *testing.T) {
	for _, force := range []bool{false, true} {
		p := newPairAt(t, addr6A, addr6B, testConfig(addr6B, "k", true, nil), testConfig(addr6A, "k", false, nil),
			func(cc *CoreConfig) { cc.ForceUDPEncap = force && cc.Config.Tunnels[0].ConnectAuto })
		p.a.core.Start(p.now)
		p.b.core.Start(p.now)
		p.run(5 * time.Second)
		sa, sb := p.checkUp()
		if (sa.natLocal || sa.natRemote || sb.natLocal || sb.natRemote) != force {
			t.Errorf("force=%v: NAT detected a %v/%v b %v/%v", force, sa.natLocal, sa.natRemote, sb.natLocal, sb.natRemote)
		}
		wantPort := uint16(0)
		if force {
			wantPort = 4500
		}
		for _, n := range []*node{p.a, p.b} {
			for k, c := range n.dp.sas {
				peer := addr6B
				if n == p.b {
					peer = addr6A
				}
				if c.Local.Addr() != n.addr || c.Remote.Addr() != peer || c.UDPEncap != force || c.Remote.Port() != wantPort {
					t.Errorf("force=%v: %v SA %08x: local %v remote %v encap %v", force, n.addr, k.spi, c.Local, c.Remote, c.UDPEncap)
				}
			}
		}
		if s := p.a.core.IKESAs(p.now); len(s) != 1 || s[0].PeerAddr.Addr() != addr6B || s[0].LocalAddr.Addr() != addr6A || s[0].PeerID != "IPV6-ADDR 2001:db8:2::6" {
			t.Errorf("IKE SAs %+v", s)
		}
	}
}

// TestSocketIPv6: an IKE socket on [::] learns the destination address of
// what it receives from IPV6_PKTINFO and sends from the source it is
// given.
func TestSocketIPv6(t *testing.T) {
	s, err := ListenSocket(netip.IPv6Unspecified(), 0)
	if err != nil {
		testenv.Unavailable(t, "no IPv6: %v", err)
	}
	defer s.Close()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		testenv.Unavailable(t, "no IPv6 loopback: %v", err)
	}
	defer c.Close()
	peer := c.LocalAddr().(*net.UDPAddr).AddrPort()
	port := s.LocalAddr().Port()
	if err := s.WriteTo([]byte("hello"), netip.IPv6Loopback(), peer); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "hello" || from != netip.AddrPortFrom(netip.IPv6Loopback(), port) {
		t.Fatalf("peer got %q from %v, %v", buf[:n], from, err)
	}
	if _, err := c.WriteToUDPAddrPort([]byte("back"), netip.AddrPortFrom(netip.IPv6Loopback(), port)); err != nil {
		t.Fatal(err)
	}
	s.Conn().SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, to, err := s.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "back" || from != peer || to != netip.AddrPortFrom(netip.IPv6Loopback(), port) {
		t.Fatalf("got %q from %v to %v, %v", buf[:n], from, to, err)
	}
}

// TestUDPTransportBothFamilies: ListenUDP on the unspecified address
// opens IKE and NAT-T sockets of both families, and Send takes the one of
// the destination's family: IPv6 IKE leaves [::]:ikePort, IPv6 NAT-T
// [::]:nattPort with the non-ESP marker.
func TestUDPTransportBothFamilies(t *testing.T) {
	u, err := ListenUDP(netip.Addr{}, freePort(t), freePort(t))
	if err != nil {
		testenv.Unavailable(t, "cannot bind the ports: %v", err)
	}
	defer u.Close()
	if u.fam[0].ike == nil || u.fam[0].natt == nil {
		t.Fatal("no IPv4 sockets")
	}
	if u.fam[1].ike == nil || u.fam[1].natt == nil {
		testenv.Unavailable(t, "no IPv6 sockets (IPv6 disabled?)")
	}
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := c.LocalAddr().(*net.UDPAddr).AddrPort()
	got := make(chan netip.AddrPort, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.Serve(ctx, func(pkt []byte, from, to netip.AddrPort) { got <- to })
	for _, port := range []uint16{u.ikePort, u.nattPort} {
		if err := u.Send([]byte{0xab}, netip.AddrPortFrom(netip.IPv6Unspecified(), port), peer); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0xab}
		if port == u.nattPort {
			want = []byte{0, 0, 0, 0, 0xab}
		}
		if !bytes.Equal(buf[:n], want) || from.Port() != port {
			t.Fatalf("port %d: got %x from %v", port, buf[:n], from)
		}
		// And an answer arrives through Serve with its IPv6 destination.
		if _, err := c.WriteToUDPAddrPort(want, from); err != nil {
			t.Fatal(err)
		}
		select {
		case to := <-got:
			if to != netip.AddrPortFrom(netip.IPv6Loopback(), port) {
				t.Fatalf("received to %v", to)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("port %d: nothing received", port)
		}
	}
	if err := (&UDPTransport{}).Send([]byte{1}, netip.AddrPort{}, peer); err == nil {
		t.Error("Send without sockets succeeded")
	}
}
