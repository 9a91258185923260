package ixike

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
)

func names(as []ike.Algorithm) string {
	var n []string
	for _, a := range as {
		n = append(n, a.Name)
	}
	return strings.Join(n, ",")
}

// The seed's static configuration becomes one auto-connecting tunnel with
// the how-to's proposal and the PSK keyed by the Azure gateway's address.
func TestSeedConfig(t *testing.T) {
	cfg, _, err := config.Load("../../config/testdata/ix-static.conf")
	if err != nil {
		t.Fatal(err)
	}
	ic, err := Config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	azure := netip.MustParseAddr("20.210.237.6")
	if len(ic.Tunnels) != 1 || len(ic.PSKs) != 1 || ic.PSKs[0].ID != (ike.ID{Addr: azure}) || string(ic.PSKs[0].Key) != "P@ssw0rd1234" {
		t.Fatalf("tunnels %+v, PSKs %d", ic.Tunnels, len(ic.PSKs))
	}
	tc := ic.Tunnels[0]
	if tc.Name != "Tunnel0.0" || tc.Peer != azure || tc.PeerID != (ike.ID{Addr: azure}) || !tc.ConnectAuto || tc.Direction != ike.BothDirections {
		t.Fatalf("tunnel %+v", tc)
	}
	p := tc.Policy
	if got := names(p.IKEEnc) + "/" + names(p.IKEInteg) + "/" + names(p.IKEPRF) + "/" + names(p.IKEDH); got != "AES-CBC-256/HMAC-SHA1-96/PRF-HMAC-SHA1/1024-bit" {
		t.Errorf("IKE policy %s", got)
	}
	if got := names(p.ChildEnc) + "/" + names(p.ChildInteg); got != "AES-CBC-256/HMAC-SHA2-256-128" || len(p.ChildPFS) != 0 {
		t.Errorf("child policy %s, PFS %v", got, p.ChildPFS)
	}
	// No sa-lifetime in the file: the IX default; child-lifetime 3600.
	if p.IKELifetime != 86400*time.Second || p.ChildLifetime != 3600*time.Second || !p.ESN {
		t.Errorf("lifetimes %v/%v, ESN %v", p.IKELifetime, p.ChildLifetime, p.ESN)
	}
}

// The IX's rules: a shut tunnel is left out, negotiation-direction and
// source-address by interface carry over, a bad identity is an error.
func TestTunnelRules(t *testing.T) {
	peer := netip.MustParseAddr("198.51.100.6")
	cfg := &config.Config{Interfaces: []*config.Interface{
		{Name: "GigaEthernet0.0", Kind: config.KindGigaEthernet, Address: netip.MustParsePrefix("203.0.113.94/24")},
		{Name: "Tunnel0.0", Kind: config.KindTunnel, Tunnel: &config.Tunnel{Peer: peer,
			NegotiationDirection: "responder", SourceInterface: "GigaEthernet0.0",
			PeerID: config.Identity{Type: config.IDFQDN, Value: "azure.example"}}},
		{Name: "Tunnel1.0", Kind: config.KindTunnel, Shutdown: true, Tunnel: &config.Tunnel{Peer: peer}},
	}}
	ic, err := Config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ic.Tunnels) != 1 {
		t.Fatalf("%d tunnels, want the one not shut down", len(ic.Tunnels))
	}
	tc := ic.Tunnels[0]
	if tc.Direction != ike.ResponderOnly || tc.Source != netip.MustParseAddr("203.0.113.94") || tc.PeerID != (ike.ID{FQDN: "azure.example"}) {
		t.Fatalf("tunnel %+v", tc)
	}
	cfg.Interfaces[1].Tunnel.PeerID = config.Identity{Type: config.IDIPv4, Value: "not-an-address"}
	if _, err := Config(cfg); err == nil || !strings.Contains(err.Error(), "Tunnel0.0") {
		t.Fatalf("bad identity: %v", err)
	}
}

// An IPv6 peer: the source address by interface name is the IPv4 one the
// model holds, which cannot reach it, so the kernel chooses (from the
// route to the peer); a literal IPv6 source carries over.
func TestIPv6PeerSource(t *testing.T) {
	peer := netip.MustParseAddr("2001:db8:2::6")
	cfg := &config.Config{Interfaces: []*config.Interface{
		{Name: "GigaEthernet0.0", Kind: config.KindGigaEthernet, Address: netip.MustParsePrefix("203.0.113.94/24")},
		{Name: "Tunnel0.0", Kind: config.KindTunnel, Tunnel: &config.Tunnel{Peer: peer, SourceInterface: "GigaEthernet0.0"}},
	}}
	ic, err := Config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tc := ic.Tunnels[0]; tc.Peer != peer || tc.Source.IsValid() {
		t.Fatalf("tunnel %+v", tc)
	}
	src := netip.MustParseAddr("2001:db8:1::94")
	cfg.Interfaces[1].Tunnel.SourceInterface, cfg.Interfaces[1].Tunnel.SourceAddress = "", src
	if ic, err = Config(cfg); err != nil || ic.Tunnels[0].Source != src {
		t.Fatalf("literal source: %+v, %v", ic.Tunnels, err)
	}
	cfg.Interfaces[1].Tunnel.SourceAddress = netip.MustParseAddr("203.0.113.94")
	if _, err := Config(cfg); err == nil || !strings.Contains(err.Error(), "different address families") {
		t.Fatalf("IPv4 source for an IPv6 peer: %v", err)
	}
}

// TestLocalID: the profile's "local-authentication id" becomes the
// tunnel's own identity, and a tunnel's "ikev2 local-authentication id"
// overrides it; without either the identity stays the address.
func TestLocalID(t *testing.T) {
	src := `ikev2 authentication psk id keyid peer key char k
ikev2 default-profile
  local-authentication psk id fqdn branch.example.jp
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ikev2 peer any authentication psk id keyid peer
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ikev2 local-authentication id keyid branch-1
  ikev2 peer any authentication psk id keyid peer
`
	cfg, _, err := config.Parse("ix.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ic, err := Config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ic.Tunnels) != 2 || ic.Tunnels[0].LocalID != (ike.ID{FQDN: "branch.example.jp"}) || ic.Tunnels[1].LocalID != (ike.ID{KeyID: "branch-1"}) {
		t.Fatalf("local IDs: %+v", ic.Tunnels)
	}
	seed, _, err := config.Load("../../config/testdata/ix-static.conf")
	if err != nil {
		t.Fatal(err)
	}
	if ic, err := Config(seed); err != nil || !ic.Tunnels[0].LocalID.IsZero() {
		t.Fatalf("the seed's local ID: %+v %v", ic.Tunnels, err)
	}
}
