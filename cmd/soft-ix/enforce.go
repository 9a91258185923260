package main

import (
	"fmt"
	"io"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/config"
)

// A file whose filter, NAPT or IPsec lines soft-ix cannot carry out
// (router.Unenforced) is refused by the daemon's start, a reload and check,
// unless the operator says --allow-unenforced. The decision lives here
// and in the router, not in package config: the config loads every real
// IX file either way, what is refused is running it.

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
			d.Msg += " (accepted by " + router.EnforcementFlag + ")"
		}
		fmt.Fprintln(w, d)
	}
	if !allowed {
		fmt.Fprintf(w, "soft-ix: %d filter, NAPT or IPsec line(s) cannot be enforced; remove them, or pass %s to run without them\n", len(lines), router.EnforcementFlag)
	}
	return allowed
}
