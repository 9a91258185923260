package router

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/show"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/tun"
)

// The fake parts record what the router asks of them.

type fakeLinux struct {
	applied []*config.Config
	routes  []show.Route
	tunnels map[string]bool // last SetTunnelUp per tunnel
}

func (f *fakeLinux) Apply(cfg *config.Config) error {
	f.applied = append(f.applied, cfg)
	return nil
}
func (f *fakeLinux) Routes() ([]show.Route, error) { return append([]show.Route{}, f.routes...), nil }
func (f *fakeLinux) SetTunnelUp(name string, up bool) error {
	if f.tunnels == nil {
		f.tunnels = map[string]bool{}
	}
	f.tunnels[name] = up
	return nil
}
func (f *fakeLinux) Cleanup() error { return nil }

type fakeIPsec struct {
	prepared []config.Changes
	reloads  []config.Changes
	cleared  netip.Addr
	synced   []string
	rawModes []esp.RawESPMode
}

func (f *fakeIPsec) IKESAs() []show.IKESA {
	return []show.IKESA{{Interface: "Tunnel0.0", Serial: 1, Initiator: true}}
}
func (f *fakeIPsec) ChildSAs() []show.ChildSA { return []show.ChildSA{{Interface: "Tunnel0.0"}} }
func (f *fakeIPsec) ClearSA(p netip.Addr) (int, error) {
	f.cleared = p
	return 1, nil
}
func (f *fakeIPsec) prepare(_ *config.Config, ch config.Changes) error {
	f.prepared = append(f.prepared, ch)
	return nil
}
func (f *fakeIPsec) Reload(_ *config.Config, ch config.Changes) error {
	f.reloads = append(f.reloads, ch)
	return nil
}
func (f *fakeIPsec) TunnelUp(string) bool            { return true }
func (f *fakeIPsec) syncTunnelRoutes(names []string) { f.synced = names }
func (f *fakeIPsec) setRawESP(mode esp.RawESPMode) error {
	f.rawModes = append(f.rawModes, mode)
	return nil
}
func (f *fakeIPsec) Close() error { return nil }

var neighbor = netip.MustParseAddr("172.16.0.6")

type fakeBGP struct{ reloads int }

func (*fakeBGP) Summary() (show.BGPSummary, error) {
	return show.BGPSummary{LocalAS: 65050, Neighbors: []show.BGPNeighbor{{Addr: neighbor, AS: 65010, State: "ESTABLISHED",
		Received: 2, Accepted: 2, Advertised: 1}}}, nil
}
func (*fakeBGP) NeighborRoutes(n netip.Addr, adv bool) (show.BGPRoutes, error) {
	if n != neighbor {
		return show.BGPRoutes{}, errors.New("no such neighbor")
	}
	if adv {
		return show.BGPRoutes{LocalAS: 65050, Routes: []show.BGPRoute{{Prefix: netip.MustParsePrefix("192.168.2.0/24")}}}, nil
	}
	return show.BGPRoutes{LocalAS: 65050, Routes: []show.BGPRoute{
		{Prefix: netip.MustParsePrefix("172.16.0.0/16"), NextHop: neighbor, Best: true},
		{Prefix: netip.MustParsePrefix("172.17.0.0/16"), NextHop: neighbor},
	}}, nil
}
func (*fakeBGP) Clear(n netip.Addr, how bgp.Reset) (int, error) {
	if n.IsValid() && n != neighbor {
		return 0, errors.New("no such neighbor")
	}
	return 1, nil
}
func (f *fakeBGP) Reload(*config.Config) error { f.reloads++; return nil }
func (*fakeBGP) Close() error                  { return nil }

type fakes struct {
	linux *fakeLinux
	ipsec *fakeIPsec
	bgp   *fakeBGP
}

// testRouter is a router running cfg on fake parts.
func testRouter(cfg *config.Config) (*Router, fakes) {
	f := fakes{&fakeLinux{}, &fakeIPsec{}, &fakeBGP{}}
	r := New(cfg, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.linux, r.ipsec, r.bgp = f.linux, f.ipsec, f.bgp
	return r, f
}

// TestState: the router's state methods hand out the parts' state, and
// say which part does not run.
func TestState(t *testing.T) {
	r, f := testRouter(&config.Config{Hostname: "old"})
	if got := r.IKESAs(); len(got) != 1 || got[0].Serial != 1 {
		t.Errorf("IKESAs = %+v", got)
	}
	if got := r.ChildSAs(); len(got) != 1 {
		t.Errorf("ChildSAs = %+v", got)
	}
	if n, err := r.ClearSA(netip.MustParseAddr("198.51.100.6")); n != 1 || err != nil || f.ipsec.cleared != netip.MustParseAddr("198.51.100.6") {
		t.Errorf("ClearSA = %d, %v; cleared %v", n, err, f.ipsec.cleared)
	}
	if s, err := r.BGPSummary(); err != nil || len(s.Neighbors) != 1 {
		t.Errorf("BGPSummary = %+v, %v", s, err)
	}
	if _, err := r.BGPRoutes(netip.MustParseAddr("172.16.0.7"), true); err == nil {
		t.Error("routes of an unknown neighbor")
	}
	// A B route the kernel has as a device route out of the tunnel gets
	// the next hop of BGP's best path.
	f.linux.routes = []show.Route{
		{Prefix: netip.MustParsePrefix("172.16.0.0/16"), Code: show.BGP, Interface: "Tunnel0.0"},
		{Prefix: netip.MustParsePrefix("192.168.2.0/24"), Code: show.Connected, Interface: "GigaEthernet1.0"},
	}
	routes, err := r.Routes()
	if err != nil || routes[0].NextHop != neighbor || routes[1].NextHop.IsValid() {
		t.Errorf("Routes = %+v, %v", routes, err)
	}
	snap := r.Snapshot()
	if len(snap.IKESAs) != 1 || snap.BGP == nil || snap.BGP.Neighbors[0].Accepted != 2 || snap.BGP.Neighbors[0].Advertised != 1 {
		t.Errorf("Snapshot = %+v", snap)
	}

	r.ipsec, r.bgp, r.linux = nil, nil, nil
	if _, err := r.ClearSA(netip.Addr{}); err == nil || err.Error() != "IKEv2 is not running" {
		t.Errorf("ClearSA without IPsec: %v", err)
	}
	if _, err := r.BGPSummary(); err == nil || err.Error() != "BGP is not running" {
		t.Errorf("BGPSummary without BGP: %v", err)
	}
	if _, err := r.Routes(); err == nil || err.Error() != "routing is not running" {
		t.Errorf("Routes without the Linux side: %v", err)
	}
	if _, err := r.NAPT(); err == nil {
		t.Error("NAPT without the Linux side")
	}
	if r.IKESAs() != nil || r.ChildSAs() != nil {
		t.Error("SAs without IPsec")
	}
}

// TestRoutesView: tun's routes in IX terms: codes, [distance/metric] and
// the routes of a prefix the kernel does not forward by as hidden.
func TestRoutesView(t *testing.T) {
	mp := netip.MustParsePrefix
	got := routesView([]tun.RouteInfo{
		{Prefix: mp("0.0.0.0/0"), Interface: "GigaEthernet0.0", Gateway: netip.MustParseAddr("203.0.113.1"), Metric: 0, Source: tun.SourceKernel},
		{Prefix: mp("172.16.0.0/16"), Interface: "Tunnel0.0", Metric: 5, Source: tun.SourceStatic, Age: time.Minute},
		{Prefix: mp("172.16.0.0/16"), Interface: "Tunnel1.0", Metric: tun.BGPMetric, Source: tun.SourceBGP},
		{Prefix: mp("192.168.2.0/24"), Interface: "GigaEthernet1.0", Source: tun.SourceConnected},
		{Prefix: mp("192.168.99.0/24"), Blackhole: true, Metric: 1, Source: tun.SourceStatic},
	})
	want := []show.Route{
		{Prefix: mp("0.0.0.0/0"), Interface: "GigaEthernet0.0", NextHop: netip.MustParseAddr("203.0.113.1"), Code: show.Static, Distance: 1, Metric: 1},
		{Prefix: mp("172.16.0.0/16"), Interface: "Tunnel0.0", Code: show.Static, Distance: 5, Metric: 1, Age: time.Minute},
		{Prefix: mp("172.16.0.0/16"), Interface: "Tunnel1.0", Code: show.BGP, Distance: tun.BGPMetric, Metric: 0, Hidden: true},
		{Prefix: mp("192.168.2.0/24"), Interface: "GigaEthernet1.0", Code: show.Connected, Metric: 1},
		{Prefix: mp("192.168.99.0/24"), Interface: "Null0.0", Code: show.Static, Distance: 1, Metric: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routesView =\n%+v\nwant\n%+v", got, want)
	}
}

const reloadBase = `hostname ix
ikev2 authentication psk id ipv4 198.51.100.6 key char k
interface GigaEthernet0.0
  ip address 203.0.113.94/24
  no shutdown
interface Tunnel0.0
  tunnel mode ipsec-ikev2
  ip address 169.254.21.1/30
  ikev2 peer 198.51.100.6 authentication psk id ipv4 198.51.100.6
  no shutdown
ip route 172.16.0.0/16 Tunnel0.0
router bgp 65050
  neighbor 169.254.21.2 remote-as 65010
`

// TestReloadDiff: one diff drives a reload: the parts hear only of what
// changed, and a file that changes nothing the router runs touches none
// of them.
func TestReloadDiff(t *testing.T) {
	old := mustConfig(t, reloadBase)
	r, f := testRouter(old)

	same := mustConfig(t, "! a comment\n"+reloadBase)
	res := r.Reload(same)
	if !res.Changes.Empty() || len(f.linux.applied)+len(f.ipsec.reloads)+f.bgp.reloads != 0 || r.Config() != same {
		t.Fatalf("reload without changes: %+v; linux %d, ipsec %d, bgp %d", res, len(f.linux.applied), len(f.ipsec.reloads), f.bgp.reloads)
	}

	route := mustConfig(t, strings.Replace(reloadBase, "172.16.0.0/16", "172.17.0.0/16", 1))
	res = r.Reload(route)
	if res.Err != nil || len(f.linux.applied) != 1 || f.linux.applied[0] != route || len(f.ipsec.reloads) != 1 ||
		len(f.ipsec.reloads[0].TunnelsChanged) != 0 || f.bgp.reloads != 0 {
		t.Fatalf("route change: %+v; linux %d, ipsec %+v, bgp %d", res, len(f.linux.applied), f.ipsec.reloads, f.bgp.reloads)
	}
	if want := []string{"- ip route 172.16.0.0/16 Tunnel0.0", "+ ip route 172.17.0.0/16 Tunnel0.0"}; !reflect.DeepEqual(res.Changes.Commands, want) {
		t.Errorf("Commands = %q, want %q", res.Changes.Commands, want)
	}
	if !reflect.DeepEqual(f.ipsec.synced, []string{"Tunnel0.0"}) {
		t.Errorf("tunnel routes synced for %v", f.ipsec.synced)
	}

	tunnelText := strings.Replace(strings.Replace(reloadBase, "172.16.0.0/16", "172.17.0.0/16", 1), "169.254.21.1/30", "169.254.22.1/30", 1)
	tunnel := mustConfig(t, tunnelText)
	res = r.Reload(tunnel)
	if res.Err != nil || !reflect.DeepEqual(f.ipsec.prepared[len(f.ipsec.prepared)-1].TunnelsChanged, []string{"Tunnel0.0"}) ||
		!reflect.DeepEqual(f.ipsec.reloads[len(f.ipsec.reloads)-1].TunnelsChanged, []string{"Tunnel0.0"}) || f.bgp.reloads != 0 {
		t.Fatalf("tunnel change: %+v; ipsec %+v", res, f.ipsec.reloads)
	}

	bgp := mustConfig(t, strings.Replace(tunnelText, "remote-as 65010", "remote-as 65011", 1))
	if res = r.Reload(bgp); res.Err != nil || f.bgp.reloads != 1 {
		t.Fatalf("bgp change: %+v; bgp reloads %d", res, f.bgp.reloads)
	}
}
