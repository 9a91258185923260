package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// azureCmd runs "soft-ix azure ARGS" with stdin and returns stdout, stderr
// and the exit status.
func azureCmd(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	st := runAzure(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), st
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkGenerated runs "soft-ix check" on a generated config.
func checkGenerated(t *testing.T, conf string) {
	t.Helper()
	path := writeFile(t, "ix.conf", conf)
	var errb bytes.Buffer
	if st := runCheck(path, nil, false, io.Discard, &errb); st != exitOK || errb.Len() > 0 {
		t.Errorf("soft-ix check: status %d\n%s\n%s", st, errb.String(), conf)
	}
}

func TestAzureConfigStatic(t *testing.T) {
	psk := writeFile(t, "psk", "s3cret-Key\n")
	out, errs, st := azureCmd(t, "", "config", "--gateway-ip", "198.51.100.6", "--psk-file", psk,
		"--vnet", "172.16.0.0/16", "--vnet", "10.10.0.0/16", "--lan", "192.168.2.0/24")
	if st != exitOK {
		t.Fatalf("status %d: %s", st, errs)
	}
	for _, want := range []string{"key char s3cret-Key\n", "ip route 172.16.0.0/16 Tunnel0.0", "ip route 10.10.0.0/16 Tunnel0.0", "ikev2 ipsec pre-fragment"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkGenerated(t, out)
}

func TestAzureConfigBGPActiveActiveFromStdin(t *testing.T) {
	out, errs, st := azureCmd(t, "s3cret-Key\r\n", "config", "--gateway-ip", "198.51.100.6", "--gateway-ip2", "198.51.100.7",
		"--psk-file", "-", "--azure-asn", "65010", "--bgp-peer", "172.16.0.4", "--bgp-peer2", "172.16.0.5",
		"--local-asn", "65050", "--local-bgp-ip", "10.2.2.2", "--lan", "192.168.2.0/24", "--policy", "gcm", "--wan", "GigaEthernet0.0")
	if st != exitOK {
		t.Fatalf("status %d: %s", st, errs)
	}
	for _, want := range []string{"interface Tunnel1.0", "ikev2 peer 198.51.100.7", "neighbor 172.16.0.5 remote-as 65010",
		"ip route 172.16.0.5/32 Tunnel1.0", "child-proposal enc aes-gcm-256-16", "ikev2 source-address GigaEthernet0.0", "key char s3cret-Key\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkGenerated(t, out)
}

func TestAzureConfigErrorsKeepTheKeySecret(t *testing.T) {
	psk := writeFile(t, "psk", "s3cret-Key\n")
	for _, args := range [][]string{
		{"config", "--psk-file", psk, "--vnet", "172.16.0.0/16"},                     // no gateway
		{"config", "--gateway-ip", "198.51.100.6", "--psk-file", psk},                // nothing to route
		{"config", "--gateway-ip", "198.51.100.6", "--vnet", "172.16.0.0/16"},        // no key
		{"config", "--gateway-ip", "198.51.100.6", "--psk-file", psk, "--vnet", "x"}, // bad prefix
		{"config", "--gateway-ip", "198.51.100.6", "--psk-file", psk, "--vnet", "172.16.0.0/16", "--policy", "fast"},
		{"config", "--gateway-ip", "198.51.100.6", "--psk-file", psk, "--bgp-peer", "172.16.0.6", "--azure-asn", "65010", "--local-asn", "65515", "--local-bgp-ip", "10.2.2.2"},
		{"bogus"},
	} {
		out, errs, st := azureCmd(t, "", args...)
		if st == exitOK || out != "" {
			t.Errorf("%q: status %d, output %q", args, st, out)
		}
		if strings.Contains(errs, "s3cret") {
			t.Errorf("%q: stderr shows the key: %s", args, errs)
		}
	}
	// A key with a blank cannot be written as "key char".
	bad := writeFile(t, "psk", "s3cret Key\n")
	_, errs, st := azureCmd(t, "", "config", "--gateway-ip", "198.51.100.6", "--psk-file", bad, "--vnet", "172.16.0.0/16")
	if st == exitOK || strings.Contains(errs, "s3cret") {
		t.Errorf("blank in key: status %d, %s", st, errs)
	}
}

func TestAzureTable(t *testing.T) {
	out, _, st := azureCmd(t, "", "table")
	if st != exitOK || !strings.Contains(out, "source: https://learn.microsoft.com/") || !strings.Contains(out, "reserved-asn") {
		t.Errorf("status %d:\n%s", st, out)
	}
}

func TestCheckAzure(t *testing.T) {
	// The seed lints with notes only: exit 0.
	var out, errb bytes.Buffer
	if st := run([]string{"check", "--azure", "-c", "../../config/testdata/ix-static.conf"}, &out, &errb); st != exitOK {
		t.Errorf("seed: status %d\n%s%s", st, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "ix-static.conf:16:3: info:") || !strings.Contains(out.String(), "0 errors") {
		t.Errorf("seed:\n%s", out.String())
	}
	// A reserved ASN is an error: exit 1, with file:line and the fix.
	bad := writeFile(t, "bad.conf", strings.Replace(mustRead(t, "../../config/testdata/ix-bgp.conf"), "router bgp 65050", "router bgp 65515", 1))
	out.Reset()
	if st := run([]string{"check", "--azure", "-c", bad}, &out, io.Discard); st != exitFail {
		t.Errorf("reserved ASN: status %d", st)
	}
	if !strings.Contains(out.String(), "bad.conf:23:1: error: router bgp 65515") || !strings.Contains(out.String(), "fix: ") {
		t.Errorf("reserved ASN:\n%s", out.String())
	}
	// Against a custom GCM policy the seed's CBC proposals are errors.
	pol := writeFile(t, "policy.json", `[{"dhGroup":"DHGroup14","ikeEncryption":"GCMAES256","ikeIntegrity":"GCMAES256","ipsecEncryption":"GCMAES256","ipsecIntegrity":"GCMAES256","pfsGroup":"None","saLifeTimeSeconds":27000,"saDataSizeKilobytes":102400000}]`)
	out.Reset()
	if st := run([]string{"check", "--azure", "--policy", pol, "-c", "../../config/testdata/ix-static.conf"}, &out, io.Discard); st != exitFail {
		t.Errorf("custom policy: status %d\n%s", st, out.String())
	}
	if !strings.Contains(out.String(), "custom IPsec/IKE policy") {
		t.Errorf("custom policy:\n%s", out.String())
	}
	// --policy alone is a usage error.
	if st := run([]string{"check", "--policy", pol, "-c", bad}, io.Discard, io.Discard); st != exitUsage {
		t.Errorf("--policy without --azure: status %d", st)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAzureImport(t *testing.T) {
	dir := "internal/azure/testdata/import/aa-bgp/"
	out, errs, st := azureCmd(t, "PSK-PLACEHOLDER\n", "import", "--gateway", dir+"gateway.json", "--connection", dir+"connection.json",
		"--public-ip", dir+"pip1.json", "--public-ip", dir+"pip2.json", "--local-gateway", dir+"local-gateway.json",
		"--psk-file", "-", "--lan", "192.168.2.0/24")
	if st != exitOK {
		t.Fatalf("status %d: %s", st, errs)
	}
	if want := mustRead(t, dir+"want.conf"); out != want {
		t.Errorf("output differs from want.conf:\n%s", out)
	}
	checkGenerated(t, out)

	static := "internal/azure/testdata/import/static/"
	for _, args := range [][]string{
		{"import", "--gateway", static + "gateway.json"},                                                                        // no connection
		{"import", "--gateway", static + "gateway.json", "--connection", static + "connection.json"},                            // no key
		{"import", "--gateway", static + "missing.json", "--connection", static + "connection.json"},                            // no file
		{"import", "--gateway", static + "connection.json", "--connection", static + "gateway.json", "--vnet", "172.16.0.0/16"}, // swapped: no address
	} {
		if out, _, st := azureCmd(t, "", args...); st == exitOK || out != "" {
			t.Errorf("%q: status %d, output %q", args, st, out)
		}
	}
}

func TestAzureHelp(t *testing.T) {
	for _, verb := range []string{"config", "import"} {
		_, errs, st := azureCmd(t, "", verb, "--help")
		if st != exitOK || !strings.Contains(errs, "-psk-file") || !strings.Contains(errs, "soft-ix azure import --gateway FILE") {
			t.Errorf("azure %s --help: status %d\n%s", verb, st, errs)
		}
	}
}

func TestAzureAfterFlags(t *testing.T) {
	var errb bytes.Buffer
	if st := run([]string{"--log-level", "debug", "azure", "table"}, io.Discard, &errb); st != exitUsage || !strings.Contains(errb.String(), "first") {
		t.Errorf("status %d: %s", st, errb.String())
	}
}
