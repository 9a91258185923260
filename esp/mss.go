package esp

import "encoding/binary"

// clampMSS lowers the MSS option of a TCP SYN (or SYN-ACK) in the IPv4 or
// IPv6 packet pkt to mss4 / mss6 ("ip tcp adjust-mss") and fixes the TCP
// checksum incrementally (RFC 1624). It reports whether it changed pkt.
// Anything it cannot parse is left alone.
func clampMSS(pkt []byte, mss4, mss6 uint16) bool {
	var tcp []byte
	var mss uint16
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		hl := int(pkt[0]&0xf) * 4
		if pkt[9] != protoTCP || hl < 20 || binary.BigEndian.Uint16(pkt[6:])&0x1fff != 0 {
			return false // not TCP, or not the first fragment
		}
		tl := int(binary.BigEndian.Uint16(pkt[2:]))
		if tl > len(pkt) || tl < hl {
			return false
		}
		tcp, mss = pkt[hl:tl], mss4
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		if pkt[6] != protoTCP {
			return false // extension headers are not walked
		}
		tl := 40 + int(binary.BigEndian.Uint16(pkt[4:]))
		if tl > len(pkt) {
			return false
		}
		tcp, mss = pkt[40:tl], mss6
	default:
		return false
	}
	if mss == 0 || len(tcp) < 20 || tcp[13]&0x02 == 0 { // SYN
		return false
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || doff > len(tcp) {
		return false
	}
	opts := tcp[20:doff]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of options
			return false
		case 1: // no-operation
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return false
		}
		if opts[i] == 2 && l == 4 {
			old := binary.BigEndian.Uint16(opts[i+2:])
			if old <= mss {
				return false
			}
			binary.BigEndian.PutUint16(opts[i+2:], mss)
			o, n := old, mss
			if (20+i+2)%2 == 1 {
				// The value straddles two checksum words: in ones'
				// complement that equals adding it byte-swapped.
				o, n = o>>8|o<<8, n>>8|n<<8
			}
			sum := binary.BigEndian.Uint16(tcp[16:])
			binary.BigEndian.PutUint16(tcp[16:], checksumUpdate(sum, o, n))
			return true
		}
		i += l
	}
	return false
}

// checksumUpdate returns the Internet checksum sum after one 16-bit word
// changed from old to new (RFC 1624, eqn. 3).
func checksumUpdate(sum, old, new uint16) uint16 {
	s := uint32(^sum) + uint32(^old) + uint32(new)
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return ^uint16(s)
}

// checksum returns the Internet checksum of b with initial partial sum.
func checksum(b []byte, initial uint32) uint16 {
	s := initial
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
