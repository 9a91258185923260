package ike

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzHandlePacket feeds arbitrary datagrams to a responder Core and to an
// initiator Core with an IKE SA in progress; neither may panic. Seeds are
// the real messages of one seed-parameter exchange.
func FuzzHandlePacket(f *testing.F) {
	p := seedPair(nil, nil)
	var seeds [][]byte
	p.net.filter = func(d datagram) bool {
		seeds = append(seeds, append([]byte(nil), d.pkt...))
		return false
	}
	p.a.core.Start(p.now)
	p.run(time.Second)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		q := seedPair(nil, nil)
		q.a.core.Start(q.now)
		from := netip.AddrPortFrom(addrA, 500)
		to := netip.AddrPortFrom(addrB, 500)
		q.b.core.HandlePacket(q.now, pkt, from, to)
		q.a.core.HandlePacket(q.now, pkt, to, from)
		// And after a real INIT exchange, as the next message.
		q.net.deliver(q.now)
		q.b.core.HandlePacket(q.now, pkt, from, to)
		q.a.core.HandlePacket(q.now, pkt, to, from)
	})
}
