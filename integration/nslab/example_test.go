package nslab_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// The strongSwan reference tunnel, as a program would build it (a test
// uses nslab.NewForTest instead, which also dumps logs on failure). Needs
// root; not run by go test.
func ExampleStartStrongSwanPair() {
	dir, err := os.MkdirTemp("", "nslab-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	lab, err := nslab.New("example", dir)
	if err != nil {
		log.Fatal(err)
	}
	defer lab.Close() // stops charon, deletes the namespaces

	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		log.Fatal(err)
	}
	pair, err := nslab.StartStrongSwanPair(s)
	if err != nil {
		lab.DumpLogs(os.Stderr)
		log.Fatal(err)
	}
	// Static routes as in ix-static.conf, and Azure's route back.
	if err := pair.IX.RouteVia(nslab.VNetNet); err != nil {
		log.Fatal(err)
	}
	if err := pair.Azure.RouteVia(nslab.LANNet); err != nil {
		log.Fatal(err)
	}
	err = nslab.WaitFor(10*time.Second, "ping through the tunnel", func() error {
		return s.LAN.Ping(nslab.VNetHostAddr, "", 1)
	})
	fmt.Println("ping 192.168.2.10 -> 172.16.1.4:", err == nil)
}

// soft-ix as the IX against strongSwan as Azure's gateway offering Azure's
// default proposal lists. Needs root; not run by go test.
func ExampleStartSoftIXDaemon() {
	dir, _ := os.MkdirTemp("", "nslab-example-")
	defer os.RemoveAll(dir)
	lab, err := nslab.New("example", dir)
	if err != nil {
		log.Fatal(err)
	}
	defer lab.Close()
	s, err := nslab.NewScenario(lab, nslab.ScenarioOptions{})
	if err != nil {
		log.Fatal(err)
	}

	azureCfg := nslab.AzureStrongSwanConfig()
	azureCfg.IKEProposals, azureCfg.ESPProposals = nslab.AzureIKEProposals, nslab.AzureESPProposals
	azure, err := nslab.StartStrongSwan(s.Azure, azureCfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := azure.Load(); err != nil {
		log.Fatal(err)
	}

	conf, err := os.ReadFile("integration/testdata/ix-static-lab.conf") // from the repository root
	if err != nil {
		log.Fatal(err)
	}
	ix, err := nslab.StartSoftIXDaemon(s.IX, nslab.SoftIXOptions{
		Name: "ix", Config: string(conf), Map: nslab.IXSideMap(),
	})
	if err != nil {
		log.Fatal(err)
	}
	// strongSwan's side of the tunnel up, its routing made route-based.
	if err := azure.Up(30*time.Second, nslab.LANNet); err != nil {
		lab.DumpLogs(os.Stderr)
		log.Fatal(err)
	}
	out, _ := ix.Command("show", "ikev2", "sa")
	fmt.Print(out)
}
