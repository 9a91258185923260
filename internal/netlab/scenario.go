package netlab

import (
	"context"
	"fmt"
	"strings"
)

// The seed scenario's addresses as the lab builds them. The real how-to's
// public addresses are replaced by documentation ranges: the IX WAN
// 203.165.204.94 becomes 203.0.113.94 and the Azure gateway 20.210.237.6 /
// 40.115.212.91 becomes 198.51.100.6.
//
//	LAN host ns "lan"        eth0 192.168.2.10/24, default via 192.168.2.1
//	  |
//	IX ns "ix"               GigaEthernet1.0 192.168.2.1/24   (IX LAN)
//	                         GigaEthernet0.0 203.0.113.94/24  (IX WAN), default via 203.0.113.1
//	  |
//	internet ns "inet"       ix    203.0.113.1/24
//	  (a router, forwards)   azure 198.51.100.1/24
//	  |
//	Azure gateway ns "azure" wan  198.51.100.6/24, default via 198.51.100.1
//	                         bgp0 172.16.0.6/32 (loopback: Azure's BGP peer in GatewaySubnet)
//	                         vnet 172.16.1.1/24   (Azure's subnet router address)
//	  |
//	VNet host ns "vnet"      eth0 172.16.1.4/24, default via 172.16.1.1
//
// The internet router knows only 203.0.113.0/24 and 198.51.100.0/24, so
// LAN <-> VNet traffic can only cross inside a tunnel. Tunnels, tunnel
// routes and the IX loopback 10.2.2.2 are not part of the scenario: the
// peers under test (strongSwan, BIRD, soft-ix) add them.
const (
	IXWANIf     = "GigaEthernet0.0" // IX WAN veth in the "ix" namespace
	IXLANIf     = "GigaEthernet1.0" // IX LAN veth in the "ix" namespace
	IXWANAddr   = "203.0.113.94"
	IXWANPrefix = "203.0.113.94/24"
	IXLANAddr   = "192.168.2.1"
	IXLANPrefix = "192.168.2.1/24"
	LANNet      = "192.168.2.0/24"
	LANHostAddr = "192.168.2.10"

	InternetIXSideAddr    = "203.0.113.1"
	InternetAzureSideAddr = "198.51.100.1"

	AzureWANIf       = "wan"  // Azure gateway public veth in the "azure" namespace
	AzureVNetIf      = "vnet" // Azure gateway VNet-side veth
	AzureBGPIf       = "bgp0" // loopback-like device holding AzureBGPAddr
	AzurePublicAddr  = "198.51.100.6"
	AzureVNetGateway = "172.16.1.1"
	AzureBGPAddr     = "172.16.0.6"
	VNetNet          = "172.16.0.0/16"
	VNetHostAddr     = "172.16.1.4"

	// The second instance of an active-active Azure gateway
	// (ScenarioOptions.ActiveActive), in its own namespace "azure2": its
	// own public address and BGP peer address, and a VNet-side address on
	// the VNet host's segment.
	Azure2PublicAddr  = "198.51.100.7"
	Azure2BGPAddr     = "172.16.0.7"
	Azure2VNetGateway = "172.16.1.2"
	VNetIf            = "eth0" // the VNet host's link to the Azure gateway
	VNet2If           = "eth1" // the VNet host's link to the second instance

	// Seed parameters shared by the references and soft-ix.
	SeedPSK           = "P@ssw0rd1234"
	IXLoopbackAddr    = "10.2.2.2" // IX Loopback0.0, its BGP source
	IXASN             = 65050
	AzureASN          = 65010
	IXTunnelAddr      = "169.254.0.1" // IX Tunnel0.0 address (/30)
	SeedIKEProposal   = "aes256-sha1-modp1024"
	SeedChildProposal = "aes256-sha256" // no PFS
)

// Scenario is the seed topology: an IX with a LAN host, an internet
// router, and an Azure VPN gateway with a VNet host. See the constants for
// addresses and interface names.
type Scenario struct {
	Lab      *Lab
	IX       *Namespace // plays the NEC IX
	LAN      *Namespace // on-prem host 192.168.2.10
	Internet *Namespace // router between the two public networks
	Azure    *Namespace // Azure VPN gateway, also BGP speaker 172.16.0.6
	VNet     *Namespace // Azure VM 172.16.1.4
	// Azure2 is the second instance of an active-active gateway
	// (198.51.100.7, BGP 172.16.0.7); nil without ActiveActive.
	Azure2 *Namespace

	ipv6 bool // ScenarioOptions.IPv6Internet
}

// ScenarioOptions changes details of NewScenario.
type ScenarioOptions struct {
	// NoAzureBGPAddress leaves 172.16.0.6 off the Azure namespace, for an
	// Azure-side daemon that adds the address itself.
	NoAzureBGPAddress bool
	// ActiveActive adds Azure2, a second gateway instance with the same
	// interface names as Azure: wan 198.51.100.7 behind its own port of
	// the internet router, bgp0 172.16.0.7, vnet 172.16.1.2 on a second
	// link of the VNet host, which sends to both instances (ECMP), as a
	// VNet routes to an active-active gateway.
	ActiveActive bool
	// IPv6Internet makes the internet IPv6 only (see ipv6.go): the IX WAN
	// is IXWANAddr6, the gateway AzurePublicAddr6, and no IPv4 address or
	// route exists between them; the LAN and VNet stay IPv4.
	IPv6Internet bool
}

// NewScenario builds the seed topology in lab.
func NewScenario(lab *Lab, opts ScenarioOptions) (*Scenario, error) {
	s := &Scenario{Lab: lab}
	for _, n := range []struct {
		ns   **Namespace
		role string
	}{
		{&s.IX, "ix"}, {&s.LAN, "lan"}, {&s.Internet, "inet"}, {&s.Azure, "azure"}, {&s.VNet, "vnet"},
	} {
		ns, err := lab.Namespace(n.role)
		if err != nil {
			return nil, err
		}
		*n.ns = ns
	}

	ixWAN, inetIX, inetAzure, azureWAN := IXWANPrefix, InternetIXSideAddr+"/24", InternetAzureSideAddr+"/24", AzurePublicAddr+"/24"
	if opts.IPv6Internet {
		if err := s.enableIPv6(); err != nil {
			return nil, fmt.Errorf("netlab: scenario: %w", err)
		}
		ixWAN, inetIX, inetAzure, azureWAN = IXWANAddr6+"/64", InternetIXSideAddr6+"/64", InternetAzureSideAddr6+"/64", AzurePublicAddr6+"/64"
	}
	s.ipv6 = opts.IPv6Internet
	links := []struct {
		a          *Namespace
		aIf, aAddr string
		b          *Namespace
		bIf, bAddr string
	}{
		{s.IX, IXLANIf, IXLANPrefix, s.LAN, "eth0", LANHostAddr + "/24"},
		{s.Azure, AzureVNetIf, AzureVNetGateway + "/24", s.VNet, "eth0", VNetHostAddr + "/24"},
	}
	for _, k := range links {
		if err := lab.Link(k.a, k.aIf, k.aAddr, k.b, k.bIf, k.bAddr); err != nil {
			return nil, fmt.Errorf("netlab: scenario: %w", err)
		}
	}
	for _, r := range []struct {
		ns  *Namespace
		via string
	}{{s.LAN, IXLANAddr}, {s.VNet, AzureVNetGateway}} {
		if err := r.ns.IP("route", "add", "default", "via", r.via); err != nil {
			return nil, fmt.Errorf("netlab: scenario: %w", err)
		}
	}
	if err := s.linkInternet(ixWAN, inetIX, inetAzure, azureWAN); err != nil {
		return nil, fmt.Errorf("netlab: scenario: %w", err)
	}
	if !opts.NoAzureBGPAddress {
		if err := s.Azure.AddLoopback(AzureBGPIf, AzureBGPAddr+"/32"); err != nil {
			return nil, fmt.Errorf("netlab: scenario: %w", err)
		}
	}
	if opts.ActiveActive {
		if err := s.addAzure2(opts); err != nil {
			return nil, fmt.Errorf("netlab: scenario: active-active: %w", err)
		}
	}
	return s, nil
}

// linkInternet links the IX's WAN and the gateway's public side to the
// internet router, with the given addresses in CIDR form, and routes
// the IX and the gateway by default through it.
func (s *Scenario) linkInternet(ixWAN, inetIX, inetAzure, azureWAN string) error {
	if err := s.Lab.Link(s.IX, IXWANIf, ixWAN, s.Internet, "ix", inetIX); err != nil {
		return err
	}
	if err := s.Lab.Link(s.Internet, "azure", inetAzure, s.Azure, AzureWANIf, azureWAN); err != nil {
		return err
	}
	ixVia, azureVia := InternetIXSideAddr, InternetAzureSideAddr
	if s.ipv6 {
		ixVia, azureVia = InternetIXSideAddr6, InternetAzureSideAddr6
	}
	if err := s.IX.IP("route", "add", "default", "via", ixVia); err != nil {
		return err
	}
	return s.Azure.IP("route", "add", "default", "via", azureVia)
}

// RebuildInternet replaces the internet router by a fresh namespace of
// the same name, linked as NewScenario links it: the only sure way to
// drop its connection tracking state (a NAT's mappings, which would go on
// translating the next tunnel's packets) without the conntrack tool.
// Whatever ran in it (an impairment) is gone. It is for the plain IPv4
// scenario: not with ActiveActive or IPv6Internet.
func (s *Scenario) RebuildInternet() error {
	if s.Azure2 != nil || s.ipv6 {
		return fmt.Errorf("netlab: RebuildInternet: only for the plain IPv4 scenario")
	}
	if err := s.Internet.recreate(); err != nil {
		return fmt.Errorf("netlab: rebuild internet: %w", err)
	}
	if err := s.linkInternet(IXWANPrefix, InternetIXSideAddr+"/24", InternetAzureSideAddr+"/24", AzurePublicAddr+"/24"); err != nil {
		return fmt.Errorf("netlab: rebuild internet: %w", err)
	}
	return nil
}

// addAzure2 builds the second gateway instance. Its links reuse the
// addresses of the segments they join without a second subnet: the
// internet router reaches 198.51.100.7 by a host route out of its own
// port, the VNet host's second link has no address of its own (Linux
// answers ARP for 172.16.1.4 on any link), and each side routes to the
// other on-link.
func (s *Scenario) addAzure2(opts ScenarioOptions) error {
	ns, err := s.Lab.Namespace("azure2")
	if err != nil {
		return err
	}
	s.Azure2 = ns
	if err := s.Lab.Link(s.Internet, "azure2", "", ns, AzureWANIf, Azure2PublicAddr+"/24"); err != nil {
		return err
	}
	if err := s.Lab.Link(ns, AzureVNetIf, Azure2VNetGateway+"/24", s.VNet, VNet2If, ""); err != nil {
		return err
	}
	for _, c := range []struct {
		ns   *Namespace
		args []string
	}{
		{s.Internet, []string{"route", "add", Azure2PublicAddr + "/32", "dev", "azure2"}},
		{ns, []string{"route", "add", "default", "via", InternetAzureSideAddr, "dev", AzureWANIf, "onlink"}},
	} {
		if err := c.ns.IP(c.args...); err != nil {
			return err
		}
	}
	// Return traffic enters by either link of the VNet host.
	for _, c := range []struct {
		ns  *Namespace
		ifs []string
	}{{s.VNet, []string{"all", "default", VNetIf, VNet2If}}, {s.Internet, []string{"all", "default", "azure", "azure2"}}} {
		var keys []string
		for _, i := range c.ifs {
			keys = append(keys, "net/ipv4/conf/"+i+"/rp_filter")
		}
		if err := c.ns.Sysctl("0", keys...); err != nil {
			return err
		}
	}
	// The IX balances flows, not hosts, over its two tunnels.
	if err := s.IX.Sysctl("1", "net/ipv4/fib_multipath_hash_policy"); err != nil {
		return err
	}
	if !opts.NoAzureBGPAddress {
		if err := ns.AddLoopback(AzureBGPIf, Azure2BGPAddr+"/32"); err != nil {
			return err
		}
	}
	return s.SetVNetGateways(true, true)
}

// SetVNetGateways sets which instances of an active-active gateway the
// VNet host sends to (both: ECMP), as Azure's platform steers a VNet's
// traffic away from an instance under maintenance. At least one must be
// given.
func (s *Scenario) SetVNetGateways(first, second bool) error {
	var hops []string
	if first {
		hops = append(hops, "nexthop", "via", AzureVNetGateway, "dev", VNetIf)
	}
	if second && s.Azure2 != nil {
		hops = append(hops, "nexthop", "via", Azure2VNetGateway, "dev", VNet2If, "onlink")
	}
	if len(hops) == 0 {
		return fmt.Errorf("netlab: the VNet needs a gateway instance")
	}
	return s.VNet.IP(append([]string{"route", "replace", "default"}, hops...)...)
}

// PinNeighbors makes the neighbor (ARP) entries of the scenario's links
// permanent, both ways. The kernel's neighbor table is shared by all
// namespaces (gc_thresh3, 1024 entries by default): another test on the
// machine that fills it, say with a flood from thousands of spoofed
// addresses, makes every lab's hosts unreachable whenever an entry has to
// be resolved again ("neighbor table overflow"), which is not what a lab
// measuring soft-ix wants to see. Permanent entries are never collected
// and do not count against that limit. Long runs (the reliability suite's
// soak) pin theirs.
func (s *Scenario) PinNeighbors() error {
	for _, k := range []struct {
		a        *Namespace
		aIf, aIP string
		b        *Namespace
		bIf, bIP string
	}{
		{s.IX, IXWANIf, IXWANAddr, s.Internet, "ix", InternetIXSideAddr},
		{s.IX, IXLANIf, IXLANAddr, s.LAN, "eth0", LANHostAddr},
		{s.Internet, "azure", InternetAzureSideAddr, s.Azure, AzureWANIf, AzurePublicAddr},
		{s.Azure, AzureVNetIf, AzureVNetGateway, s.VNet, "eth0", VNetHostAddr},
	} {
		for _, d := range []struct {
			from       *Namespace
			fromIf     string
			to         *Namespace
			toIf, toIP string
		}{{k.a, k.aIf, k.b, k.bIf, k.bIP}, {k.b, k.bIf, k.a, k.aIf, k.aIP}} {
			mac, err := d.to.linkAddr(d.toIf)
			if err != nil {
				return fmt.Errorf("netlab: pin neighbors: %w", err)
			}
			if err := d.from.IP("neigh", "replace", d.toIP, "lladdr", mac, "dev", d.fromIf, "nud", "permanent"); err != nil {
				return fmt.Errorf("netlab: pin neighbors: %w", err)
			}
		}
	}
	return nil
}

// linkAddr returns the hardware address of a link in ns.
func (ns *Namespace) linkAddr(ifname string) (string, error) {
	out, err := Command(context.Background(), nil, "ip", "-n", ns.Name, "-o", "link", "show", "dev", ifname)
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "link/ether" {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("%s in %s has no ethernet address: %s", ifname, ns.Name, strings.TrimSpace(out))
}
