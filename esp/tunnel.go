package esp

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/soft-ix/soft-ix/internal/childsa"
	"golang.zx2c4.com/wireguard/tun"
)

// MSSAuto in TunnelConfig.AdjustMSS clamps to what fits the tunnel MTU
// ("ip tcp adjust-mss auto").
const MSSAuto = -1

// TunnelConfig describes one IX tunnel interface.
type TunnelConfig struct {
	Name string // "Tunnel0.0"; also the TUN device name

	// MTU is "ip mtu" of the tunnel interface; zero derives it from
	// OuterMTU minus the worst-case ESP overhead of the suite.
	MTU int
	// OuterMTU is the path MTU towards the peer; zero means 1500.
	OuterMTU int
	// OuterIPv6 says the peer has an IPv6 address: the outer header takes
	// 40 bytes instead of 20, 20 fewer for the inner packet.
	OuterIPv6 bool
	// EncrID, EncrKeyBits and IntegID name the configured ESP suite for the
	// derived MTU; zero EncrID means the worst case of all suites.
	EncrID      childsa.EncrID
	EncrKeyBits int
	IntegID     childsa.IntegID

	// PreFragment is "ikev2 ipsec pre-fragment": inner IPv4 packets whose
	// ESP packet would exceed OuterMTU are fragmented before encryption;
	// those with DF set are answered with ICMP fragmentation needed.
	PreFragment bool
	// AdjustMSS is "ip tcp adjust-mss": 0 off, MSSAuto, or the MSS to
	// clamp SYN and SYN-ACK segments to, in both directions.
	AdjustMSS int
	// ICMPSource is the source address of ICMP errors the tunnel sends;
	// zero uses the destination of the packet that caused them.
	ICMPSource netip.Addr
}

func (c TunnelConfig) outerMTU() int {
	if c.OuterMTU > 0 {
		return c.OuterMTU
	}
	return 1500
}

// DeviceMTU returns the MTU the TUN device gets: MTU if set, else the
// largest inner packet that fits OuterMTU under the suite's worst-case
// overhead with UDP encapsulation (and the IPv6 header with OuterIPv6).
func (c TunnelConfig) DeviceMTU() int {
	if c.MTU > 0 {
		return c.MTU
	}
	iv, blk, icv := 16, 16, 32 // AES-CBC with HMAC-SHA2-512-256
	switch c.EncrID {
	case childsa.EncrAESGCM16:
		iv, blk, icv = 8, 4, 16
	case childsa.EncrAESCBC:
		switch c.IntegID {
		case childsa.IntegHMACSHA1_96:
			icv = 12
		case childsa.IntegHMACSHA256128:
			icv = 16
		case childsa.IntegHMACSHA384192:
			icv = 24
		}
	}
	return maxPayload(c.outerMTU(), iv, blk, icv, true, c.OuterIPv6)
}

// Suite names one ESP suite a tunnel may negotiate.
type Suite struct {
	EncrID      childsa.EncrID
	EncrKeyBits int
	IntegID     childsa.IntegID
}

// WithWorstSuite returns c sized for the suite of suites with the largest
// overhead (the smallest DeviceMTU), since the tunnel's MTU is set before
// a proposal is chosen. Unknown suites (zero EncrID) are skipped; with none
// left c is returned unchanged, sized for the worst of all suites.
func (c TunnelConfig) WithWorstSuite(suites []Suite) TunnelConfig {
	out, best := c, -1
	for _, s := range suites {
		if s.EncrID == 0 {
			continue
		}
		try := c
		try.EncrID, try.EncrKeyBits, try.IntegID = s.EncrID, s.EncrKeyBits, s.IntegID
		if m := try.DeviceMTU(); best < 0 || m < best {
			out, best = try, m
		}
	}
	return out
}

// mss returns the MSS values to clamp IPv4 and IPv6 SYNs to, or zeros.
func (c TunnelConfig) mss() (uint16, uint16) {
	switch {
	case c.AdjustMSS == MSSAuto:
		m := c.DeviceMTU()
		return uint16(m - 40), uint16(m - 60)
	case c.AdjustMSS > 0:
		return uint16(c.AdjustMSS), uint16(c.AdjustMSS)
	}
	return 0, 0
}

// mssFor returns the MSS values to clamp the SYNs of SA a to: the
// configured ones, or with "ip tcp adjust-mss auto" and a path MTU that
// ICMP reported below the configured one, what fits that path.
func (t *tunnel) mssFor(a *sa, path int) (uint16, uint16) {
	m4, m6 := t.mss4, t.mss6
	if t.cfg.AdjustMSS != MSSAuto || path <= 0 || path >= t.cfg.outerMTU() {
		return m4, m6
	}
	limit := maxPayload(path, a.ivLen, a.blk, a.icv, a.udp, a.v6)
	return min(m4, uint16(max(limit-40, 0))), min(m6, uint16(max(limit-60, 0)))
}

// tunnel runs the loops of one TUN device.
type tunnel struct {
	e          *Engine
	cfg        TunnelConfig
	dev        tun.Device
	out        *atomic.Pointer[sa]
	path       *pathMTU // what ICMP said of the path to the peer (pmtu.go)
	sendQueue  chan *container
	mss4, mss6 uint16
	// gro: the device takes batches and coalesces the packets of a write
	// (wireguard-go's TUN with offloads reports a batch size above 1
	// exactly then); see groHeads.
	gro     bool
	closing atomic.Bool
	// inflight counts containers queued but not yet sent; while it is zero
	// the reader may seal and send a small batch itself without breaking
	// order, saving two goroutine hand-offs of latency.
	inflight atomic.Int32
	// pending collects the reader's containers of one TUN batch.
	pending   []*container
	closeOnce sync.Once

	// icmp is the reader's scratch for writing ICMP errors into the TUN.
	icmp [1][]byte
}

func newTunnel(e *Engine, cfg TunnelConfig, dev tun.Device, out *atomic.Pointer[sa], path *pathMTU) *tunnel {
	t := &tunnel{e: e, cfg: cfg, dev: dev, out: out, path: path, sendQueue: make(chan *container, 32)}
	t.mss4, t.mss6 = cfg.mss()
	t.gro = dev.BatchSize() > 1
	return t
}

func (t *tunnel) close() error {
	var err error
	t.closeOnce.Do(func() {
		t.closing.Store(true)
		err = t.dev.Close()
	})
	return err
}
