package config

import (
	"net/netip"
	"time"
)

// Pos is where a command stands in its source file.
type Pos struct {
	File string
	Line int // 1-based
	Col  int // 1-based, in bytes
}

// Config is one IX configuration, as loaded from a file.
// Slices keep the order of the source so the printer is stable.
type Config struct {
	Hostname string

	// PSKs are the global "ikev2 authentication psk id ..." lines.
	PSKs []*PSK

	// DefaultProfile is "ikev2 default-profile"; nil when the file has none
	// (IX defaults then apply, see DefaultProfile()).
	DefaultProfile *Profile
	// Profiles are the named "ikev2 profile NAME" blocks.
	Profiles []*Profile

	Interfaces []*Interface
	Routes     []*Route
	BGP        *BGP // nil without "router bgp"

	// RouteMaps are the "route-map NAME permit|deny SEQ" entries, grouped
	// by name in the order names first appear, by sequence number within a
	// name; PrefixLists the "ip prefix-list" lines (see routemap.go).
	RouteMaps   []*RouteMap
	PrefixLists []*PrefixList

	// AccessLists are the "ip access-list NAME permit|deny ..." lines soft-ix
	// understands, grouped by name in the order the names first appear.
	// Lines of a form it does not (dynamic lists, named ports, ...) stay in
	// Extra; see AccessListLines.
	AccessLists []*AccessList
	// DynamicLists are the "ip access-list dynamic NAME access LIST"
	// lines, in source order.
	DynamicLists []*DynamicList

	// DHCPServer is "ip dhcp enable": the DHCP server runs on the
	// interfaces with "ip dhcp binding PROFILE". DHCPProfiles are the "ip
	// dhcp profile NAME" blocks, in source order (see dhcp.go).
	DHCPServer    bool
	DHCPServerPos Pos
	DHCPProfiles  []*DHCPProfile

	// Extra are the top-level commands soft-ix keeps but does not act on
	// (with the lines of their blocks), so that Print reproduces the whole
	// file. See Verbatim.
	Extra []*Verbatim
}

// Verbatim is a line soft-ix keeps without acting on it: a valid IX command
// it does not emulate, or one that names an interface family it does not
// model. Print writes it back as it was written, in its block, so that
// "show running-config" stays a faithful record of the configuration.
type Verbatim struct {
	Text string   // the command, blanks around it trimmed
	Sub  []string // the lines of its block, trimmed; one nested deeper than the first keeps the extra indentation

	// After names the emulated command (or, at the top level, the section)
	// it followed in the source; Print writes it right after that one. See
	// the anchor helpers in print.go.
	After string
	Pos   Pos
}

// IDType is the type of an IKEv2 identity as IX spells it.
type IDType string

// Identity types accepted by "ikev2 authentication psk id" and "ikev2 peer ... id".
const (
	IDIPv4  IDType = "ipv4"
	IDIPv6  IDType = "ipv6"
	IDFQDN  IDType = "fqdn"
	IDKeyID IDType = "keyid"
)

// Identity is an IKEv2 identity (IDi/IDr).
type Identity struct {
	Type  IDType
	Value string // address text, FQDN or key ID
}

// PSK is "ikev2 authentication psk id TYPE VALUE key char|hex KEY".
type PSK struct {
	ID  Identity
	Key []byte // the secret; never log it
	Hex bool   // printed as "key hex ..." rather than "key char ..."
	Pos Pos
}

// Encryption, integrity, PRF and DH names are the IX keywords themselves,
// so the printer writes them back unchanged; ike maps them to transform IDs.
type (
	EncAlg   string // aes-cbc-128, aes-cbc-192, aes-cbc-256, aes-gcm-128-16, aes-gcm-256-16, 3des-cbc (see the Enc* constants)
	IntegAlg string // sha1, sha2-256, sha2-384, sha2-512
	PRFAlg   string // sha1, sha2-256, sha2-384, sha2-512
	DHGroup  string // 1024-bit, 1536-bit, 2048-bit, 3072-bit, 2048-bit-256 (group 24), 256-bit-ecp, 384-bit-ecp, curve25519
)

// Profile is "ikev2 default-profile" or "ikev2 profile NAME".
// A zero field means "not configured": the IX default applies.
type Profile struct {
	Name string // "" for the default profile

	Enc       []EncAlg   // sa-proposal enc (in order of preference)
	Integrity []IntegAlg // sa-proposal integrity
	PRF       []PRFAlg   // sa-proposal prf; empty: follows integrity, as IX does
	DH        []DHGroup  // sa-proposal dh

	Lifetime time.Duration // sa-lifetime (IKE SA)

	ChildEnc        []EncAlg   // child-proposal enc
	ChildIntegrity  []IntegAlg // child-proposal integrity
	ChildPFS        DHGroup    // child-pfs; "" for none (PFSOff only in Tunnel.Override)
	ChildLifetime   time.Duration
	ChildLifetimeKB uint64 // child-lifetime ... kilobytes (0: not set)

	DPDInterval time.Duration // dpd interval (0: not set)

	LocalAuth string   // local-authentication [psk] ...: "psk" when the keyword was given
	LocalID   Identity // local-authentication ... id TYPE VALUE (zero: the local address)
	IPsecMode string   // ipsec-mode (tunnel|transport)

	// source-address IF|A: the local IKE address, by interface or literally.
	SourceInterface string
	SourceAddress   netip.Addr

	Extra []*Verbatim // not-emulated lines of the block, printed at its end

	Pos Pos
}

// InterfaceKind says which family an IX interface name belongs to.
type InterfaceKind string

// Interface families soft-ix knows.
const (
	KindGigaEthernet InterfaceKind = "GigaEthernet"
	KindLoopback     InterfaceKind = "Loopback"
	KindTunnel       InterfaceKind = "Tunnel"
	KindNull         InterfaceKind = "Null"
)

// MSSAuto is Interface.AdjustMSS for "ip tcp adjust-mss auto".
const MSSAuto = -1

// Interface is an "interface NAME" block.
type Interface struct {
	Name        string // canonical IX name: "Tunnel0.0", "GigaEthernet0.0", "GigaEthernet2:1.0"
	Kind        InterfaceKind
	Description string

	Address            netip.Prefix // ip address A/L; invalid when unset
	DHCP               bool         // ip address dhcp
	DHCPReceiveDefault bool         // ip address dhcp receive-default
	Unnumbered         string       // ip unnumbered IF
	MTU                int          // ip mtu N (0: default)
	AdjustMSS          int          // 0 off, MSSAuto, or a value; Tunnel interfaces only (kept, not emulated, elsewhere)
	Shutdown           bool

	Tunnel *Tunnel // non-nil for Tunnel interfaces

	// NAPT is "ip napt enable": addresses behind the interface are
	// translated to its own on the way out.
	NAPT    bool
	NAPTPos Pos
	// NAPTForwards are the "ip napt static" and "ip napt service" lines
	// of the forms soft-ix understands, in source order; the other "ip
	// napt" commands (hairpinning, translation, ...) stay in Extra.
	NAPTForwards []*NAPTForward
	// NAPTHairpin is "ip napt hairpinning": inside hosts reach the port
	// forwards through the interface's own address.
	NAPTHairpin    bool
	NAPTHairpinPos Pos

	// DHCPBinding is "ip dhcp binding PROFILE": the DHCP server answers on
	// this interface with that profile ("" for none).
	DHCPBinding    string
	DHCPBindingPos Pos

	// Filters are the "ip filter LIST SEQ in|out" lines, in source order.
	// Once a direction has a filter, a packet no filter permits is dropped.
	Filters []*Filter

	// Extra are the lines of the block soft-ix keeps without acting on
	// (PPPoE, NAPT, filters, references to interfaces it does not model).
	Extra []*Verbatim

	Pos           Pos
	UnnumberedPos Pos // where "ip unnumbered" stands, for diagnostics
}

// Tunnel holds the "tunnel ..." and "ikev2 ..." commands of a Tunnel interface.
type Tunnel struct {
	Mode        string // tunnel mode ipsec-ikev2
	ModePos     Pos    // where "tunnel mode" stands, for diagnostics
	ConnectAuto bool   // ikev2 connect-type auto
	PreFragment bool   // ikev2 ipsec pre-fragment

	// ikev2 peer ADDR|any authentication psk [id TYPE VALUE]
	Peer    netip.Addr // invalid when PeerAny
	PeerAny bool
	PeerID  Identity // zero when no "id" was given

	Profile string // ikev2 binding NAME / ikev2 profile NAME; "" for the default profile

	OutgoingInterface    string     // ikev2 outgoing-interface IF
	OutgoingAuto         bool       // ... auto (as AWS-generated IX configs write it)
	OutgoingNextHop      netip.Addr // ... NEXTHOP: a host route to the peer by the interface through it
	SourceAddress        netip.Addr // ikev2 source-address A
	NegotiationDirection string     // ikev2 negotiation-direction initiator|responder|both

	NATKeepalive      time.Duration // ikev2 nat-traversal keepalive N
	NATKeepaliveForce bool          // ... force

	SALifetime  time.Duration // per-tunnel override of sa-lifetime (0: profile's)
	DPDInterval time.Duration // per-tunnel override of dpd interval (0: profile's)

	// SourceInterface is "ikev2 source-address IF" (SourceAddress holds the
	// literal form).
	SourceInterface string

	// Override holds the other per-tunnel profile commands IX accepts with
	// an "ikev2 " prefix inside the interface ("ikev2 sa-proposal enc ...",
	// "ikev2 child-pfs ...", ...). nil when there are none. Its Lifetime and
	// DPDInterval stay zero: those live in SALifetime and DPDInterval above.
	Override *Profile

	// Where the commands stand, for diagnostics.
	PeerPos, ProfilePos, OutgoingPos, SourcePos Pos
}

// AccessList is the entries of one "ip access-list NAME", in source order.
type AccessList struct {
	Name    string
	Entries []*ACLEntry
}

// DynamicList is "ip access-list dynamic NAME access LIST": applied by a
// filter, the packets LIST permits pass and open a session whose packets
// the same interface then lets through the other way too (a stateful
// filter). A dynamic list takes precedence over a static one of the same
// name, as NEC documents.
type DynamicList struct {
	Name   string
	Access string // the static list that decides which packets open a session
	Pos    Pos
}

// Protocol numbers an ACLEntry names by keyword.
const (
	ProtoAny  = -1 // "ip": every protocol
	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// ACLEntry is one "ip access-list NAME permit|deny PROTO [type N] src S
// [sport P] dest D [dport P]" line.
type ACLEntry struct {
	Permit   bool
	Protocol int          // ProtoAny, or an IP protocol number 0..255
	Src, Dst netip.Prefix // 0.0.0.0/0 for "any"
	// SrcPort and DstPort only for tcp and udp; the zero value is "any".
	SrcPort, DstPort PortMatch
	ICMPType         int // icmp "type N"; -1 for any
	Pos              Pos
}

// PortOp is how a PortMatch compares a port.
type PortOp string

// Port comparisons as IX writes them ("" is any).
const (
	PortAny   PortOp = ""
	PortEq    PortOp = "eq"
	PortRange PortOp = "range" // Lo..Hi inclusive
	PortGt    PortOp = "gt"
	PortLt    PortOp = "lt"
)

// PortMatch is "sport|dport any|eq N|range A B|gt N|lt N".
type PortMatch struct {
	Op     PortOp
	Lo, Hi uint16 // Hi only for PortRange
}

// NAPTForward is "ip napt static INSIDE PROTO [PORT]" or "ip napt service
// NAME INSIDE none PROTO PORT": packets of Protocol (to Port) arriving for
// the interface's own address go to the inside host Inside, or, when an
// interface is named instead (InsideIf), to the router itself, which is
// how IX files let IKE and ESP reach the router behind its own NAPT.
type NAPTForward struct {
	Service  string     // the service NAME; "" for ip napt static
	Inside   netip.Addr // invalid when InsideIf is set
	InsideIf string     // canonical interface name: the router itself
	Protocol int        // IP protocol number
	Port     uint16     // tcp/udp port; 0 for other protocols
	Pos      Pos
}

// Filter is "ip filter LIST SEQ in|out" on an interface.
type Filter struct {
	List string
	Seq  uint32 // filters of one direction are evaluated by ascending Seq
	Out  bool   // "out"; false for "in"
	// SuppressLogging is "suppress-logging" (soft-ix logs no drops anyway).
	SuppressLogging bool
	Pos             Pos
}

// Route is "ip route PREFIX|default GATEWAY [dhcp] [[distance] N] [metric N] [tag N]"
// where GATEWAY is an interface, a next hop, or a next hop and an interface.
type Route struct {
	Prefix    netip.Prefix
	Interface string     // when routed to an interface
	NextHop   netip.Addr // when routed to a next hop (both may be set)
	DHCP      bool       // "dhcp": the next hop is the router of Interface's DHCP lease (inactive without one)
	Distance  int        // 0: default (1)
	Metric    uint32     // metric N, 0: default (1); of routes to one prefix at one distance the lowest wins
	Tag       uint32     // tag N (stored, not acted on)
	Pos       Pos
}

// BGP is a "router bgp ASN" block.
type BGP struct {
	ASN       uint32
	RouterID  netip.Addr // invalid: chosen as IX does
	Neighbors []*Neighbor
	Networks  []netip.Prefix // address-family ipv4 unicast / network P

	// Extra are the not-emulated lines directly under router bgp (other
	// address families as blocks); AFExtra those of address-family ipv4
	// unicast (route-maps, ...).
	Extra, AFExtra []*Verbatim

	Pos Pos
}

// Neighbor is the set of "neighbor A ..." commands for one address.
type Neighbor struct {
	Addr         netip.Addr
	RemoteAS     uint32
	UpdateSource string // interface name
	Keepalive    time.Duration
	Hold         time.Duration
	EBGPMultihop int // 0 off; TTL otherwise (255 when given without a value)
	Description  string
	// Activate is "neighbor A activate" under address-family ipv4
	// unicast. The IX exchanges IPv4 unicast with every neighbor by
	// default, so it changes nothing; "no neighbor A activate" is kept,
	// not emulated.
	Activate bool

	// ConnectInterval is "neighbor A connect-interval N" (0: default).
	// ("neighbor A advertisement-interval N" is kept, not emulated: GoBGP
	// has no minimum advertisement interval.)
	ConnectInterval time.Duration

	// neighbor A route-map NAME in|out ("" when none): the route-map
	// applied to what the neighbor sends and to what is sent to it.
	RouteMapIn, RouteMapOut string

	Pos                           Pos // the neighbor's first command
	UpdateSourcePos               Pos
	RouteMapInPos, RouteMapOutPos Pos // where the route-map names stand
}
