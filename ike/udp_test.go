package ike

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/soft-ix/soft-ix/internal/testenv"
	"golang.org/x/sys/unix"
)

// rcvbuf is the receive buffer the kernel gave c (it reports double what
// was set, the bookkeeping overhead included).
func rcvbuf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var serr error
	rc.Control(func(fd uintptr) { n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if serr != nil {
		t.Fatal(serr)
	}
	return n
}

// needBigBuffers skips when this process may not get SocketBuffer: only
// root (CAP_NET_ADMIN) passes net.core.rmem_max.
func needBigBuffers(t *testing.T) {
	if os.Geteuid() == 0 {
		return
	}
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	var max int
	if err == nil {
		for _, ch := range b {
			if ch >= '0' && ch <= '9' {
				max = max*10 + int(ch-'0')
			}
		}
	}
	if max < SocketBuffer {
		testenv.Unavailable(t, "not root and net.core.rmem_max %d < %d: the kernel caps the buffer", max, SocketBuffer)
	}
}

// freePort is a UDP port on loopback that was free a moment ago.
func freePort(t *testing.T) uint16 {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// TestIKESocketBuffers: the IKE and NAT-T sockets get the buffer ESP's
// sockets get, not the kernel's default (issue 14: a flood dropped
// legitimate IKE messages in the socket).
func TestIKESocketBuffers(t *testing.T) {
	needBigBuffers(t)
	lo := netip.MustParseAddr("127.0.0.1")
	u, err := ListenUDP(lo, freePort(t), freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for name, s := range map[string]*Socket{"ike": u.fam[0].ike, "natt": u.fam[0].natt} {
		if n := rcvbuf(t, s.Conn()); n < SocketBuffer {
			t.Errorf("%s socket: SO_RCVBUF %d, want at least %d", name, n, SocketBuffer)
		}
	}
}
