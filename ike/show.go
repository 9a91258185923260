package ike

import (
	"net/netip"
	"sort"
	"time"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

// IKESAInfo is one IKE SA as "show ikev2 sa" prints it.
type IKESAInfo struct {
	Tunnel         string         // "Tunnel0.0" ("" while a responder SA is not yet authenticated)
	SPIi, SPIr     uint64         // printed "(I)0x%016x (R)0x%016x"
	RemainLifetime time.Duration  // "Remain lifetime[sec]"
	Serial         int            // "Serial"
	Initiator      bool           // "Direction : initiator" (else responder)
	LocalAddr      netip.AddrPort // "Local Addr : 203.0.113.1:500"
	PeerAddr       netip.AddrPort
	PeerID         string // "IPV4-ADDR 198.51.100.6"
	State          SAState
	Enc            string // "AES-CBC-256"
	Integ          string // "HMAC-SHA1-96" ("" for AEAD)
	PRF            string // "PRF-HMAC-SHA1"
	DH             string // "1024-bit"
	NATDetected    bool
	UDPEncap       bool
	Children       int
}

// ChildSAInfo is one Child SA (both directions) as "show ikev2 child-sa"
// prints it.
type ChildSAInfo struct {
	Tunnel         string
	PeerID         string // "IPV4-ADDR 198.51.100.6"
	IKESPIi        uint64
	IKESPIr        uint64
	IKESerial      int
	Protocol       string // "ESP"
	LocalAddr      netip.AddrPort
	PeerAddr       netip.AddrPort // ports are the UDP ports with UDPEncap, else 0
	UDPEncap       bool
	InSPI, OutSPI  uint32
	Enc            string // "AES-CBC-256"
	Hash           string // "HMAC-SHA2-256-128" ("" for AEAD)
	ESN            bool
	PFS            string // DH group name, "" without PFS
	RemainLifetime time.Duration
	AntiReplay     bool
	// Outbound is set for the SA the tunnel's traffic leaves by ("Direction
	// is outbound"), clear for one kept only to receive (being replaced).
	Outbound    bool
	In, Out     childsa.Counters
	LocalTS     []netip.Prefix
	RemoteTS    []netip.Prefix
	Established time.Time
}

// IKESAs returns every live IKE SA, ordered by serial.
func (m *Manager) IKESAs() []IKESAInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.IKESAs(m.now())
}

// ChildSAs returns every installed Child SA, with data-plane counters.
func (m *Manager) ChildSAs() []ChildSAInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.ChildSAs(m.now())
}

// IKESAs is Manager.IKESAs on the core.
func (c *Core) IKESAs(now time.Time) []IKESAInfo {
	var out []IKESAInfo
	for _, sa := range c.sas {
		if sa.state == StateDead {
			continue
		}
		i := IKESAInfo{
			Tunnel: tunName(sa), SPIi: sa.spiI, SPIr: sa.spiR, Serial: sa.serial, Initiator: sa.initiator,
			LocalAddr: sa.local, PeerAddr: sa.remote, State: sa.state,
			Enc: sa.suite.Enc.Name, Integ: sa.suite.Integ.Name, PRF: sa.suite.PRF.Name, DH: sa.suite.DH.Name,
			NATDetected: sa.natLocal || sa.natRemote, UDPEncap: sa.encap, Children: len(sa.children),
		}
		if sa.peerID.Type != 0 {
			i.PeerID = sa.peerID.String()
		}
		if !sa.expireAt.IsZero() {
			i.RemainLifetime = max(sa.expireAt.Sub(now), 0).Truncate(time.Second)
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Serial != out[b].Serial {
			return out[a].Serial < out[b].Serial
		}
		return out[a].SPIi < out[b].SPIi
	})
	return out
}

// ChildSAs is Manager.ChildSAs on the core.
func (c *Core) ChildSAs(now time.Time) []ChildSAInfo {
	var out []ChildSAInfo
	for _, ch := range c.children {
		sa := ch.ike
		if sa == nil || !ch.installed {
			continue
		}
		i := ChildSAInfo{
			Tunnel: tunName(sa), PeerID: sa.peerID.String(), IKESPIi: sa.spiI, IKESPIr: sa.spiR, IKESerial: sa.serial,
			Protocol: "ESP", UDPEncap: sa.encap || sa.natLocal || sa.natRemote, InSPI: ch.inSPI, OutSPI: ch.outSPI,
			Enc: ch.suite.Enc.Name, Hash: ch.suite.Integ.Name, ESN: ch.suite.ESN, PFS: ch.suite.DH.Name,
			RemainLifetime: max(ch.expireAt.Sub(now), 0).Truncate(time.Second), AntiReplay: true,
			LocalTS: ch.localTS, RemoteTS: ch.remoteTS, Established: ch.created,
		}
		if ch.outbound() {
			i.Outbound = true
		}
		i.LocalAddr, i.PeerAddr = sa.local, sa.remote
		if !i.UDPEncap {
			i.LocalAddr = netip.AddrPortFrom(sa.local.Addr(), 0)
			i.PeerAddr = netip.AddrPortFrom(sa.remote.Addr(), 0)
		}
		i.In, _ = c.opt.DataPlane.Counters(ch.inSPI, true)
		i.Out, _ = c.opt.DataPlane.Counters(ch.outSPI, false)
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Established != out[b].Established {
			return out[a].Established.Before(out[b].Established)
		}
		return out[a].InSPI < out[b].InSPI
	})
	return out
}
