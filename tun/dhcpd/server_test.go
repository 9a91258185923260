package dhcpd

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// sink is a net.PacketConn that keeps what the server sends.
type sink struct {
	net.PacketConn
	sent []*dhcpv4.DHCPv4
	to   []net.Addr
}

func (s *sink) WriteTo(b []byte, a net.Addr) (int, error) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return 0, err
	}
	s.sent, s.to = append(s.sent, m), append(s.to, a)
	return len(b), nil
}

func testServer() *Server {
	cfg := Config{
		Link: "lan0", Address: netip.MustParsePrefix("192.168.2.1/24"),
		First: netip.MustParseAddr("192.168.2.100"), Last: netip.MustParseAddr("192.168.2.101"),
		MaskBits: 24, Router: netip.MustParseAddr("192.168.2.1"), DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		Domain: "branch.example", Lease: time.Hour,
		Fixed: map[string]netip.Addr{"02:00:00:00:00:50": netip.MustParseAddr("192.168.2.50")},
		Log:   slog.New(slog.DiscardHandler),
	}
	return &Server{cfg: cfg, bindings: map[netip.Addr]*Binding{}, offered: map[netip.Addr]bool{}}
}

func msg(t *testing.T, typ dhcpv4.MessageType, mac string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(typ)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dora runs DISCOVER then REQUEST for mac and returns the ACK's address
// (invalid on a NAK or no answer).
func dora(t *testing.T, s *Server, c *sink, mac string) netip.Addr {
	t.Helper()
	s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, msg(t, dhcpv4.MessageTypeDiscover, mac))
	if len(c.sent) == 0 {
		return netip.Addr{}
	}
	offer := c.sent[len(c.sent)-1]
	if offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("answer to DISCOVER: %v", offer.MessageType())
	}
	s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, msg(t, dhcpv4.MessageTypeRequest, mac,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 168, 2, 1)))))
	ack := c.sent[len(c.sent)-1]
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		return netip.Addr{}
	}
	return addrOf(ack.YourIPAddr)
}

func TestServerPoolAndOptions(t *testing.T) {
	s, c := testServer(), &sink{}
	a := dora(t, s, c, "02:00:00:00:00:01")
	if a != netip.MustParseAddr("192.168.2.100") {
		t.Fatalf("first client got %v", a)
	}
	ack := c.sent[len(c.sent)-1]
	if r := ack.Router(); len(r) != 1 || !r[0].Equal(net.IPv4(192, 168, 2, 1)) || len(ack.DNS()) != 1 ||
		ack.DomainName() != "branch.example" || ack.IPAddressLeaseTime(0) != time.Hour || ack.SubnetMask().String() != "ffffff00" {
		t.Errorf("ACK options: %s", ack.Summary())
	}
	if to := c.to[len(c.to)-1].(*net.UDPAddr); !to.IP.Equal(net.IPv4bcast) {
		t.Errorf("ACK to a client without address sent to %v, want broadcast", to)
	}
	// The same client again: the same address.
	if a := dora(t, s, c, "02:00:00:00:00:01"); a != netip.MustParseAddr("192.168.2.100") {
		t.Errorf("the client's second DORA got %v", a)
	}
	if a := dora(t, s, c, "02:00:00:00:00:02"); a != netip.MustParseAddr("192.168.2.101") {
		t.Errorf("second client got %v", a)
	}
	// The pool has two addresses: a third client gets no offer.
	n := len(c.sent)
	s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, msg(t, dhcpv4.MessageTypeDiscover, "02:00:00:00:00:03"))
	if len(c.sent) != n {
		t.Errorf("offer from an exhausted pool: %s", c.sent[len(c.sent)-1].Summary())
	}
	// A release gives the address back.
	s.handle(c, &net.UDPAddr{IP: net.IPv4(192, 168, 2, 100), Port: 68}, msg(t, dhcpv4.MessageTypeRelease, "02:00:00:00:00:01",
		dhcpv4.WithClientIP(net.IPv4(192, 168, 2, 100))))
	if a := dora(t, s, c, "02:00:00:00:00:03"); a != netip.MustParseAddr("192.168.2.100") {
		t.Errorf("after a release, the third client got %v", a)
	}
	if bs := s.Bindings(); len(bs) != 2 {
		t.Errorf("bindings %+v", bs)
	}
}

func TestServerFixedAndNAK(t *testing.T) {
	s, c := testServer(), &sink{}
	if a := dora(t, s, c, "02:00:00:00:00:50"); a != netip.MustParseAddr("192.168.2.50") {
		t.Errorf("fixed-assignment client got %v", a)
	}
	dora(t, s, c, "02:00:00:00:00:01")
	// Another client asking for the first one's address is refused.
	s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, msg(t, dhcpv4.MessageTypeRequest, "02:00:00:00:00:02",
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 2, 100)))))
	if m := c.sent[len(c.sent)-1]; m.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request for a held address: %v", m.MessageType())
	}
	// Nor may anyone take the fixed address.
	s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, msg(t, dhcpv4.MessageTypeRequest, "02:00:00:00:00:02",
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 2, 50)))))
	if m := c.sent[len(c.sent)-1]; m.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request for another's fixed address: %v", m.MessageType())
	}
	// A request for another network's address is not ours to answer.
	n := len(c.sent)
	s.handle(c, &net.UDPAddr{IP: net.IPv4zero, Port: 68}, msg(t, dhcpv4.MessageTypeRequest, "02:00:00:00:00:02",
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5)))))
	if len(c.sent) != n {
		t.Errorf("answered a request for 10.0.0.5: %s", c.sent[len(c.sent)-1].Summary())
	}
}
