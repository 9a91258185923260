package main

// "--emulate azure": the daemon runs its file as one instance of an
// Azure VPN Gateway (package azemu); the router applies it (see
// router.Options.Emulator).

import (
	"fmt"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azemu"
)

// emulator returns the Azure emulator --emulate asks for, or nil.
func (o *options) emulator() (*azemu.Config, error) {
	switch o.emulate {
	case "":
		if o.connectionMode != "Default" {
			return nil, fmt.Errorf("--emulate-connection-mode needs --emulate azure")
		}
		return nil, nil
	case "azure":
		c := &azemu.Config{TimeScale: o.timeScale, Mode: o.connectionMode}
		return c, c.Check()
	}
	return nil, fmt.Errorf("--emulate %q: the only peer soft-ix emulates is azure", o.emulate)
}
