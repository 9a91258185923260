package azure

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

// Params describe one connection to an Azure VPN gateway from the IX's
// side: what Generate needs to write its configuration.
type Params struct {
	// Gateways are Azure's public addresses: one, or two for an
	// active-active gateway (one tunnel to each, row "active-active").
	Gateways []netip.Addr
	// PSK is the connection's shared key. It appears in the generated
	// configuration and nowhere else.
	PSK []byte

	// BGP: AzureASN and one BGP peer address per gateway. Without BGP
	// peers the VNets are routed statically.
	AzureASN uint32
	BGPPeers []netip.Addr
	LocalASN uint32
	// LocalBGP is the on-premises BGP address, put on Loopback0.0 and used
	// as update-source (the seed's 10.2.2.2).
	LocalBGP netip.Addr

	// VNets are Azure's address spaces, routed into the tunnel(s) when
	// there is no BGP.
	VNets []netip.Prefix
	// LANs are the on-premises networks: advertised with BGP; without BGP
	// they belong in Azure's local network gateway and are only listed in
	// a comment.
	LANs []netip.Prefix
	// WAN, when set, is the GigaEthernet IKE leaves by ("ikev2
	// source-address"); empty leaves the choice to the routing table, as
	// the seed does.
	WAN string

	Policy Policy
}

// Policy is the crypto half of a connection, in IX keywords.
type Policy struct {
	Name            string // "default", "gcm" or "custom", for the header comment
	IKE             IKESuite
	Child           ChildSuite
	IKELifetime     time.Duration // 0: not written (the IX default applies)
	ChildLifetime   time.Duration
	ChildLifetimeKB uint64
	DPD             time.Duration // 0: not written
}

// DefaultPolicy is what the seed how-to configures against a gateway with
// no custom policy: the first IKE proposal of Azure's default list
// (AES256/SHA1/DH2, row "default-ike") and AES256/SHA256 for ESP, one of
// Azure's default Child offers (row "default-child"). The Child SA
// lifetime is the 3600 s of Azure's downloadable sample configuration:
// IKEv2 does not negotiate lifetimes, each side rekeys on its own clock,
// and the shorter one makes the IX the side that rekeys instead of
// relying on Azure-started rekeys.
func DefaultPolicy() Policy {
	return Policy{
		Name:          "default",
		IKE:           DefaultIKE[0],
		Child:         ChildSuite{Enc: config.EncAESCBC256, Integ: config.IntegSHA256},
		ChildLifetime: time.Hour,
	}
}

// GCMPolicy is DefaultPolicy with AES-GCM-256 for ESP: Azure's own first
// default Child offer (row "default-child"), so it needs no custom policy
// on the Azure side. Azure's default IKE proposals have no GCM.
func GCMPolicy() Policy {
	p := DefaultPolicy()
	p.Name = "gcm"
	p.Child = ChildSuite{Enc: config.EncAESGCM256}
	return p
}

// PolicyByName returns DefaultPolicy or GCMPolicy for --policy.
func PolicyByName(name string) (Policy, error) {
	switch name {
	case "", "default":
		return DefaultPolicy(), nil
	case "gcm":
		return GCMPolicy(), nil
	}
	return Policy{}, fmt.Errorf("--policy %q: want default or gcm", name)
}

// Tunnel addresses of the IX side. Azure never learns them (it routes by
// BGP or by the local network gateway's address space), so any
// link-local /30 outside Azure's APIPA range does; the first is the seed's.
var tunnelAddrs = []netip.Prefix{netip.MustParsePrefix("169.254.0.1/30"), netip.MustParsePrefix("169.254.0.5/30")}

// Check reports what makes p unusable, without naming the key.
func (p *Params) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch n := len(p.Gateways); {
	case n == 0:
		bad("no Azure gateway address (--gateway-ip)")
	case n > 2:
		bad("%d gateway addresses: an Azure gateway has one, or two when active-active", n)
	}
	for _, g := range p.Gateways {
		if !g.Is4() {
			bad("gateway address %s: soft-ix supports IPv4 outer addresses only", g)
		}
	}
	if len(p.Gateways) == 2 && p.Gateways[0] == p.Gateways[1] {
		bad("both gateway addresses are %s", p.Gateways[0])
	}
	if err := checkPSK(p.PSK); err != nil {
		errs = append(errs, err)
	}
	bgp := len(p.BGPPeers) > 0 || p.AzureASN != 0 || p.LocalASN != 0 || p.LocalBGP.IsValid()
	if bgp {
		switch {
		case len(p.BGPPeers) != len(p.Gateways):
			bad("%d BGP peer address(es) for %d gateway(s): Azure has one BGP address per gateway instance (--bgp-peer, --bgp-peer2)", len(p.BGPPeers), len(p.Gateways))
		case p.AzureASN == 0:
			bad("BGP needs Azure's ASN (--azure-asn; %d unless it was changed)", DefaultAzureASN)
		case p.LocalASN == 0:
			bad("BGP needs the on-premises ASN (--local-asn)")
		case !p.LocalBGP.Is4():
			bad("BGP needs the on-premises BGP address for Loopback0.0 (--local-bgp-ip)")
		case p.LocalASN == p.AzureASN:
			bad("--local-asn %d is Azure's ASN: Azure speaks eBGP only", p.LocalASN)
		case ReservedASN(p.LocalASN):
			bad("--local-asn %d is reserved by Azure or IANA; pick another private ASN", p.LocalASN)
		}
		for _, a := range p.BGPPeers {
			if IsLinkLocal(a) && !InAPIPARange(a) {
				bad("BGP peer %s: Azure uses APIPA addresses only in %s-%s", a, APIPAFirst, APIPALast)
			}
		}
		if len(p.VNets) > 0 {
			bad("--vnet is for static routing; with BGP Azure advertises its VNet")
		}
		if len(p.LANs) > MaxPrefixes {
			bad("%d LAN prefixes: Azure accepts at most %d from one BGP peer", len(p.LANs), MaxPrefixes)
		}
	} else if len(p.VNets) == 0 {
		bad("no Azure address space to route: give --vnet P (static) or the BGP flags")
	}
	if p.WAN != "" {
		name, kind, err := config.NormalizeInterfaceName(p.WAN)
		if err != nil || kind != config.KindGigaEthernet {
			bad("--wan %q: want a GigaEthernet interface, e.g. GigaEthernet0.0", p.WAN)
		} else {
			p.WAN = name
		}
	}
	return errors.Join(errs...)
}

// checkPSK refuses keys "key char" cannot carry; the message never holds
// the key.
func checkPSK(k []byte) error {
	if len(k) == 0 {
		return errors.New("empty pre-shared key")
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f {
			return errors.New("the pre-shared key holds a blank, control or non-ASCII character, which \"key char\" cannot carry")
		}
	}
	return nil
}

// BGP reports whether the connection uses BGP.
func (p *Params) BGP() bool { return len(p.BGPPeers) > 0 }

// Generate writes the IX configuration for p: the seed how-to's layout,
// one Tunnel interface per gateway instance. It parses its own output and
// returns an error rather than a file soft-ix would refuse.
func Generate(p Params) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	pol := p.Policy
	if pol.Name == "" {
		pol = DefaultPolicy()
	}

	mode := "static routes"
	if p.BGP() {
		mode = "BGP"
	}
	gws := make([]string, len(p.Gateways))
	for i, g := range p.Gateways {
		gws[i] = g.String()
	}
	w("! IX side of a connection to Azure VPN Gateway %s (%s, policy %s),", strings.Join(gws, " and "), mode, pol.Name)
	w("! written by \"soft-ix azure\". It holds the pre-shared key: keep it private.")
	if !p.BGP() && len(p.LANs) > 0 {
		w("! Azure's local network gateway must list the LAN: %s.", joinPrefixes(p.LANs))
	}
	for _, g := range p.Gateways {
		w("ikev2 authentication psk id ipv4 %s key char %s", g, p.PSK)
	}
	w("!")
	w("ikev2 default-profile")
	w("  sa-proposal enc %s", pol.IKE.Enc)
	if pol.IKE.Integ != "" {
		w("  sa-proposal integrity %s", pol.IKE.Integ)
	}
	w("  sa-proposal dh %s", pol.IKE.DH)
	if pol.IKELifetime > 0 {
		w("  sa-lifetime %d", int(pol.IKELifetime.Seconds()))
	}
	w("  child-proposal enc %s", pol.Child.Enc)
	if pol.Child.Integ != "" && !pol.Child.Enc.AEAD() {
		w("  child-proposal integrity %s", pol.Child.Integ)
	}
	if pol.Child.PFS != "" {
		w("  child-pfs %s", pol.Child.PFS)
	}
	if pol.ChildLifetime > 0 {
		if pol.ChildLifetimeKB > 0 {
			w("  child-lifetime %d kilobytes %d", int(pol.ChildLifetime.Seconds()), pol.ChildLifetimeKB)
		} else {
			w("  child-lifetime %d", int(pol.ChildLifetime.Seconds()))
		}
	}
	if pol.DPD > 0 {
		w("  dpd interval %d", int(pol.DPD.Seconds()))
	}
	tunnels := make([]string, len(p.Gateways))
	for i, g := range p.Gateways {
		tunnels[i] = fmt.Sprintf("Tunnel%d.0", i)
		w("!")
		w("interface %s", tunnels[i])
		w("  tunnel mode ipsec-ikev2")
		w("  ip address %s", tunnelAddrs[i])
		w("  ip tcp adjust-mss auto")
		w("  ikev2 connect-type auto")
		w("  ikev2 ipsec pre-fragment")
		if p.WAN != "" {
			w("  ikev2 source-address %s", p.WAN)
		}
		w("  ikev2 peer %s authentication psk id ipv4 %s", g, g)
		w("  no shutdown")
	}
	w("!")
	if p.BGP() {
		w("router bgp %d", p.LocalASN)
		for _, a := range p.BGPPeers {
			w("  neighbor %s remote-as %d", a, p.AzureASN)
			w("  neighbor %s update-source Loopback0.0", a)
		}
		w("  address-family ipv4 unicast")
		for _, l := range p.LANs {
			w("    network %s", l.Masked())
		}
		w("!")
		// Row "bgp-host-route": Azure's BGP address is reached through
		// the tunnel to its own instance.
		for i, a := range p.BGPPeers {
			w("ip route %s/32 %s", a, tunnels[i])
		}
		w("!")
		w("interface Loopback0.0")
		w("  ip address %s/32", p.LocalBGP)
	} else {
		for _, v := range p.VNets {
			for _, t := range tunnels {
				w("ip route %s %s", v.Masked(), t)
			}
		}
	}
	out := b.Bytes()
	if _, _, err := config.Parse("generated", out); err != nil {
		return nil, fmt.Errorf("azure: generated configuration does not load (a soft-ix bug): %w", err)
	}
	return out, nil
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return strings.Join(s, ", ")
}
