package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// CheckEnvironment reports why a namespace lab cannot run here: not root,
// no /dev/net/tun, or a tool missing from PATH ("ip" is always checked),
// each with the Debian package that brings it. A nil error means it can.
// `soft-ix lab` prints it; tests decide through internal/testenv whether
// it is a skip or a failure.
func CheckEnvironment(tools ...string) error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "needs root (network namespaces)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		problems = append(problems, "no /dev/net/tun (TUN devices)")
	}
	seen := map[string]bool{}
	for _, tool := range append([]string{"ip"}, tools...) {
		if seen[tool] {
			continue
		}
		seen[tool] = true
		if _, err := exec.LookPath(tool); err != nil {
			problems = append(problems, fmt.Sprintf("%s not found in PATH (%s)", tool, PackageFor(tool)))
			continue
		}
		if tool == "charon-systemd" {
			problems = append(problems, checkStrongSwanPlugins()...)
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// strongSwanPluginDirs are where Debian installs charon's plugins.
var strongSwanPluginDirs = []string{
	"/usr/lib/ipsec/plugins",
	"/usr/lib/x86_64-linux-gnu/ipsec/plugins",
	"/usr/lib/aarch64-linux-gnu/ipsec/plugins",
}

// checkStrongSwanPlugins names the charon plugins the labs need that are
// missing: kernel-libipsec (userspace ESP, since the kernel may have no
// XFRM) and openssl (MODP and the AES/SHA suites; Debian ships it in
// libstrongswan-standard-plugins, only a Recommends of libstrongswan, so a
// --no-install-recommends install lacks it and charon then refuses the
// seed's DH group 2).
func checkStrongSwanPlugins() []string {
	var missing []string
	for plugin, pkg := range map[string]string{
		"kernel-libipsec": "libcharon-extra-plugins",
		"openssl":         "libstrongswan-standard-plugins",
	} {
		found := false
		for _, dir := range strongSwanPluginDirs {
			if _, err := os.Stat(dir + "/libstrongswan-" + plugin + ".so"); err == nil {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("strongSwan plugin %s is missing (apt-get install %s)", plugin, pkg))
		}
	}
	return missing
}

// PackageFor names what provides a tool on Debian 12.
func PackageFor(tool string) string {
	switch tool {
	case "ip", "ss":
		return "apt-get install iproute2"
	case "charon-systemd":
		return "apt-get install charon-systemd libcharon-extra-plugins libstrongswan-standard-plugins"
	case "swanctl":
		return "apt-get install strongswan-swanctl"
	case "bird", "birdc":
		return "apt-get install bird2"
	case "ping":
		return "apt-get install iputils-ping"
	case "nft":
		return "apt-get install nftables"
	case "iptables", "iperf3", "jq", "tcpdump", "openssl":
		return "apt-get install " + tool
	case "go":
		return "install Go or set SOFTIX_BIN"
	case "docker":
		return "apt-get install docker.io, and a running dockerd"
	case "docker-compose":
		return "apt-get install docker-compose"
	}
	return "not a known lab tool"
}
