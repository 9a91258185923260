package esp

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader receives datagrams with recvmmsg into buffers its owner
// sets, without allocating. x/net's ReadBatch, which the outer sockets
// used before, makes a net.Addr (two small objects) for every datagram's
// source: at 10 Mbit/s of tunnel traffic that was most of the daemon's
// allocations, garbage that piled up between collections in pages of
// memory touched for the first time (issue 14: the soak's RSS grew while
// the live heap did not), and under a flood of forged ESP a malloc per
// packet. Here the source addresses land in a fixed array of sockaddrs.
type batchReader struct {
	rc    syscall.RawConn
	hs    []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 ones too
	oob   [][]byte                // control message room per message, or nil
	// k is how many messages the current read offers, n and errno what
	// the last recvmmsg returned.
	k, n  int
	errno syscall.Errno
	// recv and recvNow are the callbacks for rc.Read, made once (a
	// method value taken per read would allocate).
	recv, recvNow func(fd uintptr) bool
}

// mmsghdr is struct mmsghdr of <sys/socket.h>, for recvmmsg here and
// sendmmsg in afpacket.go. Go pads it to its largest
// field's alignment as C does (64 bytes on 64-bit Linux).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// newBatchReader returns a reader of up to n datagrams per call on c,
// with oobLen bytes of room for control messages each (0: none).
func newBatchReader(c syscall.Conn, n, oobLen int) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{
		rc:    rc,
		hs:    make([]mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
	}
	if oobLen > 0 {
		r.oob = make([][]byte, n)
		for i := range r.oob {
			r.oob[i] = make([]byte, oobLen)
		}
	}
	for i := range r.hs {
		h := &r.hs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		if r.oob != nil {
			h.Control = &r.oob[i][0]
		}
	}
	r.recv = r.recvmmsg
	r.recvNow = r.recvmmsgNow
	return r, nil
}

// setBuffer makes b the buffer of message i for the next reads. b must
// stay valid (and unchanged) until the read that uses it returns.
func (r *batchReader) setBuffer(i int, b []byte) {
	if len(b) == 0 {
		r.iovs[i].Base = nil
	} else {
		r.iovs[i].Base = &b[0]
	}
	r.iovs[i].SetLen(len(b))
}

// read receives up to k datagrams into the buffers set, waiting through
// the runtime's poller (deadlines on the socket apply) until at least one
// is there, and reports how many came.
func (r *batchReader) read(k int) (int, error) {
	return r.readWith(k, true)
}

// readNow is read without the wait: 0 datagrams when none is queued.
func (r *batchReader) readNow(k int) (int, error) {
	return r.readWith(k, false)
}

func (r *batchReader) readWith(k int, wait bool) (int, error) {
	k = min(k, len(r.hs))
	for i := 0; i < k; i++ {
		h := &r.hs[i].hdr
		h.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		if r.oob != nil {
			h.SetControllen(len(r.oob[i]))
		}
		h.Flags = 0
		r.hs[i].len = 0
	}
	r.k = k
	recv := r.recv
	if !wait {
		recv = r.recvNow
	}
	if err := r.rc.Read(recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

// recvmmsg is the rc.Read callback: false asks the poller to wait.
func (r *batchReader) recvmmsg(fd uintptr) bool {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), uintptr(r.k), 0, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), e
	if e != 0 {
		r.n = 0
	}
	return true
}

// recvmmsgNow is recvmmsg that never asks to wait.
func (r *batchReader) recvmmsgNow(fd uintptr) bool {
	if !r.recvmmsg(fd) {
		r.n, r.errno = 0, 0
	}
	return true
}

// fd returns the socket's descriptor, for a poll(2) beside other ones.
func (r *batchReader) fd() int {
	fd := -1
	r.rc.Control(func(s uintptr) { fd = int(s) })
	return fd
}

// size is the length of datagram i of the last read.
func (r *batchReader) size(i int) int { return int(r.hs[i].len) }

// truncated reports whether datagram i did not fit its buffer.
func (r *batchReader) truncated(i int) bool { return r.hs[i].hdr.Flags&unix.MSG_TRUNC != 0 }

// control returns the control messages of datagram i.
func (r *batchReader) control(i int) []byte {
	if r.oob == nil {
		return nil
	}
	return r.oob[i][:min(int(r.hs[i].hdr.Controllen), len(r.oob[i]))]
}

// source returns the source address of datagram i (IPv4-mapped ones
// unmapped); the zero AddrPort when it has none.
func (r *batchReader) source(i int) netip.AddrPort {
	sa := &r.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}
