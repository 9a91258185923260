package netlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"time"
)

// A Program is a Go command of the soft-ix module that a lab runs (never
// links): the binary named by an environment variable, else one built
// with `go build` into a temporary directory once per process, which
// needs the go command and a working directory inside the module.
type Program struct {
	Package string // import path, e.g. ImpairPackage
	EnvVar  string // e.g. "IMPAIR_BIN"

	mu       sync.Mutex
	path     string // binary in use, once known
	buildDir string // temporary directory of a binary built here
}

// BuildTimeout bounds the go build that Path runs when no binary is given.
const BuildTimeout = 5 * time.Minute

// Use makes Path return bin from now on, e.g. a running program's own
// executable.
func (p *Program) Use(bin string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.path = bin
}

// Path returns the binary: the one given to Use, else $EnvVar, else one
// built once.
func (p *Program) Path() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.path != "" {
		return p.path, nil
	}
	if bin := os.Getenv(p.EnvVar); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("netlab: %s: %w", p.EnvVar, err)
		}
		p.path = bin
		return bin, nil
	}
	name := path.Base(p.Package)
	dir, err := os.MkdirTemp("", "netlab-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("netlab: %w", err)
	}
	bin := filepath.Join(dir, name)
	// A cold build on a loaded two-core machine can take minutes, far
	// beyond CommandTimeout, which is meant for ip, swanctl and birdc.
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, p.Package).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("netlab: building %s: %w\n%s", name, err, out)
	}
	p.path, p.buildDir = bin, dir
	return bin, nil
}

// RemoveBuilt deletes the binary Path built, if any.
func (p *Program) RemoveBuilt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buildDir != "" {
		os.RemoveAll(p.buildDir)
		p.path, p.buildDir = "", ""
	}
}
