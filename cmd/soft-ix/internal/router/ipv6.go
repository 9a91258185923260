package router

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/ike"
)

// IPv6 outer addresses ("ikev2 peer 2001:db8::1 ..." over an IPv6 WAN):
// the daemon opens IKE's UDP 500, the engine's UDP 4500 and raw ESP
// sockets on [::] the first time a configuration needs them, and keeps
// them until it stops. Inner traffic stays what the tunnel carries (the
// IPv4 LANs).

// outerIPv6 records which IPv6 sockets are open, so a failed attempt (no
// IPv6 on the host, a port in use) is retried by the next reload for the
// parts still missing.
type outerIPv6 struct {
	mu            sync.Mutex
	udp, raw, ike bool
}

// isIPv6 reports whether a is an IPv6 address that is not IPv4-mapped.
func isIPv6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// NeedsIPv6 reports whether a tunnel of cfg that is not shut down has an
// IPv6 peer or IPv6 source address ("ikev2 peer any" with an IPv6
// "ikev2 source-address" waits for IPv6 initiators).
func NeedsIPv6(cfg *config.Config) bool {
	for _, ifc := range cfg.Tunnels() {
		if ifc.Shutdown || ifc.Tunnel == nil {
			continue
		}
		if isIPv6(ifc.Tunnel.Peer) || isIPv6(cfg.ProfileFor(ifc).SourceAddress) {
			return true
		}
	}
	return false
}

// openIPv6 opens the IPv6 outer sockets when cfg needs them and they are
// not open yet.
func (s *ipsecStack) openIPv6(cfg *config.Config) error {
	if !NeedsIPv6(cfg) {
		return nil
	}
	o := &s.ipv6
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.udp && o.raw && o.ike {
		return nil
	}
	const why = "a tunnel has an IPv6 peer, but the IPv6 %s socket cannot be opened (is IPv6 disabled? net.ipv6.conf.all.disable_ipv6): %w"
	if !o.udp {
		if err := s.eng.OpenUDP(netip.AddrPortFrom(netip.IPv6Unspecified(), 4500)); err != nil {
			return fmt.Errorf(why, "UDP 4500", PortError(4500, err))
		}
		o.udp = true
	}
	if !o.raw {
		if err := s.eng.OpenRawESP(netip.IPv6Unspecified()); err != nil {
			return fmt.Errorf(why, "raw ESP", fmt.Errorf("%w (raw ESP needs root or CAP_NET_RAW)", err))
		}
		o.raw = true
	}
	if !o.ike {
		sock, err := ike.ListenSocket(netip.IPv6Unspecified(), 500)
		if err != nil {
			return fmt.Errorf(why, "UDP 500", PortError(500, err))
		}
		s.udp500.v6.Store(sock)
		go serveIKE(sock, s.deliverIKE)
		o.ike = true
	}
	s.log.Info("IPv6 outer sockets open: IKE on [::]:500 and [::]:4500, ESP raw and in UDP")
	return nil
}
