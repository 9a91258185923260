package dhcpd

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds the server whatever decodes as a DHCP message: it must
// answer or ignore it, never panic, and never hand out an address outside
// its pool and fixed assignments.
func FuzzHandle(f *testing.F) {
	for _, typ := range []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeInform} {
		hw, _ := net.ParseMAC("02:00:00:00:00:01")
		m, _ := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(typ),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 2, 100))))
		f.Add(m.ToBytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		s, c := testServer(), &sink{}
		s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, m)
		s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, m)
		for _, r := range c.sent {
			a := addrOf(r.YourIPAddr)
			if !a.IsValid() || a.IsUnspecified() {
				continue
			}
			inPool := !a.Less(s.cfg.First) && !s.cfg.Last.Less(a)
			if !inPool && a != s.cfg.Fixed["02:00:00:00:00:50"] {
				t.Fatalf("handed out %v", a)
			}
		}
	})
}
