package router

// The IX file is translated for ike and bgp as always (internal/ixike,
// internal/ixbgp); under --emulate azure the emulator then rewrites the
// configurations they yield (package azemu).

import (
	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/internal/ixbgp"
	"github.com/soft-ix/soft-ix/internal/ixike"
)

// ikeConfig translates cfg's tunnels, as Azure runs them under --emulate
// azure (t, when not nil, gets Azure's IKE timers).
func (o Options) ikeConfig(cfg *config.Config, t *ike.CoreConfig) (ike.Config, error) {
	ic, err := ixike.Config(cfg)
	if err != nil || o.Emulator == nil {
		return ic, err
	}
	return ic, o.Emulator.IKE(&ic, t)
}

// bgpConfig translates cfg's "router bgp", with Azure's rules under
// --emulate azure.
func (o Options) bgpConfig(cfg *config.Config) (bgp.Config, error) {
	bc, err := ixbgp.Config(cfg)
	if err != nil || o.Emulator == nil {
		return bc, err
	}
	return bc, o.Emulator.BGP(&bc)
}
