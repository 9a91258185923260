package bgp

import (
	"context"
	"net/netip"
	"time"
)

// speaker is the BGP implementation behind Server. gobgp.go implements it
// with GoBGP v3; a move to another version or library replaces that file.
type speaker interface {
	start(ctx context.Context, g globalConf) error
	stop()
	addPeer(ctx context.Context, p peerConf) error
	deletePeer(ctx context.Context, addr netip.Addr) error
	// addNetwork originates prefix from this router; deleteNetwork withdraws it.
	addNetwork(ctx context.Context, prefix netip.Prefix) error
	deleteNetwork(ctx context.Context, prefix netip.Prefix) error
	// setPolicy replaces the route-maps in force and re-applies them to
	// the routes already received and sent.
	setPolicy(ctx context.Context, p policy) error
	// watch calls onPaths with best-path changes (the current table first)
	// and onPeer with session state changes, in order, from one goroutine,
	// until ctx is done.
	watch(ctx context.Context, onPaths func([]bestPath), onPeer func(peerEvent)) error
	neighbors(ctx context.Context) ([]NeighborSummary, error)
	// routes lists what a neighbor sent (received) or what is sent to it.
	routes(ctx context.Context, neighbor netip.Addr, advertised bool) ([]Route, error)
	// globalASPaths counts the distinct AS paths in the global table.
	globalASPaths(ctx context.Context) (int, error)
	// reset resets the session with addr, or with every neighbor when
	// addr is invalid, as how says.
	reset(ctx context.Context, addr netip.Addr, how Reset) error
}

// globalConf is the router-wide part of the configuration.
type globalConf struct {
	ASN        uint32
	RouterID   netip.Addr
	ListenPort int32 // -1: do not listen
}

// peerConf is one neighbor as the speaker is told about it.
type peerConf struct {
	Addr        netip.Addr
	RemoteAS    uint32
	LocalAddr   netip.Addr // update-source address; invalid: chosen by the kernel
	Keepalive   time.Duration
	Hold        time.Duration
	MultihopTTL uint8 // 0: directly connected eBGP (TTL 1)
	Description string
	RemotePort  uint16 // 0: 179; tests use others

	ConnectRetry time.Duration // connect-interval; 0: defaultConnectRetry
	MaxPrefixes  uint32        // 0: no limit
	Passive      bool          // never connect, only accept
}

// bestPath is one change of the best path for a prefix.
type bestPath struct {
	Prefix   netip.Prefix
	NextHop  netip.Addr
	Peer     netip.Addr // invalid for paths this router originates
	Withdraw bool
}

// peerEvent is a session state change.
type peerEvent struct {
	Addr        netip.Addr
	State       string
	Established bool
}
