// Package config owns the NEC IX configuration language as soft-ix reads it:
// the lexer, the parser into the typed model in model.go, validation with
// file:line:col diagnostics, the canonical running-config printer and the
// diff of two configs used by reload. It depends on nothing else in soft-ix.
package config
