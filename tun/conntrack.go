package tun

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Translation is one connection the kernel translates (NAPT): Inside is
// the LAN side's address and port, Outside what the far end sees, Remote
// the far end.
type Translation struct {
	Protocol              uint8
	Inside, Outside       netip.AddrPort
	Remote                netip.AddrPort
	Forwarded             bool // a port forward (destination NAT) rather than a masquerade
	Timeout               time.Duration
	Packets, ReplyPackets uint64
}

// Translations lists the IPv4 connections of the kernel's connection
// table whose addresses are translated, ordered by inside address.
func (m *Manager) Translations() ([]Translation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("tun: manager closed")
	}
	flows, err := m.h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("tun: connection table: %w", err)
	}
	var out []Translation
	for _, f := range flows {
		if t, ok := translation(f); ok {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Inside.Compare(out[j].Inside) < 0 })
	return out, nil
}

// translation reads f as a translation, if its addresses are translated.
func translation(f *netlink.ConntrackFlow) (Translation, bool) {
	fs, fd := addrPort(f.Forward.SrcIP, f.Forward.SrcPort), addrPort(f.Forward.DstIP, f.Forward.DstPort)
	rs, rd := addrPort(f.Reverse.SrcIP, f.Reverse.SrcPort), addrPort(f.Reverse.DstIP, f.Reverse.DstPort)
	t := Translation{Protocol: f.Forward.Protocol, Timeout: time.Duration(f.TimeOut) * time.Second,
		Packets: f.Forward.Packets, ReplyPackets: f.Reverse.Packets}
	switch {
	case fs != rd: // source translated: a masquerade
		t.Inside, t.Outside, t.Remote = fs, rd, fd
	case fd != rs: // destination translated: a port forward
		t.Inside, t.Outside, t.Remote, t.Forwarded = rs, fd, fs, true
	default:
		return Translation{}, false
	}
	return t, true
}

// ClearTranslations deletes the translated IPv4 connections (those
// Translations lists) from the kernel's connection table, as "clear ip
// napt translation" does on an IX: their next packets meet the rules now
// in force, such as port forwards a reload changed, and an established
// connection through a masquerade starts over. It returns how many went.
func (m *Manager) ClearTranslations() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("tun: manager closed")
	}
	n, err := m.h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, translatedFlows{})
	if err != nil {
		return int(n), fmt.Errorf("tun: connection table: %w", err)
	}
	return int(n), nil
}

// translatedFlows matches the connections whose addresses are translated.
type translatedFlows struct{}

func (translatedFlows) MatchConntrackFlow(f *netlink.ConntrackFlow) bool {
	_, ok := translation(f)
	return ok
}

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}
