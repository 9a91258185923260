package ike

import (
	"net/netip"
	"testing"
	"time"
)

// natMovePair is an established pair where b sees a behind a NAT that
// maps a's port 4500 to nat (a's own view stays 4500): the fake network
// rewrites a's packets to come from nat and b's packets to nat back.
func natMovePair(t *testing.T) (p *pair, sb *ikeSA, m *Manager, nat netip.AddrPort) {
	p, sa, sb := upPair(t)
	a4500, b4500 := netip.AddrPortFrom(addrA, 4500), netip.AddrPortFrom(addrB, 4500)
	sa.natLocal, sa.encap, sa.local, sa.remote = true, true, a4500, b4500
	sb.natRemote, sb.encap, sb.local, sb.remote = true, true, b4500, a4500
	nat = netip.AddrPortFrom(addrA, 40000)
	p.net.filter = func(d datagram) bool {
		switch {
		case d.from == a4500:
			p.net.queue = append(p.net.queue, datagram{d.pkt, nat, d.to})
			return true
		case d.to == nat:
			p.net.queue = append(p.net.queue, datagram{d.pkt, d.from, a4500})
			return true
		}
		return false
	}
	m = &Manager{core: p.b.core, now: func() time.Time { return p.now }, wake: make(chan struct{}, 1)}
	return p, sb, m, nat
}

// TestFollowPeerNATMove: authenticated ESP of the peer from a new NAT
// mapping (the data plane's PeerMoved) moves the IKE SA there and rekeys
// its Child SA, whose new SAs go to the new mapping (RFC 7296 §2.23).
func TestFollowPeerNATMove(t *testing.T) {
	p, sb, m, nat := natMovePair(t)
	old := sb.children[0]
	m.PeerMoved(old.inSPI, nat)
	p.run(2 * time.Second)
	if sb.remote != nat {
		t.Fatalf("IKE SA's peer %v, want %v", sb.remote, nat)
	}
	if len(sb.children) != 1 || sb.children[0] == old {
		t.Fatalf("Child SA not rekeyed: %d children, same %v", len(sb.children), sb.children[0] == old)
	}
	out, ok := p.b.dp.sas[dpKey{sb.children[0].outSPI, false}]
	if !ok || out.Remote != nat {
		t.Fatalf("new outbound SA %+v (installed %v), want remote %v", out, ok, nat)
	}
	if st := p.b.core.stats.snapshot(); st.PeerMoves != 1 {
		t.Fatalf("PeerMoves %d, want 1", st.PeerMoves)
	}
}

// TestFollowPeerNATMoveByIKE: an authenticated IKE request from the new
// mapping (the peer's DPD) does the same.
func TestFollowPeerNATMoveByIKE(t *testing.T) {
	p, sb, _, nat := natMovePair(t)
	old := sb.children[0]
	sa := established(p.a)[0]
	p.a.core.startDPD(p.now, sa)
	p.run(2 * time.Second)
	if sb.remote != nat || sb.children[0] == old || p.b.dp.sas[dpKey{sb.children[0].outSPI, false}].Remote != nat {
		t.Fatalf("after the peer's DPD from %v: IKE SA peer %v, child rekeyed %v", nat, sb.remote, sb.children[0] != old)
	}
}

// TestFollowPeerRefuses: no move for a peer not behind a NAT, nor to
// another address than a configured peer's.
func TestFollowPeerRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noNAT bool
		to    netip.AddrPort
	}{
		{"peer not behind a NAT", true, netip.AddrPortFrom(addrA, 40000)},
		{"another address than the configured peer", false, netip.MustParseAddrPort("192.0.2.200:4500")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, sb, m, _ := natMovePair(t)
			sb.natRemote = !tc.noNAT
			before, old := sb.remote, sb.children[0]
			m.PeerMoved(old.inSPI, tc.to)
			p.run(time.Second)
			if sb.remote != before || sb.children[0] != old {
				t.Fatalf("moved to %v (child rekeyed %v)", sb.remote, sb.children[0] != old)
			}
		})
	}
}

// TestFollowPeerDefersRekey: when the first message from the new mapping
// is the peer's own Child SA rekey, following it starts no rekey of ours
// (no collision): the peer's rekey replaces the SA, and its new SAs go to
// the new mapping.
func TestFollowPeerDefersRekey(t *testing.T) {
	p, sb, _, nat := natMovePair(t)
	sa := established(p.a)[0]
	p.a.core.startChildRekey(p.now, sa, sa.children[0])
	p.run(2 * time.Second)
	if sent := p.b.core.stats.snapshot().Sent.CreateChildSA; sent != 0 {
		t.Fatalf("b sent %d CREATE_CHILD_SA of its own, want none (the peer's rekey replaced the SA)", sent)
	}
	if len(sb.children) != 1 || p.b.dp.sas[dpKey{sb.children[0].outSPI, false}].Remote != nat {
		t.Fatalf("after the peer's rekey from %v: %d children, outbound to %v", nat, len(sb.children),
			p.b.dp.sas[dpKey{sb.children[0].outSPI, false}].Remote)
	}
}

// TestFollowPeerLimits: a second move within minFollowInterval is refused
// (the data plane reports again while it lasts), one after it is taken;
// no move while we are behind a NAT ourselves, nor to port 0 (a raw ESP
// packet of a UDP-encapsulated SA).
func TestFollowPeerLimits(t *testing.T) {
	p, sb, m, nat := natMovePair(t)
	m.PeerMoved(sb.children[0].inSPI, nat)
	p.run(time.Second)
	other := netip.AddrPortFrom(addrA, 40001)
	m.PeerMoved(sb.children[0].inSPI, other)
	if sb.remote != nat {
		t.Fatalf("moved again within %v: %v", minFollowInterval, sb.remote)
	}
	p.run(minFollowInterval)
	m.PeerMoved(sb.children[0].inSPI, other)
	if sb.remote != other {
		t.Fatalf("not moved after %v: %v", minFollowInterval, sb.remote)
	}
	for _, tc := range []struct {
		name  string
		tweak func(*ikeSA)
		to    netip.AddrPort
	}{
		{"we are behind a NAT too", func(sa *ikeSA) { sa.natLocal = true }, netip.AddrPortFrom(addrA, 40002)},
		{"port 0", func(*ikeSA) {}, netip.AddrPortFrom(addrA, 0)},
	} {
		p.run(minFollowInterval)
		before := sb.remote
		tc.tweak(sb)
		m.PeerMoved(sb.children[0].inSPI, tc.to)
		if sb.remote != before {
			t.Errorf("%s: moved to %v", tc.name, sb.remote)
		}
	}
}

// TestFollowPeerConfiguredAddressByIKE: an authenticated IKE message of a
// configured peer from another address moves neither IKE nor ESP (they
// move together or not at all).
func TestFollowPeerConfiguredAddressByIKE(t *testing.T) {
	p, sb, _, _ := natMovePair(t)
	a4500, elsewhere := netip.AddrPortFrom(addrA, 4500), netip.MustParseAddrPort("192.0.2.200:4500")
	p.net.filter = func(d datagram) bool {
		if d.from == a4500 {
			p.net.queue = append(p.net.queue, datagram{d.pkt, elsewhere, d.to})
			return true
		}
		return false
	}
	before, old := sb.remote, sb.children[0]
	sa := established(p.a)[0]
	p.a.core.startDPD(p.now, sa)
	p.run(2 * time.Second)
	if sb.remote != before || sb.children[0] != old {
		t.Fatalf("a configured peer's DPD from %v moved the IKE SA to %v (child rekeyed %v)", elsewhere, sb.remote, sb.children[0] != old)
	}
}
