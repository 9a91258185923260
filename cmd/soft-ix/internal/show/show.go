// Package show formats soft-ix state the way an NEC IX prints it: the
// "show ikev2 sa", "show ikev2 child-sa", "show ip bgp ...", "show ip route",
// "show interfaces" and "ping" outputs. The functions are pure: the daemon
// fills the input structs from its components and sends the text back.
//
// Field names, their order and wording follow the IX output an operator
// reads (see shared/seed/README.md); column spacing is reconstructed.
package show

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// IKESA is one IKE SA for "show ikev2 sa".
type IKESA struct {
	Interface      string // "Tunnel0.0"
	SPII, SPIR     uint64 // initiator and responder IKE SPIs
	RemainLifetime time.Duration
	Serial         int
	Initiator      bool // we initiated this IKE SA
	// Local and Peer are the outer addresses with their UDP ports. An
	// IPv6 one prints in RFC 5952 form, the address in brackets before
	// the port ("[2001:db8::94]:500"): no published IX capture shows an
	// IPv6 IKE SA, and the IX's own "ADDR:PORT" would be ambiguous there.
	Local, Peer netip.AddrPort
	PeerID      string // e.g. "IPV4-ADDR 198.51.100.6", "IPV6-ADDR 2001:db8::6"
	Enc, Hash   string // e.g. "AES-CBC-256", "HMAC-SHA1-96"
	PRF, DH     string // e.g. "HMAC-SHA1", "MODP-1024"
	NATDetected bool
}

// IKESAs formats "show ikev2 sa".
func IKESAs(sas []IKESA) string {
	var b strings.Builder
	fmt.Fprintf(&b, "IKEv2 SA - %d created\n", len(sas))
	for _, sa := range sas {
		fmt.Fprintf(&b, "Interface %s\n", sa.Interface)
		fmt.Fprintf(&b, "SPI (I)0x%016x (R)0x%016x\n", sa.SPII, sa.SPIR)
		fmt.Fprintf(&b, "Remain lifetime[sec] : %d\n", seconds(sa.RemainLifetime))
		fmt.Fprintf(&b, "Serial : %d\n", sa.Serial)
		fmt.Fprintf(&b, "Direction : %s\n", direction(sa.Initiator))
		fmt.Fprintf(&b, "Local Addr : %s\n", sa.Local)
		fmt.Fprintf(&b, "Peer Addr : %s\n", sa.Peer)
		if sa.PeerID != "" {
			fmt.Fprintf(&b, "IKE Peer ID : %s\n", sa.PeerID)
		}
		if sa.Enc != "" {
			fmt.Fprintf(&b, "Enc alg : %s\n", sa.Enc)
		}
		if sa.Hash != "" {
			fmt.Fprintf(&b, "Hash alg : %s\n", sa.Hash)
		}
		if sa.PRF != "" {
			fmt.Fprintf(&b, "PRF alg : %s\n", sa.PRF)
		}
		if sa.DH != "" {
			fmt.Fprintf(&b, "DH group : %s\n", sa.DH)
		}
		fmt.Fprintf(&b, "NAT-T : %s\n", onOff(sa.NATDetected))
	}
	return b.String()
}

// ChildSA is one Child SA (an inbound/outbound pair) for "show ikev2 child-sa".
type ChildSA struct {
	Interface      string
	PeerID         string // "IPV4-ADDR 198.51.100.6"
	IKESPII        uint64
	IKESPIR        uint64
	IKESerial      int
	Local, Peer    netip.Addr
	Enc, Hash      string // "AES-CBC-256", "HMAC-SHA2-256-128"
	RemainLifetime time.Duration
	AntiReplay     bool
	Outbound       bool // "Direction is outbound": this pair carries the tunnel's traffic

	Out, In childsa.Counters

	// Not printed by IX; used by the metrics.
	SPIIn, SPIOut uint32
}

// ChildSAs formats "show ikev2 child-sa".
func ChildSAs(sas []ChildSA) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Child SA - %d connected\n", len(sas))
	for _, sa := range sas {
		fmt.Fprintf(&b, "Interface %s\n", sa.Interface)
		fmt.Fprintf(&b, "IKE Peer ID : %s\n", sa.PeerID)
		fmt.Fprintf(&b, "IKE SPI (I)0x%016x (R)0x%016x\n", sa.IKESPII, sa.IKESPIR)
		fmt.Fprintf(&b, "IKE SA serial : %d\n", sa.IKESerial)
		fmt.Fprintf(&b, "Child SA Protocol : ESP\n")
		fmt.Fprintf(&b, "Local Addr : %s\n", sa.Local)
		fmt.Fprintf(&b, "Peer Addr : %s\n", sa.Peer)
		fmt.Fprintf(&b, "Enc alg : %s\n", sa.Enc)
		fmt.Fprintf(&b, "Hash alg : %s\n", sa.Hash)
		fmt.Fprintf(&b, "Remain lifetime[sec] : %d\n", seconds(sa.RemainLifetime))
		fmt.Fprintf(&b, "Anti-replay : %s\n", onOff(sa.AntiReplay))
		if sa.Outbound {
			fmt.Fprintf(&b, "Direction is outbound\n")
		} else {
			fmt.Fprintf(&b, "Direction is inbound\n")
		}
		o, i := sa.Out, sa.In
		fmt.Fprintf(&b, "Statistics\n")
		fmt.Fprintf(&b, "  Outbound %d packets, %d octets\n", o.Packets, o.Octets)
		fmt.Fprintf(&b, "    %d cipher failure, %d out of memory, %d ts unacceptable\n", o.CipherFailure, o.OutOfMemory, o.TSUnacceptable)
		fmt.Fprintf(&b, "    %d misc error\n", o.MiscError)
		fmt.Fprintf(&b, "  Inbound %d packets, %d octets\n", i.Packets, i.Octets)
		fmt.Fprintf(&b, "    %d invalid sa, %d replay detected, %d integrity failure\n", i.InvalidSA, i.ReplayDetected, i.IntegrityFailure)
		fmt.Fprintf(&b, "    %d cipher failure, %d packet truncated, %d invalid padding\n", i.CipherFailure, i.PacketTruncated, i.InvalidPadding)
		fmt.Fprintf(&b, "    %d unknown protocol, %d out of memory, %d ts unacceptable\n", i.UnknownProtocol, i.OutOfMemory, i.TSUnacceptable)
		fmt.Fprintf(&b, "    %d misc error\n", i.MiscError)
	}
	return b.String()
}

// BGPSummary is the input of "show ip bgp summary".
type BGPSummary struct {
	RouterID      netip.Addr
	LocalAS       uint32
	ASPathEntries int
	Neighbors     []BGPNeighbor
}

// BGPNeighbor is one row of the summary.
type BGPNeighbor struct {
	Addr             netip.Addr
	AS               uint32
	MsgRcvd, MsgSent uint64
	UpDown           time.Duration // time in the current state
	State            string        // IDLE, CONNECT, ACTIVE, OPENSENT, OPENCONFIRM, ESTABLISHED

	// The rest is for "show ip bgp neighbors" (and the metrics).
	LocalAS     uint32
	Description string
	RouterID    netip.Addr // the neighbor's BGP identifier; invalid before its first OPEN
	// HoldTime and Keepalive are in force: negotiated while the session
	// is up, else as configured (ConfHoldTime, ConfKeepalive).
	HoldTime, Keepalive         time.Duration
	ConfHoldTime, ConfKeepalive time.Duration
	Sent, Rcvd                  BGPMessages
	LocalAddr                   netip.Addr // our end of the session; invalid while down
	// Prefixes the neighbor sent, those its inbound route-map let in, and
	// those sent to it, as the speaker counts them.
	Received, Accepted, Advertised uint64
	Drops                          uint32 // times the session left Established
}

// BGPMessages counts one direction's BGP messages by type.
type BGPMessages struct {
	Open, Update, Notification, Keepalive, RouteRefresh, Total uint64
}

// BGPNeighborsText formats "show ip bgp neighbors [A.B.C.D]": one block
// per neighbor in the layout of IOS-like routers (no IX capture of it
// has been published).
func BGPNeighborsText(ns []BGPNeighbor) string {
	var b strings.Builder
	for i, n := range ns {
		if i > 0 {
			b.WriteString("\n")
		}
		link := "external"
		if n.AS == n.LocalAS {
			link = "internal"
		}
		fmt.Fprintf(&b, "BGP neighbor is %s, remote AS %d, local AS %d, %s link\n", n.Addr, n.AS, n.LocalAS, link)
		if n.Description != "" {
			fmt.Fprintf(&b, "  Description: %s\n", n.Description)
		}
		fmt.Fprintf(&b, "  BGP version 4, remote router ID %s\n", addrOrZero(n.RouterID))
		if n.State == "ESTABLISHED" {
			fmt.Fprintf(&b, "  BGP state = Established, up for %s\n", upDown(n.UpDown))
		} else {
			state := strings.ToLower(n.State)
			if state != "" {
				state = strings.ToUpper(state[:1]) + state[1:]
			}
			fmt.Fprintf(&b, "  BGP state = %s, down for %s\n", state, upDown(n.UpDown))
		}
		fmt.Fprintf(&b, "  Hold time is %d, keepalive interval is %d seconds\n", n.HoldTime/time.Second, n.Keepalive/time.Second)
		fmt.Fprintf(&b, "  Configured hold time is %d, keepalive interval is %d seconds\n", n.ConfHoldTime/time.Second, n.ConfKeepalive/time.Second)
		b.WriteString("  Message statistics:\n")
		fmt.Fprintf(&b, "    %-16s %10s %10s\n", "", "Sent", "Rcvd")
		for _, row := range []struct {
			name       string
			sent, rcvd uint64
		}{
			{"Opens:", n.Sent.Open, n.Rcvd.Open},
			{"Notifications:", n.Sent.Notification, n.Rcvd.Notification},
			{"Updates:", n.Sent.Update, n.Rcvd.Update},
			{"Keepalives:", n.Sent.Keepalive, n.Rcvd.Keepalive},
			{"Route Refresh:", n.Sent.RouteRefresh, n.Rcvd.RouteRefresh},
			{"Total:", n.Sent.Total, n.Rcvd.Total},
		} {
			fmt.Fprintf(&b, "    %-16s %10d %10d\n", row.name, row.sent, row.rcvd)
		}
		b.WriteString("  For address family: IPv4 Unicast\n")
		fmt.Fprintf(&b, "    %d accepted prefixes (%d received)\n", n.Accepted, n.Received)
		fmt.Fprintf(&b, "    %d announced prefixes\n", n.Advertised)
		fmt.Fprintf(&b, "  Connections dropped %d\n", n.Drops)
		if n.LocalAddr.IsValid() {
			fmt.Fprintf(&b, "  Local host: %s\n", n.LocalAddr)
			fmt.Fprintf(&b, "  Foreign host: %s\n", n.Addr)
		}
	}
	return b.String()
}

// BGPSummaryText formats "show ip bgp summary".
func BGPSummaryText(s BGPSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BGP router ID %s, local AS number %d\n", addrOrZero(s.RouterID), s.LocalAS)
	fmt.Fprintf(&b, "%d BGP AS-PATH entries\n", s.ASPathEntries)
	fmt.Fprintf(&b, "%-15s %1s %5s %7s %7s %13s %s\n", "Neighbor", "V", "AS", "MsgRcvd", "MsgSent", "Up/DownTime", "State")
	for _, n := range s.Neighbors {
		fmt.Fprintf(&b, "%-15s %1d %5d %7d %7d %13s %s\n", n.Addr, 4, n.AS, n.MsgRcvd, n.MsgSent, upDown(n.UpDown), n.State)
	}
	fmt.Fprintf(&b, "Total number of neighbors %d\n", len(s.Neighbors))
	return b.String()
}

// BGPRoutes is the input of "show ip bgp neighbors A routes|advertised-routes".
type BGPRoutes struct {
	TableVersion uint64
	RouterID     netip.Addr
	LocalAS      uint32
	Routes       []BGPRoute
}

// BGPRoute is one path in the table.
type BGPRoute struct {
	Prefix     netip.Prefix
	NextHop    netip.Addr
	Metric     uint32
	HasMetric  bool // MED present
	LocalPref  uint32
	HasLocPref bool
	ASPath     []uint32
	Origin     byte // 'i', 'e' or '?'

	Valid, Best, Internal, Suppressed, History bool
}

// BGPRoutesText formats a neighbor's routes in the IX layout.
func BGPRoutesText(t BGPRoutes) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BGP table version is %d, local router ID is %s\n", t.TableVersion, addrOrZero(t.RouterID))
	fmt.Fprintf(&b, "Local AS number %d\n", t.LocalAS)
	fmt.Fprintf(&b, "Status codes: s - suppressed, * - valid, h - history\n")
	fmt.Fprintf(&b, "              > - best, i - internal\n")
	fmt.Fprintf(&b, "Origin codes: i - IGP, e - EGP, ? - incomplete\n")
	fmt.Fprintf(&b, "   %-19s%-20s%6s %6s %s\n", "Network", "Next Hop", "Metric", "LocPrf", "Path")
	for _, r := range t.Routes {
		code := ""
		switch {
		case r.Suppressed:
			code += "s"
		case r.History:
			code += "h"
		}
		if r.Valid {
			code += "*"
		}
		if r.Best {
			code += ">"
		}
		if r.Internal {
			code += "i"
		}
		metric, locprf := "", ""
		if r.HasMetric {
			metric = fmt.Sprint(r.Metric)
		}
		if r.HasLocPref {
			locprf = fmt.Sprint(r.LocalPref)
		}
		var path []string
		for _, as := range r.ASPath {
			path = append(path, fmt.Sprint(as))
		}
		origin := r.Origin
		if origin == 0 {
			origin = '?'
		}
		path = append(path, string(origin))
		line := fmt.Sprintf("%-3s%-19s%-20s%6s %6s %s", code, r.Prefix, addrOrZero(r.NextHop), metric, locprf, strings.Join(path, " "))
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(&b, "Total number of prefixes %d\n", len(t.Routes))
	return b.String()
}

// RouteCode is the origin of a routing table entry.
type RouteCode string

// Route origins shown in the first column of "show ip route".
const (
	Connected RouteCode = "C"
	Static    RouteCode = "S"
	BGP       RouteCode = "B"
)

// Route is one entry of "show ip route".
type Route struct {
	Code      RouteCode
	Prefix    netip.Prefix
	NextHop   netip.Addr // invalid for "is directly connected"
	Interface string     // IX name, e.g. "Tunnel0.0"
	Distance  int
	Metric    int
	Age       time.Duration // 0: unknown, not printed
	Hidden    bool          // not selected (another route wins)
}

// RoutesText formats "show ip route" in the IX layout (as an IX prints it:
//
//	IP Routing Table - 4 entries, 2 hidden, 2042 frees
//	Entries: 2 Connected, 2 Static, 0 RIP, 0 OSPF, 0 BGP
//	Codes: C - Connected, S - Static, R - RIP, O - OSPF, IA - OSPF inter area
//	...
//	Timers: Age
//	S*   0.0.0.0/0 [1/1] is directly connected, Tunnel0.0, 15:21:33
//	     10.0.0.0/8 is subnetted, 1 subnets
//	C      10.2.11.0/24 [0/1] is directly connected, GigaEthernet1.0, 14:18:24
//
// ): the counts, the IX's full code legend, then the selected routes in
// address order, those longer than their classful network grouped under
// a "is subnetted" line and indented two more columns. "frees" (the IX's
// free table slots) has no Linux counterpart and is left out; the age is
// printed when known. The "is variably subnetted, N subnets, M masks"
// wording for mixed lengths is the Cisco one the IX layout follows.
func RoutesText(routes []Route) string {
	var shown []Route
	hidden := 0
	count := map[RouteCode]int{}
	for _, r := range routes {
		if r.Hidden {
			hidden++
			continue
		}
		shown = append(shown, r)
		count[r.Code]++
	}
	slices.SortStableFunc(shown, func(a, b Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})

	var b strings.Builder
	fmt.Fprintf(&b, "IP Routing Table - %d entries, %d hidden\n", len(shown), hidden)
	fmt.Fprintf(&b, "Entries: %d Connected, %d Static, 0 RIP, 0 OSPF, %d BGP\n", count[Connected], count[Static], count[BGP])
	b.WriteString(routeCodes)
	for i := 0; i < len(shown); {
		net, ok := classful(shown[i].Prefix)
		if ok && shown[i].Prefix.Bits() < net.Bits() {
			ok = false // a supernet (the default route, 172.16.0.0/12) stands alone
		}
		j := i + 1
		for j < len(shown) && ok && net.Contains(shown[j].Prefix.Addr()) && shown[j].Prefix.Bits() >= net.Bits() {
			j++
		}
		group := shown[i:j]
		if !ok || !subnetted(group, net) {
			writeRoute(&b, shown[i], 5)
			i++
			continue
		}
		masks := map[int]bool{}
		for _, r := range group {
			masks[r.Prefix.Bits()] = true
		}
		if len(masks) == 1 {
			fmt.Fprintf(&b, "     %s is subnetted, %d subnets\n", net, len(group))
		} else {
			fmt.Fprintf(&b, "     %s is variably subnetted, %d subnets, %d masks\n", net, len(group), len(masks))
		}
		for _, r := range group {
			writeRoute(&b, r, 7)
		}
		i = j
	}
	return b.String()
}

// routeCodes is the legend an IX prints, protocols soft-ix lacks included.
const routeCodes = `Codes: C - Connected, S - Static, R - RIP, O - OSPF, IA - OSPF inter area
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2, B - BGP
       * - Candidate default, s - Summary
Timers: Age
`

// classful is the class A, B or C network holding p's address; false for
// class D and E addresses, which are never grouped.
func classful(p netip.Prefix) (netip.Prefix, bool) {
	a := p.Addr()
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	bits := 0
	switch first := a.As4()[0]; {
	case first < 128:
		bits = 8
	case first < 192:
		bits = 16
	case first < 224:
		bits = 24
	default:
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

// subnetted reports whether a group of routes inside the classful network
// net is shown under a "subnetted" line: some route in it is longer than
// net. A lone route of exactly the classful length is not.
func subnetted(group []Route, net netip.Prefix) bool {
	for _, r := range group {
		if r.Prefix.Bits() > net.Bits() {
			return true
		}
	}
	return false
}

// writeRoute writes one route line, its code left-aligned in width columns.
func writeRoute(b *strings.Builder, r Route, width int) {
	code := string(r.Code)
	if r.Prefix.Bits() == 0 {
		code += "*"
	}
	via := "is directly connected, " + r.Interface
	if r.NextHop.IsValid() {
		via = "via " + r.NextHop.String()
		if r.Interface != "" {
			via += ", " + r.Interface
		}
	}
	fmt.Fprintf(b, "%-*s%s [%d/%d] %s", width, code, r.Prefix, r.Distance, r.Metric, via)
	if r.Age > 0 {
		b.WriteString(", " + upDown(r.Age))
	}
	b.WriteByte('\n')
}

// Interface is one IX interface for "show interfaces".
type Interface struct {
	Name        string // IX name
	Linux       string // Linux device playing it; "" when unmapped
	Description string
	Up          bool // operational state
	AdminDown   bool // "shutdown" in the config
	Addresses   []netip.Prefix
	Unnumbered  string
	MTU         int
	HasCounters bool
	RxPackets   uint64
	RxBytes     uint64
	RxErrors    uint64
	RxDropped   uint64
	TxPackets   uint64
	TxBytes     uint64
	TxErrors    uint64
	TxDropped   uint64
}

// InterfacesText formats "show interfaces".
func InterfacesText(ifs []Interface) string {
	var b strings.Builder
	for _, i := range ifs {
		state := "down"
		switch {
		case i.AdminDown:
			state = "administratively down"
		case i.Up:
			state = "up"
		}
		fmt.Fprintf(&b, "Interface %s is %s\n", i.Name, state)
		if i.Description != "" {
			fmt.Fprintf(&b, "  Description: %s\n", i.Description)
		}
		if i.Linux != "" {
			fmt.Fprintf(&b, "  Linux device: %s\n", i.Linux)
		} else {
			fmt.Fprintf(&b, "  Linux device: none (not mapped)\n")
		}
		if i.MTU > 0 {
			fmt.Fprintf(&b, "  IP MTU %d bytes\n", i.MTU)
		}
		for _, a := range i.Addresses {
			fmt.Fprintf(&b, "  Internet address is %s\n", a)
		}
		if i.Unnumbered != "" {
			fmt.Fprintf(&b, "  Unnumbered, using address of %s\n", i.Unnumbered)
		}
		if i.HasCounters {
			fmt.Fprintf(&b, "  Statistics:\n")
			fmt.Fprintf(&b, "    %d packets input, %d bytes, %d errors, %d dropped\n", i.RxPackets, i.RxBytes, i.RxErrors, i.RxDropped)
			fmt.Fprintf(&b, "    %d packets output, %d bytes, %d errors, %d dropped\n", i.TxPackets, i.TxBytes, i.TxErrors, i.TxDropped)
		}
	}
	return b.String()
}

// PingHeader is the first line of "ping": "PING 192.168.2.1 > 172.16.1.4 56 data bytes".
// An invalid source (none given) prints the destination alone.
func PingHeader(source, dest netip.Addr, size int) string {
	if !source.IsValid() {
		return fmt.Sprintf("PING %s %d data bytes\n", dest, size)
	}
	return fmt.Sprintf("PING %s > %s %d data bytes\n", source, dest, size)
}

// PingReply is one echo reply line.
func PingReply(bytes int, from netip.Addr, seq, ttl int, rtt time.Duration) string {
	return fmt.Sprintf("%d bytes from %s: icmp_seq=%d ttl=%d time=%s ms\n", bytes, from, seq, ttl, ms(rtt))
}

// PingTimeout is printed for an echo request without reply within the timeout.
func PingTimeout(seq int) string {
	return fmt.Sprintf("Request timed out (icmp_seq=%d)\n", seq)
}

// PingStats is the summary after the last request. rtts holds the round
// trip time of every reply received.
func PingStats(dest netip.Addr, sent int, rtts []time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s ping statistics ---\n", dest)
	loss := 0
	if sent > 0 {
		loss = (sent - len(rtts)) * 100 / sent
	}
	fmt.Fprintf(&b, "%d packets transmitted, %d packets received, %d%% packet loss\n", sent, len(rtts), loss)
	if len(rtts) > 0 {
		lo, hi, sum := rtts[0], rtts[0], time.Duration(0)
		for _, r := range rtts {
			lo, hi, sum = min(lo, r), max(hi, r), sum+r
		}
		fmt.Fprintf(&b, "round-trip (ms) min/avg/max = %s/%s/%s\n", ms(lo), ms(sum/time.Duration(len(rtts))), ms(hi))
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func seconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d / time.Second)
}

func direction(initiator bool) string {
	if initiator {
		return "initiator"
	}
	return "responder"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func addrOrZero(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// upDown prints a duration as IX does in tables: H:MM:SS, or NdHHh past a day.
func upDown(d time.Duration) string {
	s := int64(d / time.Second)
	if s >= 86400 {
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s%3600/60, s%60)
}

// FilterCount is one access-list entry (or an implicit deny) with what it
// matched since the filters were last installed.
type FilterCount struct {
	Text           string // the entry as configured: "permit udp src any ..."
	Packets, Bytes uint64
	HasCount       bool // false when the entry is not enforced (no kernel rule)
}

// AppliedFilter is one "ip filter LIST SEQ" of an interface direction.
type AppliedFilter struct {
	Seq     uint32
	List    string
	Entries []FilterCount
}

// FilterDirection is the filters of one interface in one direction, in
// evaluation order, and the drop of what none of them permitted.
type FilterDirection struct {
	Interface string
	Out       bool
	Enforced  bool
	Filters   []AppliedFilter
	Deny      FilterCount
}

// IPFilters is "show ip filter" (soft-ix's own layout; no published IX
// output was found to compare with).
func IPFilters(ds []FilterDirection) string {
	var b strings.Builder
	for _, d := range ds {
		dir := "in"
		if d.Out {
			dir = "out"
		}
		fmt.Fprintf(&b, "Interface %s, %s", d.Interface, dir)
		if !d.Enforced {
			b.WriteString(" (not enforced)")
		}
		b.WriteString("\n")
		for _, f := range d.Filters {
			fmt.Fprintf(&b, "  ip filter %s %d\n", f.List, f.Seq)
			if len(f.Entries) == 0 {
				b.WriteString("    (no entries: matches nothing)\n")
			}
			for _, e := range f.Entries {
				fmt.Fprintf(&b, "    %s%s\n", e.Text, countText(e))
			}
		}
		fmt.Fprintf(&b, "  implicit deny%s\n", countText(d.Deny))
	}
	return b.String()
}

// AccessList is one "ip access-list NAME" with each entry's matches summed
// over the interfaces that apply it.
type AccessList struct {
	Name    string
	Entries []FilterCount
}

// IPAccessLists is "show ip access-list" (soft-ix's own layout).
func IPAccessLists(ls []AccessList) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "IP access-list %s\n", l.Name)
		for _, e := range l.Entries {
			fmt.Fprintf(&b, "  %s%s\n", e.Text, countText(e))
		}
	}
	return b.String()
}

func countText(c FilterCount) string {
	if !c.HasCount {
		return ""
	}
	return fmt.Sprintf(" (%d matches, %d bytes)", c.Packets, c.Bytes)
}

// NAPTTranslation is one translated connection for "show ip napt
// translation".
type NAPTTranslation struct {
	Protocol                string // tcp, udp, icmp or a number
	Inside, Outside, Remote netip.AddrPort
	Forwarded               bool
	Timeout                 time.Duration
}

// NAPTTranslations is "show ip napt translation" (soft-ix's own layout:
// the kernel's connection table, one translated connection a line).
func NAPTTranslations(ts []NAPTTranslation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d translations\n", len(ts))
	if len(ts) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "%-5s %-21s %-21s %-21s %-7s %s\n", "Proto", "Inside", "Outside", "Remote", "Timeout", "Type")
	for _, t := range ts {
		typ := "napt"
		if t.Forwarded {
			typ = "static"
		}
		fmt.Fprintf(&b, "%-5s %-21s %-21s %-21s %-7d %s\n", t.Protocol, t.Inside, t.Outside, t.Remote, seconds(t.Timeout), typ)
	}
	return b.String()
}

// DHCPLease is the state of one WAN DHCP client for "show ip dhcp lease".
// A zero Address says the client holds no lease (it is asking for one).
type DHCPLease struct {
	Interface string
	Address   netip.Prefix
	Router    netip.Addr
	Server    netip.Addr
	DNS       []netip.Addr
	Domain    string
	Obtained  time.Time
	Duration  time.Duration
	T1, T2    time.Duration // renewal and rebinding times, from Obtained
}

// DHCPLeases is "show ip dhcp lease": the lease of each interface with
// "ip address dhcp", with the times left until renewal, rebinding and
// expiry (soft-ix's layout, in the IX's key: value style).
func DHCPLeases(ls []DHCPLease, bs []DHCPBinding, now time.Time) string {
	var b strings.Builder
	if len(ls)+len(bs) == 0 {
		b.WriteString("No DHCP client or server is running (no ip address dhcp, no ip dhcp binding)\n")
		return b.String()
	}
	for _, l := range ls {
		fmt.Fprintf(&b, "%s\n", l.Interface)
		if !l.Address.IsValid() {
			b.WriteString("  State: requesting (no lease)\n")
			continue
		}
		left := func(d time.Duration) int64 { return max(seconds(l.Obtained.Add(d).Sub(now)), 0) }
		fmt.Fprintf(&b, "  State: bound\n")
		fmt.Fprintf(&b, "  IP address: %s\n", l.Address)
		fmt.Fprintf(&b, "  Default gateway: %s\n", orNone(l.Router))
		fmt.Fprintf(&b, "  DHCP server: %s\n", orNone(l.Server))
		var dns []string
		for _, d := range l.DNS {
			dns = append(dns, d.String())
		}
		if len(dns) == 0 {
			dns = []string{"none"}
		}
		fmt.Fprintf(&b, "  DNS servers: %s\n", strings.Join(dns, ", "))
		if l.Domain != "" {
			fmt.Fprintf(&b, "  Domain name: %s\n", l.Domain)
		}
		fmt.Fprintf(&b, "  Lease time: %d sec, expires in %d sec\n", seconds(l.Duration), left(l.Duration))
		fmt.Fprintf(&b, "  Renewal in %d sec, rebinding in %d sec\n", left(l.T1), left(l.T2))
	}
	dhcpBindings(&b, bs, now)
	return b.String()
}

// DHCPBinding is an address the LAN's DHCP server has given out.
type DHCPBinding struct {
	Interface string
	Addr      netip.Addr
	MAC       string
	Hostname  string
	Expires   time.Time
	Fixed     bool // a fixed-assignment
}

// dhcpBindings writes the server's part of "show ip dhcp lease".
func dhcpBindings(b *strings.Builder, bs []DHCPBinding, now time.Time) {
	if len(bs) == 0 {
		return
	}
	fmt.Fprintf(b, "DHCP server bindings: %d\n", len(bs))
	fmt.Fprintf(b, "%-16s %-15s %-17s %-9s %-6s %s\n", "Interface", "IP address", "MAC address", "Expires", "Type", "Hostname")
	for _, x := range bs {
		typ := "dynamic"
		if x.Fixed {
			typ = "fixed"
		}
		fmt.Fprintf(b, "%-16s %-15s %-17s %-9d %-6s %s\n", x.Interface, x.Addr, x.MAC, max(seconds(x.Expires.Sub(now)), 0), typ, x.Hostname)
	}
}

func orNone(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

// TracerouteHeader is the first line of "traceroute".
func TracerouteHeader(dest netip.Addr, maxHops, packetBytes int) string {
	return fmt.Sprintf("traceroute to %s (%s), %d hops max, %d byte packets\n", dest, dest, maxHops, packetBytes)
}

// TracerouteProbe is one probe's answer: who answered and when, or
// nothing (no answer within the timeout, or Error).
type TracerouteProbe struct {
	From        netip.Addr
	RTT         time.Duration
	Unreachable string // "!H", "!N", ...: an unreachable other than the destination's port unreachable
	Error       string // the probe could not be sent
}

// TracerouteHop is the probes sent with one TTL.
type TracerouteHop struct {
	TTL    int
	Probes []TracerouteProbe
	Last   bool // the destination (or an unreachable) answered: the trace ends
}

// TracerouteHopLine formats a hop as traceroute does: the address of
// whoever answered (again when another answers a later probe), each
// probe's time, "*" for a probe without answer.
func TracerouteHopLine(h TracerouteHop) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%2d", h.TTL)
	var last netip.Addr
	for _, p := range h.Probes {
		switch {
		case p.Error != "":
			fmt.Fprintf(&b, "  (%s)", p.Error)
		case !p.From.IsValid():
			b.WriteString("  *")
		default:
			if p.From != last {
				fmt.Fprintf(&b, "  %s", p.From)
				last = p.From
			}
			fmt.Fprintf(&b, "  %s ms", ms(p.RTT))
			if p.Unreachable != "" {
				fmt.Fprintf(&b, " %s", p.Unreachable)
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// Version is "show version": what runs, and for how long, in the IX's
// words.
func Version(version string, uptime time.Duration) string {
	s := int64(uptime / time.Second)
	return fmt.Sprintf("soft-ix (NEC IX emulation) Software, Version %s\nSystem uptime is %d days %d hours %d minutes %d seconds\n",
		version, s/86400, s%86400/3600, s%3600/60, s%60)
}
