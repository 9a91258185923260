package ike

import (
	"net/netip"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/ike/crypto"
	"github.com/soft-ix/soft-ix/ike/wire"
)

// TestPeerAuthOverReservedIDBytes: a peer that sets the RESERVED bytes of
// its ID payload signs them; the AUTH check must use the body as received.
// The expected AUTH is computed with ike/crypto over the wire payload.
func TestPeerAuthOverReservedIDBytes(t *testing.T) {
	psk := []byte("P@ssw0rd1234")
	peerInit := []byte("the peer's IKE_SA_INIT message as it sent it")
	ourNonce := make([]byte, 32)
	skP := make([]byte, 32)
	for i := range skP {
		skP[i], ourNonce[i] = byte(i), byte(255-i)
	}
	prf, err := crypto.NewPRF(wire.PRFHMACSHA2256)
	if err != nil {
		t.Fatal(err)
	}
	for _, reserved := range [][3]byte{{0, 0, 0}, {0xde, 0xad, 0x01}} {
		wid := &wire.ID{Initiator: true, IDType: wire.IDIPv4Addr, Reserved: reserved, Data: addrA.AsSlice()}
		auth := crypto.AuthPSK(prf, psk, crypto.SignedOctets(prf, peerInit, ourNonce, skP, wid))
		pkt := (&wire.Message{Header: wire.Header{MajorVersion: 2, Exchange: wire.IKE_AUTH, Flags: wire.FlagInitiator},
			Payloads: []wire.Payload{wid, &wire.Auth{Method: wire.AuthMethod(authSharedKey), Data: auth}}}).Append(nil)
		m, err := decodePlain(pkt)
		if err != nil {
			t.Fatal(err)
		}
		c := &Core{}
		sa := &ikeSA{suite: IKESuite{PRF: Algorithm{ID: wire.PRFHMACSHA2256}}, psk: psk, peerID: addrIdentity(addrA)}
		if err := c.checkPeerAuth(sa, m, ourNonce, peerInit, skP, m.IDi); err != nil {
			t.Fatalf("reserved %x: %v", reserved, err)
		}
		// The same AUTH over a different body must fail.
		m.IDi.raw[1] ^= 0xff
		if err := c.checkPeerAuth(sa, m, ourNonce, peerInit, skP, m.IDi); err == nil {
			t.Fatalf("reserved %x: AUTH verified over altered ID bytes", reserved)
		}
	}
}

// TestPSKForIndexed: pskFor answers from its maps as the scan it replaced
// did: the first key of the peer's identity (an FQDN in any case), else
// the last key of the peer's address.
func TestPSKForIndexed(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.6")
	cfg := testConfig(a, "first-by-addr", false, nil)
	cfg.PSKs = []PSK{
		{ID: ID{FQDN: "Peer.Example"}, Key: []byte("fqdn")},
		cfg.PSKs[0],
		{ID: ID{Addr: a}, Key: []byte("last-by-addr")},
	}
	c, err := NewCore(CoreConfig{Config: cfg, DataPlane: newFakeDP(), Transport: dropTransport{}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   identity
		want string
	}{
		{identity{Type: idFQDN, Data: []byte("peer.example")}, "fqdn"},
		{addrIdentity(a), "first-by-addr"},
		{identity{Type: idKeyID, Data: []byte("other")}, "last-by-addr"},
	} {
		if got := string(c.pskFor(tc.id, a)); got != tc.want {
			t.Errorf("pskFor(%s) = %q, want %q", tc.id, got, tc.want)
		}
	}
	if got := c.pskFor(identity{Type: idKeyID, Data: []byte("other")}, netip.Addr{}); got != nil {
		t.Errorf("no match and no address: %q", got)
	}
}

// TestLocalIDPerIdentityKeys: two IXes as in a published pair (one
// responder for "peer any" by key ID, one initiator), each sending its
// "local-authentication id keyid" and holding a key per identity: each
// makes its AUTH with its own identity's key and checks the peer's with
// the peer's, so the tunnel comes up and each sees the other's key ID.
// Swapping one side's keys makes the IKE_AUTH fail.
func TestLocalIDPerIdentityKeys(t *testing.T) {
	keys := []PSK{{ID: ID{KeyID: "ROUTER1"}, Key: []byte("key-of-router1")}, {ID: ID{KeyID: "ROUTER2"}, Key: []byte("key-of-router2")}}
	cfgs := func(keysB []PSK) (Config, Config) {
		a := testConfig(addrB, "unused", true, nil)
		a.PSKs = keys
		a.Tunnels[0].PeerID, a.Tunnels[0].LocalID = ID{KeyID: "ROUTER2"}, ID{KeyID: "ROUTER1"}
		b := testConfig(addrA, "unused", false, nil)
		b.PSKs = keysB
		b.Tunnels[0].Peer, b.Tunnels[0].PeerAny = netip.Addr{}, true
		b.Tunnels[0].PeerID, b.Tunnels[0].LocalID = ID{KeyID: "ROUTER1"}, ID{KeyID: "ROUTER2"}
		return a, b
	}
	a, b := cfgs(keys)
	p := newPair(t, a, b, nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, sb := p.checkUp()
	if sa.peerID.String() != "KEY-ID ROUTER2" || sb.peerID.String() != "KEY-ID ROUTER1" {
		t.Fatalf("peer IDs: a sees %q, b sees %q", sa.peerID.String(), sb.peerID.String())
	}

	a, b = cfgs([]PSK{{ID: ID{KeyID: "ROUTER1"}, Key: keys[1].Key}, {ID: ID{KeyID: "ROUTER2"}, Key: keys[0].Key}})
	p = newPair(t, a, b, nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	if ea, eb := established(p.a), established(p.b); len(ea) != 0 || len(eb) != 0 {
		t.Fatalf("established with each key swapped: a=%d b=%d", len(ea), len(eb))
	}
}

// TestOwnPSK: our AUTH takes the key of our own identity where one is
// configured, else the peer's.
func TestOwnPSK(t *testing.T) {
	cfg := testConfig(addrB, "peer-key", false, nil)
	cfg.PSKs = append(cfg.PSKs, PSK{ID: ID{FQDN: "ix.example.jp"}, Key: []byte("own-key")})
	c, err := NewCore(CoreConfig{Config: cfg, DataPlane: newFakeDP(), Transport: dropTransport{}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.ownPSK(identity{Type: idFQDN, Data: []byte("IX.example.jp")}, []byte("peer-key"))); got != "own-key" {
		t.Errorf("own identity with a key: %q", got)
	}
	if got := string(c.ownPSK(addrIdentity(addrA), []byte("peer-key"))); got != "peer-key" {
		t.Errorf("own identity without a key: %q", got)
	}
}
