package esp

import "net/netip"

// IPv6 outer addresses. The sockets are those of IPv4 opened on an IPv6
// address (listenUDP, listenRawESP); what differs is gathered here: the
// raw socket's received datagrams carry no IPv6 header, and the outer
// header is 40 bytes instead of 20.

// Outer IP header lengths without options or extension headers.
const (
	outerIPv4Header = 20
	outerIPv6Header = 40
)

// outerHeader returns the length of the outer IP header of a tunnel whose
// peer has an IPv6 address when v6 is set.
func outerHeader(v6 bool) int {
	if v6 {
		return outerIPv6Header
	}
	return outerIPv4Header
}

// fromName completes el for the IPv6 ESP datagram b that came from src
// (the message's name): b already starts at the ESP header. A message
// without a source leaves el.pkt empty (counted as truncated).
func (r *rawIO) fromName(el *elem, src netip.Addr, b []byte) {
	if !src.IsValid() {
		return
	}
	el.src = netip.AddrPortFrom(src, 0)
	el.dst = netip.AddrPort{}
	el.pkt = b
}
