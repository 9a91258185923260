package azure

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
)

// The seed configs, as package config keeps them (copies of
// /work/shared/seed/ix-*.conf).
const (
	seedStatic = "../../../../config/testdata/ix-static.conf"
	seedBGP    = "../../../../config/testdata/ix-bgp.conf"
	seedPSK    = "P@ssw0rd1234" // the how-to's published sample key
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func seedStaticParams() Params {
	return Params{Gateways: addrs("20.210.237.6"), PSK: []byte(seedPSK), VNets: prefixes("172.16.0.0/16"),
		LANs: prefixes("192.168.2.0/24"), Policy: DefaultPolicy()}
}

func seedBGPParams() Params {
	return Params{Gateways: addrs("40.115.212.91"), PSK: []byte(seedPSK), AzureASN: 65010, BGPPeers: addrs("172.16.0.6"),
		LocalASN: 65050, LocalBGP: netip.MustParseAddr("10.2.2.2"), LANs: prefixes("192.168.2.0/24"), Policy: DefaultPolicy()}
}

func parse(t *testing.T, name string, src []byte) *config.Config {
	t.Helper()
	c, diags, err := config.Parse(name, src)
	if err != nil {
		t.Fatalf("%s does not load: %v\n%s", name, err, src)
	}
	for _, d := range diags {
		t.Errorf("%s: unexpected diagnostic %s", name, d)
	}
	return c
}

// model is c without what only says where things stand in the file, with
// interfaces in name order.
func model(c *config.Config) *config.Config {
	m, _, err := config.Parse("", config.PrintActive(c))
	if err != nil {
		panic(err)
	}
	clear := func(p *config.Pos) { *p = config.Pos{} }
	for _, k := range m.PSKs {
		clear(&k.Pos)
	}
	if m.DefaultProfile != nil {
		clear(&m.DefaultProfile.Pos)
	}
	for _, ifc := range m.Interfaces {
		clear(&ifc.Pos)
		clear(&ifc.UnnumberedPos)
		if t := ifc.Tunnel; t != nil {
			clear(&t.PeerPos)
			clear(&t.ProfilePos)
			clear(&t.OutgoingPos)
			clear(&t.SourcePos)
		}
	}
	for _, r := range m.Routes {
		clear(&r.Pos)
	}
	if m.BGP != nil {
		clear(&m.BGP.Pos)
		for _, n := range m.BGP.Neighbors {
			clear(&n.Pos)
			clear(&n.UpdateSourcePos)
		}
	}
	return m
}

func TestGenerateSeedModels(t *testing.T) {
	for _, tc := range []struct {
		seed string
		p    Params
	}{{seedStatic, seedStaticParams()}, {seedBGP, seedBGPParams()}} {
		src, err := os.ReadFile(tc.seed)
		if err != nil {
			t.Fatal(err)
		}
		want := model(parse(t, tc.seed, src))
		out, err := Generate(tc.p)
		if err != nil {
			t.Fatal(err)
		}
		got := model(parse(t, "generated", out))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: generated model differs\ngenerated:\n%s\nseed:\n%s", tc.seed, config.Print(got), config.Print(want))
		}
	}
}

func TestGenerateActiveActive(t *testing.T) {
	for _, bgp := range []bool{false, true} {
		p := seedStaticParams()
		if bgp {
			p = seedBGPParams()
			p.BGPPeers = addrs("172.16.0.4", "172.16.0.5")
		}
		p.Gateways = addrs("198.51.100.6", "198.51.100.7")
		out, err := Generate(p)
		if err != nil {
			t.Fatal(err)
		}
		c := parse(t, "aa", out)
		tuns := c.Tunnels()
		if len(tuns) != 2 || tuns[0].Tunnel.Peer != p.Gateways[0] || tuns[1].Tunnel.Peer != p.Gateways[1] {
			t.Fatalf("bgp=%v: want two tunnels to the two gateways:\n%s", bgp, out)
		}
		if c.PSKFor(p.Gateways[1], config.Identity{}) == nil {
			t.Errorf("no key for the second gateway")
		}
		routes := map[string]bool{}
		for _, r := range c.Routes {
			routes[r.Prefix.String()+" "+r.Interface] = true
		}
		var want []string
		if bgp {
			if len(c.BGP.Neighbors) != 2 {
				t.Errorf("want two BGP neighbors:\n%s", out)
			}
			want = []string{"172.16.0.4/32 Tunnel0.0", "172.16.0.5/32 Tunnel1.0"}
		} else {
			want = []string{"172.16.0.0/16 Tunnel0.0", "172.16.0.0/16 Tunnel1.0"}
		}
		for _, w := range want {
			if !routes[w] {
				t.Errorf("bgp=%v: no route %s in\n%s", bgp, w, out)
			}
		}
	}
}

func TestGenerateGCMAndWAN(t *testing.T) {
	p := seedStaticParams()
	p.Policy = GCMPolicy()
	p.WAN = "gi0.0"
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	c := parse(t, "gcm", out)
	tun := c.Tunnels()[0]
	pr := c.ProfileFor(tun)
	if pr.ChildEnc[0] != config.EncAESGCM256 || tun.Tunnel.SourceInterface != "GigaEthernet0.0" {
		t.Errorf("gcm/wan not applied:\n%s", out)
	}
}

func TestGenerateRefuses(t *testing.T) {
	for name, mod := range map[string]func(*Params){
		"no gateway":       func(p *Params) { p.Gateways = nil },
		"three gateways":   func(p *Params) { p.Gateways = addrs("192.0.2.1", "192.0.2.2", "192.0.2.3") },
		"ipv6 gateway":     func(p *Params) { p.Gateways = addrs("2001:db8::1") },
		"no key":           func(p *Params) { p.PSK = nil },
		"blank in key":     func(p *Params) { p.PSK = []byte("sec ret") },
		"no vnet":          func(p *Params) { p.VNets = nil },
		"bad wan":          func(p *Params) { p.WAN = "Tunnel0.0" },
		"bgp without asn":  func(p *Params) { *p = seedBGPParams(); p.AzureASN = 0 },
		"reserved asn":     func(p *Params) { *p = seedBGPParams(); p.LocalASN = 65515 },
		"ibgp":             func(p *Params) { *p = seedBGPParams(); p.LocalASN = 65010 },
		"peer per gateway": func(p *Params) { *p = seedBGPParams(); p.BGPPeers = addrs("172.16.0.4", "172.16.0.5") },
		"apipa outside":    func(p *Params) { *p = seedBGPParams(); p.BGPPeers = addrs("169.254.0.2") },
		"vnet with bgp":    func(p *Params) { *p = seedBGPParams(); p.VNets = prefixes("172.16.0.0/16") },
	} {
		p := seedStaticParams()
		p.PSK = []byte("s3cret-key")
		mod(&p)
		_, err := Generate(p)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), seedPSK) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}
