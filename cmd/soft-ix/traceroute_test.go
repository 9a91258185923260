package main

import (
	"net/netip"
	"testing"
)

// TestQuotesProbe: only an ICMP error quoting our probe (UDP from our
// port to the destination's probe port) counts as its answer.
func TestQuotesProbe(t *testing.T) {
	dest := netip.MustParseAddr("172.16.1.4")
	probe := func(proto byte, ihl int, d string, sport, dport uint16) []byte {
		q := make([]byte, ihl+8)
		q[0] = 0x40 | byte(ihl/4)
		q[9] = proto
		copy(q[16:20], netip.MustParseAddr(d).AsSlice())
		q[ihl], q[ihl+1], q[ihl+2], q[ihl+3] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
		return q
	}
	for _, tt := range []struct {
		q    []byte
		want bool
	}{
		{probe(17, 20, "172.16.1.4", 40000, 33434), true},
		{probe(17, 24, "172.16.1.4", 40000, 33434), true}, // IP options
		{probe(17, 20, "172.16.1.5", 40000, 33434), false},
		{probe(17, 20, "172.16.1.4", 40001, 33434), false},
		{probe(17, 20, "172.16.1.4", 40000, 33435), false},
		{probe(6, 20, "172.16.1.4", 40000, 33434), false},
		{probe(17, 20, "172.16.1.4", 40000, 33434)[:22], false}, // cut short
		{nil, false},
	} {
		if got := quotesProbe(tt.q, dest, 40000, 33434); got != tt.want {
			t.Errorf("quotesProbe(% x) = %v, want %v", tt.q, got, tt.want)
		}
	}
}
