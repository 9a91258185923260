package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// TestBinaryLinksNoTestCode fails when the daemon links anything of the
// tests: package testing, a package under integration/ (the peer drivers,
// nslab) or internal/testenv. `soft-ix lab` builds its lab with
// internal/netlab, which imports none of them.
//
// text/template and html/template are linked, but not by soft-ix: GoBGP
// brings them, through google.golang.org/grpc -> golang.org/x/net/trace ->
// html/template and through github.com/spf13/viper (GoBGP's config
// package) -> github.com/spf13/cast -> html/template. See them with
//
//	go list -deps -f '{{.ImportPath}}: {{join .Imports " "}}' ./cmd/soft-ix | grep template
func TestBinaryLinksNoTestCode(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		testenv.Unavailable(t, "go not found in PATH (%s)", testenv.PackageFor("go"))
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/soft-ix/soft-ix/"
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "testing", strings.HasPrefix(pkg, "testing/"):
			t.Errorf("soft-ix links %s", pkg)
		case strings.HasPrefix(pkg, module+"integration/"), pkg == module+"integration":
			t.Errorf("soft-ix links the test package %s", pkg)
		case pkg == module+"internal/testenv":
			t.Errorf("soft-ix links %s", pkg)
		}
	}
}
