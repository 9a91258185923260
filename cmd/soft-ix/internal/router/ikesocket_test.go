package router

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/ike"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// TestIKESocketBuffer: the daemon's UDP 500 socket asks for the buffer
// ESP's sockets have, not the kernel's default, so a flood does not drop
// the real peer's IKE messages in the socket (issue 14).
func TestIKESocketBuffer(t *testing.T) {
	testenv.RequireRoot(t) // without CAP_NET_ADMIN net.core.rmem_max caps the buffer
	u, err := listenIKE(0)
	if err != nil {
		t.Fatal(err)
	}
	defer u.close()
	rc, err := u.v4.Conn().SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var serr error
	rc.Control(func(fd uintptr) { n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if serr != nil {
		t.Fatal(serr)
	}
	if n < ike.SocketBuffer {
		t.Fatalf("SO_RCVBUF %d, want at least %d", n, ike.SocketBuffer)
	}
}
