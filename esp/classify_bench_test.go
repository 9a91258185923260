package esp

import (
	"net/netip"
	"testing"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// BenchmarkClassify is the receive goroutine's per-packet work before a
// packet queues (SA lookup, replay precheck): for the peer's packets, for
// unknown SPIs, and for a stranger's forged packets with the live SPI.
func BenchmarkClassify(b *testing.B) {
	e := NewEngine(Config{Workers: 1})
	defer e.Close()
	outCfg, inCfg := testSAPair(b, childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128, false)
	if err := e.InstallSA(inCfg); err != nil {
		b.Fatal(err)
	}
	a, err := newSA(&outCfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	pkt := craft(a, ipv4UDP("192.168.2.1", "172.16.1.4", 1400, 1), 5, protoIPv4, nil)
	unknown := append([]byte(nil), pkt...)
	unknown[0] ^= 0xff
	o := &outer{e: e, udp: true}
	for _, c := range []struct {
		name string
		pkt  []byte
		src  netip.AddrPort
	}{
		{"peer", pkt, mustAP("198.51.100.6:4500")},
		{"unknown-spi", unknown, mustAP("198.51.100.6:4500")},
		{"stranger", pkt, mustAP("203.0.113.66:4500")},
	} {
		b.Run(c.name, func(b *testing.B) {
			el := &elem{pkt: c.pkt, src: c.src}
			b.ReportAllocs()
			for b.Loop() {
				o.classify(el)
			}
		})
	}
}
