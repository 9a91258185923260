package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Documents are the az CLI's JSON for one connection, as printed by
//
//	az network vnet-gateway show      (Gateway, required)
//	az network vpn-connection show    (Connection, required)
//	az network public-ip show         (PublicIPs, one per gateway IP configuration)
//	az network local-gateway show     (LocalGateway, optional)
//
// The ARM form, with the fields under "properties", reads the same.
type Documents struct {
	Gateway, Connection []byte
	PublicIPs           [][]byte
	LocalGateway        []byte
}

type gatewayDoc struct {
	Name         string `json:"name"`
	GatewayType  string `json:"gatewayType"`
	VPNType      string `json:"vpnType"`
	ActiveActive bool   `json:"activeActive"`
	EnableBGP    bool   `json:"enableBgp"`
	BGPSettings  *struct {
		ASN                 uint32 `json:"asn"`
		BGPPeeringAddress   string `json:"bgpPeeringAddress"`
		BGPPeeringAddresses []struct {
			IPConfigurationID     string   `json:"ipconfigurationId"`
			DefaultBGPIPAddresses []string `json:"defaultBgpIpAddresses"`
			CustomBGPIPAddresses  []string `json:"customBgpIpAddresses"`
			TunnelIPAddresses     []string `json:"tunnelIpAddresses"`
		} `json:"bgpPeeringAddresses"`
	} `json:"bgpSettings"`
	IPConfigurations []struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		PublicIPAddress *struct {
			ID string `json:"id"`
		} `json:"publicIpAddress"`
		PrivateIPAddress string `json:"privateIpAddress"`
	} `json:"ipConfigurations"`
	NATRules                        []natRuleDoc `json:"natRules"`
	EnableBGPRouteTranslationForNAT bool         `json:"enableBgpRouteTranslationForNat"`
}

// natRuleDoc is one of the gateway's NAT rules (VirtualNetworkGatewayNatRule).
type natRuleDoc struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Type is "Static" or "Dynamic" in the az CLI's flattened form; in
	// the ARM form the top-level type is the resource type and the rule's
	// is under properties, where decode leaves it.
	Type       string `json:"type"`
	Properties struct {
		Type string `json:"type"`
	} `json:"properties"`
	// IPConfigurationID names the gateway instance the rule applies to
	// (active-active gateways need one rule per instance); empty: all.
	IPConfigurationID string `json:"ipConfigurationId"`
	Mode              string `json:"mode"` // "EgressSnat" or "IngressSnat"
	InternalMappings  []struct {
		AddressSpace string `json:"addressSpace"`
	} `json:"internalMappings"`
	ExternalMappings []struct {
		AddressSpace string `json:"addressSpace"`
	} `json:"externalMappings"`
}

type idRef struct {
	ID string `json:"id"`
}

type localGatewayDoc struct {
	GatewayIPAddress string `json:"gatewayIpAddress"`
	BGPSettings      *struct {
		ASN               uint32 `json:"asn"`
		BGPPeeringAddress string `json:"bgpPeeringAddress"`
	} `json:"bgpSettings"`
	LocalNetworkAddressSpace *struct {
		AddressPrefixes []string `json:"addressPrefixes"`
	} `json:"localNetworkAddressSpace"`
}

type connectionDoc struct {
	ConnectionType                 string        `json:"connectionType"`
	ConnectionProtocol             string        `json:"connectionProtocol"`
	EnableBGP                      bool          `json:"enableBgp"`
	UsePolicyBasedTrafficSelectors bool          `json:"usePolicyBasedTrafficSelectors"`
	IPsecPolicies                  []IPsecPolicy `json:"ipsecPolicies"`
	SharedKey                      string        `json:"sharedKey"`
	GatewayCustomBGPIPAddresses    []struct {
		IPConfigurationID  string `json:"ipConfigurationId"`
		CustomBGPIPAddress string `json:"customBgpIpAddress"`
	} `json:"gatewayCustomBgpIpAddresses"`
	LocalNetworkGateway2   *localGatewayDoc `json:"localNetworkGateway2"`
	ConnectionMode         string           `json:"connectionMode"`
	UseLocalAzureIPAddress bool             `json:"useLocalAzureIpAddress"`
	EgressNATRules         []idRef          `json:"egressNatRules"`
	IngressNATRules        []idRef          `json:"ingressNatRules"`
}

type publicIPDoc struct {
	ID        string `json:"id"`
	IPAddress string `json:"ipAddress"`
}

// decode reads an az or ARM document into v, lifting every "properties"
// object into its parent first.
func decode(what string, data []byte, v any) error {
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	b, err := json.Marshal(lift(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func lift(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if props, ok := t["properties"].(map[string]any); ok {
			for k, pv := range props {
				if _, dup := t[k]; !dup {
					t[k] = pv
				}
			}
		}
		for k, x := range t {
			t[k] = lift(x)
		}
	case []any:
		for i, x := range t {
			t[i] = lift(x)
		}
	}
	return v
}

// Import builds the Params of a connection from the az CLI's JSON. What
// Azure's documents do not hold (the VNet address space for static
// routes, the LAN to advertise with BGP, the key unless the connection
// carries sharedKey, the WAN interface) the caller adds before Generate.
// Settings soft-ix cannot speak (IKEv1, policy-based traffic selectors,
// algorithms it lacks) are errors.
func Import(d Documents) (Params, error) {
	var p Params
	var gw gatewayDoc
	var conn connectionDoc
	if err := decode("gateway", d.Gateway, &gw); err != nil {
		return p, err
	}
	if err := decode("connection", d.Connection, &conn); err != nil {
		return p, err
	}
	if gw.GatewayType != "" && !strings.EqualFold(gw.GatewayType, "Vpn") {
		return p, fmt.Errorf("gateway %s: gatewayType %s is not a VPN gateway", gw.Name, gw.GatewayType)
	}
	if strings.EqualFold(gw.VPNType, "PolicyBased") {
		return p, fmt.Errorf("gateway %s: a policy-based gateway speaks IKEv1 only; soft-ix needs a route-based gateway (row \"ikev2\")", gw.Name)
	}
	if conn.ConnectionType != "" && !strings.EqualFold(conn.ConnectionType, "IPsec") {
		return p, fmt.Errorf("connection: connectionType %s; soft-ix connects IPsec (site-to-site) connections", conn.ConnectionType)
	}
	if strings.EqualFold(conn.ConnectionProtocol, "IKEv1") {
		return p, errors.New("connection: connectionProtocol IKEv1; soft-ix speaks IKEv2 only: set the connection to IKEv2")
	}
	if conn.UsePolicyBasedTrafficSelectors {
		return p, errors.New("connection: usePolicyBasedTrafficSelectors is on; soft-ix negotiates one any-to-any Child SA per tunnel (row \"traffic-selectors\"): turn it off")
	}
	var err error
	if p.AzureMode, err = ParseConnectionMode(conn.ConnectionMode); err != nil {
		return p, fmt.Errorf("connection: %w", err)
	}
	if conn.UseLocalAzureIPAddress {
		if err := importPrivateGateways(&p, gw); err != nil {
			return p, err
		}
	} else if err := importGateways(&p, gw, d.PublicIPs); err != nil {
		return p, err
	}
	if len(p.Gateways) == 0 {
		return p, errors.New("no public address of the gateway found: is --gateway the vnet-gateway's JSON? Pass its addresses with --public-ip FILE")
	}
	if gw.ActiveActive && len(p.Gateways) != 2 {
		return p, fmt.Errorf("gateway %s is active-active but %d public address(es) were found; give both with --public-ip", gw.Name, len(p.Gateways))
	}
	local := conn.LocalNetworkGateway2
	if len(d.LocalGateway) > 0 {
		local = &localGatewayDoc{}
		if err := decode("local gateway", d.LocalGateway, local); err != nil {
			return p, err
		}
	}
	if conn.EnableBGP {
		if err := importBGP(&p, gw, conn); err != nil {
			return p, err
		}
		if local != nil && local.BGPSettings != nil {
			p.LocalASN = local.BGPSettings.ASN
			if a, err := netip.ParseAddr(local.BGPSettings.BGPPeeringAddress); err == nil {
				p.LocalBGP = a
			}
		}
	} else if local != nil && local.LocalNetworkAddressSpace != nil {
		// Without BGP the local network gateway's address space is the
		// on-premises LAN Azure routes into the tunnel.
		for _, s := range local.LocalNetworkAddressSpace.AddressPrefixes {
			pf, err := netip.ParsePrefix(s)
			if err != nil {
				return p, fmt.Errorf("local network gateway: address prefix %q: %w", s, err)
			}
			p.LANs = append(p.LANs, pf)
		}
	}
	p.Policy = DefaultPolicy()
	switch len(conn.IPsecPolicies) {
	case 0:
	case 1:
		ike, child, err := conn.IPsecPolicies[0].Suites()
		if err != nil {
			return p, fmt.Errorf("connection: ipsecPolicies: %w", err)
		}
		acc, _ := conn.IPsecPolicies[0].Accepts()
		p.Policy = Policy{Name: "custom", IKE: ike, Child: child, IKELifetime: IKELifetime,
			ChildLifetime: acc.ChildLifetime, ChildLifetimeKB: acc.ChildLifetimeKB}
	default:
		return p, fmt.Errorf("connection: %d ipsecPolicies; Azure allows one per connection", len(conn.IPsecPolicies))
	}
	if conn.SharedKey != "" {
		p.PSK = []byte(conn.SharedKey)
	}
	if err := importNAT(&p, gw, conn); err != nil {
		return p, err
	}
	// A local network gateway's non-APIPA BGP address is the post-NAT
	// one (row "nat"); the IX's loopback carries the original.
	if p.LocalBGP.IsValid() {
		p.LocalBGP = untranslate(p.LocalBGP, p.NAT)
	}
	return p, nil
}

// untranslate returns the on-premises address a that Azure's static
// ingress NAT rules show as a, or a itself.
func untranslate(a netip.Addr, rules []NATRule) netip.Addr {
	for _, r := range rules {
		if r.Egress || r.Dynamic {
			continue
		}
		for _, m := range r.Maps {
			if m.External.Contains(a) {
				return rebase(a, m.External, m.Internal)
			}
		}
	}
	return a
}

// importPrivateGateways takes the gateway's private addresses, which a
// connection with useLocalAzureIpAddress speaks IKE from (over ExpressRoute
// private peering or another private path) in place of its public ones.
func importPrivateGateways(p *Params, gw gatewayDoc) error {
	for _, ipc := range gw.IPConfigurations {
		a, err := netip.ParseAddr(ipc.PrivateIPAddress)
		if err != nil {
			return fmt.Errorf("connection uses the gateway's private address (useLocalAzureIpAddress) but IP configuration %s has none: is enablePrivateIpAddress on for gateway %s?", ipc.Name, gw.Name)
		}
		p.Gateways = append(p.Gateways, a)
		p.GatewayConfigs = append(p.GatewayConfigs, ipc.ID)
	}
	p.Private = true
	return nil
}

// importNAT resolves the connection's NAT rules against the gateway's:
// egress rules say under which addresses the IX sees the VNet, ingress
// rules under which Azure sees the LAN (row "nat").
func importNAT(p *Params, gw gatewayDoc, conn connectionDoc) error {
	rules := map[string]natRuleDoc{}
	for _, r := range gw.NATRules {
		rules[strings.ToLower(r.ID)] = r
	}
	for _, ref := range append(append([]idRef{}, conn.EgressNATRules...), conn.IngressNATRules...) {
		r, ok := rules[strings.ToLower(ref.ID)]
		if !ok {
			return fmt.Errorf("connection: NAT rule %s is not among gateway %s's natRules: pass the vnet-gateway JSON that holds it", ref.ID, gw.Name)
		}
		n := NATRule{Name: r.Name, IPConfig: r.IPConfigurationID, Dynamic: strings.EqualFold(r.Type, "Dynamic") || strings.EqualFold(r.Properties.Type, "Dynamic")}
		switch {
		case strings.EqualFold(r.Mode, "EgressSnat"):
			n.Egress = true
		case strings.EqualFold(r.Mode, "IngressSnat"):
		default:
			return fmt.Errorf("NAT rule %s: mode %q: want EgressSnat or IngressSnat", r.Name, r.Mode)
		}
		if len(r.InternalMappings) != len(r.ExternalMappings) || len(r.InternalMappings) == 0 {
			return fmt.Errorf("NAT rule %s: %d internal and %d external mappings", r.Name, len(r.InternalMappings), len(r.ExternalMappings))
		}
		for i := range r.InternalMappings {
			in, err1 := netip.ParsePrefix(r.InternalMappings[i].AddressSpace)
			ex, err2 := netip.ParsePrefix(r.ExternalMappings[i].AddressSpace)
			if err1 != nil || err2 != nil || !in.Addr().Is4() || !ex.Addr().Is4() {
				return fmt.Errorf("NAT rule %s: mapping %q -> %q: want IPv4 prefixes", r.Name, r.InternalMappings[i].AddressSpace, r.ExternalMappings[i].AddressSpace)
			}
			if !n.Dynamic && in.Bits() != ex.Bits() {
				return fmt.Errorf("NAT rule %s: static mapping %s -> %s: Azure maps static NAT one to one, the prefixes must be of one size", r.Name, in, ex)
			}
			n.Maps = append(n.Maps, NATMap{Internal: in.Masked(), External: ex.Masked()})
		}
		p.NAT = append(p.NAT, n)
	}
	p.BGPRouteTranslation = gw.EnableBGPRouteTranslationForNAT
	return nil
}

// importGateways finds the public address of each of the gateway's IP
// configurations: from the public-ip documents by ID, else from the
// tunnel addresses Azure lists with the BGP settings.
func importGateways(p *Params, gw gatewayDoc, pipDocs [][]byte) error {
	pips := map[string]netip.Addr{}
	var order []netip.Addr
	for i, data := range pipDocs {
		var pip publicIPDoc
		if err := decode(fmt.Sprintf("public IP %d", i+1), data, &pip); err != nil {
			return err
		}
		a, err := netip.ParseAddr(pip.IPAddress)
		if err != nil {
			return fmt.Errorf("public IP %d (%s): ipAddress %q: not allocated yet?", i+1, pip.ID, pip.IPAddress)
		}
		pips[strings.ToLower(pip.ID)] = a
		order = append(order, a)
	}
	if len(gw.IPConfigurations) == 0 {
		p.Gateways = order
		return nil
	}
	for _, ipc := range gw.IPConfigurations {
		var a netip.Addr
		if ipc.PublicIPAddress != nil {
			a = pips[strings.ToLower(ipc.PublicIPAddress.ID)]
		}
		if !a.IsValid() && gw.BGPSettings != nil {
			for _, b := range gw.BGPSettings.BGPPeeringAddresses {
				if strings.EqualFold(b.IPConfigurationID, ipc.ID) && len(b.TunnelIPAddresses) > 0 {
					a, _ = netip.ParseAddr(b.TunnelIPAddresses[0])
				}
			}
		}
		if !a.IsValid() {
			return fmt.Errorf("gateway IP configuration %s: no public address; pass its --public-ip FILE (az network public-ip show)", ipc.Name)
		}
		p.Gateways = append(p.Gateways, a)
		p.GatewayConfigs = append(p.GatewayConfigs, ipc.ID)
	}
	return nil
}

// importBGP takes Azure's ASN and one BGP address per IP configuration:
// the custom (APIPA) address the connection names for it, else the
// gateway's default one.
func importBGP(p *Params, gw gatewayDoc, conn connectionDoc) error {
	b := gw.BGPSettings
	if !gw.EnableBGP || b == nil {
		return fmt.Errorf("connection has BGP on but gateway %s has no BGP settings", gw.Name)
	}
	p.AzureASN = b.ASN
	if p.AzureASN == 0 {
		p.AzureASN = DefaultAzureASN
	}
	legacy := strings.Split(b.BGPPeeringAddress, ",")
	for i, ipc := range gw.IPConfigurations {
		var s string
		for _, c := range conn.GatewayCustomBGPIPAddresses {
			if strings.EqualFold(c.IPConfigurationID, ipc.ID) {
				s = c.CustomBGPIPAddress
			}
		}
		for _, pa := range b.BGPPeeringAddresses {
			if s == "" && strings.EqualFold(pa.IPConfigurationID, ipc.ID) && len(pa.DefaultBGPIPAddresses) > 0 {
				s = pa.DefaultBGPIPAddresses[0]
			}
		}
		if s == "" && i < len(legacy) {
			s = strings.TrimSpace(legacy[i])
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("gateway IP configuration %s: no BGP peering address", ipc.Name)
		}
		p.BGPPeers = append(p.BGPPeers, a)
	}
	if len(gw.IPConfigurations) == 0 {
		for _, s := range legacy {
			a, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("gateway bgpPeeringAddress %q: %w", b.BGPPeeringAddress, err)
			}
			p.BGPPeers = append(p.BGPPeers, a)
		}
	}
	return nil
}
