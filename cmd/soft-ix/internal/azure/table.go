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
	"slices"
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
	// srcIKEE is Microsoft's Internet Key Exchange Protocol Extensions,
	// [MS-IKEE]: what Windows' IKE (IKEEXT) adds to the RFCs, which
	// Azure's gateway runs (row "ms-ikev2").
	srcIKEE = "https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-ikee/"
)

// notRechecked marks a row whose value was not checked against the page's
// current text in the review that quoted the others (only older revisions
// of the page could be read then).
const notRechecked = " [value not re-checked against the current page]"

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

	// AnswerPFS are the PFS groups Azure's responder list accepts with
	// its default Child SA ciphers, of those soft-ix implements (row
	// "answer-child"; group 1 is on the list too).
	AnswerPFS = []config.DHGroup{config.DH1024, config.DH2048, config.DH2048S256}
	// answerEnc and answerInteg are the Child SA ciphers of Azure's
	// responder list (row "answer-child"; DES too).
	answerEnc   = []config.EncAlg{config.EncAESGCM256, config.EncAESCBC256, config.EncAESCBC128, config.Enc3DESCBC}
	answerInteg = []config.IntegAlg{config.IntegSHA1, config.IntegSHA256}

	IKELifetime     = 28800 * time.Second // row "ike-lifetime"
	ChildLifetime   = 27000 * time.Second // row "child-lifetime"
	ChildLifetimeKB = uint64(102400000)   // row "child-lifetime"
	DPDTimeout      = 45 * time.Second    // row "dpd"
	MinDPDTimeout   = 9 * time.Second     // row "dpd"
	MaxDPDTimeout   = 3600 * time.Second  // row "dpd"
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

	// FragmentMTU is the IP packet size above which Azure cuts its
	// encrypted IKE messages into RFC 7383 fragments (row
	// "ike-fragmentation").
	FragmentMTU = 576

	// VendorIDs are the Vendor ID payloads of Azure's IKE_SA_INIT
	// messages (row "ms-ikev2"): MD5("MS NT5 ISAKMPOAKLEY") with version
	// 9 (Windows 8 and Server 2012 or later), and MD5("MS-Negotiation
	// Discovery Capable").
	VendorIDs = [][]byte{
		{0x1e, 0x2b, 0x51, 0x69, 0x05, 0x99, 0x1c, 0x7d, 0x7c, 0x96, 0xfc, 0xbf, 0xb5, 0x87, 0xe4, 0x61, 0x00, 0x00, 0x00, 0x09},
		{0xfb, 0x1d, 0xe3, 0xcd, 0xf3, 0x41, 0xb7, 0xea, 0x16, 0xb7, 0xe5, 0xbe, 0x08, 0x55, 0xf1, 0x20},
	}

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

// Table is Azure's documented behaviour as soft-ix uses it. A Source is the
// page, then (where the review found it) the section and Microsoft's words;
// a value Microsoft's text does not confirm says so in the row.
var Table = []Row{
	{"default-ike", "IKE SA proposals of a route-based gateway with no custom policy, offered and accepted",
		"AES256/SHA1, AES256/SHA256, AES128/SHA1, AES128/SHA256, 3DES/SHA1, 3DES/SHA256, each with DH group 2 (1024-bit)", srcDevices + "#ipsec" + notRechecked},
	{"default-child", "Child SA (ESP) proposals Azure offers as initiator with no custom policy",
		"GCM-AES256, AES256/SHA1, 3DES/SHA1, AES256/SHA256, AES128/SHA1, 3DES/SHA256; no PFS", srcDevices + "#ipsec" + notRechecked},
	{"default-pfs", "PFS in Azure's default offers (as initiator, new Child SAs and rekeys)", "none", srcDevices + "#ipsec" + notRechecked},
	{"answer-child", "Child SA proposals Azure accepts as responder with no custom policy",
		"the offers above, DES/SHA1 and AES128/SHA256, each without PFS; AES256 and AES128 with SHA1 or SHA256 and 3DES with SHA1 or SHA256 with PFS groups 1, 2 or 14 on most, 24 with AES256; extended sequence numbers off in every Azure proposal",
		srcDevices + `#ipsec (table "Azure Gateway as responder", 26 rows)` + notRechecked},
	{"custom-policy", "a custom IPsec/IKE policy on a connection",
		"exactly one combination; Azure offers and accepts only it; all of IKE and IPsec must be given",
		srcPolicy + ` §"About policy parameters": "You can only specify one policy combination for a given connection." "You must specify all algorithms and parameters for both IKE (Main Mode) and IPsec (Quick Mode)."; §Step 3: "the Azure VPN gateway will only send or accept the IPsec/IKE proposal with specified cryptographic algorithms and key strengths on that particular connection"`},
	{"policy-algorithms", "algorithms a custom policy may name",
		"IKE enc GCMAES256/128, AES256/192/128, DES3, DES; IKE integ SHA384/256/1, MD5, GCMAES; DH 24, ECP384, ECP256, 14/2048, 2, 1; IPsec enc GCMAES256/192/128, AES256/192/128, DES3, DES, None; PFS 24, ECP384, ECP256, 2048/14, 2, 1, PFSMM, None", srcCrypto + notRechecked},
	{"ike-lifetime", "IKE SA lifetime (fixed, also with a custom policy)", IKELifetime.String(), srcDevices + "#ipsec" + notRechecked},
	{"child-lifetime", "Child SA lifetime (default; a custom policy sets saLifeTimeSeconds/saDataSizeKilobytes)",
		fmt.Sprintf("%s / %d KB", ChildLifetime, ChildLifetimeKB), srcDevices + "#ipsec" + notRechecked},
	{"dpd", "dead peer detection timeout of a connection (dpdTimeoutSeconds)",
		fmt.Sprintf("%.0f s by default; %.0f to %.0f s per connection", DPDTimeout.Seconds(), MinDPDTimeout.Seconds(), MaxDPDTimeout.Seconds()),
		srcFAQ + `#ipsecike §"What is the default DPD timeout value? Can I specify a different DPD timeout?": "The default DPD timeout is 45 seconds on VPN gateways. You can specify a different DPD timeout value on each IPsec or VNet-to-VNet connection, from 9 seconds to 3,600 seconds."; ` +
			srcPolicy + ` §"Step 3 - Configure a custom IPsec/IKE policy on the S2S VPN connection": "Policy-based traffic selector and DPD timeout options can be specified with Default policy"`},
	{"initiator", "who starts negotiations", "Azure both initiates and responds on a route-based connection",
		srcFAQ + ` §"Can I specify my own policy-based traffic selectors?": "This behavior is consistent among all connection modes (Default, InitiatorOnly, and ResponderOnly)" (Default: both; the rest of the row not re-checked)`},
	{"ms-ikev2", "the IKEv2 implementation of Azure's gateway",
		"Windows' IKEEXT: its IKE_SA_INIT messages carry the vendor IDs \"MS NT5 ISAKMPOAKLEY\" version 9 and \"MS-Negotiation Discovery Capable\"",
		srcIKEE + ` appendix A note 6 (the vendor IDs and their values); seen from Azure gateways in charon's logs, https://github.com/MicrosoftDocs/azure-docs/issues/32421: "parsed IKE_SA_INIT response 0 [ SA KE No N(FRAG_SUP) N(NATD_S_IP) N(NATD_D_IP) V V CERTREQ ]", "received MS NT5 ISAKMPOAKLEY v9 vendor ID", "received MS-Negotiation Discovery Capable vendor ID"`},
	{"initial-contact", "how a gateway instance that holds no SA with the on-premises device (new, restarted, failed over) says so",
		"a Vid-Initial-Contact vendor ID in its IKE_SA_INIT request, not an INITIAL_CONTACT notify in IKE_AUTH",
		srcIKEE + ` §1.3.4 "Fast Failover": "The client uses a "Vid-Initial-Contact" vendor ID payload ... to signal to the cluster that it does not have any main mode security association (MM SA) or quick mode security association (QM SA) established"; appendix A note 6: sent by every Windows version. Windows' IKEv2 initiators send it in IKE_SA_INIT and no N(INITIAL_CONTACT) in IKE_AUTH (charon's logs of Windows clients) [Azure's own requests not seen]`},
	{"ike-fragmentation", "IKE fragmentation (RFC 7383) of Azure's messages",
		fmt.Sprintf("every encrypted message above %d bytes (read here as its IPv4 packet), once both ends sent IKEV2_FRAGMENTATION_SUPPORTED", FragmentMTU),
		srcIKEE + ` §3.15.1: "the chosen MTU SHOULD be the minimum MTU for the IP protocol, which is 576 bytes for IPv4 and 1280 bytes for IPv6"; §3.15.5.3: "any message that is larger than 576 bytes and contains an Encrypted payload can be fragmented"; Azure's IKE_SA_INIT answer carries N(FRAG_SUP) (row "ms-ikev2")`},
	{"ikev2", "IKE version of a connection (connectionProtocol)", "IKEv2 by default; IKEv1 optional",
		srcCrypto + ` §"About IKEv1 and IKEv2 for Azure VPN connections": "we're now allowing IKEv1 connections for all of the VPN gateway SKUs, except Basic SKU" (IKEv2 as the default: not re-checked)`},
	{"traffic-selectors", "traffic selectors of a route-based connection",
		"any-to-any (0.0.0.0/0) unless usePolicyBasedTrafficSelectors", srcPolicy + notRechecked},
	{"connection-mode", "which side may start a connection (connectionMode)",
		"Default: either; InitiatorOnly: the Azure gateway starts it and refuses connection attempts from the on-premises device; ResponderOnly: it never starts it, only answers",
		"https://learn.microsoft.com/en-us/rest/api/network-gateway/virtual-network-gateway-connections/create-or-update" + ` (VirtualNetworkGatewayConnectionMode)` + notRechecked},
	{"nat", "VPN NAT rules of a connection (egressNatRules, ingressNatRules)",
		"EgressSnat rewrites the VNet's addresses as the on-premises side sees them, IngressSnat the on-premises addresses as Azure sees them; static rules map one to one (prefixes of one size), dynamic ones many to one; the local network gateway keeps the original (pre-NAT) address space, but a non-APIPA on-premises BGP address is given post-NAT; on an active-active gateway each rule applies to one instance (ipConfigurationId)",
		"https://learn.microsoft.com/en-us/azure/vpn-gateway/nat-overview" + ` §"NAT and routing"; nat-howto (connections fail with overlapping local network gateway spaces until NAT rules are linked); FAQ "Each NAT rule is applied to a single instance of the VPN gateway"` + notRechecked},
	{"private-ip", "a connection over the gateway's private address (useLocalAzureIpAddress)",
		"IKE runs from the gateway's private IP configuration address (enablePrivateIpAddress), over ExpressRoute private peering",
		"https://learn.microsoft.com/en-us/azure/vpn-gateway/site-to-site-vpn-private-peering" + notRechecked},
	{"ipv4-outer", "address family of the tunnel's outer (public) addresses",
		"IPv4 only: Azure's VPN gateway has no IPv6 outer tunnel address (IPv6 runs inside the tunnel)",
		"https://learn.microsoft.com/en-us/azure/vpn-gateway/ipv6-configuration" + ` ("support for IPv6 in the outer VPN tunnel isn't available")` + notRechecked},
	{"mss", "TCP MSS clamping Azure recommends on the on-premises device", fmt.Sprintf("%d bytes (or tunnel MTU 1400)", MaxMSS), srcDevices + notRechecked},
	{"pre-fragment", "IPsec packets are fragmented before encryption by the on-premises device (pre-fragmentation) so ESP never needs reassembly",
		"recommended with MSS clamping", srcDevices + notRechecked},
	{"reserved-asn", "ASNs the on-premises side may not use",
		"Azure: 8074, 8075, 12076 (public), 65515, 65517-65520 (private); IANA: 23456, 64496-64511, 65535-65551, 4294967295",
		srcFAQ + `#bgp §"Are there ASNs reserved by Azure?": "Public ASNs: 8074, 8075, 12076" "Private ASNs: 65515, 65517, 65518, 65519, 65520" "You cannot specify these ASNs for your on premises VPN devices"; §"Are there any other ASNs that I can't use?": "23456, 64496-64511, 65535-65551 and 429496729" (sic: read as 4294967295, IANA's reserved last ASN)`},
	{"azure-asn", "ASN of an Azure VPN gateway unless set", "65515",
		srcFAQ + `#bgp §"Can I use the same ASN for both on-premises VPN networks and Azure VNets?": "Azure VPN Gateways have a default ASN of 65515 assigned"`},
	{"ebgp", "BGP sessions with Azure", "eBGP only: the on-premises ASN must differ from Azure's",
		srcFAQ + `#bgp §"Can I use the same ASN for both on-premises VPN networks and Azure VNets?": "No, you must assign different ASNs between your on-premises networks and your Azure VNets if you are connecting them together with BGP."`},
	{"bgp-peer", "Azure's BGP peer address", "one address per gateway instance from the GatewaySubnet (bgpPeeringAddress), or a custom APIPA address",
		srcFAQ + `#bgp §"What address does Azure VPN gateway use for BGP Peer IP?": "a single IP address from the GatewaySubnet range for active-standby VPN gateways, or two IP addresses for active-active VPN gateways"; ` + srcBGPHowto + ` (the custom APIPA address)`},
	{"apipa", "range of custom APIPA BGP addresses, both sides", "169.254.21.0 - 169.254.22.255",
		srcBGPHowto + ` §"2. Create the VPN gateway for TestVNet1 with BGP parameters": "the Azure-reserved APIPA address range for VPN, which is from 169.254.21.0 to 169.254.22.255"`},
	{"bgp-host-route", "what the on-premises device must route into the tunnel for BGP",
		"at least a host route (/32) to Azure's BGP peer address",
		srcFAQ + `#bgp §"What should I add to my on-premises VPN device for the BGP peering session?": "You should add a host route of the Azure BGP Peer IP address on your VPN device pointing to the IPsec S2S VPN tunnel."`},
	{"bgp-multihop", "Azure's BGP session to a non-APIPA on-premises address", "eBGP multihop (the peers are not on one link)", srcBGP + notRechecked},
	{"prefix-limit", "prefixes Azure accepts from one BGP peer; beyond them it drops the session", fmt.Sprint(MaxPrefixes),
		srcFAQ + `#bgp §"How many prefixes can I advertise to Azure VPN gateway?": "We support up to 4000 prefixes. The BGP session is dropped if the number of prefixes exceeds the limit."`},
	{"bgp-timers", "BGP keepalive / hold time of Azure (fixed, not negotiated down)",
		"60 s / 180 s [second-hand: the Learn sentence was not seen here, only a Microsoft TechCommunity post quoting it]",
		srcFAQ + `#bgp: "The BGP keepalive timer is 60 seconds, and the hold timer is 180 seconds" (as quoted from Learn in techcommunity.microsoft.com, "My First TechCommunity Post: Azure VPN Gateway BGP Timer Mismatches")`},
	{"active-active", "active-active gateway",
		"two instances, two public IPs, two BGP peer addresses; the on-premises device connects a tunnel to each",
		srcHA + ` §"Active-active VPN gateways": "In active-active mode, both instances of the gateway VMs establish S2S VPN tunnels to your on-premises VPN device"`},
	{"maintenance", "planned maintenance and unplanned failover",
		"one instance at a time; active-standby: the standby takes over in 10-15 s (planned) or 1-3 min (unplanned); active-active: the other instance carries the traffic",
		srcHA + `#activestandby §"About VPN gateway redundancy": "For planned maintenance, the connectivity should be restored within 10 to 15 seconds. For unplanned issues, the connection recovery is longer, about 1 to 3 minutes in the worst case."`},
	{"planned-maintenance", "active-standby gateway, planned maintenance of the active instance",
		"\"For planned maintenance, the connectivity should be restored within 10 to 15 seconds.\"", srcHA + "#activestandby"},
	{"unplanned-failover", "active-standby gateway, unplanned disruption of the active instance",
		"\"For unplanned issues, the connection recovery is longer, about 1 to 3 minutes in the worst case.\"", srcHA + "#activestandby"},
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

// Answers reports whether Azure, with no custom policy, accepts the Child
// SA proposal s as responder (row "answer-child"). The list is read as
// the cross product of its ciphers and PFS groups, a little wider than
// Azure's 26 rows.
func Answers(s ChildSuite) bool {
	return slices.Contains(answerEnc, s.Enc) && (s.Enc.AEAD() || slices.Contains(answerInteg, s.Integ)) &&
		(s.PFS == "" || slices.Contains(AnswerPFS, s.PFS))
}
