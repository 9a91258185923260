package esp

import (
	"fmt"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// createTUN creates TUN device name with the virtio net header (so the
// kernel hands over GSO batches and takes GRO-coalesced writes) and MTU
// mtu, without the monitoring wireguard-go's tun.CreateTUN adds.
//
// CreateTUN gives every device a netlink socket subscribed to all link
// and address changes of the namespace, a goroutine reading it with a
// 64 KiB buffer, and a goroutine that probes the device once a second.
// esp uses none of their events (tun.Manager owns link state), and on a
// hub they cost: with N tunnels every link change is parsed N times (N²
// work while N devices come up, and again whenever a tunnel's state
// flips), and the probes wake the idle daemon N times a second
// (integration/bench/hub).
func createTUN(name string, mtu int) (tun.Device, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF: %w", err)
	}
	if err := setMTU(name, mtu); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// It sets the descriptor non-blocking and hands it to the runtime's
	// poller, and turns on the offloads as CreateTUN does.
	dev, _, err := tun.CreateUnmonitoredTUNFromFD(fd)
	if err != nil {
		// The descriptor may already belong to an *os.File whose
		// finalizer closes it; closing it here too could close a reused
		// number.
		return nil, fmt.Errorf("TUN %s: %w", name, err)
	}
	return dev, nil
}

// setMTU sets the MTU of link name (SIOCSIFMTU).
func setMTU(name string, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set MTU of %s: %w", name, err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint32(uint32(mtu))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
		return fmt.Errorf("set MTU %d of %s: %w", mtu, name, err)
	}
	return nil
}
