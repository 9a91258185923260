package azure

import (
	"flag"
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
