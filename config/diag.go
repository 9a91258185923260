package config

import (
	"fmt"
	"strings"
)

// Severity says whether a diagnostic stops the config from loading.
type Severity int

// Severities, least severe first.
const (
	Warning Severity = iota // the config loads; something is ignored or risky
	Error                   // the config does not load
)

// String gives "warning" or "error", as diagnostics print them.
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// String gives "file:line:col" (fields left out when unknown).
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Diagnostic is one warning or error about a config file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// String formats the diagnostic as "file:line:col: severity: msg".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Msg)
}

// ErrorList is the error Parse and Load return: every Error diagnostic,
// in source order.
type ErrorList []Diagnostic

// Error lists every error diagnostic, one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// HasErrors reports whether any diagnostic is an Error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// errorsOf returns the Error diagnostics as an error, or nil.
func errorsOf(diags []Diagnostic) error {
	var l ErrorList
	for _, d := range diags {
		if d.Severity == Error {
			l = append(l, d)
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l
}
