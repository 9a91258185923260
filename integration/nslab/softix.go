package nslab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/internal/netlab"
)

// SoftIXPackage is the import path of the soft-ix command.
const SoftIXPackage = "github.com/soft-ix/soft-ix/cmd/soft-ix"

// softix is the soft-ix binary labs run.
var softix = netlab.Program{Package: SoftIXPackage, EnvVar: "SOFTIX_BIN"}

// UseSoftIXBinary makes StartSoftIX, StartSoftIXDaemon and RunSoftIX run
// the binary at path, e.g. a running soft-ix's own executable.
func UseSoftIXBinary(path string) { softix.Use(path) }

// SoftIXBinary returns the soft-ix binary labs run: the one set by
// UseSoftIXBinary, else $SOFTIX_BIN, else one built with `go build` into a
// temporary directory, once per process (this needs the go command and a
// working directory inside the soft-ix module, as tests have). Call
// RemoveBuiltSoftIX when done (the integration tests' TestMain does).
func SoftIXBinary() (string, error) { return softix.Path() }

// RemoveBuiltSoftIX deletes the binaries SoftIXBinary and ImpairBinary
// built, if any.
func RemoveBuiltSoftIX() {
	netlab.RemoveBuiltImpair()
	softix.RemoveBuilt()
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

// SoftIX is a soft-ix daemon running in a namespace with its own config
// file and control socket.
type SoftIX struct {
	Name     string
	NS       *Namespace
	ConfPath string
	Socket   string
	Proc     *Proc
}

// SoftIXOptions describes a soft-ix daemon for StartSoftIXDaemon.
type SoftIXOptions struct {
	// Name names the files ("softix-<name>.conf", ".sock"), e.g. "ix".
	Name string
	// Config is the IX configuration text.
	Config string
	// Map maps IX GigaEthernet names to Linux interfaces (--map); see
	// IXSideMap and AzureSideMap.
	Map map[string]string
	// Args are extra flags, e.g. "--log-level", "debug".
	Args []string
	// Env are extra environment variables ("K=V"), e.g. "GOGC=5".
	Env []string
}

// IXSideMap maps the IX namespace's interfaces, which carry the IX names.
func IXSideMap() map[string]string {
	return map[string]string{"GigaEthernet0.0": IXWANIf, "GigaEthernet1.0": IXLANIf}
}

// AzureSideMap maps the Azure namespace's interfaces the way soft-ix's lab
// config for an Azure gateway (cmd/soft-ix/labconf/azure-lab.conf) names
// them: GigaEthernet0.0 public, GigaEthernet1.0 VNet, GigaEthernet2.0 the
// BGP address 172.16.0.6.
func AzureSideMap() map[string]string {
	return map[string]string{"GigaEthernet0.0": AzureWANIf, "GigaEthernet1.0": AzureVNetIf, "GigaEthernet2.0": AzureBGPIf}
}

// StartSoftIXDaemon writes o.Config to the lab directory, starts
// `soft-ix -c FILE --map ... --socket SOCK` in ns (with --log-level debug
// unless o.Args sets a level) and waits until its control socket answers.
func StartSoftIXDaemon(ns *Namespace, o SoftIXOptions) (*SoftIX, error) {
	if err := netlab.CheckName(o.Name); err != nil {
		return nil, fmt.Errorf("nslab: soft-ix name: %w", err)
	}
	lab := ns.Lab()
	x := &SoftIX{
		Name:     o.Name,
		NS:       ns,
		ConfPath: lab.Path("softix-" + o.Name + ".conf"),
		Socket:   lab.Path("softix-" + o.Name + ".sock"),
	}
	if err := writeFile(x.ConfPath, o.Config); err != nil {
		return nil, err
	}
	args := []string{"-c", x.ConfPath, "--socket", x.Socket}
	ixNames := make([]string, 0, len(o.Map))
	for ixName := range o.Map {
		ixNames = append(ixNames, ixName)
	}
	sort.Strings(ixNames)
	for _, ixName := range ixNames {
		args = append(args, "--map", ixName+"="+o.Map[ixName])
	}
	if !strings.Contains(strings.Join(o.Args, " "), "log-level") {
		args = append(args, "--log-level", "debug")
	}
	args = append(args, o.Args...)
	bin, err := SoftIXBinary()
	if err != nil {
		return nil, err
	}
	proc, err := ns.Start("soft-ix-"+o.Name, o.Env, append([]string{bin}, args...)...)
	if err != nil {
		return nil, err
	}
	x.Proc = proc
	lab.AddDumper("soft-ix show ikev2 sa ("+o.Name+")", func() (string, error) {
		return x.Command("show", "ikev2", "sa")
	})
	err = WaitFor(20*time.Second, "soft-ix "+o.Name+" control socket", func() error {
		if exited, werr := proc.Exited(); exited {
			return fmt.Errorf("soft-ix exited (%v): %s", werr, strings.TrimSpace(proc.Log()))
		}
		_, err := x.Command("show", "running-config")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nslab: %w", err)
	}
	return x, nil
}

// Command runs a soft-ix CLI command (e.g. "show", "ikev2", "sa") against
// this daemon's control socket and returns its output.
func (x *SoftIX) Command(args ...string) (string, error) {
	bin, err := SoftIXBinary()
	if err != nil {
		return "", err
	}
	return netlab.Command(context.Background(), nil, bin, append(args, "--socket", x.Socket)...)
}
