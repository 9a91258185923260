package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/soft-ix/soft-ix/config"
)

// This file is the seam to package config: loading with diagnostics,
// printing and diffing. It holds the only calls into config's parser.

// diagnostic is one warning or error about the configuration file,
// printed as file:line:col like a compiler's.
type diagnostic struct {
	Pos     config.Pos
	Warning bool
	Msg     string
}

func (d diagnostic) String() string {
	sev := "error"
	if d.Warning {
		sev = "warning"
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", d.Pos.File, d.Pos.Line, d.Pos.Col, sev, d.Msg)
}

// errParserMissing is returned until package config has its parser.
var errParserMissing = errors.New("this build has no IX configuration parser yet (package config)")

// loadConfig reads, parses and validates path. cfg is nil when the file is
// not usable; diags carries every warning and error found either way.
func loadConfig(path string) (cfg *config.Config, diags []diagnostic, err error) {
	return nil, nil, errParserMissing
}

// printConfig writes c as canonical IX running-config text.
func printConfig(c *config.Config) []byte {
	return nil
}

// configChanges summarises what a reload changes, for the log and the
// "reload" answer; components decide themselves what to restart.
type configChanges struct {
	Summary []string // human-readable lines, e.g. "Tunnel0.0: peer changed"
}

func diffConfig(old, new *config.Config) configChanges {
	return configChanges{}
}

// runCheck is "soft-ix check -c FILE".
func runCheck(path string, stdout, stderr io.Writer) int {
	cfg, diags, err := loadConfig(path)
	for _, d := range diags {
		fmt.Fprintln(stderr, d)
	}
	if err != nil || cfg == nil {
		if err != nil && len(diags) == 0 {
			fmt.Fprintf(stderr, "soft-ix: %v\n", err)
		}
		return exitFail
	}
	return exitOK
}

// runShowConfigFile is "soft-ix show running-config -c FILE".
func runShowConfigFile(path string, stdout, stderr io.Writer) int {
	cfg, diags, err := loadConfig(path)
	if err != nil || cfg == nil {
		for _, d := range diags {
			fmt.Fprintln(stderr, d)
		}
		if err != nil && len(diags) == 0 {
			fmt.Fprintf(stderr, "soft-ix: %v\n", err)
		}
		return exitFail
	}
	stdout.Write(printConfig(cfg))
	return exitOK
}
