package main

import (
	"fmt"
	"io"

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
// address translation soft-ix does not carry out (see firewall), each
// with the reason, as diagnostics (severity Error) in source order. maps
// is --map: a filter on a GigaEthernet soft-ix does not run is not
// enforced either.
//
// Only the interfaces soft-ix models count (GigaEthernet, Tunnel,
// Loopback, Null): the lines of other interface families (FastEthernet,
// Dialer, BVI, ...) are kept with their whole block, and soft-ix runs no
// such interface, so nothing passes through it unfiltered.
func unenforced(cfg *config.Config, maps map[string]string) []diagnostic {
	_, _, bad := firewall(cfg, maps)
	return bad
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
