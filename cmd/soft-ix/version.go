package main

import (
	"runtime/debug"
	"strings"
)

// version says which soft-ix this is: the module version when it was
// built as a module (go install ...@vX), else the commit it was built
// from (with "+dirty" for uncommitted changes), and the Go release.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		v = "devel"
		if rev != "" {
			v = "commit " + rev[:min(12, len(rev))] + dirty
		}
	}
	return strings.TrimSpace(v + ", " + bi.GoVersion)
}
