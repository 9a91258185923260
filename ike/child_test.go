package ike

import (
	"testing"
	"time"
)

// TestAdditionalChildSARefused: one Child SA per tunnel (see doc.go): a
// CREATE_CHILD_SA without REKEY_SA gets NO_ADDITIONAL_SAS and changes
// nothing.
func TestAdditionalChildSARefused(t *testing.T) {
	p, sa, _ := upPair(t)
	var answer *message
	p.a.core.request(p.now, sa, func(time.Time) *message {
		m := &message{Exchange: exCreateChildSA, Nonce: make([]byte, 32)}
		m.SA = childOffer(&sa.tun.pol, 0x12345678, false)
		m.TSi, m.TSr = routeSelectors(), routeSelectors()
		return m
	}, func(_ time.Time, m *message) { answer = m })
	p.run(time.Second)
	if answer == nil || answer.notify(nNoAdditionalSAs) == nil {
		t.Fatalf("answer %+v", answer)
	}
	p.checkUp()
	if p.a.dp.count() != 2 || p.b.dp.count() != 2 {
		t.Fatalf("data plane SAs a %d, b %d", p.a.dp.count(), p.b.dp.count())
	}
}
