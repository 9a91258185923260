package esp

import (
	"encoding/binary"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/soft-ix/soft-ix/internal/testenv"
)

// tcpData builds an IPv4 TCP segment (ACK, no options) of the flow
// 192.168.2.1:40000 -> 172.16.1.4:5201 with seq and n bytes of payload,
// checksums correct: the kind of packet the TUN device's GRO coalesces.
func tcpData(seq uint32, n int) []byte {
	p := make([]byte, 40+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[6] = 0x40 // DF
	p[8], p[9] = 64, protoTCP
	copy(p[12:], []byte{192, 168, 2, 1})
	copy(p[16:], []byte{172, 16, 1, 4})
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20], 0))
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], 5201)
	binary.BigEndian.PutUint32(p[24:], seq)
	p[32] = 5 << 4
	p[33] = 0x10 // ACK
	binary.BigEndian.PutUint16(p[34:], 512)
	for i := range n {
		p[40+i] = byte(seq) + byte(i)
	}
	binary.BigEndian.PutUint16(p[36:], tcpChecksum(p))
	return p
}

// TestGROCoalescedFitsIPLength writes runs of TCP segments, staged as the
// receive path stages them, to a real TUN device with offloads, and reads
// what the kernel received with a packet socket on the device. Segment
// sizes whose coalesced run would pass 65,535 bytes (an IP packet's
// largest) by less than a large buffer's spare room must be cut into two
// packets, not written as one whose 16-bit length field wrapped: the
// kernel trims such a packet to the wrapped length and TCP loses the data.
func TestGROCoalescedFitsIPLength(t *testing.T) {
	runtime.LockOSThread() // the namespace ends with the test's thread
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		testenv.Unavailable(t, "needs root for a network namespace: %v", err)
	}
	dev, err := tun.CreateTUN("grotest0", 1500)
	if err != nil {
		testenv.Unavailable(t, "needs a TUN device: %v", err)
	}
	defer dev.Close()
	if dev.BatchSize() == 1 {
		testenv.Unavailable(t, "the TUN device came up without offloads, so it coalesces nothing")
	}
	if out, err := exec.Command("ip", "link", "set", "grotest0", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v: %s", err, out)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifi, err := net.InterfaceByName("grotest0")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(500 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}

	var heads groHeads
	buf := make([]byte, 1<<17)
	// Runs of 48 IPv4 TCP segments. Before the cap, the first 45 of 1460
	// bytes (an MSS of 1460 without timestamps), 46 of 1428 and 48 of 1368
	// coalesced into one packet of 65,536 to 65,760 bytes, whose length
	// field wrapped; 1000-byte segments never reached the limit.
	for _, seg := range []int{1460, 1428, 1368, 1000} {
		const count = 48
		bufs := make([][]byte, count)
		for i := range bufs {
			b := make([]byte, tunWriteOffset, rxBufSize)
			bufs[i] = append(b, tcpData(uint32(1000+i*seg), seg)...)
		}
		heads.stage(bufs)
		_, err := dev.Write(bufs, tunWriteOffset)
		heads.release()
		if err != nil {
			t.Fatalf("segments of %d: TUN write: %v", seg, err)
		}
		got, packets := 0, 0
		for got < count*seg {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("segments of %d: %d of %d payload bytes arrived: %v", seg, got, count*seg, err)
			}
			p := buf[:n]
			if n < 40 || p[0] != 0x45 || p[9] != protoTCP {
				continue // not ours (the kernel's own packets on the device)
			}
			if total := int(binary.BigEndian.Uint16(p[2:])); total != n {
				t.Fatalf("segments of %d: the kernel got a %d-byte packet whose IP length says %d", seg, n, total)
			}
			got += n - 40
			packets++
		}
		if got != count*seg {
			t.Fatalf("segments of %d: %d payload bytes arrived, want %d", seg, got, count*seg)
		}
		// Coalesced up to 65,535 bytes: two packets at most.
		if packets > 2 {
			t.Fatalf("segments of %d: the kernel got %d packets, want the %d coalesced into 2 at most", seg, packets, count)
		}
	}
}
