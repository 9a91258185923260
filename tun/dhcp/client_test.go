package dhcp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func ack(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeAck)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLeaseOf(t *testing.T) {
	a := ack(t,
		dhcpv4.WithYourIP(net.IPv4(203, 0, 113, 100)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(203, 0, 113, 1)),
		dhcpv4.WithDNS(net.IPv4(192, 0, 2, 53), net.IPv4(192, 0, 2, 54)),
		dhcpv4.WithServerIP(net.IPv4(203, 0, 113, 1)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(203, 0, 113, 1))),
		dhcpv4.WithLeaseTime(120),
	)
	l, ok := leaseOf(a)
	if !ok {
		t.Fatal("no lease")
	}
	if l.Address != netip.MustParsePrefix("203.0.113.100/24") || l.Router != netip.MustParseAddr("203.0.113.1") ||
		l.Server != netip.MustParseAddr("203.0.113.1") || len(l.DNS) != 2 {
		t.Errorf("lease %+v", l)
	}
	// Without options 58/59: RFC 2131's half and seven eighths.
	if l.Duration != 2*time.Minute || l.T1 != time.Minute || l.T2 != 105*time.Second {
		t.Errorf("times %v %v %v", l.Duration, l.T1, l.T2)
	}
}

func TestLeaseOfTimes(t *testing.T) {
	a := ack(t,
		dhcpv4.WithYourIP(net.IPv4(198, 51, 100, 7)),
		dhcpv4.WithLeaseTime(100),
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(30*time.Second)),
		// A rebinding time past the lease is the server's mistake: the
		// default takes its place.
		dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(500*time.Second)),
	)
	l, ok := leaseOf(a)
	if !ok {
		t.Fatal("no lease")
	}
	if l.Address != netip.MustParsePrefix("198.51.100.7/32") || l.Router.IsValid() {
		t.Errorf("lease %+v (no mask: a /32, no router)", l)
	}
	if l.T1 != 30*time.Second || l.T2 != 87500*time.Millisecond {
		t.Errorf("T1 %v T2 %v", l.T1, l.T2)
	}
	if !l.Expires().Equal(l.Obtained.Add(100 * time.Second)) {
		t.Errorf("expires %v", l.Expires())
	}
}

func TestLeaseOfNoAddress(t *testing.T) {
	if l, ok := leaseOf(ack(t)); ok || l.Valid() {
		t.Errorf("an ACK without yiaddr made a lease: %+v", l)
	}
}
