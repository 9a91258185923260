package main

// "--emulate azure": the daemon runs its file as one instance of an
// Azure VPN Gateway (package azemu); the router applies it (see
// router.Options.Emulator).

import (
	"fmt"
	"os"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azemu"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azure"
)

// emulator returns the Azure emulator --emulate asks for, or nil.
func (o *options) emulator() (*azemu.Config, error) {
	switch o.emulate {
	case "":
		if o.connectionMode != "" || o.connectionFile != "" {
			return nil, fmt.Errorf("--emulate-connection and --emulate-connection-mode need --emulate azure")
		}
		return nil, nil
	case "azure":
		mode, err := azure.ParseConnectionMode(o.connectionMode)
		if err != nil {
			return nil, fmt.Errorf("--emulate-connection-mode: %w", err)
		}
		c := &azemu.Config{TimeScale: o.timeScale, Mode: mode}
		if o.connectionFile != "" {
			acc, err := readConnection(o.connectionFile)
			if err != nil {
				return nil, err
			}
			c.Connection = &acc
			// A file that says InitiatorOnly or ResponderOnly decides
			// unless the flag says otherwise, which is an error; one
			// that says Default (or nothing) yields to the flag.
			switch {
			case o.connectionMode == "":
				c.Mode = acc.Mode
			case acc.Mode != "" && mode != acc.Mode:
				return nil, fmt.Errorf("--emulate-connection-mode %s, but %s says connectionMode %s", o.connectionMode, o.connectionFile, acc.Mode)
			}
		}
		return c, c.Check()
	}
	return nil, fmt.Errorf("--emulate %q: the only peer soft-ix emulates is azure", o.emulate)
}

// readConnection reads what Azure offers and accepts on the connection in
// path (az network vpn-connection show, the ARM resource, or only its
// ipsecPolicies).
func readConnection(path string) (azure.Accepts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return azure.Accepts{}, fmt.Errorf("--emulate-connection: %w", err)
	}
	acc, err := azure.ConnectionAccepts(data)
	if err != nil {
		return azure.Accepts{}, fmt.Errorf("--emulate-connection %s: %w", path, err)
	}
	return acc, nil
}
