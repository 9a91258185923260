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
			az, err := nslab.StartSoftIXDaemon(s.Azure, nslab.SoftIXOptions{Name: "azure", Config: azConf, Map: nslab.AzureSideMap()})
			if err != nil {
				t.Fatal(err)
			}
			ix, err := nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{Name: "ix", Config: string(conf), Map: nslab.IXSideMap()})
			if err != nil {
				t.Fatal(err)
			}
			l := &iopLab{t: t, lab: lab, s: s, ix: ix}
			iopWaitSoftIXPair(t, l, ix, az, 30*time.Second)
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
