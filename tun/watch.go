package tun

import (
	"fmt"
	"time"

	"github.com/soft-ix/soft-ix/internal/rtwatch"
)

// watchSettle is how long Watch waits after an address or link change
// before it installs routes again: a DHCP lease or an operator's ip
// commands change several things at once.
const watchSettle = 200 * time.Millisecond

// Watch follows address and link changes in the namespace and, after
// each burst of them, installs the static routes that could not be
// installed before (a next hop that was not yet reachable: the host
// brought the WAN's address or link up later than soft-ix started). It
// returns once the subscriptions are open; Cleanup stops it.
//
// BGP routes are left to Apply and SetTunnelUp: while a tunnel is down
// its routes are withdrawn, and a BGP next hop behind it would resolve
// through the default route instead, installing the BGP routes out of
// the WAN, where SetTunnelUp would not look for them when the tunnel
// comes back.
func (m *Manager) Watch() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.stopWatch != nil {
		return nil
	}
	done := make(chan struct{})
	kick := make(chan struct{}, 1)
	w, err := rtwatch.Watch(rtwatch.Links|rtwatch.Addrs4|rtwatch.Addrs6, func(rtwatch.Event) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("tun: watch addresses and links: %w", err)
	}
	m.stopWatch = done
	go m.watch(done, kick, w)
	return nil
}

func (m *Manager) watch(done <-chan struct{}, kick <-chan struct{}, w *rtwatch.Watcher) {
	defer w.Close()
	var settle <-chan time.Time
	for {
		select {
		case <-done:
			return
		case <-kick:
			settle = time.After(watchSettle)
		case <-settle:
			settle = nil
			m.resync()
		}
	}
}

// resync installs the static routes the current configuration asks for
// and the kernel now allows.
func (m *Manager) resync() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.cfg == nil {
		return
	}
	for _, err := range m.syncStatic() {
		m.log.Warn("tun: routes after an address or link change", "err", err)
	}
}
