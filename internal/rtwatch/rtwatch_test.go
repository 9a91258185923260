package rtwatch

import (
	"encoding/binary"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/internal/nlmsg"
	"github.com/soft-ix/soft-ix/internal/testenv"
)

// attr encodes one routing attribute, padded.
func attr(typ uint16, val []byte) []byte { return nlmsg.AppendAttr(nil, typ, val) }

// encodeMsg encodes one netlink message of typ with body, padded.
func encodeMsg(typ uint16, body []byte) []byte {
	b := make([]byte, unix.SizeofNlMsghdr, nlmsg.Align(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint32(b[0:4], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	b = append(b, body...)
	return b[:cap(b)]
}

// linkMsg is an RTM_NEWLINK body of a device.
func linkMsg(index int32, arphrd uint16, flags uint32, name, kind string) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint16(b[2:4], arphrd)
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	binary.NativeEndian.PutUint32(b[8:12], flags)
	b = append(b, attr(unix.IFLA_MTU, []byte{0xdc, 5, 0, 0})...)
	b = append(b, attr(unix.IFLA_IFNAME, append([]byte(name), 0))...)
	if kind != "" {
		info := attr(unix.IFLA_INFO_KIND, append([]byte(kind), 0))
		b = append(b, attr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, info)...)
	}
	return b
}

// neighMsg is an RTM_NEWNEIGH body of an entry.
func neighMsg(index int32, state uint16, dst, lladdr []byte) []byte {
	b := make([]byte, unix.SizeofNdMsg)
	b[0] = unix.AF_INET
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	binary.NativeEndian.PutUint16(b[8:10], state)
	b = append(b, attr(unix.NDA_DST, dst)...)
	return append(b, attr(unix.NDA_LLADDR, lladdr)...)
}

func addrMsg(index uint32) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	binary.NativeEndian.PutUint32(b[4:8], index)
	return append(b, attr(unix.IFA_LOCAL, []byte{192, 0, 2, 1})...)
}

type seen struct {
	typ         uint16
	index       int
	name, kind  string
	flags       uint32
	arphrd      uint16
	lost, isLnk bool
	neigh       string
	lladdr      string
	state       uint16
}

func collect(b []byte) []seen {
	var out []seen
	var l Link
	var nb Neigh
	parse(b, &l, &nb, func(e Event) {
		s := seen{typ: e.Type, index: e.Index, lost: e.Lost}
		if e.Link != nil {
			s.isLnk, s.name, s.kind, s.flags, s.arphrd = true, string(e.Link.Name), string(e.Link.Kind), e.Link.Flags, e.Link.Type
		}
		if e.Neigh != nil {
			s.neigh, s.lladdr, s.state = e.Neigh.Addr.String(), string(e.Neigh.LLAddr), e.Neigh.State
		}
		out = append(out, s)
	})
	return out
}

func TestParse(t *testing.T) {
	var dgram []byte
	dgram = append(dgram, encodeMsg(unix.RTM_NEWLINK, linkMsg(7, unix.ARPHRD_NONE, unix.IFF_UP, "Tunnel0.0", "tun"))...)
	dgram = append(dgram, encodeMsg(unix.RTM_NEWADDR, addrMsg(7))...)
	dgram = append(dgram, encodeMsg(unix.RTM_DELLINK, linkMsg(1, unix.ARPHRD_LOOPBACK, unix.IFF_LOOPBACK, "lo", ""))...)
	dgram = append(dgram, encodeMsg(unix.RTM_NEWROUTE, make([]byte, unix.SizeofRtMsg))...)
	dgram = append(dgram, encodeMsg(unix.RTM_NEWNEIGH, neighMsg(7, unix.NUD_STALE, []byte{198, 51, 100, 6}, []byte{2, 0, 0, 0, 0, 9}))...)
	dgram = append(dgram, encodeMsg(unix.NLMSG_DONE, make([]byte, 4))...)
	got := collect(dgram)
	want := []seen{
		{typ: unix.RTM_NEWLINK, index: 7, isLnk: true, name: "Tunnel0.0", kind: "tun", flags: unix.IFF_UP, arphrd: unix.ARPHRD_NONE},
		{typ: unix.RTM_NEWADDR, index: 7},
		{typ: unix.RTM_DELLINK, index: 1, isLnk: true, name: "lo", flags: unix.IFF_LOOPBACK, arphrd: unix.ARPHRD_LOOPBACK},
		{typ: unix.RTM_NEWROUTE},
		{typ: unix.RTM_NEWNEIGH, index: 7, neigh: "198.51.100.6", lladdr: "\x02\x00\x00\x00\x00\x09", state: unix.NUD_STALE},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// Bad lengths end the datagram's walk without a panic.
	for _, bad := range [][]byte{
		nil,
		dgram[:10],
		encodeMsg(unix.RTM_NEWLINK, make([]byte, 8)), // shorter than ifinfomsg
		func() []byte {
			b := encodeMsg(unix.RTM_NEWADDR, addrMsg(3))
			binary.NativeEndian.PutUint32(b, 1<<20)
			return b
		}(),
		func() []byte {
			b := encodeMsg(unix.RTM_NEWADDR, addrMsg(3))
			binary.NativeEndian.PutUint32(b, 4)
			return b
		}(),
	} {
		if got := collect(bad); len(got) != 0 {
			t.Errorf("%x: got %+v, want nothing", bad, got)
		}
	}
}

// A notification is reported without allocating: a hub's start sends
// thousands.
func TestParseNoAllocs(t *testing.T) {
	dgram := encodeMsg(unix.RTM_NEWLINK, linkMsg(7, unix.ARPHRD_NONE, unix.IFF_UP, "Tunnel0.0", "tun"))
	dgram = append(dgram, encodeMsg(unix.RTM_NEWNEIGH, neighMsg(7, unix.NUD_STALE, []byte{198, 51, 100, 6}, []byte{2, 0, 0, 0, 0, 9}))...)
	var l Link
	var nb Neigh
	n := 0
	fn := func(e Event) {
		if e.Link != nil {
			n += len(e.Link.Name)
		}
	}
	if a := testing.AllocsPerRun(100, func() { parse(dgram, &l, &nb, fn) }); a != 0 {
		t.Errorf("%v allocations per notification, want 0", a)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encodeMsg(unix.RTM_NEWLINK, linkMsg(7, unix.ARPHRD_NONE, unix.IFF_UP, "Tunnel0.0", "tun")))
	f.Add(append(encodeMsg(unix.RTM_NEWADDR, addrMsg(2)), encodeMsg(unix.RTM_DELNEIGH, make([]byte, unix.SizeofNdMsg))...))
	f.Add(encodeMsg(unix.RTM_NEWNEIGH, neighMsg(7, unix.NUD_STALE, []byte{198, 51, 100, 6}, []byte{2, 0, 0, 0, 0, 9})))
	f.Fuzz(func(t *testing.T, b []byte) {
		var l Link
		var nb Neigh
		parse(b, &l, &nb, func(e Event) {
			if e.Link != nil && (len(e.Link.Name) > len(b) || len(e.Link.Kind) > len(b)) {
				t.Fatalf("slices longer than the datagram")
			}
		})
	})
}

// TestWatch follows a real namespace: a veth pair and an address on it
// are reported with the device's name, kind and index.
func TestWatch(t *testing.T) {
	testenv.Require(t, "ip")
	runtime.LockOSThread() // the thread ends with the test, in its namespace
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		testenv.Unavailable(t, "needs root for a network namespace: %v", err)
	}
	events := make(chan seen, 64)
	w, err := Watch(Links|Addrs4, func(e Event) {
		s := seen{typ: e.Type, index: e.Index, lost: e.Lost}
		if e.Link != nil {
			s.isLnk, s.name, s.kind = true, string(e.Link.Name), string(e.Link.Kind)
		}
		select {
		case events <- s:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"link", "add", "rtwA", "type", "veth", "peer", "name", "rtwB"},
		{"addr", "add", "192.0.2.1/24", "dev", "rtwA"},
		{"link", "set", "rtwA", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	index := 0
	timeout := time.After(5 * time.Second)
	for gotAddr := false; !gotAddr; {
		select {
		case s := <-events:
			switch {
			case s.isLnk && s.name == "rtwA":
				if s.kind != "veth" || s.typ != unix.RTM_NEWLINK {
					t.Errorf("rtwA reported as %+v", s)
				}
				index = s.index
			case s.typ == unix.RTM_NEWADDR:
				if index == 0 || s.index != index {
					t.Errorf("address on index %d, rtwA has %d", s.index, index)
				}
				gotAddr = true
			}
		case <-timeout:
			t.Fatalf("no address notification within 5 s (rtwA index %d)", index)
		}
	}
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}
