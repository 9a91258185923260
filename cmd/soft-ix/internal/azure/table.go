// Package azure holds what soft-ix knows about Azure VPN Gateway: one table
// of Azure's documented behaviour (every row with the Microsoft Learn page
// it comes from), and the three tools that read it: Generate writes the IX
// configuration for an Azure connection, Import builds the same from the
// JSON the az CLI prints, and Lint checks an IX configuration against the
// table or a connection's custom IPsec/IKE policy.
//
// Every Azure fact the tools use is a typed value below, next to the row
// that documents it; a finding names its row, so an operator can follow
// any advice back to Microsoft's page.
package azure

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

// Row is one documented Azure VPN Gateway behaviour.
type Row struct {
	ID     string // short key findings refer to, e.g. "ike-lifetime"
	What   string // the behaviour
	Value  string // Azure's value, as soft-ix uses it
	Source string // the Microsoft Learn page that documents it
}

// Microsoft Learn pages the rows cite.
const (
	srcCrypto   = "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-about-compliance-crypto"
	srcDevices  = "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-about-vpn-devices"
	srcPolicy   = "https://learn.microsoft.com/en-us/azure/vpn-gateway/ipsec-ike-policy-howto"
	srcBGP      = "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-bgp-overview"
	srcBGPHowto = "https://learn.microsoft.com/en-us/azure/vpn-gateway/bgp-howto"
	srcFAQ      = "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-vpn-faq"
	srcHA       = "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-highlyavailable"
	srcDPD      = "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-howto-site-to-site-resource-manager-portal"
)

// IKESuite is one IKE SA proposal Azure offers or accepts, in IX keywords.
// Integ is empty for AES-GCM; the PRF follows the integrity algorithm.
type IKESuite struct {
	Enc   config.EncAlg
	Integ config.IntegAlg
	DH    config.DHGroup
}

// ChildSuite is one Child SA (ESP) proposal, in IX keywords; Integ is
// empty for AES-GCM, PFS empty for none.
type ChildSuite struct {
	Enc   config.EncAlg
	Integ config.IntegAlg
	PFS   config.DHGroup
}

// The facts. Each is documented by the Table row named in its comment.
var (
	// DefaultIKE is Azure's default IKE SA (main mode) proposal list of a
	// route-based gateway, in Azure's order of offer; as responder it
	// accepts the same combinations (row "default-ike").
	DefaultIKE = []IKESuite{
		{config.EncAESCBC256, config.IntegSHA1, config.DH1024},
		{config.EncAESCBC256, config.IntegSHA256, config.DH1024},
		{config.EncAESCBC128, config.IntegSHA1, config.DH1024},
		{config.EncAESCBC128, config.IntegSHA256, config.DH1024},
		{config.Enc3DESCBC, config.IntegSHA1, config.DH1024},
		{config.Enc3DESCBC, config.IntegSHA256, config.DH1024},
	}
	// DefaultChild is Azure's default Child SA (quick mode) offer list as
	// initiator, in order, all without PFS (row "default-child").
	DefaultChild = []ChildSuite{
		{Enc: config.EncAESGCM256},
		{Enc: config.EncAESCBC256, Integ: config.IntegSHA1},
		{Enc: config.Enc3DESCBC, Integ: config.IntegSHA1},
		{Enc: config.EncAESCBC256, Integ: config.IntegSHA256},
		{Enc: config.EncAESCBC128, Integ: config.IntegSHA1},
		{Enc: config.Enc3DESCBC, Integ: config.IntegSHA256},
	}

	IKELifetime     = 28800 * time.Second // row "ike-lifetime"
	ChildLifetime   = 27000 * time.Second // row "child-lifetime"
	ChildLifetimeKB = uint64(102400000)   // row "child-lifetime"
	DPDTimeout      = 45 * time.Second    // row "dpd"
	MaxMSS          = 1350                // row "mss"

	// ReservedASNs may not be used by the on-premises side (row
	// "reserved-asn"): Azure's public ASNs, the private ASNs Azure keeps
	// for itself, and the ones IANA reserves (AS_TRANS and the
	// documentation and last ranges are checked by ReservedASN).
	ReservedASNs = []uint32{8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520, 23456}

	// APIPAFirst..APIPALast is the range Azure accepts for custom APIPA
	// BGP addresses, on its side and on-premises (row "apipa").
	APIPAFirst = netip.MustParseAddr("169.254.21.0")
	APIPALast  = netip.MustParseAddr("169.254.22.255")

	MaxPrefixes = 4000 // row "prefix-limit": prefixes Azure accepts from one BGP peer

	BGPKeepalive = 60 * time.Second  // row "bgp-timers"
	BGPHold      = 180 * time.Second // row "bgp-timers"

	DefaultAzureASN = uint32(65515) // row "azure-asn"
)

// What Azure says an instance's maintenance and failure cost an
// active-standby gateway (rows "planned-maintenance" and
// "unplanned-failover"); the lab's events are judged against them.
var (
	PlannedRestore    = 15 * time.Second // upper end of "within 10 to 15 seconds"
	UnplannedRecovery = 3 * time.Minute  // "about 1 to 3 minutes in the worst case"
)

// Table is Azure's documented behaviour as soft-ix uses it.
var Table = []Row{
	{"default-ike", "IKE SA proposals of a route-based gateway with no custom policy, offered and accepted",
		"AES256/SHA1, AES256/SHA256, AES128/SHA1, AES128/SHA256, 3DES/SHA1, 3DES/SHA256, each with DH group 2 (1024-bit)", srcDevices},
	{"default-child", "Child SA (ESP) proposals Azure offers as initiator with no custom policy",
		"GCM-AES256, AES256/SHA1, 3DES/SHA1, AES256/SHA256, AES128/SHA1, 3DES/SHA256; no PFS", srcDevices},
	{"default-pfs", "PFS in Azure's default offers (as initiator, new Child SAs and rekeys)", "none", srcDevices},
	{"custom-policy", "a custom IPsec/IKE policy on a connection",
		"exactly one combination; Azure offers and accepts only it; all of IKE and IPsec must be given", srcPolicy},
	{"policy-algorithms", "algorithms a custom policy may name",
		"IKE enc GCMAES256/128, AES256/192/128, DES3, DES; IKE integ SHA384/256/1, MD5, GCMAES; DH 24, ECP384, ECP256, 14/2048, 2, 1; IPsec enc GCMAES256/192/128, AES256/192/128, DES3, DES, None; PFS 24, ECP384, ECP256, 2048/14, 2, 1, PFSMM, None", srcCrypto},
	{"ike-lifetime", "IKE SA lifetime (fixed, also with a custom policy)", IKELifetime.String(), srcDevices},
	{"child-lifetime", "Child SA lifetime (default; a custom policy sets saLifeTimeSeconds/saDataSizeKilobytes)",
		fmt.Sprintf("%s / %d KB", ChildLifetime, ChildLifetimeKB), srcDevices},
	{"dpd", "dead peer detection timeout of a connection (dpdTimeoutSeconds, 9-3600 s)", DPDTimeout.String(), srcDPD},
	{"initiator", "who starts negotiations", "Azure both initiates and responds on a route-based connection", srcDevices},
	{"ikev2", "IKE version of a connection (connectionProtocol)", "IKEv2 by default; IKEv1 optional", srcCrypto},
	{"traffic-selectors", "traffic selectors of a route-based connection",
		"any-to-any (0.0.0.0/0) unless usePolicyBasedTrafficSelectors", srcPolicy},
	{"mss", "TCP MSS clamping Azure recommends on the on-premises device", fmt.Sprintf("%d bytes (or tunnel MTU 1400)", MaxMSS), srcDevices},
	{"pre-fragment", "IPsec packets are fragmented before encryption by the on-premises device (pre-fragmentation) so ESP never needs reassembly",
		"recommended with MSS clamping", srcDevices},
	{"reserved-asn", "ASNs the on-premises side may not use",
		"Azure: 8074, 8075, 12076 (public), 65515, 65517-65520 (private); IANA: 23456, 64496-64511, 65535-65551, 4294967295", srcBGP},
	{"azure-asn", "ASN of an Azure VPN gateway unless set", "65515", srcBGP},
	{"ebgp", "BGP sessions with Azure", "eBGP only: the on-premises ASN must differ from Azure's", srcBGP},
	{"bgp-peer", "Azure's BGP peer address", "one address per gateway instance from the GatewaySubnet (bgpPeeringAddress), or a custom APIPA address", srcBGP},
	{"apipa", "range of custom APIPA BGP addresses, both sides", "169.254.21.0 - 169.254.22.255", srcBGPHowto},
	{"bgp-host-route", "what the on-premises device must route into the tunnel for BGP",
		"at least a host route (/32) to Azure's BGP peer address", srcBGP},
	{"bgp-multihop", "Azure's BGP session to a non-APIPA on-premises address", "eBGP multihop (the peers are not on one link)", srcBGP},
	{"prefix-limit", "prefixes Azure accepts from one BGP peer", fmt.Sprint(MaxPrefixes), srcFAQ},
	{"bgp-timers", "BGP keepalive / hold time of Azure", "60 s / 180 s", srcFAQ},
	{"active-active", "active-active gateway",
		"two instances, two public IPs, two BGP peer addresses; the on-premises device connects a tunnel to each", srcHA},
	{"maintenance", "planned maintenance and unplanned failover",
		"one instance at a time; active-standby: the standby takes over in 10-15 s (planned) or 1-3 min (unplanned); active-active: the other instance carries the traffic", srcHA},
	{"planned-maintenance", "active-standby gateway, planned maintenance of the active instance",
		"\"For planned maintenance, the connectivity should be restored within 10 to 15 seconds.\"", srcHA},
	{"unplanned-failover", "active-standby gateway, unplanned disruption of the active instance",
		"\"For unplanned issues, the connection recovery is longer, about 1 to 3 minutes in the worst case.\"", srcHA},
}

// Lookup returns the table row with the given ID.
func Lookup(id string) (Row, bool) {
	for _, r := range Table {
		if r.ID == id {
			return r, true
		}
	}
	return Row{}, false
}

// ReservedASN reports whether Azure refuses asn for the on-premises side
// (row "reserved-asn").
func ReservedASN(asn uint32) bool {
	for _, r := range ReservedASNs {
		if asn == r {
			return true
		}
	}
	return asn >= 64496 && asn <= 64511 || asn >= 65535 && asn <= 65551 || asn == 4294967295
}

// InAPIPARange reports whether a is an address Azure accepts as a custom
// APIPA BGP address (row "apipa").
func InAPIPARange(a netip.Addr) bool {
	a = a.Unmap()
	return a.Compare(APIPAFirst) >= 0 && a.Compare(APIPALast) <= 0
}

// IsLinkLocal reports whether a is in 169.254.0.0/16, where only the APIPA
// range is usable with Azure.
func IsLinkLocal(a netip.Addr) bool {
	return netip.MustParsePrefix("169.254.0.0/16").Contains(a.Unmap())
}
