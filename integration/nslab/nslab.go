// Package nslab is the integration tests' lab: the namespaces, processes
// and seed scenario of internal/netlab (re-exported here, so a test needs
// one import), plus what only tests use: drivers for the reference peers
// (strongSwan, BIRD, iperf3, dnsmasq), a soft-ix daemon built from source,
// and the glue to package testing (NewForTest, Require).
//
// The soft-ix binary must not link this package (`soft-ix lab` uses
// internal/netlab directly); a test in cmd/soft-ix checks that.
package nslab

import (
	"fmt"
	"os"
	"time"

	"github.com/soft-ix/soft-ix/internal/netlab"
)

// The lab's building blocks, from internal/netlab.
type (
	Lab             = netlab.Lab
	Namespace       = netlab.Namespace
	Proc            = netlab.Proc
	Scenario        = netlab.Scenario
	ScenarioOptions = netlab.ScenarioOptions
	Impairment      = netlab.Impairment
	Probe           = netlab.Probe
	ProbeGap        = netlab.ProbeGap
)

// The seed scenario's addresses and parameters (see netlab's scenario.go).
const (
	IXWANIf                = netlab.IXWANIf
	IXLANIf                = netlab.IXLANIf
	IXWANAddr              = netlab.IXWANAddr
	IXWANPrefix            = netlab.IXWANPrefix
	IXLANAddr              = netlab.IXLANAddr
	IXLANPrefix            = netlab.IXLANPrefix
	LANNet                 = netlab.LANNet
	LANHostAddr            = netlab.LANHostAddr
	InternetIXSideAddr     = netlab.InternetIXSideAddr
	InternetAzureSideAddr  = netlab.InternetAzureSideAddr
	AzureWANIf             = netlab.AzureWANIf
	AzureVNetIf            = netlab.AzureVNetIf
	AzureBGPIf             = netlab.AzureBGPIf
	AzurePublicAddr        = netlab.AzurePublicAddr
	AzureVNetGateway       = netlab.AzureVNetGateway
	AzureBGPAddr           = netlab.AzureBGPAddr
	VNetNet                = netlab.VNetNet
	VNetHostAddr           = netlab.VNetHostAddr
	Azure2PublicAddr       = netlab.Azure2PublicAddr
	Azure2BGPAddr          = netlab.Azure2BGPAddr
	Azure2VNetGateway      = netlab.Azure2VNetGateway
	VNetIf                 = netlab.VNetIf
	VNet2If                = netlab.VNet2If
	SeedPSK                = netlab.SeedPSK
	IXLoopbackAddr         = netlab.IXLoopbackAddr
	IXASN                  = netlab.IXASN
	AzureASN               = netlab.AzureASN
	IXTunnelAddr           = netlab.IXTunnelAddr
	SeedIKEProposal        = netlab.SeedIKEProposal
	SeedChildProposal      = netlab.SeedChildProposal
	IXWANAddr6             = netlab.IXWANAddr6
	InternetIXSideAddr6    = netlab.InternetIXSideAddr6
	InternetAzureSideAddr6 = netlab.InternetAzureSideAddr6
	AzurePublicAddr6       = netlab.AzurePublicAddr6
)

// New creates an empty Lab; see netlab.New.
func New(prefix, dir string) (*Lab, error) { return netlab.New(prefix, dir) }

// NewScenario builds the seed topology in lab; see netlab.NewScenario.
func NewScenario(lab *Lab, opts ScenarioOptions) (*Scenario, error) {
	return netlab.NewScenario(lab, opts)
}

// WaitFor polls cond until it holds or timeout passes; see netlab.WaitFor.
func WaitFor(timeout time.Duration, what string, cond func() error) error {
	return netlab.WaitFor(timeout, what, cond)
}

// StartProbe starts a numbered UDP stream; see netlab.StartProbe.
func StartProbe(from *Namespace, src string, to *Namespace, dst string, port int, interval time.Duration) (*Probe, error) {
	return netlab.StartProbe(from, src, to, dst, port, interval)
}

// ImpairBinary returns the impairment program; see netlab.ImpairBinary.
func ImpairBinary() (string, error) { return netlab.ImpairBinary() }

func writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("nslab: %w", err)
	}
	return nil
}
