package show

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// The tests in this file hold soft-ix's `show` layouts against IX output as
// it was published, not against goldens soft-ix wrote itself (those, in
// show_test.go, only say that nothing changed). Each capture is quoted as
// its source prints it; public addresses are replaced by documentation
// ranges (203.165.204.94 -> 203.0.113.94, 20.210.237.6 -> 198.51.100.6).
//
// Source howto: the NEC IX 2015 to Azure VPN Gateway IKEv2 how-to this
// project starts from (shared/seed/000_7c6942f64a9c9c85.txt, lines 61, 100,
// 108, 110 and 112). Its page lost all line breaks and column spacing, so
// these captures are compared with runs of whitespace collapsed: the words,
// numbers and their order must match, the column layout is checked by the
// goldens and the CONBU capture below.

// sameWords compares two outputs with every run of whitespace collapsed.
func sameWords(t *testing.T, what, got, published string) {
	t.Helper()
	if g, p := strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(published), " "); g != p {
		t.Errorf("%s differs from the published capture:\n got: %s\nwant: %s", what, g, p)
	}
}

func TestPublishedIKEv2SA(t *testing.T) {
	// Source howto, line 61; the page omits the lines after Local Addr
	// ("<omitted>"), so only its lines are compared.
	const published = `IKEv2 SA - 1 created Interface Tunnel0.0 SPI (I)0xdc52c2eda4f1e907 (R)0x5b4768f53c24879d
Remain lifetime[sec] : 85553 Serial : 1 Direction : initiator Local Addr : 203.0.113.94:500`
	got := IKESAs([]IKESA{{
		Interface: "Tunnel0.0", SPII: 0xdc52c2eda4f1e907, SPIR: 0x5b4768f53c24879d,
		RemainLifetime: 85553 * time.Second, Serial: 1, Initiator: true,
		Local: netip.AddrPortFrom(ixWAN, 500), Peer: netip.AddrPortFrom(azureGW, 500),
	}})
	lines := strings.SplitAfter(got, "\n")
	sameWords(t, "show ikev2 sa", strings.Join(lines[:7], ""), published)
}

func TestPublishedIKEv2ChildSA(t *testing.T) {
	// Source howto, line 61 (the SA fields) and line 100 (the statistics
	// of the same command a rekey later; the page omits the fields there).
	const published = `Child SA - 1 connected Interface Tunnel0.0 IKE Peer ID : IPV4-ADDR 198.51.100.6
IKE SPI (I)0xdc52c2eda4f1e907 (R)0x5b4768f53c24879d IKE SA serial : 1 Child SA Protocol : ESP
Local Addr : 203.0.113.94 Peer Addr : 198.51.100.6 Enc alg : AES-CBC-256 Hash alg : HMAC-SHA2-256-128
Remain lifetime[sec] : 2737 Anti-replay : on Direction is outbound
Statistics Outbound 71 packets, 4448 octets 0 cipher failure, 0 out of memory, 0 ts unacceptable 0 misc error
Inbound 160 packets, 8990 octets 0 invalid sa, 0 replay detected, 0 integrity failure
0 cipher failure, 0 packet truncated, 0 invalid padding 0 unknown protocol, 0 out of memory, 0 ts unacceptable 0 misc error`
	sameWords(t, "show ikev2 child-sa", ChildSAs([]ChildSA{howtoChildSA}), published)
}

// howtoChildSA is the Child SA of the how-to's "show ikev2 child-sa".
var howtoChildSA = ChildSA{
	Interface: "Tunnel0.0", PeerID: "IPV4-ADDR 198.51.100.6",
	IKESPII: 0xdc52c2eda4f1e907, IKESPIR: 0x5b4768f53c24879d, IKESerial: 1,
	Local: ixWAN, Peer: azureGW, Enc: "AES-CBC-256", Hash: "HMAC-SHA2-256-128",
	RemainLifetime: 2737 * time.Second, AntiReplay: true, Outbound: true,
	Out: childsa.Counters{Packets: 71, Octets: 4448},
	In:  childsa.Counters{Packets: 160, Octets: 8990},
}

func TestPublishedBGPSummary(t *testing.T) {
	// Source howto, line 108.
	const published = `BGP router ID 10.2.2.2, local AS number 65050 2 BGP AS-PATH entries
Neighbor V AS MsgRcvd MsgSent Up/DownTime State 172.16.0.6 4 65010 25 21 0:18:54 ESTABLISHED
Total number of neighbors 1`
	got := BGPSummaryText(BGPSummary{
		RouterID: netip.MustParseAddr("10.2.2.2"), LocalAS: 65050, ASPathEntries: 2,
		Neighbors: []BGPNeighbor{{Addr: netip.MustParseAddr("172.16.0.6"), AS: 65010, MsgRcvd: 25, MsgSent: 21,
			UpDown: 18*time.Minute + 54*time.Second, State: "ESTABLISHED"}},
	})
	sameWords(t, "show ip bgp summary", got, published)
}

func TestPublishedBGPNeighborRoutes(t *testing.T) {
	// Source howto, lines 110 (routes) and 112 (advertised-routes).
	const header = `BGP table version is 2, local router ID is 10.2.2.2 Local AS number 65050
Status codes: s - suppressed, * - valid, h - history > - best, i - internal
Origin codes: i - IGP, e - EGP, ? - incomplete Network Next Hop Metric LocPrf Path `
	rid := netip.MustParseAddr("10.2.2.2")
	got := BGPRoutesText(BGPRoutes{TableVersion: 2, RouterID: rid, LocalAS: 65050, Routes: []BGPRoute{{
		Prefix: netip.MustParsePrefix("172.16.0.0/16"), NextHop: netip.MustParseAddr("172.16.0.6"),
		ASPath: []uint32{65010}, Origin: 'i', Valid: true, Best: true}}})
	sameWords(t, "show ip bgp neighbors 172.16.0.6 routes", got,
		header+"*> 172.16.0.0/16 172.16.0.6 65010 i Total number of prefixes 1")
	got = BGPRoutesText(BGPRoutes{TableVersion: 2, RouterID: rid, LocalAS: 65050, Routes: []BGPRoute{{
		Prefix: netip.MustParsePrefix("192.168.2.0/24"), NextHop: rid, Metric: 1, HasMetric: true,
		Origin: 'i', Valid: true, Best: true}}})
	sameWords(t, "show ip bgp neighbors 172.16.0.6 advertised-routes", got,
		header+"*> 192.168.2.0/24 10.2.2.2 1 i Total number of prefixes 1")
}
