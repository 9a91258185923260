// Package nlmsg is the netlink framing that soft-ix's own netlink code
// shares (the route watcher, the ESP drop table): it splits what a socket
// reads into messages and attributes without copying, every slice
// pointing into the caller's buffer, and appends attributes.
package nlmsg

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Align rounds n up to netlink's 4-byte alignment (NLMSG_ALIGN, NLA_ALIGN).
func Align(n int) int { return (n + 3) &^ 3 }

// Next splits the first message off b, one datagram or what is left of
// it: the message's type, its body after the header, and the messages
// after it. ok is false at the end of b or at a length that does not fit,
// after which nothing in b can be trusted.
func Next(b []byte) (typ uint16, body, rest []byte, ok bool) {
	if len(b) < unix.NLMSG_HDRLEN {
		return 0, nil, nil, false
	}
	body, rest, ok = split(b, unix.NLMSG_HDRLEN, int(binary.NativeEndian.Uint32(b[0:4])))
	return binary.NativeEndian.Uint16(b[4:6]), body, rest, ok
}

// NextAttr splits the first attribute off b, a message's attributes: its
// type without the nested and byte-order bits, its value, and the
// attributes after it. ok is false at the end or at a bad length.
func NextAttr(b []byte) (typ uint16, val, rest []byte, ok bool) {
	if len(b) < unix.SizeofRtAttr {
		return 0, nil, nil, false
	}
	val, rest, ok = split(b, unix.SizeofRtAttr, int(binary.NativeEndian.Uint16(b[0:2])))
	return binary.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER), val, rest, ok
}

// split cuts b, which starts with a header of hdr bytes whose length
// field says l, into what follows the header up to l and what follows
// from l's alignment on; ok is false where l does not fit.
func split(b []byte, hdr, l int) (body, rest []byte, ok bool) {
	if l < hdr || l > len(b) {
		return nil, nil, false
	}
	return b[hdr:l], b[min(Align(l), len(b)):], true
}

// AppendAttr appends an attribute of typ holding data to b, padded to
// the alignment. The length field has 16 bits: data must be shorter than
// 65,532 bytes (soft-ix's are names, numbers and short rule lists).
func AppendAttr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	return append(b, make([]byte, Align(len(data))-len(data))...)
}
