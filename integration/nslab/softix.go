package nslab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// SoftIXPackage is the import path of the soft-ix command.
const SoftIXPackage = "github.com/soft-ix/soft-ix/cmd/soft-ix"

var softix struct {
	sync.Mutex
	path     string // binary in use, once known
	buildDir string // temporary directory of a binary we built
}

// UseSoftIXBinary makes StartSoftIX run the binary at path; `soft-ix lab`
// passes its own executable.
func UseSoftIXBinary(path string) {
	softix.Lock()
	defer softix.Unlock()
	softix.path = path
}

// SoftIXBinary returns the soft-ix binary labs run: the one set by
// UseSoftIXBinary, else $SOFTIX_BIN, else one built with `go build` into a
// temporary directory, once per process (this needs the go command and a
// working directory inside the soft-ix module, as tests have). Call
// RemoveBuiltSoftIX when done (the integration tests' TestMain does).
func SoftIXBinary() (string, error) {
	softix.Lock()
	defer softix.Unlock()
	if softix.path != "" {
		return softix.path, nil
	}
	if p := os.Getenv("SOFTIX_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("nslab: SOFTIX_BIN: %w", err)
		}
		softix.path = p
		return p, nil
	}
	dir, err := os.MkdirTemp("", "nslab-soft-ix-")
	if err != nil {
		return "", fmt.Errorf("nslab: %w", err)
	}
	bin := filepath.Join(dir, "soft-ix")
	if _, err := runCommand(context.Background(), nil, "go", "build", "-o", bin, SoftIXPackage); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("nslab: building soft-ix: %w", err)
	}
	softix.path, softix.buildDir = bin, dir
	return bin, nil
}

// RemoveBuiltSoftIX deletes the binary SoftIXBinary built, if any.
func RemoveBuiltSoftIX() {
	softix.Lock()
	defer softix.Unlock()
	if softix.buildDir != "" {
		os.RemoveAll(softix.buildDir)
		softix.path, softix.buildDir = "", ""
	}
}

// StartSoftIX runs the soft-ix binary (see SoftIXBinary) with args in ns,
// its output in "soft-ix@<role>.log". The lab stops it on Close.
func StartSoftIX(ns *Namespace, args ...string) (*Proc, error) {
	bin, err := SoftIXBinary()
	if err != nil {
		return nil, err
	}
	return ns.Start("soft-ix", nil, append([]string{bin}, args...)...)
}

// RunSoftIX runs a short soft-ix command (e.g. `show ikev2 sa --socket
// ...`) in ns and returns its combined output.
func RunSoftIX(ns *Namespace, args ...string) (string, error) {
	bin, err := SoftIXBinary()
	if err != nil {
		return "", err
	}
	return ns.Run(append([]string{bin}, args...)...)
}
