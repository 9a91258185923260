package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/config"
)

// This file is the seam to package config: loading with diagnostics and
// printing.

// diagnostic is one warning or error about the configuration file,
// printed as file:line:col like a compiler's.
type diagnostic = config.Diagnostic

// loadConfig reads, parses and validates path. cfg is nil when the file is
// not usable; diags carries every warning and error found either way.
func loadConfig(path string) (*config.Config, []diagnostic, error) {
	cfg, diags, err := config.Load(path)
	if err != nil {
		return nil, diags, err
	}
	return cfg, diags, nil
}

// printConfig writes c as canonical IX running-config text.
func printConfig(c *config.Config) []byte { return config.Print(c) }

// printDiags writes the diagnostics, then err unless it is only their list.
func printDiags(w io.Writer, diags []diagnostic, err error) {
	for _, d := range diags {
		fmt.Fprintln(w, d)
	}
	var list config.ErrorList
	if err != nil && !(errors.As(err, &list) && len(diags) > 0) {
		fmt.Fprintf(w, "soft-ix: %v\n", err)
	}
}

// runCheck is "soft-ix check -c FILE". Besides the diagnostics it lists
// the lines soft-ix keeps without acting on, so an operator sees what of
// the IX configuration is inactive here.
//
// Filter and NAPT lines soft-ix cannot enforce make the file unusable
// (exit 1), as they stop the daemon, unless allowUnenforced.
func runCheck(path string, maps map[string]string, allowUnenforced bool, stdout, stderr io.Writer) int {
	cfg, diags, err := loadConfig(path)
	printDiags(stderr, diags, err)
	if err != nil || cfg == nil {
		return exitFail
	}
	printInactive(stdout, cfg)
	if !reportUnenforced(stderr, router.Unenforced(cfg, maps), allowUnenforced) {
		return exitFail
	}
	return exitOK
}

// printInactive lists the kept, inactive lines by position and command
// name only (their arguments may be secrets).
func printInactive(w io.Writer, cfg *config.Config) {
	in := cfg.Inactive()
	if len(in) == 0 {
		return
	}
	fmt.Fprintf(w, "inactive: %d commands are kept (show running-config prints them) but not acted on by soft-ix:\n", len(in))
	for _, v := range in {
		more := ""
		if n := len(v.Sub); n > 0 {
			more = fmt.Sprintf(" (+%d lines of its block)", n)
		}
		fmt.Fprintf(w, "  %s: %s%s\n", v.Pos, v.Command(), more)
	}
}

// runShowConfigFile is "soft-ix show running-config -c FILE".
func runShowConfigFile(path string, stdout, stderr io.Writer) int {
	cfg, diags, err := loadConfig(path)
	if err != nil || cfg == nil {
		printDiags(stderr, diags, err)
		return exitFail
	}
	stdout.Write(printConfig(cfg))
	return exitOK
}
