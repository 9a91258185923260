package esp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

var errFragment = errors.New("cannot fragment")

// fragmentCount returns how many fragments of at most mtu bytes an IPv4
// packet of n bytes with an hl-byte header needs, or -1 if mtu is too small.
func fragmentCount(n, hl, mtu int) int {
	per := (mtu - hl) &^ 7
	if per < 8 || n < hl {
		return -1
	}
	if n == hl {
		return 1
	}
	return (n - hl + per - 1) / per
}

// fragmentIPv4 splits the IPv4 packet pkt (DF clear) into fragments of at
// most mtu bytes (RFC 791 §3.2). Fragment k is written to bufs[k] with
// its length in sizes[k]; it returns the number of fragments. Options
// without the copied flag go into the first fragment only. pkt may itself
// be a fragment; offsets and the MF flag are carried over.
func fragmentIPv4(pkt []byte, mtu int, bufs [][]byte, sizes []int) (int, error) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return 0, errFragment
	}
	hl := int(pkt[0]&0xf) * 4
	tl := int(binary.BigEndian.Uint16(pkt[2:]))
	if hl < 20 || tl < hl || tl > len(pkt) {
		return 0, errFragment
	}
	pkt = pkt[:tl]
	fw := binary.BigEndian.Uint16(pkt[6:])
	if fw&0x4000 != 0 {
		return 0, errFragment // DF
	}
	origOff := int(fw&0x1fff) * 8
	origMF := fw&0x2000 != 0
	count := fragmentCount(tl, hl, mtu)
	if count < 0 || count > len(bufs) || count > len(sizes) {
		return 0, errFragment
	}
	per := (mtu - hl) &^ 7
	payload := pkt[hl:]
	if origOff+len(payload) > 0xffff {
		return 0, errFragment
	}

	// The header of the later fragments: base header and copied options.
	var later [60]byte
	copy(later[:20], pkt[:20])
	ll := 20
	opts := pkt[20:hl]
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == 0 {
			break
		}
		if t == 1 {
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return 0, errFragment
		}
		l := int(opts[i+1])
		if t&0x80 != 0 {
			ll += copy(later[ll:], opts[i:i+l])
		}
		i += l
	}
	for ll%4 != 0 {
		later[ll] = 0
		ll++
	}

	for k := 0; k < count; k++ {
		lo := k * per
		hi := min(lo+per, len(payload))
		hdr := pkt[:hl]
		if k > 0 {
			hdr = later[:ll]
		}
		n := len(hdr) + hi - lo
		if len(bufs[k]) < n {
			return 0, errFragment
		}
		f := bufs[k][:n]
		copy(f, hdr)
		copy(f[len(hdr):], payload[lo:hi])
		f[0] = 0x40 | byte(len(hdr)/4)
		binary.BigEndian.PutUint16(f[2:], uint16(n))
		w := uint16((origOff + lo) / 8)
		if k < count-1 || origMF {
			w |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:], w)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], checksum(f[:len(hdr)], 0))
		sizes[k] = n
	}
	return count, nil
}

// buildFragNeeded writes into b an ICMP destination unreachable,
// fragmentation needed (type 3 code 4) message with next-hop MTU mtu
// (RFC 1191) about the IPv4 packet orig, and returns its length, or 0 when
// no error may be sent (orig is an ICMP error or a later fragment, RFC 1122
// §3.2.2). src is the source address, or orig's destination if invalid.
func buildFragNeeded(b []byte, orig []byte, mtu int, src netip.Addr) int {
	if len(orig) < 20 || orig[0]>>4 != 4 {
		return 0
	}
	hl := int(orig[0]&0xf) * 4
	if hl < 20 || hl > len(orig) || binary.BigEndian.Uint16(orig[6:])&0x1fff != 0 {
		return 0
	}
	if orig[9] == protoICMP {
		if len(orig) < hl+1 {
			return 0
		}
		switch orig[hl] {
		case 0, 8, 13, 14, 15, 16, 17, 18: // queries and replies
		default:
			return 0
		}
	}
	quote := min(len(orig), hl+8)
	n := 20 + 8 + quote
	if len(b) < n {
		return 0
	}
	b = b[:n]
	clear(b[:28])
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	b[8] = 64
	b[9] = protoICMP
	if src.Is4() {
		s := src.As4()
		copy(b[12:16], s[:])
	} else {
		copy(b[12:16], orig[16:20])
	}
	copy(b[16:20], orig[12:16])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:20], 0))
	b[20], b[21] = 3, 4
	binary.BigEndian.PutUint16(b[26:], uint16(mtu))
	copy(b[28:], orig[:quote])
	binary.BigEndian.PutUint16(b[22:], checksum(b[20:], 0))
	return n
}

// buildPacketTooBig writes into b an ICMPv6 packet too big message (RFC
// 4443 §3.2) with MTU mtu about the IPv6 packet orig, from orig's
// destination, and returns its length, or 0 when no error may be sent
// (orig is an ICMPv6 error, or its source is unspecified or multicast,
// RFC 4443 §2.4). It quotes as much of orig as fits in 1280 bytes.
func buildPacketTooBig(b []byte, orig []byte, mtu int) int {
	if len(orig) < 40 || orig[0]>>4 != 6 {
		return 0
	}
	src := netip.AddrFrom16([16]byte(orig[8:24]))
	if src.IsUnspecified() || src.IsMulticast() {
		return 0
	}
	if orig[6] == protoICMPv6 && (len(orig) < 41 || orig[40] < 128) {
		return 0 // an error message, or too short to tell
	}
	quote := min(len(orig), minPathMTU6-40-8)
	n := 40 + 8 + quote
	if len(b) < n {
		return 0
	}
	b = b[:n]
	clear(b[:48])
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(8+quote))
	b[6] = protoICMPv6
	b[7] = 64
	copy(b[8:24], orig[24:40]) // from the packet's destination
	copy(b[24:40], orig[8:24])
	b[40] = 2 // packet too big, code 0
	binary.BigEndian.PutUint32(b[44:], uint32(mtu))
	copy(b[48:], orig[:quote])
	binary.BigEndian.PutUint16(b[42:], checksum(b[40:], pseudoHeader6(b[8:24], b[24:40], 8+quote, protoICMPv6)))
	return n
}

// pseudoHeader6 returns the unfolded sum of the IPv6 pseudo-header (RFC
// 8200 §8.1) for an upper-layer packet of length n and next header nh.
func pseudoHeader6(src, dst []byte, n int, nh byte) uint32 {
	var sum uint32
	for i := 0; i < 16; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(src[i:])) + uint32(binary.BigEndian.Uint16(dst[i:]))
	}
	return sum + uint32(n>>16) + uint32(n&0xffff) + uint32(nh)
}
