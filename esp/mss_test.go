package esp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// tcpSYN builds an IPv4 or IPv6 TCP segment with the given flags and
// options and a correct checksum.
func tcpSYN(src, dst string, flags byte, opts []byte) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	tcp := make([]byte, 20+len(opts))
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 443)
	tcp[12] = byte((20+len(opts))/4) << 4
	tcp[13] = flags
	copy(tcp[20:], opts)
	var p []byte
	if s.Is4() {
		p = make([]byte, 20, 20+len(tcp))
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(20+len(tcp)))
		p[8], p[9] = 64, protoTCP
		a, b := s.As4(), d.As4()
		copy(p[12:], a[:])
		copy(p[16:], b[:])
		binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	} else {
		p = make([]byte, 40, 40+len(tcp))
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(tcp)))
		p[6], p[7] = protoTCP, 64
		a, b := s.As16(), d.As16()
		copy(p[8:], a[:])
		copy(p[24:], b[:])
	}
	p = append(p, tcp...)
	binary.BigEndian.PutUint16(p[len(p)-len(tcp)+16:], l4Checksum(p))
	return p
}

// l4Checksum computes the TCP or UDP checksum (the protocol the IP header
// names) of packet p from scratch (a correct packet yields 0 when its
// checksum field is included).
func l4Checksum(p []byte) uint16 {
	var sum uint32
	var l4 []byte
	if p[0]>>4 == 4 {
		hl := int(p[0]&0xf) * 4
		l4 = p[hl:]
		sum = uint32(p[9])
		for i := 12; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(p[i:]))
		}
	} else {
		l4 = p[40:]
		sum = uint32(p[6])
		for i := 8; i < 40; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(p[i:]))
		}
	}
	sum += uint32(len(l4))
	return checksum(l4, sum)
}

func mssOf(p []byte) uint16 {
	hl := 40
	if p[0]>>4 == 4 {
		hl = int(p[0]&0xf) * 4
	}
	opts := p[hl+20 : hl+int(p[hl+12]>>4)*4]
	for i := 0; i < len(opts); {
		if opts[i] == 1 {
			i++
			continue
		}
		if opts[i] == 2 {
			return binary.BigEndian.Uint16(opts[i+2:])
		}
		if opts[i] == 0 || i+1 >= len(opts) {
			return 0
		}
		i += int(opts[i+1])
	}
	return 0
}

func TestClampMSS(t *testing.T) {
	mss1460 := []byte{2, 4, 0x05, 0xb4}
	odd := []byte{1, 2, 4, 0x05, 0xb4, 1, 1, 1}              // MSS at an odd offset
	many := []byte{1, 1, 4, 2, 2, 4, 0xff, 0xff, 8, 2, 0, 0} // SACK-permitted, MSS 65535, junk
	cases := []struct {
		name    string
		pkt     []byte
		changed bool
		want    uint16
	}{
		{"v4 SYN", tcpSYN("192.168.2.1", "172.16.1.4", 0x02, mss1460), true, 1350},
		{"v4 SYN-ACK", tcpSYN("192.168.2.1", "172.16.1.4", 0x12, mss1460), true, 1350},
		{"v4 odd offset", tcpSYN("192.168.2.1", "172.16.1.4", 0x02, odd), true, 1350},
		{"v4 after other options", tcpSYN("192.168.2.1", "172.16.1.4", 0x02, many), true, 1350},
		{"v4 ACK untouched", tcpSYN("192.168.2.1", "172.16.1.4", 0x10, mss1460), false, 1460},
		{"v4 already small", tcpSYN("192.168.2.1", "172.16.1.4", 0x02, []byte{2, 4, 0x04, 0x00}), false, 1024},
		{"v6 SYN", tcpSYN("2001:db8::1", "2001:db8::2", 0x02, mss1460), true, 1330},
	}
	for _, c := range cases {
		got := clampMSS(c.pkt, 1350, 1330)
		if got != c.changed || mssOf(c.pkt) != c.want {
			t.Errorf("%s: changed %v mss %d, want %v %d", c.name, got, mssOf(c.pkt), c.changed, c.want)
		}
		if l4Checksum(c.pkt) != 0 {
			t.Errorf("%s: TCP checksum broken", c.name)
		}
	}
	// Truncated and odd packets are left alone without panicking.
	p := tcpSYN("192.168.2.1", "172.16.1.4", 0x02, mss1460)
	for i := range p {
		clampMSS(append([]byte(nil), p[:i]...), 1350, 1330)
	}
}

func TestMSSAutoEngine(t *testing.T) {
	tc := TunnelConfig{AdjustMSS: MSSAuto, EncrID: childsa.EncrAESCBC, EncrKeyBits: 256, IntegID: childsa.IntegHMACSHA256128}
	a, b := newTestPair(t, false, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, tc)
	want := uint16(tc.DeviceMTU() - 40)
	a.tun.toEngine <- tcpSYN("192.168.2.1", "172.16.1.4", 0x02, []byte{2, 4, 0x05, 0xb4})
	if got := recv(t, b.tun); mssOf(got) != want || l4Checksum(got) != 0 {
		t.Fatalf("outbound SYN: mss %d (want %d), checksum ok %v", mssOf(got), want, l4Checksum(got) == 0)
	}
	// The SYN-ACK from the other side is clamped by B on its way out and by
	// A on its way in; both ends use auto.
	b.tun.toEngine <- tcpSYN("172.16.1.4", "192.168.2.1", 0x12, []byte{2, 4, 0x23, 0x28})
	if got := recv(t, a.tun); mssOf(got) != want || l4Checksum(got) != 0 {
		t.Fatalf("inbound SYN-ACK: mss %d", mssOf(got))
	}
}

func TestDeviceMTU(t *testing.T) {
	cases := []struct {
		c    TunnelConfig
		want int
	}{
		{TunnelConfig{MTU: 1300}, 1300},
		{TunnelConfig{EncrID: childsa.EncrAESCBC, IntegID: childsa.IntegHMACSHA256128}, 1422},
		{TunnelConfig{EncrID: childsa.EncrAESGCM16}, 1438},
		{TunnelConfig{}, 1406},
	}
	for _, c := range cases {
		if got := c.c.DeviceMTU(); got != c.want {
			t.Errorf("%+v: %d, want %d", c.c, got, c.want)
		}
		// The worst case ESP packet of that MTU fits 1500 with UDP.
		if c.c.MTU == 0 {
			iv, blk, icv := 16, 16, 32
			if c.c.EncrID == childsa.EncrAESGCM16 {
				iv, blk, icv = 8, 4, 16
			} else if c.c.IntegID == childsa.IntegHMACSHA256128 {
				icv = 16
			}
			if n := 28 + espLen(c.want, iv, blk, icv); n > 1500 {
				t.Errorf("%+v: ESP packet %d > 1500", c.c, n)
			}
			if n := 28 + espLen(c.want+1, iv, blk, icv); n <= 1500 && c.c.EncrID == childsa.EncrAESGCM16 {
				t.Errorf("%+v: MTU not maximal", c.c)
			}
		}
	}
}
