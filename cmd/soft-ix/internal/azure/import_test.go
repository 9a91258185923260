package azure

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/config"
)

var update = flag.Bool("update", false, "rewrite the import goldens")

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/import", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	full := filepath.Join("testdata/import", path)
	if *update {
		if err := os.WriteFile(full, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
	}
}

func TestImportActiveActiveBGP(t *testing.T) {
	p, err := Import(Documents{
		Gateway:      read(t, "aa-bgp/gateway.json"),
		Connection:   read(t, "aa-bgp/connection.json"),
		PublicIPs:    [][]byte{read(t, "aa-bgp/pip2.json"), read(t, "aa-bgp/pip1.json")}, // any order
		LocalGateway: read(t, "aa-bgp/local-gateway.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.LocalASN != 65050 || p.AzureASN != 65010 || len(p.Gateways) != 2 || p.Gateways[0].String() != "198.51.100.6" ||
		len(p.BGPPeers) != 2 || p.BGPPeers[1].String() != "169.254.22.1" || p.LocalBGP.String() != "169.254.21.2" {
		t.Fatalf("params %+v", p)
	}
	p.PSK = []byte("PSK-PLACEHOLDER")
	p.LANs = prefixes("192.168.2.0/24")
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "aa-bgp/want.conf", out)
	for _, f := range lint(t, "aa", out, DefaultAccepts()) {
		if f.Severity != Info {
			t.Errorf("%s", f)
		}
	}
}

// The static fixture is the seed's static variant on documentation
// addresses: the import must give the seed's model.
func TestImportStaticIsTheSeed(t *testing.T) {
	p, err := Import(Documents{
		Gateway:    read(t, "static/gateway.json"),
		Connection: read(t, "static/connection.json"),
		PublicIPs:  [][]byte{read(t, "static/pip.json")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.BGP() || len(p.LANs) != 1 || p.LANs[0].String() != "192.168.2.0/24" {
		t.Fatalf("params %+v", p)
	}
	p.PSK = []byte(seedPSK)
	p.VNets = prefixes("172.16.0.0/16")
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(seedStatic)
	if err != nil {
		t.Fatal(err)
	}
	seed = []byte(strings.ReplaceAll(string(seed), "20.210.237.6", "198.51.100.6"))
	if got, want := model(parse(t, "import", out)), model(parse(t, "seed", seed)); !reflect.DeepEqual(got, want) {
		t.Errorf("imported model differs from the seed's:\n%s\nseed:\n%s", config.Print(got), config.Print(want))
	}

	// The same connection with a custom GCM policy.
	p, err = Import(Documents{
		Gateway:    read(t, "static/gateway.json"),
		Connection: read(t, "static/connection-gcm.json"),
		PublicIPs:  [][]byte{read(t, "static/pip.json")},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.PSK = []byte("PSK-PLACEHOLDER")
	p.VNets = prefixes("172.16.0.0/16")
	out, err = Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "static/want-gcm.conf", out)
	pol, _, err := ParsePolicies(read(t, "static/connection-gcm.json"))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := pol.Accepts()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range lint(t, "gcm", out, acc) {
		if f.Severity != Info {
			t.Errorf("%s", f)
		}
	}
}

func TestImportRefuses(t *testing.T) {
	gw, conn, pip := read(t, "static/gateway.json"), read(t, "static/connection.json"), read(t, "static/pip.json")
	aagw := read(t, "aa-bgp/gateway.json")
	edit := func(b []byte, from, to string) []byte {
		if !strings.Contains(string(b), from) {
			t.Fatalf("fixture lacks %q", from)
		}
		return []byte(strings.Replace(string(b), from, to, 1))
	}
	for name, d := range map[string]Documents{
		"ikev1":           {Gateway: gw, Connection: edit(conn, `"IKEv2"`, `"IKEv1"`), PublicIPs: [][]byte{pip}},
		"policy-based TS": {Gateway: gw, Connection: edit(conn, `"usePolicyBasedTrafficSelectors": false`, `"usePolicyBasedTrafficSelectors": true`), PublicIPs: [][]byte{pip}},
		"vnet2vnet":       {Gateway: gw, Connection: edit(conn, `"IPsec"`, `"Vnet2Vnet"`), PublicIPs: [][]byte{pip}},
		"policy-based gw": {Gateway: edit(gw, `"RouteBased"`, `"PolicyBased"`), Connection: conn, PublicIPs: [][]byte{pip}},
		"expressroute":    {Gateway: edit(gw, `"Vpn"`, `"ExpressRoute"`), Connection: conn, PublicIPs: [][]byte{pip}},
		"des policy":      {Gateway: gw, Connection: edit(conn, `"ipsecPolicies": []`, `"ipsecPolicies": [{"ikeEncryption":"DES","ikeIntegrity":"SHA1","dhGroup":"DHGroup2","ipsecEncryption":"AES256","ipsecIntegrity":"SHA1","pfsGroup":"None"}]`), PublicIPs: [][]byte{pip}},
		"bgp without gw":  {Gateway: gw, Connection: edit(conn, `"enableBgp": false`, `"enableBgp": true`), PublicIPs: [][]byte{pip}},
		"aa one address":  {Gateway: edit(edit(aagw, `"tunnelIpAddresses": ["198.51.100.6"]`, `"tunnelIpAddresses": []`), `"tunnelIpAddresses": ["198.51.100.7"]`, `"tunnelIpAddresses": []`), Connection: read(t, "aa-bgp/connection.json"), PublicIPs: [][]byte{read(t, "aa-bgp/pip1.json")}},
		"not json":        {Gateway: []byte("gateway"), Connection: conn},
	} {
		if _, err := Import(d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Without public-ip documents the tunnel addresses Azure lists with
	// its BGP settings are used.
	p, err := Import(Documents{Gateway: gw, Connection: conn})
	if err != nil || len(p.Gateways) != 1 || p.Gateways[0].String() != "198.51.100.6" {
		t.Errorf("tunnelIpAddresses: %+v %v", p.Gateways, err)
	}
}

// TestImportNATAndMode: a connection Azure alone starts (InitiatorOnly)
// with NAT rules on the gateway. The IX answers only, routes to the VNet
// under its egress NAT prefix, and its comments say how Azure sees the
// LAN; a --vnet that covers a mapping only in part has no one translation.
func TestImportNATAndMode(t *testing.T) {
	docs := Documents{Gateway: read(t, "nat/gateway.json"), Connection: read(t, "nat/connection.json")}
	p, err := Import(docs)
	if err != nil {
		t.Fatal(err)
	}
	if p.AzureMode != "InitiatorOnly" || len(p.NAT) != 2 || p.NAT[0].Name != "vnet-egress" || !p.NAT[0].Egress || p.NAT[1].Egress {
		t.Fatalf("params %+v", p)
	}
	p.PSK = []byte("PSK-PLACEHOLDER")
	p.VNets = prefixes("10.0.0.0/25", "10.0.0.128/26", "172.16.0.0/16")
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "nat/want.conf", out)
	acc := DefaultAccepts()
	if err := acc.ReadConnection(docs.Connection); err != nil || acc.Mode != "InitiatorOnly" || acc.DPDTimeout.Seconds() != 30 {
		t.Fatalf("ReadConnection: %+v %v", acc, err)
	}
	for _, f := range lint(t, "nat", out, acc) {
		if f.Row == "connection-mode" {
			t.Errorf("generated file draws %s", f)
		}
	}

	p.VNets = prefixes("10.0.0.0/16")
	if _, err := Generate(p); err == nil || !strings.Contains(err.Error(), "only in part") {
		t.Errorf("a VNet prefix covering a NAT mapping in part: %v", err)
	}

	// A dynamic egress rule maps the VNet's prefixes to one pool: one
	// route to it.
	dyn := []byte(strings.Replace(string(docs.Gateway), `"type": "Static",
          "mode": "EgressSnat"`, `"type": "Dynamic",
          "mode": "EgressSnat"`, 1))
	p, err = Import(Documents{Gateway: dyn, Connection: docs.Connection})
	if err != nil || !p.NAT[0].Dynamic {
		t.Fatalf("dynamic rule: %+v %v", p.NAT, err)
	}
	p.PSK = []byte("PSK-PLACEHOLDER")
	p.VNets = prefixes("10.0.0.0/25", "10.0.0.128/25")
	out, err = Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "ip route 100.64.10.0/24 Tunnel0.0"); n != 1 {
		t.Errorf("%d routes to the dynamic pool, want 1:\n%s", n, out)
	}
}

// TestImportPrivateAndModes: useLocalAzureIpAddress makes the gateway's
// private address the peer; ResponderOnly keeps the IX starting the
// tunnel; what Import cannot read is an error naming the field.
func TestImportPrivateAndModes(t *testing.T) {
	gw, conn := read(t, "nat/gateway.json"), read(t, "nat/connection.json")
	edit := func(b []byte, from, to string) []byte {
		if !strings.Contains(string(b), from) {
			t.Fatalf("fixture lacks %q", from)
		}
		return []byte(strings.Replace(string(b), from, to, 1))
	}
	p, err := Import(Documents{Gateway: gw, Connection: edit(conn, `"useLocalAzureIpAddress": false`, `"useLocalAzureIpAddress": true`)})
	if err != nil || len(p.Gateways) != 1 || p.Gateways[0].String() != "10.0.255.4" || !p.Private {
		t.Fatalf("private: %+v %v", p.Gateways, err)
	}
	p, err = Import(Documents{Gateway: gw, Connection: edit(conn, `"InitiatorOnly"`, `"ResponderOnly"`)})
	if err != nil || p.AzureMode != "ResponderOnly" {
		t.Fatalf("ResponderOnly: %q %v", p.AzureMode, err)
	}
	p.PSK = []byte("PSK-PLACEHOLDER")
	p.VNets = prefixes("10.0.0.0/24")
	out, err := Generate(p)
	if err != nil || !strings.Contains(string(out), "ikev2 connect-type auto") || strings.Contains(string(out), "negotiation-direction") {
		t.Errorf("ResponderOnly output (%v):\n%s", err, out)
	}
	for name, d := range map[string]Documents{
		"unknown mode":       {Gateway: gw, Connection: edit(conn, `"InitiatorOnly"`, `"Sometimes"`)},
		"no private address": {Gateway: edit(gw, `"privateIPAddress": "10.0.255.4",`, ``), Connection: edit(conn, `"useLocalAzureIpAddress": false`, `"useLocalAzureIpAddress": true`)},
		"unknown NAT rule":   {Gateway: edit(gw, `natRules/vnet-egress"`, `natRules/other"`), Connection: conn},
		"uneven static NAT":  {Gateway: edit(gw, `"100.64.10.0/24"`, `"100.64.10.0/25"`), Connection: conn},
		"bad NAT mode":       {Gateway: edit(gw, `"EgressSnat"`, `"Egress"`), Connection: conn},
	} {
		if _, err := Import(d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestImportNATBGP: with BGP over non-APIPA addresses, the IX peers with
// Azure's BGP address as the egress rule shows it, and its loopback
// carries the original of the post-NAT address the local network
// gateway lists.
func TestImportNATBGP(t *testing.T) {
	p := Params{
		Gateways: []netip.Addr{netip.MustParseAddr("198.51.100.16")}, PSK: []byte("PSK-PLACEHOLDER"),
		AzureASN: 65515, BGPPeers: []netip.Addr{netip.MustParseAddr("10.0.255.30")}, LocalASN: 65050,
		LocalBGP: untranslate(netip.MustParseAddr("100.64.2.254"), []NATRule{{Name: "in", Maps: []NATMap{{Internal: netip.MustParsePrefix("192.168.2.0/24"), External: netip.MustParsePrefix("100.64.2.0/24")}}}}),
		NAT:      []NATRule{{Name: "out", Egress: true, Maps: []NATMap{{Internal: netip.MustParsePrefix("10.0.0.0/16"), External: netip.MustParsePrefix("100.65.0.0/16")}}}},
	}
	if p.LocalBGP.String() != "192.168.2.254" {
		t.Fatalf("untranslated local BGP address %s", p.LocalBGP)
	}
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"neighbor 100.65.255.30 remote-as 65515", "ip route 100.65.255.30/32 Tunnel0.0", "ip address 192.168.2.254/32", "enableBgpRouteTranslationForNat off"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestNATBGPPeerDynamic: a BGP peer address behind a dynamic egress rule
// has no fixed address on the IX side: refused, not mapped to the pool.
func TestNATBGPPeerDynamic(t *testing.T) {
	p := Params{
		Gateways: []netip.Addr{netip.MustParseAddr("198.51.100.16")}, PSK: []byte("PSK-PLACEHOLDER"),
		AzureASN: 65515, BGPPeers: []netip.Addr{netip.MustParseAddr("10.0.255.30")}, LocalASN: 65050,
		LocalBGP: netip.MustParseAddr("192.168.2.254"),
		NAT:      []NATRule{{Name: "pool", Egress: true, Dynamic: true, Maps: []NATMap{{Internal: netip.MustParsePrefix("10.0.0.0/16"), External: netip.MustParsePrefix("100.65.0.0/28")}}}},
	}
	if _, err := Generate(p); err == nil || !strings.Contains(err.Error(), "dynamic NAT rule pool") {
		t.Errorf("BGP peer behind a dynamic rule: %v", err)
	}
}

// TestNATPerInstance: on an active-active gateway each NAT rule applies to
// the instance its ipConfigurationId names: each tunnel's routes and BGP
// peer are translated by that instance's rules only.
func TestNATPerInstance(t *testing.T) {
	p := Params{
		Gateways:       []netip.Addr{netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("198.51.100.7")},
		GatewayConfigs: []string{"/gw/ipConfigurations/default", "/gw/ipConfigurations/activeActive"},
		PSK:            []byte("PSK-PLACEHOLDER"),
		VNets:          prefixes("10.1.0.0/16"),
		NAT: []NATRule{
			{Name: "egA", IPConfig: "/gw/ipConfigurations/default", Egress: true, Maps: []NATMap{{Internal: netip.MustParsePrefix("10.1.0.0/16"), External: netip.MustParsePrefix("172.16.0.0/16")}}},
			{Name: "egB", IPConfig: "/GW/ipConfigurations/activeActive", Egress: true, Maps: []NATMap{{Internal: netip.MustParsePrefix("10.1.0.0/16"), External: netip.MustParsePrefix("172.17.0.0/16")}}},
		},
	}
	out, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ip route 172.16.0.0/16 Tunnel0.0", "ip route 172.17.0.0/16 Tunnel1.0", "(static, instance activeActive, egress)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"ip route 172.17.0.0/16 Tunnel0.0", "ip route 172.16.0.0/16 Tunnel1.0"} {
		if strings.Contains(string(out), not) {
			t.Errorf("output has %q:\n%s", not, out)
		}
	}
}
