package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/soft-ix/soft-ix/config"
)

// This file is the seam to package config: loading with diagnostics,
// printing and a reload summary.

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

// configChanges summarises what a reload changes, for the log and the
// "reload" answer; the components decide themselves what to restart.
type configChanges struct {
	Summary []string // "+ ip route ..." / "- ip route ..."
}

// diffConfig compares the canonical texts of two configs command by
// command (each line with the block it stands in). The summary goes to the
// log on SIGHUP, so pre-shared keys never appear in it: key lines are
// compared with the key masked, and a changed key is reported as such.
func diffConfig(old, new *config.Config) configChanges {
	a, b := commandSet(maskKeys(old)), commandSet(maskKeys(new))
	var ch configChanges
	for _, l := range a.order {
		if !b.has[l] {
			ch.Summary = append(ch.Summary, "- "+l)
		}
	}
	for _, l := range b.order {
		if !a.has[l] {
			ch.Summary = append(ch.Summary, "+ "+l)
		}
	}
	if old == nil || new == nil {
		return ch
	}
	for _, n := range new.PSKs {
		for _, o := range old.PSKs {
			if o.ID == n.ID && !bytes.Equal(o.Key, n.Key) {
				ch.Summary = append(ch.Summary, fmt.Sprintf("~ ikev2 authentication psk id %s %s: key changed", n.ID.Type, n.ID.Value))
			}
		}
	}
	return ch
}

// maskedKey stands in for every pre-shared key in the reload summary.
const maskedKey = "********"

// maskKeys returns c with every PSK replaced by maskedKey; c is not changed.
func maskKeys(c *config.Config) *config.Config {
	if c == nil || len(c.PSKs) == 0 {
		return c
	}
	m := *c
	m.PSKs = make([]*config.PSK, len(c.PSKs))
	for i, k := range c.PSKs {
		mk := *k
		mk.Key, mk.Hex = []byte(maskedKey), false
		m.PSKs[i] = &mk
	}
	return &m
}

type commands struct {
	order []string
	has   map[string]bool
}

func commandSet(c *config.Config) commands {
	cs := commands{has: map[string]bool{}}
	if c == nil {
		return cs
	}
	block := ""
	// PrintActive: the lines soft-ix keeps without acting on change nothing
	// it runs, and may hold secrets IX stores in clear (PPP passwords, IKEv1
	// keys) that must not reach the log.
	for _, line := range strings.Split(string(config.PrintActive(c)), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "!") {
			block = ""
			continue
		}
		if line == t { // a top-level command, maybe opening a block
			block = t
			cs.add(t)
			continue
		}
		cs.add(block + ": " + t)
	}
	return cs
}

func (cs *commands) add(s string) {
	if !cs.has[s] {
		cs.has[s] = true
		cs.order = append(cs.order, s)
	}
}

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
	if !reportUnenforced(stderr, unenforced(cfg, maps), allowUnenforced) {
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
