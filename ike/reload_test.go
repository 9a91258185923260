package ike

import (
	"net/netip"
	"testing"
	"time"
)

// memManager wraps a node's Core in a Manager on the pair's fake clock,
// so Reload runs as cmd/soft-ix calls it.
func memManager(p *pair, n *node) *Manager {
	return &Manager{core: n.core, now: func() time.Time { return p.now }, wake: make(chan struct{}, 1)}
}

// allSAs lists a node's IKE SAs in any state.
func allSAs(n *node) map[uint64]*ikeSA {
	out := map[uint64]*ikeSA{}
	for spi, sa := range n.core.sas {
		out[spi] = sa
	}
	return out
}

// isInformational reports whether d is an INFORMATIONAL message.
func isInformational(d datagram) bool {
	m, err := parseHeader(d.pkt)
	return err == nil && m.Exchange == exInformational
}

// TestReloadBothInitiatedDuplicates: both ends initiate, so each holds two
// IKE SAs while the duplicate's DELETE is still on its way; a reload that
// changes the tunnel on one end must leave neither old SA anywhere, and
// exactly one new SA with the new settings on both ends. An unchanged
// reload first moves the SAs to new tunnel values (the SA that is not the
// tunnel's current one must still be found afterwards).
func TestReloadBothInitiatedDuplicates(t *testing.T) {
	for i := 0; i < 10; i++ {
		p := newPair(t, testConfig(addrB, "k", true, nil), testConfig(addrA, "k", true, nil), nil)
		ma, mb := memManager(p, p.a), memManager(p, p.b)
		hold := true
		var held []datagram
		p.net.filter = func(d datagram) bool {
			if hold && isInformational(d) {
				held = append(held, d)
				return true
			}
			return false
		}
		p.a.core.Start(p.now)
		p.b.core.Start(p.now)
		p.run(time.Second)
		old := allSAs(p.a)
		if len(old) != 2 || len(allSAs(p.b)) != 2 {
			t.Fatalf("run %d: want the duplicate alive on both ends: a %d, b %d", i, len(old), len(allSAs(p.b)))
		}
		if err := ma.Reload(testConfig(addrB, "k", true, nil), nil); err != nil {
			t.Fatal(err)
		}
		if len(allSAs(p.a)) != 2 {
			t.Fatalf("run %d: an unchanged reload dropped SAs", i)
		}
		prof := seedProfile()
		prof.Enc = []string{"aes-cbc-128", "aes-cbc-256"}
		cfg := testConfig(addrB, "k", true, prof)
		if err := ma.Reload(cfg, []string{"Tunnel0.0"}); err != nil {
			t.Fatal(err)
		}
		hold = false
		p.net.queue = append(p.net.queue, held...)
		p.run(5 * time.Minute)
		sa, sb := p.checkUp()
		if len(p.a.core.sas) != 1 || len(p.b.core.sas) != 1 {
			t.Fatalf("run %d: IKE SAs after reload: a %d, b %d", i, len(p.a.core.sas), len(p.b.core.sas))
		}
		if old[sa.localSPI()] != nil || old[sb.spiI] != nil || old[sb.spiR] != nil {
			t.Fatalf("run %d: an old IKE SA survived the reload", i)
		}
		if n := len(p.a.core.tunnels["Tunnel0.0"].pol.IKEEnc); n != 2 {
			t.Fatalf("run %d: new settings not applied (%d ciphers)", i, n)
		}
		if p.a.dp.count() != 2 || p.b.dp.count() != 2 {
			t.Fatalf("run %d: data plane SAs a %d, b %d", i, p.a.dp.count(), p.b.dp.count())
		}
		_ = mb
	}
}

// TestReloadPeerKeepsExtraSA: the peer (a "peer any" tunnel, which keeps
// duplicates as strongSwan does) holds an extra IKE SA we no longer know.
// After our reload of the changed tunnel the new SA's INITIAL_CONTACT
// clears it: one IKE SA on each end.
func TestReloadPeerKeepsExtraSA(t *testing.T) {
	cfgB := testConfig(addrA, "k", false, nil)
	tun := &cfgB.Tunnels[0]
	tun.Peer, tun.PeerAny = netip.Addr{}, true
	p := newPair(t, testConfig(addrB, "k", true, nil), cfgB, nil)
	ma := memManager(p, p.a)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa1, _ := p.checkUp()
	// a forgets SA1 without telling b and sets up SA2 without
	// INITIAL_CONTACT: b now has SA1 (the extra) and SA2.
	p.a.core.removeSA(p.now, sa1)
	p.a.core.opt.NoInitialContact = true
	if err := ma.Initiate("Tunnel0.0"); err != nil {
		t.Fatal(err)
	}
	p.run(time.Second)
	if len(p.b.core.sas) != 2 || len(p.a.core.sas) != 1 {
		t.Fatalf("setup: a %d, b %d IKE SAs", len(p.a.core.sas), len(p.b.core.sas))
	}
	old := allSAs(p.b)
	p.a.core.opt.NoInitialContact = false
	if err := ma.Reload(testConfig(addrB, "k", true, nil), []string{"Tunnel0.0"}); err != nil {
		t.Fatal(err)
	}
	p.run(time.Minute)
	_, sb := p.checkUp()
	if len(p.a.core.sas) != 1 || len(p.b.core.sas) != 1 || old[sb.spiR] != nil {
		t.Fatalf("after reload: a %d, b %d IKE SAs (old kept: %v)", len(p.a.core.sas), len(p.b.core.sas), old[sb.spiR] != nil)
	}
}

// TestReloadKeepsOtherTunnels: a reload that changes another tunnel
// leaves this one's IKE SA alone; removing the tunnel deletes its SA on
// both ends.
func TestReloadKeepsOtherTunnels(t *testing.T) {
	withOther := func() Config {
		cfg := testConfig(addrB, "k", true, nil)
		other := cfg.Tunnels[0]
		other.Name = "Tunnel1.0"
		other.ConnectAuto, other.Peer = false, netip.MustParseAddr("192.0.2.50")
		cfg.Tunnels = append(cfg.Tunnels, other)
		return cfg
	}
	p := newPair(t, withOther(), testConfig(addrA, "k", false, nil), nil)
	ma := memManager(p, p.a)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, _ := p.checkUp()
	if err := ma.Reload(withOther(), []string{"Tunnel1.0"}); err != nil {
		t.Fatal(err)
	}
	p.run(time.Minute)
	if sa2, _ := p.checkUp(); sa2 != sa {
		t.Fatal("the unchanged tunnel lost its IKE SA")
	}
	empty := testConfig(addrB, "k", true, nil)
	empty.Tunnels = nil
	if err := ma.Reload(empty, nil); err != nil {
		t.Fatal(err)
	}
	p.run(time.Minute)
	if len(p.a.core.sas) != 0 || len(p.b.core.sas) != 0 || p.a.dp.count() != 0 || p.b.dp.count() != 0 {
		t.Fatalf("removed tunnel: IKE SAs a %d, b %d; data plane a %d, b %d",
			len(p.a.core.sas), len(p.b.core.sas), p.a.dp.count(), p.b.dp.count())
	}
}

// TestReloadDeleteOvertaken: after our reload the new IKE SA (with
// INITIAL_CONTACT) reaches the peer before the DELETE of the old one, so
// the peer drops the old SA itself (answering our DELETE, or with
// INVALID_IKE_SPI once it is gone): the old SA must go at once, not
// linger for the whole retransmission schedule.
func TestReloadDeleteOvertaken(t *testing.T) {
	p, old, _ := upPair(t)
	ma := memManager(p, p.a)
	hold := true
	var held []datagram
	p.net.filter = func(d datagram) bool {
		if hold && d.from.Addr() == addrA && isInformational(d) {
			held = append(held, d)
			return true
		}
		return false
	}
	if err := ma.Reload(testConfig(addrB, "P@ssw0rd1234", true, nil), []string{"Tunnel0.0"}); err != nil {
		t.Fatal(err)
	}
	p.run(100 * time.Millisecond)
	// b keeps the old SA's Child SAs for DeleteGrace, but not as an
	// established SA.
	if len(held) == 0 || len(established(p.b)) != 1 {
		t.Fatalf("setup: %d held DELETEs, b has %d established IKE SAs", len(held), len(established(p.b)))
	}
	hold = false
	p.net.queue = append(p.net.queue, held...)
	p.run(100 * time.Millisecond)
	sa, _ := p.checkUp()
	if sa == old || len(p.a.core.sas) != 1 || len(p.b.core.sas) != 1 {
		t.Fatalf("IKE SAs a %d, b %d (old kept: %v)", len(p.a.core.sas), len(p.b.core.sas), p.a.core.sas[old.spiI] != nil)
	}
}
