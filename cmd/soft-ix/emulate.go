package main

// "--emulate azure": the daemon runs its file as one instance of an
// Azure VPN Gateway (package azemu). The IX file is translated as always;
// the emulator then rewrites the IKE and BGP configurations it yields.

import (
	"fmt"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azemu"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/internal/ixbgp"
	"github.com/soft-ix/soft-ix/internal/ixike"
)

// emulator returns the Azure emulator --emulate asks for, or nil.
func (o *options) emulator() (*azemu.Config, error) {
	switch o.emulate {
	case "":
		return nil, nil
	case "azure":
		c := &azemu.Config{TimeScale: o.timeScale}
		return c, c.Check()
	}
	return nil, fmt.Errorf("--emulate %q: the only peer soft-ix emulates is azure", o.emulate)
}

// ikeConfig translates cfg's tunnels, as Azure runs them under --emulate
// azure (t, when not nil, gets Azure's IKE timers).
func (o *options) ikeConfig(cfg *config.Config, t *ike.CoreConfig) (ike.Config, error) {
	ic, err := ixike.Config(cfg)
	if err != nil {
		return ic, err
	}
	em, err := o.emulator()
	if err != nil || em == nil {
		return ic, err
	}
	return ic, em.IKE(&ic, t)
}

// bgpConfig translates cfg's "router bgp", with Azure's rules under
// --emulate azure.
func (o *options) bgpConfig(cfg *config.Config) (bgp.Config, error) {
	bc, err := ixbgp.Config(cfg)
	if err != nil {
		return bc, err
	}
	em, err := o.emulator()
	if err != nil || em == nil {
		return bc, err
	}
	return bc, em.BGP(&bc)
}
