package nlmsg

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// msg encodes one netlink message of typ with body, padded.
func msg(typ uint16, body []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(body)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, make([]byte, unix.NLMSG_HDRLEN-6)...)
	b = append(b, body...)
	return append(b, make([]byte, Align(len(b))-len(b))...)
}

func TestNext(t *testing.T) {
	attrs := AppendAttr(nil, 3, []byte("ab\x00"))
	attrs = AppendAttr(attrs, unix.NLA_F_NESTED|4, AppendAttr(nil, 1, []byte{7, 0, 0, 0}))
	dgram := append(msg(unix.RTM_NEWLINK, attrs), msg(unix.NLMSG_DONE, []byte{0, 0, 0, 0})...)

	typ, body, rest, ok := Next(dgram)
	if !ok || typ != unix.RTM_NEWLINK || len(body) != len(attrs) {
		t.Fatalf("first message: type %d, %d bytes, ok %v", typ, len(body), ok)
	}
	at, val, more, ok := NextAttr(body)
	if !ok || at != 3 || string(val) != "ab\x00" {
		t.Fatalf("first attribute: type %d, %q, ok %v", at, val, ok)
	}
	if at, val, more, ok = NextAttr(more); !ok || at != 4 || len(val) != 8 || len(more) != 0 {
		t.Fatalf("nested attribute: type %d (flags must be cleared), %d bytes, %d after, ok %v", at, len(val), len(more), ok)
	}
	if typ, _, rest, ok = Next(rest); !ok || typ != unix.NLMSG_DONE || len(rest) != 0 {
		t.Fatalf("second message: type %d, %d after, ok %v", typ, len(rest), ok)
	}
	if _, _, _, ok = Next(rest); ok {
		t.Fatal("a message past the end")
	}
}

// TestNextBadLength: a length shorter than the header or longer than
// what was read ends the walk instead of reading past it or looping.
func TestNextBadLength(t *testing.T) {
	for _, l := range []uint32{0, unix.NLMSG_HDRLEN - 1, 100} {
		b := msg(unix.RTM_NEWLINK, make([]byte, 8))
		binary.NativeEndian.PutUint32(b, l)
		if _, _, _, ok := Next(b); ok {
			t.Errorf("length %d of a %d-byte message accepted", l, len(b))
		}
	}
	for _, l := range []uint16{0, 3, 100} {
		b := AppendAttr(nil, 1, []byte{1, 2, 3, 4})
		binary.NativeEndian.PutUint16(b, l)
		if _, _, _, ok := NextAttr(b); ok {
			t.Errorf("attribute length %d of %d bytes accepted", l, len(b))
		}
	}
}

// FuzzNext walks arbitrary bytes as messages and their attributes. Each
// step must give exactly what its length field declares (the body or
// value up to that length, the rest from the aligned end on), stop where
// the length does not fit, and never panic.
func FuzzNext(f *testing.F) {
	f.Add(msg(unix.RTM_NEWLINK, AppendAttr(nil, 3, []byte("eth0\x00"))))
	f.Add(append(msg(unix.NLMSG_ERROR, make([]byte, 20)), msg(unix.NLMSG_DONE, nil)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkWalk(t, "message", b, unix.NLMSG_HDRLEN,
			func(b []byte) int { return int(binary.NativeEndian.Uint32(b)) },
			func(b []byte) ([]byte, []byte, bool) { _, body, rest, ok := Next(b); return body, rest, ok },
			func(body []byte) {
				checkWalk(t, "attribute", body, unix.SizeofRtAttr,
					func(b []byte) int { return int(binary.NativeEndian.Uint16(b)) },
					func(b []byte) ([]byte, []byte, bool) { _, val, rest, ok := NextAttr(b); return val, rest, ok },
					func([]byte) {})
			})
	})
}

// checkWalk walks b with next, messages or attributes of hdr-byte
// headers whose length field length reads, checking each step against
// that field as FuzzNext says, and hands each body to each.
func checkWalk(t *testing.T, what string, b []byte, hdr int, length func([]byte) int,
	next func([]byte) (body, rest []byte, ok bool), each func(body []byte)) {
	for {
		body, rest, ok := next(b)
		l := -1
		if len(b) >= hdr {
			l = length(b)
		}
		if fits := l >= hdr && l <= len(b); ok != fits {
			t.Fatalf("%s of length %d in %d bytes: ok %v", what, l, len(b), ok)
		}
		if !ok {
			return
		}
		if len(body) != l-hdr || len(rest) != len(b)-min(Align(l), len(b)) {
			t.Fatalf("%s of length %d in %d bytes: body %d, rest %d", what, l, len(b), len(body), len(rest))
		}
		each(body)
		b = rest
	}
}
