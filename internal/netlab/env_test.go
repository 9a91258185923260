package netlab

import (
	"strings"
	"testing"
)

func TestCheckEnvironmentNamesThePackage(t *testing.T) {
	err := CheckEnvironment("no-such-tool-netlab")
	if err == nil || !strings.Contains(err.Error(), "no-such-tool-netlab not found in PATH") {
		t.Errorf("CheckEnvironment = %v", err)
	}
	for tool, pkg := range map[string]string{"swanctl": "strongswan-swanctl", "charon-systemd": "libstrongswan-standard-plugins", "birdc": "bird2", "docker": "docker.io", "docker-compose": "docker-compose"} {
		if got := PackageFor(tool); !strings.Contains(got, pkg) {
			t.Errorf("PackageFor(%s) = %q, want it to name %s", tool, got, pkg)
		}
	}
}
