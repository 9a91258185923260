package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/ctl"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/router"
	"github.com/soft-ix/soft-ix/config"
)

// Linux capability bits (linux/capability.h).
const (
	capNetBindService = 10
	capNetAdmin       = 12
	capNetRaw         = 13
)

// preflight checks what the daemon needs from the system before it changes
// anything, so a missing piece is reported with how to fix it rather than
// as a failed netlink call half-way through the start.
//
// A daemon already answering on the control socket is refused first: the
// start removes soft-ix's routes and links left in the namespace, which
// would tear down the running daemon's.
func preflight(cfg *config.Config, o *options) error {
	if ctl.Live(o.socket) {
		return fmt.Errorf("control socket %s: another soft-ix is running (stop it, or give this one its own --socket and network namespace)", o.socket)
	}
	caps, err := effectiveCaps()
	if err == nil {
		if caps&(1<<capNetAdmin) == 0 {
			return errors.New("missing capability CAP_NET_ADMIN (needed for TUN devices, addresses and routes): run as root, " +
				"or grant it: setcap cap_net_admin,cap_net_raw,cap_net_bind_service+ep soft-ix, or docker run --cap-add NET_ADMIN --cap-add NET_RAW")
		}
		if caps&(1<<capNetRaw) == 0 {
			return errors.New("missing capability CAP_NET_RAW (needed for ESP and ping): run as root or add it (setcap / docker --cap-add NET_RAW)")
		}
	}
	if len(cfg.Tunnels()) == 0 {
		return nil // no TUN device, no IKE ports
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no /dev/net/tun: load the tun module (modprobe tun), or in a container pass --device /dev/net/tun")
		}
		return fmt.Errorf("cannot open /dev/net/tun: %w (run as root, or in a container pass --device /dev/net/tun)", err)
	}
	f.Close()
	networks := []string{"udp4"}
	if router.NeedsIPv6(cfg) {
		networks = append(networks, "udp6")
	}
	for _, network := range networks {
		for _, port := range []int{500, 4500} {
			if err := udpPortFree(network, port); err != nil {
				if network == "udp6" {
					return fmt.Errorf("a tunnel has an IPv6 peer, which needs IPv6 UDP port %d: %w", port, err)
				}
				return err
			}
		}
	}
	return nil
}

// udpPortFree says whether IKE can have the UDP port of network (udp4,
// udp6), naming the usual culprit when it cannot.
func udpPortFree(network string, port int) error {
	c, err := net.ListenUDP(network, &net.UDPAddr{Port: port})
	if err != nil {
		return router.PortError(port, err)
	}
	c.Close()
	return nil
}

// effectiveCaps reads the effective capability set of this process.
func effectiveCaps() (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}
