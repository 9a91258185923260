package esp

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// reassemble puts IPv4 fragments back together (test helper; fragments
// in order, no overlap).
func reassemble(t *testing.T, frags [][]byte) []byte {
	t.Helper()
	first := frags[0]
	hl := int(first[0]&0xf) * 4
	out := append([]byte(nil), first[:hl]...)
	next := 0
	for i, f := range frags {
		if checksum(f[:int(f[0]&0xf)*4], 0) != 0 {
			t.Fatalf("fragment %d: bad header checksum", i)
		}
		fw := binary.BigEndian.Uint16(f[6:])
		off := int(fw&0x1fff) * 8
		if off != next {
			t.Fatalf("fragment %d at %d, want %d", i, off, next)
		}
		mf := fw&0x2000 != 0
		if mf != (i < len(frags)-1) {
			t.Fatalf("fragment %d: MF %v", i, mf)
		}
		if int(binary.BigEndian.Uint16(f[2:])) != len(f) {
			t.Fatalf("fragment %d: total length", i)
		}
		fh := int(f[0]&0xf) * 4
		out = append(out, f[fh:]...)
		next += len(f) - fh
	}
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	out[6], out[7] = 0, 0
	out[10], out[11] = 0, 0
	binary.BigEndian.PutUint16(out[10:], checksum(out[:hl], 0))
	return out
}

func TestFragmentIPv4(t *testing.T) {
	for _, n := range []int{1, 100, 1372, 1373, 1500, 4000, 9000} {
		for _, mtu := range []int{576, 1000, 1422} {
			pkt := ipv4UDP("192.168.2.1", "172.16.1.4", n, uint32(n))
			bufs := make([][]byte, maxFragments)
			for i := range bufs {
				bufs[i] = make([]byte, 2048)
			}
			sizes := make([]int, maxFragments)
			k, err := fragmentIPv4(pkt, mtu, bufs, sizes)
			if err != nil {
				t.Fatalf("n=%d mtu=%d: %v", n, mtu, err)
			}
			if k != fragmentCount(len(pkt), 20, mtu) {
				t.Fatalf("count %d vs %d", k, fragmentCount(len(pkt), 20, mtu))
			}
			frags := make([][]byte, k)
			for i := range frags {
				frags[i] = bufs[i][:sizes[i]]
				if len(frags[i]) > mtu {
					t.Fatalf("fragment of %d bytes > mtu %d", len(frags[i]), mtu)
				}
			}
			if got := reassemble(t, frags); !bytes.Equal(got, pkt) {
				t.Fatalf("n=%d mtu=%d: reassembly differs", n, mtu)
			}
		}
	}
	// DF set: refused.
	pkt := ipv4UDP("192.168.2.1", "172.16.1.4", 2000, 1)
	pkt[6] |= 0x40
	if _, err := fragmentIPv4(pkt, 1000, make([][]byte, 4), make([]int, 4)); err == nil {
		t.Fatal("DF packet fragmented")
	}
}

func TestFragmentOptions(t *testing.T) {
	// Header with a copied option (type 0x82, len 4) and a non-copied one
	// (type 0x07, len 7, record route), then padding.
	pkt := ipv4UDP("192.168.2.1", "172.16.1.4", 1000, 1)
	opts := []byte{0x82, 4, 0xaa, 0xbb, 0x07, 7, 4, 0, 0, 0, 0, 0}
	p := append(append(append([]byte(nil), pkt[:20]...), opts...), pkt[20:]...)
	p[0] = 0x45 + byte(len(opts)/4)
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	bufs := [][]byte{make([]byte, 600), make([]byte, 600), make([]byte, 600)}
	sizes := make([]int, 3)
	k, err := fragmentIPv4(p, 500, bufs, sizes)
	if err != nil || k != 3 {
		t.Fatalf("k=%d err=%v", k, err)
	}
	if int(bufs[0][0]&0xf)*4 != 32 || int(bufs[1][0]&0xf)*4 != 24 || !bytes.Equal(bufs[1][20:24], opts[:4]) {
		t.Fatalf("option copy wrong: %x / %x", bufs[0][:32], bufs[1][:24])
	}
}

func TestFragNeeded(t *testing.T) {
	pkt := ipv4UDP("192.168.2.1", "172.16.1.4", 1400, 1)
	pkt[6] |= 0x40
	b := make([]byte, 200)
	n := buildFragNeeded(b, pkt, 1350, netip4("192.168.2.254"))
	if n != 20+8+28 {
		t.Fatalf("length %d", n)
	}
	b = b[:n]
	if checksum(b[:20], 0) != 0 || checksum(b[20:], 0) != 0 {
		t.Fatal("bad checksums")
	}
	if b[20] != 3 || b[21] != 4 || binary.BigEndian.Uint16(b[26:]) != 1350 {
		t.Fatalf("not frag-needed 1350: %x", b[20:28])
	}
	if !bytes.Equal(b[16:20], pkt[12:16]) || !bytes.Equal(b[28:], pkt[:28]) {
		t.Fatal("wrong destination or quote")
	}
	// Never about an ICMP error.
	icmpErr := append([]byte(nil), b...)
	if buildFragNeeded(make([]byte, 200), icmpErr, 1000, netip4("192.168.2.254")) != 0 {
		t.Fatal("ICMP error answered with ICMP")
	}
}

func TestPreFragmentEngine(t *testing.T) {
	tc := TunnelConfig{MTU: 1500, OuterMTU: 1400, PreFragment: true, ICMPSource: netip4("192.168.2.254")}
	a, b := newTestPair(t, true, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false, tc)
	checkPreFragment(t, a, b, ipv4UDP("192.168.2.1", "172.16.1.4", 1472, 9), maxPayload(1400, 16, 16, 16, true, false))
}

// checkPreFragment sends the IPv4 packet pkt from A's TUN: B's TUN must
// get it in fragments of at most limit bytes that reassemble to it; sent
// again with DF, A's TUN must get ICMP fragmentation needed with the inner
// MTU limit, and B nothing.
func checkPreFragment(t *testing.T, a, b *testPeer, pkt []byte, limit int) {
	t.Helper()
	a.tun.toEngine <- pkt
	var frags [][]byte
	for total := 0; total < len(pkt)-20; {
		f := recv(t, b.tun)
		if len(f) > limit {
			t.Fatalf("fragment of %d bytes exceeds %d", len(f), limit)
		}
		frags = append(frags, f)
		total += len(f) - 20
	}
	if got := reassemble(t, frags); !bytes.Equal(got, pkt) {
		t.Fatal("reassembled packet differs")
	}
	a.tun.toEngine <- withDF(pkt)
	icmp := recv(t, a.tun)
	if icmp[9] != protoICMP || icmp[20] != 3 || icmp[21] != 4 || int(binary.BigEndian.Uint16(icmp[26:])) != limit {
		t.Fatalf("not frag-needed with MTU %d: %x", limit, icmp[:28])
	}
	select {
	case <-b.tun.fromEngine:
		t.Fatal("DF packet crossed the tunnel")
	case <-time.After(20 * time.Millisecond):
	}
}

// withDF returns a copy of the IPv4 packet pkt with DF set.
func withDF(pkt []byte) []byte {
	p := append([]byte(nil), pkt...)
	p[6] |= 0x40
	binary.BigEndian.PutUint16(p[10:], 0)
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	return p
}
