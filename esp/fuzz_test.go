package esp

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// fuzzSAs returns a fixed-key inbound CBC and GCM SA and their outbound twins.
func fuzzSAs(t testing.TB) (in, out []*sa) {
	mk := func(c childsa.SA) *sa {
		a, err := newSA(&c, 0)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cbc := childsa.SA{SPI: 0x1001, EncrID: childsa.EncrAESCBC, EncrKeyBits: 128, IntegID: childsa.IntegHMACSHA256128,
		EncrKey: bytes.Repeat([]byte{1}, 16), IntegKey: bytes.Repeat([]byte{2}, 32), Remote: mustAP("198.51.100.6:4500")}
	gcm := childsa.SA{SPI: 0x1002, EncrID: childsa.EncrAESGCM16, EncrKeyBits: 128, ESN: true,
		EncrKey: bytes.Repeat([]byte{3}, 20), Remote: mustAP("198.51.100.6:4500")}
	out = []*sa{mk(cbc), mk(gcm)}
	cbc.Inbound, gcm.Inbound = true, true
	in = []*sa{mk(cbc), mk(gcm)}
	return in, out
}

// FuzzOpen feeds arbitrary datagrams through the inbound decoder: SPI,
// sequence inference, replay check, ICV, decryption, trailer, inner header
// and MSS clamp. Valid packets of both suites seed the corpus.
func FuzzOpen(f *testing.F) {
	in, out := fuzzSAs(f)
	for _, a := range out {
		f.Add(craft(a, ipv4UDP("192.168.2.1", "172.16.1.4", 30, 1), 1, protoIPv4, nil))
		f.Add(craft(a, tcpSYN("192.168.2.1", "172.16.1.4", 2, []byte{2, 4, 5, 0xb4}), 2, protoIPv4, nil))
		f.Add(craft(a, tcpSYN("2001:db8::1", "2001:db8::2", 2, []byte{2, 4, 5, 0xb4}), 3, protoIPv6, nil))
		f.Add(craft(a, []byte{9}, 4, protoNoNxt, nil))
	}
	f.Add([]byte{0, 0, 0x10, 0x01, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < espHeaderLen {
			return
		}
		for _, a := range in {
			p := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(p, a.spi)
			seq := a.replay.inferSeq(binary.BigEndian.Uint32(p[4:]), a.esn)
			if !a.replay.check(seq) {
				continue
			}
			// The batch path must agree with the single-packet path.
			q := append([]byte(nil), p...)
			var batchRes openResult
			if batchRes = precheckOpen(a, q); batchRes == openOK {
				jobs := []openJob{{b: q, seq: seq}}
				a.suite.openBatch(jobs)
				_, _, batchRes = finishOpen(jobs[0].pt, jobs[0].err)
			}
			inner, nh, res := openPacket(a, p, seq)
			if res != batchRes && !(res == openIntegrity && batchRes == openCipher) && !(res == openCipher && batchRes == openIntegrity) {
				t.Fatalf("openPacket %v, openBatch %v", res, batchRes)
			}
			if res != openOK {
				continue
			}
			a.replay.update(seq)
			pkt, _, _, err := innerAddrs(inner, nh)
			if err == nil {
				clampMSS(pkt, 1350, 1330)
			}
		}
	})
}

// FuzzFragment checks that fragmentIPv4 never panics and that what it
// produces reassembles to the original.
func FuzzFragment(f *testing.F) {
	f.Add(ipv4UDP("192.168.2.1", "172.16.1.4", 2000, 1), uint16(1000))
	f.Add(ipv4UDP("192.168.2.1", "172.16.1.4", 100, 1), uint16(68))
	f.Add([]byte{0x46, 0, 0, 24, 0, 0, 0x20, 1, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, 4, 1, 2}, uint16(28))
	f.Fuzz(func(t *testing.T, pkt []byte, mtu uint16) {
		bufs := make([][]byte, maxFragments)
		for i := range bufs {
			bufs[i] = make([]byte, 1600)
		}
		sizes := make([]int, maxFragments)
		n, err := fragmentIPv4(pkt, int(mtu), bufs, sizes)
		if err != nil {
			return
		}
		hl := int(pkt[0]&0xf) * 4
		tl := int(binary.BigEndian.Uint16(pkt[2:]))
		var payload []byte
		for i := 0; i < n; i++ {
			fr := bufs[i][:sizes[i]]
			if len(fr) > int(mtu) {
				t.Fatalf("fragment %d: %d bytes > mtu %d", i, len(fr), mtu)
			}
			fh := int(fr[0]&0xf) * 4
			payload = append(payload, fr[fh:]...)
		}
		if !bytes.Equal(payload, pkt[hl:tl]) {
			t.Fatal("fragments do not carry the payload")
		}
	})
}

// FuzzClampMSS checks that clampMSS never panics, never lengthens or
// shortens the packet, and keeps a valid TCP checksum valid.
func FuzzClampMSS(f *testing.F) {
	f.Add(tcpSYN("192.168.2.1", "172.16.1.4", 2, []byte{2, 4, 5, 0xb4}), uint16(1350))
	f.Add(tcpSYN("192.168.2.1", "172.16.1.4", 0x12, []byte{1, 2, 4, 0xff, 0xff, 1, 1, 1}), uint16(536))
	f.Add(tcpSYN("2001:db8::1", "2001:db8::2", 2, []byte{2, 4, 5, 0xb4}), uint16(1220))
	f.Fuzz(func(t *testing.T, pkt []byte, mss uint16) {
		valid := false
		if len(pkt) >= 40 && (pkt[0]>>4 == 4 && int(pkt[0]&0xf)*4 == 20 && pkt[9] == protoTCP && int(binary.BigEndian.Uint16(pkt[2:])) == len(pkt)) {
			valid = l4Checksum(pkt) == 0
		}
		n := len(pkt)
		clampMSS(pkt, mss, mss)
		if len(pkt) != n {
			t.Fatal("length changed")
		}
		if valid && l4Checksum(pkt) != 0 {
			t.Fatal("checksum broken")
		}
	})
}

// FuzzGROStage follows TUN writes of arbitrary packets as stage does for
// a device with GRO, one packet after the other: no packet may panic the
// parser or change, and the flows followed stay within groMaxFlows. Each
// packet is a record of the input: its length (16 bits), the length of
// its head (8 bits) and the head's bytes; the rest of the packet is zeros
// (startsRun reads headers and lengths only, and small inputs keep the
// fuzzer's minimizing quick). The GRO test cases seed the corpus.
func FuzzGROStage(f *testing.F) {
	for _, c := range groAllCases() {
		var in []byte
		for _, g := range c.segs[:min(len(c.segs), 8)] {
			p := g.build()
			head := p[:min(len(p), 72)]
			in = binary.BigEndian.AppendUint16(in, uint16(len(p)))
			in = append(in, byte(len(head)))
			in = append(in, head...)
		}
		f.Add(in)
	}
	var h groHeads
	pkt := make([]byte, 1<<16)
	f.Fuzz(func(t *testing.T, in []byte) {
		for len(in) >= 3 {
			n, hl := int(binary.BigEndian.Uint16(in)), min(int(in[2]), len(in)-3)
			p := pkt[:max(n, hl)]
			clear(p)
			copy(p, in[3:3+hl])
			in = in[3+hl:]
			before := bytes.Clone(p)
			h.startsRun(p)
			if !bytes.Equal(p, before) {
				t.Fatal("startsRun changed a packet")
			}
		}
		if len(h.flows) > groMaxFlows {
			t.Fatalf("%d flows followed", len(h.flows))
		}
		h.release()
	})
}
