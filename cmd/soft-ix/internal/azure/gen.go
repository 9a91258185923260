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

	// AzureMode is the connection's connectionMode when not Default:
	// "InitiatorOnly" (Azure starts the tunnel and refuses the IX's
	// attempts, so the IX only answers) or "ResponderOnly" (Azure only
	// answers, so the IX must start it). Row "connection-mode".
	AzureMode string
	// Private: Gateways are the gateway's private addresses
	// (useLocalAzureIpAddress), reached over a private path.
	Private bool
	// NAT are the connection's NAT rules on the Azure gateway (row "nat"):
	// the IX routes to the VNet as egress rules translate it, and Azure
	// sees the LAN as ingress rules translate it. A rule naming an IP
	// configuration applies to that instance's tunnel only;
	// GatewayConfigs are the instances' IP configuration IDs, in the
	// order of Gateways (empty when not known: every rule applies).
	NAT            []NATRule
	GatewayConfigs []string
	// BGPRouteTranslation: the gateway translates the prefixes it
	// advertises and learns over BGP by its NAT rules
	// (enableBgpRouteTranslationForNat).
	BGPRouteTranslation bool
}

// NATRule is one of Azure's VPN NAT rules as it applies to a connection.
type NATRule struct {
	Name     string
	IPConfig string // the gateway instance (IP configuration ID) it applies to; "" all
	Egress   bool   // EgressSnat: rewrites the VNet's addresses; else IngressSnat, the LAN's
	Dynamic  bool   // many to one; else static, one to one
	Maps     []NATMap
}

// NATMap is one internal -> external mapping of a NAT rule.
type NATMap struct{ Internal, External netip.Prefix }

// natFor are the NAT rules that apply to gateway instance i (its tunnel).
func (p *Params) natFor(i int) []NATRule {
	var out []NATRule
	for _, r := range p.NAT {
		if r.IPConfig == "" || i >= len(p.GatewayConfigs) || strings.EqualFold(r.IPConfig, p.GatewayConfigs[i]) {
			out = append(out, r)
		}
	}
	return out
}

// staticRules are the static (one to one) rules of rules.
func staticRules(rules []NATRule) []NATRule {
	var out []NATRule
	for _, r := range rules {
		if !r.Dynamic {
			out = append(out, r)
		}
	}
	return out
}

// rebase moves a, inside the masked prefix from, to the same offset in
// to (static NAT keeps the host part): clearing from's network bits of a
// leaves the host part.
func rebase(a netip.Addr, from, to netip.Prefix) netip.Addr {
	f, t, b := from.Addr().As4(), to.Addr().As4(), a.As4()
	for i := range b {
		b[i] = t[i] | (b[i] &^ f[i])
	}
	return netip.AddrFrom4(b)
}

// translate returns p as the far side sees it through the rules of the
// given direction, and the rule's name; p itself and "" where no rule
// covers it. A prefix that covers a mapping only in part has no single
// translation: that is an error.
func translate(p netip.Prefix, rules []NATRule, egress bool) (netip.Prefix, string, error) {
	p = p.Masked()
	for _, r := range rules {
		if r.Egress != egress {
			continue
		}
		for _, m := range r.Maps {
			switch {
			case m.Internal.Bits() <= p.Bits() && m.Internal.Contains(p.Addr()):
				if r.Dynamic {
					return m.External, r.Name, nil
				}
				return netip.PrefixFrom(rebase(p.Addr(), m.Internal, m.External), p.Bits()), r.Name, nil
			case p.Overlaps(m.Internal):
				return p, r.Name, fmt.Errorf("%s covers NAT rule %s's internal mapping %s only in part: give the prefixes per mapping", p, r.Name, m.Internal)
			}
		}
	}
	return p, "", nil
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
	for i := range p.Gateways {
		rules := p.natFor(i)
		for _, v := range p.VNets {
			if _, _, err := translate(v, rules, true); err != nil {
				bad("--vnet %v", err)
			}
		}
		for _, l := range p.LANs {
			if _, _, err := translate(l, rules, false); err != nil {
				bad("--lan %v", err)
			}
		}
		if i < len(p.BGPPeers) {
			a := netip.PrefixFrom(p.BGPPeers[i], 32)
			if _, r, _ := translate(a, rules, true); r != "" {
				if _, static, _ := translate(a, staticRules(rules), true); static == "" {
					bad("BGP peer %s is behind dynamic NAT rule %s, which gives it no fixed address: give it a static rule", a.Addr(), r)
				}
			}
		}
	}
	switch p.AzureMode {
	case "", "InitiatorOnly", "ResponderOnly":
	default:
		bad("connection mode %q: want InitiatorOnly or ResponderOnly", p.AzureMode)
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
		// With NAT too: the local network gateway holds the original
		// space, the connection's ingress rules translate it (row "nat").
		w("! Azure's local network gateway must list the LAN: %s.", joinPrefixes(p.LANs))
	}
	switch p.AzureMode {
	case "InitiatorOnly":
		w("! Azure starts this connection and refuses the IX's attempts (connectionMode InitiatorOnly): the IX only answers.")
	case "ResponderOnly":
		w("! Azure only answers on this connection (connectionMode ResponderOnly): the IX starts the tunnel and restarts it.")
	}
	if p.Private {
		w("! Azure speaks IKE from its private address (useLocalAzureIpAddress): the path to it must be private (ExpressRoute private peering), not the internet.")
	}
	for _, r := range p.NAT {
		kind := "static"
		if r.Dynamic {
			kind = "dynamic"
		}
		if r.IPConfig != "" {
			kind += ", instance " + r.IPConfig[strings.LastIndexByte(r.IPConfig, '/')+1:]
		}
		for _, m := range r.Maps {
			if r.Egress {
				w("! Azure NAT rule %s (%s, egress): the VNet's %s appears here as %s.", r.Name, kind, m.Internal, m.External)
			} else {
				w("! Azure NAT rule %s (%s, ingress): Azure sees this side's %s as %s.", r.Name, kind, m.Internal, m.External)
			}
		}
		if r.Egress && r.Dynamic {
			w("!   Dynamic: hosts behind it answer, but the IX side cannot start connections to them.")
		}
	}
	if len(p.NAT) > 0 && p.BGP() {
		if p.BGPRouteTranslation {
			w("! Azure translates the BGP routes it sends and learns by these rules (enableBgpRouteTranslationForNat).")
		} else {
			w("! The gateway does not translate BGP routes by its NAT rules (enableBgpRouteTranslationForNat off): the routes learned carry the VNet's own addresses.")
		}
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
		if p.AzureMode == "InitiatorOnly" {
			w("  ikev2 negotiation-direction responder")
		} else {
			w("  ikev2 connect-type auto")
		}
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
		peers := make([]netip.Addr, len(p.BGPPeers))
		for i, a := range p.BGPPeers {
			// Azure's BGP address in the VNet is reached under its
			// egress NAT address (row "nat"); a dynamic rule gives no
			// fixed one, so Check refuses that.
			seen, _, _ := translate(netip.PrefixFrom(a, 32), staticRules(p.natFor(i)), true)
			peers[i] = seen.Addr()
			w("  neighbor %s remote-as %d", peers[i], p.AzureASN)
			w("  neighbor %s update-source Loopback0.0", peers[i])
		}
		w("  address-family ipv4 unicast")
		for _, l := range p.LANs {
			w("    network %s", l.Masked())
		}
		w("!")
		// Row "bgp-host-route": Azure's BGP address is reached through
		// the tunnel to its own instance.
		for i, a := range peers {
			w("ip route %s/32 %s", a, tunnels[i])
		}
		w("!")
		w("interface Loopback0.0")
		w("  ip address %s/32", p.LocalBGP)
	} else {
		// Dynamic rules map several prefixes to one pool: one route.
		type route struct {
			to  netip.Prefix
			dev string
		}
		routed := map[route]bool{}
		for _, v := range p.VNets {
			for i, t := range tunnels {
				seen, _, _ := translate(v, p.natFor(i), true)
				if r := (route{seen, t}); !routed[r] {
					routed[r] = true
					w("ip route %s %s", seen, t)
				}
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
