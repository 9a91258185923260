package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/soft-ix/soft-ix/config"
)

// This file decides whether soft-ix can run a configuration without
// quietly weakening it. An IX that filters its WAN or translates its LAN
// behind NAPT is a security boundary; a file whose filter or NAPT lines
// soft-ix cannot carry out would otherwise run with the WAN open. Such a
// file is refused (daemon start, reload, check) unless the operator says
// --allow-unenforced. The decision lives here, not in package config: the
// config loads every real IX file either way, what is refused is running
// it.

// unenforced lists the lines of cfg that ask for packet filtering or
// address translation soft-ix does not carry out, each with the reason,
// as diagnostics (severity Error) in source order.
//
// Only the interfaces soft-ix models count (GigaEthernet, Tunnel,
// Loopback): the lines of other interface families (FastEthernet, Dialer,
// BVI, ...) are kept with their whole block, and soft-ix runs no such
// interface, so nothing passes through it unfiltered.
func unenforced(cfg *config.Config) []diagnostic {
	var out []diagnostic
	add := func(v *config.Verbatim, reason string) {
		out = append(out, diagnostic{Pos: v.Pos, Severity: config.Error, Msg: reason})
	}
	for _, ifc := range cfg.Interfaces {
		if ifc.NAPT {
			out = append(out, diagnostic{Pos: ifc.NAPTPos, Severity: config.Error,
				Msg: fmt.Sprintf("\"ip napt enable\" on %s: soft-ix does not carry out NAPT yet", ifc.Name)})
		}
		for _, f := range ifc.Filters {
			out = append(out, diagnostic{Pos: f.Pos, Severity: config.Error,
				Msg: fmt.Sprintf("%q on %s: soft-ix does not enforce packet filters yet, the interface would pass what it denies", strings.Join(f.Words(), " "), ifc.Name)})
		}
		for _, v := range ifc.Extra {
			w := strings.Fields(strings.ToLower(v.Text))
			if len(w) < 2 || w[0] == "no" {
				continue // a "no" line asks for nothing
			}
			// Filter and NAPT lines carry no secrets: they are quoted whole.
			switch {
			case w[0] == "ip" && w[1] == "filter", w[0] == "ipv6" && w[1] == "filter":
				add(v, fmt.Sprintf("%q on %s: soft-ix does not enforce this packet filter, the interface would pass what it denies", v.Text, ifc.Name))
			case w[0] == "ip" && w[1] == "napt":
				add(v, fmt.Sprintf("%q on %s: soft-ix does not carry out this NAPT command", v.Text, ifc.Name))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pos.Line < out[j].Pos.Line })
	return out
}

// enforcementFlag is the flag that accepts running with unenforced lines.
const enforcementFlag = "--allow-unenforced"

// reportUnenforced writes the unenforced lines as diagnostics: errors,
// followed by how to run anyway, unless allowed; warnings when allowed.
// It returns whether the configuration may run.
func reportUnenforced(w io.Writer, lines []diagnostic, allowed bool) bool {
	if len(lines) == 0 {
		return true
	}
	for _, d := range lines {
		if allowed {
			d.Severity = config.Warning
			d.Msg += " (accepted by " + enforcementFlag + ")"
		}
		fmt.Fprintln(w, d)
	}
	if !allowed {
		fmt.Fprintf(w, "soft-ix: %d filter/NAPT line(s) cannot be enforced; remove them, or pass %s to run without them\n", len(lines), enforcementFlag)
	}
	return allowed
}
