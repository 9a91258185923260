// Package rtwatch follows the kernel's routing notifications (links,
// addresses, routes, neighbours) on one netlink socket and hands each to a
// callback without building objects for it.
//
// Why not the netlink library's LinkSubscribe and friends: they parse
// every notification into fresh objects (about 10 KiB for a link with its
// statistics), and each subscriber opens its own socket that parses every
// message again. A hub bringing up a thousand TUN devices sends thousands
// of link notifications; that garbage stayed resident as tens of MiB in
// spans shared with live objects (integration/bench/hub/hub.sh). Here a
// watcher reads into one buffer and reports a message's type, interface
// index and, for links and neighbours, the few fields its users look at,
// as slices into that buffer.
package rtwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/internal/nlmsg"
)

// Groups of notifications (RTMGRP_* bits), combined with |.
const (
	Links      = unix.RTMGRP_LINK
	Addrs4     = unix.RTMGRP_IPV4_IFADDR
	Addrs6     = unix.RTMGRP_IPV6_IFADDR
	Routes4    = unix.RTMGRP_IPV4_ROUTE
	Routes6    = unix.RTMGRP_IPV6_ROUTE
	Neighbours = unix.RTMGRP_NEIGH
)

// Event is one notification. Its byte slices point into the watcher's
// buffer: valid during the callback only.
type Event struct {
	// Type is the message type: unix.RTM_NEWLINK, RTM_DELLINK,
	// RTM_NEWADDR, ... Zero with Lost.
	Type uint16
	// Index is the interface the message is about (a link's, an
	// address's or a neighbour's; zero for routes).
	Index int
	// Lost says the socket's buffer overflowed: notifications were
	// dropped, and whatever the callback keeps must be read again.
	Lost bool
	// Link is set for RTM_NEWLINK and RTM_DELLINK.
	Link *Link
	// Neigh is set for RTM_NEWNEIGH and RTM_DELNEIGH.
	Neigh *Neigh
}

// Neigh is what a neighbour notification says of the entry.
type Neigh struct {
	// Addr is NDA_DST, the neighbour's IP address.
	Addr netip.Addr
	// LLAddr is NDA_LLADDR, empty when the entry has none.
	LLAddr []byte
	// State is the entry's NUD state (unix.NUD_REACHABLE, ...).
	State uint16
}

// Link is what a link notification says of the device.
type Link struct {
	// Flags are the device flags (unix.IFF_UP, IFF_LOOPBACK, ...).
	Flags uint32
	// Type is the hardware type (unix.ARPHRD_ETHER, ARPHRD_NONE, ...).
	Type uint16
	// Name is IFLA_IFNAME; Kind is IFLA_LINKINFO's IFLA_INFO_KIND
	// ("veth", "tun", ...), empty for a device without one.
	Name, Kind []byte
}

// Watcher reads the notifications of its groups until Close.
type Watcher struct {
	f    *os.File
	done chan struct{}
}

// bufSize holds the largest notification (a link message with all its
// statistics is about 1.5 KiB; a read returns one datagram).
const bufSize = 32 << 10

// rcvBuf is the socket buffer asked for: a thousand link notifications
// of a hub's start fit without Lost.
const rcvBuf = 4 << 20

// Watch opens a socket on the groups of the calling thread's network
// namespace and calls fn for each notification, from one goroutine, until
// Close. fn must not keep the event's slices.
func Watch(groups uint32, fn func(Event)) (*Watcher, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtwatch: netlink socket: %w", err)
	}
	// FORCE passes rmem_max with CAP_NET_ADMIN; without it the plain
	// option gives what the system allows.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtwatch: bind netlink groups %#x: %w", groups, err)
	}
	// A non-blocking descriptor becomes a File the runtime's poller
	// waits on: Close wakes the reader.
	w := &Watcher{f: os.NewFile(uintptr(fd), "rtnetlink"), done: make(chan struct{})}
	go w.run(fn)
	return w, nil
}

// Close stops the watcher; fn is not called after Close returns.
func (w *Watcher) Close() {
	w.f.Close()
	<-w.done
}

func (w *Watcher) run(fn func(Event)) {
	defer close(w.done)
	buf := make([]byte, bufSize)
	var link Link
	var neigh Neigh
	for {
		n, err := w.f.Read(buf)
		switch {
		case errors.Is(err, unix.ENOBUFS):
			fn(Event{Lost: true})
			continue
		case err != nil:
			// Closed (or a socket error that will not pass).
			return
		}
		parse(buf[:n], &link, &neigh, fn)
	}
}

// parse calls fn for each routing message in b (one datagram); link and
// neigh hold what the events point to.
func parse(b []byte, link *Link, neigh *Neigh, fn func(Event)) {
	for typ, body, rest, ok := nlmsg.Next(b); ok; typ, body, rest, ok = nlmsg.Next(rest) {
		if ev, ok := message(typ, body, link, neigh); ok {
			fn(ev)
		}
	}
}

// message reads the header of one routing message body.
func message(typ uint16, body []byte, link *Link, neigh *Neigh) (Event, bool) {
	ev := Event{Type: typ}
	switch typ {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(body) < unix.SizeofIfInfomsg {
			return ev, false
		}
		*link = Link{
			Type:  binary.NativeEndian.Uint16(body[2:4]),
			Flags: binary.NativeEndian.Uint32(body[8:12]),
		}
		ev.Index = int(int32(binary.NativeEndian.Uint32(body[4:8])))
		a := attrs(body[unix.SizeofIfInfomsg:])
		for typ, val, ok := a.next(); ok; typ, val, ok = a.next() {
			switch typ {
			case unix.IFLA_IFNAME:
				link.Name = cString(val)
			case unix.IFLA_LINKINFO:
				info := attrs(val)
				for t, v, ok := info.next(); ok; t, v, ok = info.next() {
					if t == unix.IFLA_INFO_KIND {
						link.Kind = cString(v)
					}
				}
			}
		}
		ev.Link = link
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		if len(body) < unix.SizeofIfAddrmsg {
			return ev, false
		}
		ev.Index = int(binary.NativeEndian.Uint32(body[4:8]))
	case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH:
		if len(body) < unix.SizeofNdMsg {
			return ev, false
		}
		ev.Index = int(int32(binary.NativeEndian.Uint32(body[4:8])))
		*neigh = Neigh{State: binary.NativeEndian.Uint16(body[8:10])}
		a := attrs(body[unix.SizeofNdMsg:])
		for typ, val, ok := a.next(); ok; typ, val, ok = a.next() {
			switch typ {
			case unix.NDA_DST:
				neigh.Addr, _ = netip.AddrFromSlice(val)
			case unix.NDA_LLADDR:
				neigh.LLAddr = val
			}
		}
		ev.Neigh = neigh
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
	default:
		return ev, false
	}
	return ev, true
}

// attrs walks the routing attributes in b.
type attrs []byte

// next returns the next attribute's type (without the nested and
// byte-order bits) and value; ok is false at the end or at a bad length.
func (a *attrs) next() (typ uint16, val []byte, ok bool) {
	typ, val, *a, ok = nlmsg.NextAttr(*a)
	return typ, val, ok
}

// cString is b up to its first NUL.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
