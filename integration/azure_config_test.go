package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// TestAzureConfigUp: the IX configuration "soft-ix azure config" writes
// for the lab's addresses passes "soft-ix check --azure" and comes up
// against soft-ix's Azure gateway emulation (cmd/soft-ix/labconf/
// azure-lab.conf): the tunnel, for BGP the session to 172.16.0.6, and the
// LAN host's ping to the VNet host. The file is used as generated: the
// scenario gives the IX's GigaEthernets their addresses, as an operator's
// own configuration would.
func TestAzureConfigUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"static", []string{"--vnet", nslab.VNetNet, "--wan", "GigaEthernet0.0"}},
		{"bgp", []string{"--azure-asn", fmt.Sprint(nslab.AzureASN), "--bgp-peer", nslab.AzureBGPAddr,
			"--local-asn", fmt.Sprint(nslab.IXASN), "--local-bgp-ip", nslab.IXLoopbackAddr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := nslab.NewForTest(t, "azcfg"+tc.name[:1], "ping")
			bin := softIXBinary(t)
			s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
			if err != nil {
				t.Fatal(err)
			}
			psk := lab.Path("psk")
			if err := os.WriteFile(psk, []byte(nslab.SeedPSK+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"azure", "config", "--gateway-ip", nslab.AzurePublicAddr, "--psk-file", psk,
				"--lan", nslab.LANNet}, tc.args...)
			conf, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("soft-ix %s: %v", strings.Join(args, " "), err)
			}
			confPath := lab.Path("generated.conf")
			if err := os.WriteFile(confPath, conf, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "check", "--azure", "-c", confPath).CombinedOutput(); err != nil {
				t.Fatalf("check --azure: %v\n%s", err, out)
			}

			azConf := iopAzureSoftIXConf(t, false)
			if tc.name == "bgp" {
				b, err := os.ReadFile("../cmd/soft-ix/labconf/azure-lab.conf")
				if err != nil {
					t.Fatal(err)
				}
				azConf = string(b)
			}
			l, ix, _ := azurePairUp(t, lab, s, azConf, string(conf), 30*time.Second)
			if tc.name == "bgp" {
				if err := nslab.WaitFor(60*time.Second, "BGP session to 172.16.0.6", func() error {
					out, err := ix.Command("show", "ip", "bgp", "summary")
					if err != nil || !strings.Contains(out, "ESTABLISHED") {
						return fmt.Errorf("%v\n%s", err, out)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			l.waitPing(iopPingAttempts)
		})
	}
}

// TestAzureImportConnectionModeUp: "soft-ix azure import" of a connection
// whose connectionMode lets only one side start it comes up against the
// emulator running that mode (--emulate-connection-mode), and the side
// that started it is the one the mode names: with ResponderOnly the IX
// initiates; with InitiatorOnly the imported IX only answers (its IKE SA
// is a responder SA) and the emulator, which refuses the IX's attempts,
// starts the tunnel. check --azure with the connection document passes
// the imported file and fails one whose tunnel neither side would start.
func TestAzureImportConnectionModeUp(t *testing.T) {
	for _, mode := range []string{"ResponderOnly", "InitiatorOnly"} {
		t.Run(mode, func(t *testing.T) {
			lab := nslab.NewForTest(t, "azmode"+strings.ToLower(mode[:1]), "ping")
			bin := softIXBinary(t)
			s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
			if err != nil {
				t.Fatal(err)
			}
			gw := writeLabFile(t, lab, "gw.json", `{"name": "vgw", "gatewayType": "Vpn", "vpnType": "RouteBased",
  "ipConfigurations": [{"name": "default", "id": "/x/ipConfigurations/default", "publicIpAddress": {"id": "/x/pip"}}]}`)
			pip := writeLabFile(t, lab, "pip.json", `{"id": "/x/pip", "ipAddress": "`+nslab.AzurePublicAddr+`"}`)
			conn := writeLabFile(t, lab, "conn.json", `{"connectionType": "IPsec", "connectionProtocol": "IKEv2",
  "connectionMode": "`+mode+`", "dpdTimeoutSeconds": 45, "enableBgp": false, "ipsecPolicies": [],
  "sharedKey": "`+nslab.SeedPSK+`"}`)
			conf, err := exec.Command(bin, "azure", "import", "--gateway", gw, "--connection", conn, "--public-ip", pip,
				"--vnet", nslab.VNetNet, "--lan", nslab.LANNet, "--wan", "GigaEthernet0.0").Output()
			if err != nil {
				t.Fatalf("azure import: %v", err)
			}
			confPath := writeLabFile(t, lab, "ix.conf", string(conf))
			if out, err := exec.Command(bin, "check", "--azure", "--policy", conn, "-c", confPath).CombinedOutput(); err != nil {
				t.Fatalf("check --azure --policy conn.json: %v\n%s", err, out)
			}
			// The file a ResponderOnly gateway never meets: an IX that
			// only answers.
			if mode == "ResponderOnly" {
				bad := writeLabFile(t, lab, "bad.conf", strings.Replace(string(conf), "  ikev2 connect-type auto\n",
					"  ikev2 negotiation-direction responder\n", 1))
				if out, err := exec.Command(bin, "check", "--azure", "--policy", conn, "-c", bad).CombinedOutput(); err == nil ||
					!strings.Contains(string(out), "neither side starts the tunnel") {
					t.Errorf("check --azure on a responder-only IX against ResponderOnly: %v\n%s", err, out)
				}
			}

			l, ix, az := azurePairUp(t, lab, s, iopAzureSoftIXConf(t, false), string(conf), 60*time.Second,
				"--emulate", "azure", "--emulate-connection-mode", mode)
			want := map[string]string{"ResponderOnly": "initiator", "InitiatorOnly": "responder"}[mode]
			if sas := l.ikeSAs(ix); sas[0].Direction != want {
				t.Errorf("the IX's IKE SA is the %s's, want the %s's", sas[0].Direction, want)
			}
			// Only the side the mode lets start the tunnel ever tried.
			starter, other := ix, az
			if mode == "InitiatorOnly" {
				starter, other = az, ix
			}
			if !strings.Contains(starter.Proc.Log(), "ike: initiating") || strings.Contains(other.Proc.Log(), "ike: initiating") {
				t.Errorf("with connectionMode %s soft-ix %s must initiate and %s never", mode, starter.Name, other.Name)
			}
			l.waitPing(iopPingAttempts)
		})
	}
}

// azurePairUp starts soft-ix as the gateway with azConf (and azArgs) and
// as the IX with ixConf in s, and waits up to timeout for their tunnel.
func azurePairUp(t *testing.T, lab *nslab.Lab, s *nslab.Scenario, azConf, ixConf string, timeout time.Duration, azArgs ...string) (*iopLab, *nslab.SoftIX, *nslab.SoftIX) {
	t.Helper()
	az, err := nslab.StartSoftIXDaemon(s.Azure, nslab.SoftIXOptions{Name: "azure", Config: azConf, Map: nslab.AzureSideMap(), Args: azArgs})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{Name: "ix", Config: ixConf, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	l := &iopLab{t: t, lab: lab, s: s, ix: ix}
	iopWaitSoftIXPair(t, l, ix, az, timeout)
	return l, ix, az
}

// TestAzureEmulatorCustomPolicy: the emulator behaves as a connection
// with a custom IPsec/IKE policy (--emulate-connection conn.json: AES-256/
// SHA-256/DH14 IKE, GCM-256 ESP with PFS 2048) and check --azure with the
// same document predicts it: the seed's IX (AES-CBC/SHA1/DH2, no PFS),
// which check --azure refuses, never gets a tunnel; the IX that "soft-ix
// azure import" writes for the connection passes check --azure and comes
// up with the policy's suite.
func TestAzureEmulatorCustomPolicy(t *testing.T) {
	lab := nslab.NewForTest(t, "azcustom", "ping")
	bin := softIXBinary(t)
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn := writeLabFile(t, lab, "conn.json", `{"connectionType": "IPsec", "connectionProtocol": "IKEv2", "enableBgp": false,
  "dpdTimeoutSeconds": 45, "sharedKey": "`+nslab.SeedPSK+`",
  "ipsecPolicies": [{"saLifeTimeSeconds": 27000, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
    "ipsecIntegrity": "GCMAES256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "pfsGroup": "PFS2048"}]}`)
	gw := writeLabFile(t, lab, "gw.json", `{"name": "vgw", "gatewayType": "Vpn", "vpnType": "RouteBased",
  "ipConfigurations": [{"name": "default", "id": "/x/ipConfigurations/default", "publicIpAddress": {"id": "/x/pip"}}]}`)
	pip := writeLabFile(t, lab, "pip.json", `{"id": "/x/pip", "ipAddress": "`+nslab.AzurePublicAddr+`"}`)
	az, err := nslab.StartSoftIXDaemon(s.Azure, nslab.SoftIXOptions{Name: "azure", Config: iopAzureSoftIXConf(t, false),
		Map: nslab.AzureSideMap(), Args: []string{"--emulate", "azure", "--emulate-connection", conn}})
	if err != nil {
		t.Fatal(err)
	}
	l := &iopLab{t: t, lab: lab, s: s}

	// The seed's IX: check --azure says no, and the emulator agrees.
	seed := iopIXConf{}.text()
	if out, err := exec.Command(bin, "check", "--azure", "--policy", conn, "-c", writeLabFile(t, lab, "seed.conf", seed)).CombinedOutput(); err == nil {
		t.Errorf("check --azure passed the seed's IX against the custom policy:\n%s", out)
	}
	ix, err := nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{Name: "seed", Config: seed, Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	if sas := l.ikeSAs(ix); len(sas) != 0 {
		t.Fatalf("the seed's IX got an IKE SA from the custom-policy emulator: %+v", sas)
	}
	if err := ix.Proc.Stop(); err != nil {
		t.Fatal(err)
	}

	// The imported IX: check --azure passes, the tunnel carries the
	// policy's suite.
	conf, err := exec.Command(bin, "azure", "import", "--gateway", gw, "--connection", conn, "--public-ip", pip,
		"--vnet", nslab.VNetNet, "--lan", nslab.LANNet, "--wan", "GigaEthernet0.0").Output()
	if err != nil {
		t.Fatalf("azure import: %v", err)
	}
	if out, err := exec.Command(bin, "check", "--azure", "--policy", conn, "-c", writeLabFile(t, lab, "ix.conf", string(conf))).CombinedOutput(); err != nil {
		t.Fatalf("check --azure on the imported IX: %v\n%s", err, out)
	}
	ix, err = nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{Name: "ix", Config: string(conf), Map: nslab.IXSideMap()})
	if err != nil {
		t.Fatal(err)
	}
	l.ix = ix
	iopWaitSoftIXPair(t, l, ix, az, 30*time.Second)
	if sas := l.ikeSAs(ix); sas[0].Enc != "AES-CBC-256" || sas[0].DH != "2048-bit" {
		t.Errorf("IKE SA %+v, want AES-CBC-256 with 2048-bit", sas[0])
	}
	for _, ch := range l.childSAs(ix) {
		if ch.Enc != "AES-GCM-256" {
			t.Errorf("Child SA %+v, want AES-GCM-256", ch)
		}
	}
	l.waitPing(iopPingAttempts)
}
