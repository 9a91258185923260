package esp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// craft seals inner under SA a with sequence number seq and next header
// nh; mangle may change the framed packet before sealing.
func craft(a *sa, inner []byte, seq uint64, nh byte, mangle func(p []byte)) []byte {
	buf := make([]byte, bufSize)
	copy(buf[txOffset:], inner)
	p := buildESP(buf, txOffset, len(inner), a.spi, seq, a.ivLen, a.blk, nh)
	if mangle != nil {
		mangle(p)
	}
	return append([]byte(nil), a.suite.seal(p, seq)...)
}

func TestMalformedInbound(t *testing.T) {
	for _, s := range []struct {
		encr  childsa.EncrID
		bits  int
		integ childsa.IntegID
	}{{childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128}, {childsa.EncrAESGCM16, 256, childsa.IntegNone}} {
		e := NewEngine(Config{Workers: 2})
		defer e.Close()
		oa, ob := fakeOuterPair(mustAP("192.0.2.1:4500"), mustAP("198.51.100.6:4500"))
		if err := e.attachOuter(ob, true, false); err != nil {
			t.Fatal(err)
		}
		ft := newFakeTUN()
		if err := e.AttachTunnel(TunnelConfig{Name: "Tunnel0.0"}, ft); err != nil {
			t.Fatal(err)
		}
		outCfg, inCfg := testSAPair(t, s.encr, s.bits, s.integ, false)
		inCfg.RemoteTS = []netip.Prefix{netip.MustParsePrefix("192.168.2.0/24")}
		inCfg.LocalTS = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/16")}
		if err := e.InstallSA(inCfg); err != nil {
			t.Fatal(err)
		}
		a, err := newSA(&outCfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		good := ipv4UDP("192.168.2.1", "172.16.1.4", 40, 1)
		v6 := make([]byte, 48)
		v6[0] = 0x60
		binary.BigEndian.PutUint16(v6[4:], 8)
		seq := uint64(100)
		next := func() uint64 { seq++; return seq }
		inject := func(p []byte) { oa.writeTo(p, oa.local, ob.local) }

		cases := []struct {
			name string
			pkt  []byte
			want func(c childsa.Counters, st Stats) bool
		}{
			{"short", []byte{1, 2, 3}, func(c childsa.Counters, st Stats) bool { return st.Truncated == 1 }},
			{"unknown SPI", func() []byte {
				p := craft(a, good, next(), protoIPv4, nil)
				p[0] ^= 0xff
				return p
			}(), func(c childsa.Counters, st Stats) bool { return st.UnknownSPI == 1 }},
			{"bad ICV", func() []byte {
				p := craft(a, good, next(), protoIPv4, nil)
				p[len(p)-1] ^= 1
				return p
			}(), func(c childsa.Counters, st Stats) bool { return c.IntegrityFailure == 1 }},
			{"forged high seq", func() []byte {
				p := craft(a, good, 1000000, protoIPv4, nil)
				p[20] ^= 1
				return p
			}(), func(c childsa.Counters, st Stats) bool { return c.IntegrityFailure == 2 }},
			{"bad padding", craft(a, good[:41], next(), protoIPv4, func(p []byte) {
				p[len(p)-3] ^= 0x40 // last pad byte
			}), func(c childsa.Counters, st Stats) bool { return c.InvalidPadding == 1 }},
			{"pad length too long", craft(a, good[:41], next(), protoIPv4, func(p []byte) {
				p[len(p)-2] = 250
			}), func(c childsa.Counters, st Stats) bool { return c.InvalidPadding == 2 }},
			{"next header UDP", craft(a, good, next(), 17, nil), func(c childsa.Counters, st Stats) bool { return c.UnknownProtocol == 1 }},
			{"IPv6 in IPv4", craft(a, v6, next(), protoIPv4, nil), func(c childsa.Counters, st Stats) bool { return c.UnknownProtocol == 2 }},
			{"garbage inner", craft(a, []byte{0x45, 0, 0}, next(), protoIPv4, nil), func(c childsa.Counters, st Stats) bool { return c.UnknownProtocol == 3 }},
			{"inner length lies", func() []byte {
				q := append([]byte(nil), good...)
				binary.BigEndian.PutUint16(q[2:], 1000)
				return craft(a, q, next(), protoIPv4, nil)
			}(), func(c childsa.Counters, st Stats) bool { return c.PacketTruncated == 1 }},
			{"TS mismatch", craft(a, ipv4UDP("10.9.9.9", "172.16.1.4", 40, 1), next(), protoIPv4, nil),
				func(c childsa.Counters, st Stats) bool { return c.TSUnacceptable == 1 }},
			{"dummy", craft(a, []byte{1, 2, 3, 4}, next(), protoNoNxt, nil), func(c childsa.Counters, st Stats) bool { return true }},
			{"truncated ESP", craft(a, good, next(), protoIPv4, nil)[:20], func(c childsa.Counters, st Stats) bool { return c.PacketTruncated == 2 }},
			{"misaligned", func() []byte {
				p := craft(a, good, next(), protoIPv4, nil)
				return append(p, 0)
			}(), func(c childsa.Counters, st Stats) bool { return c.CipherFailure == 1 }},
			{"good", craft(a, good, 7, protoIPv4, nil), func(c childsa.Counters, st Stats) bool { return c.Packets == 1 }},
			{"replay", craft(a, good, 7, protoIPv4, nil), func(c childsa.Counters, st Stats) bool { return c.ReplayDetected == 1 }},
			{"seq zero", craft(a, good, 0, protoIPv4, nil), func(c childsa.Counters, st Stats) bool { return c.ReplayDetected == 2 }},
		}
		for _, c := range cases {
			inject(c.pkt)
			deadline := time.Now().Add(5 * time.Second)
			for {
				cnt, _ := e.Counters(inCfg.SPI, true)
				if c.want(cnt, e.Stats()) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("suite %d %s: counters %+v stats %+v", s.encr, c.name, cnt, e.Stats())
				}
				time.Sleep(time.Millisecond)
			}
		}
		// Exactly one packet (the good one) reached the TUN.
		time.Sleep(20 * time.Millisecond)
		if n := len(ft.fromEngine); n != 1 {
			t.Fatalf("suite %d: %d packets reached the TUN", s.encr, n)
		}
		// The forged high sequence number did not move the window.
		inject(craft(a, good, 8, protoIPv4, nil))
		recv(t, ft)
		recv(t, ft)
		cnt, _ := e.Counters(inCfg.SPI, true)
		want := childsa.Counters{Packets: 2, Octets: 2 * uint64(len(good)), IntegrityFailure: 2, InvalidPadding: 2,
			UnknownProtocol: 3, PacketTruncated: 2, TSUnacceptable: 1, CipherFailure: 1, ReplayDetected: 2}
		if cnt != want {
			t.Fatalf("suite %d: final counters\n%+v\nwant\n%+v", s.encr, cnt, want)
		}
	}
}
