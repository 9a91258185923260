// Package azemu makes a soft-ix behave as one instance of an Azure VPN
// Gateway, not only propose like one: every tunnel offers and accepts
// Azure's default proposal lists, initiates and responds, rekeys on
// Azure's lifetimes and runs dead peer detection with Azure's timeout;
// BGP refuses what Azure refuses (a reserved ASN, iBGP), runs Azure's
// timers and drops a peer that sends more prefixes than Azure accepts.
//
// Every value comes from a row of the table in package azure. The
// package works on ike.Config and bgp.Config, after the IX file has been
// translated (internal/ixike, internal/ixbgp): the file stays plain IX,
// and "soft-ix --emulate azure" is the only switch.
package azemu

import (
	"fmt"
	"time"

	"github.com/soft-ix/soft-ix/bgp"
	"github.com/soft-ix/soft-ix/cmd/soft-ix/internal/azure"
	"github.com/soft-ix/soft-ix/ike"
)

// Config is what the emulator is told beyond the table.
type Config struct {
	// TimeScale divides Azure's SA lifetimes, so a lab sees rekeys in
	// minutes rather than hours (100: IKE SA 288 s, Child SA 270 s). 0 or
	// 1 is Azure's own; dead peer detection is never scaled.
	TimeScale float64
	// Mode is the connection's connectionMode (row "connection-mode"):
	// "" or "Default" (Azure initiates and responds), "InitiatorOnly"
	// (it initiates and refuses the peer's attempts) or "ResponderOnly"
	// (it only answers).
	Mode string
	// Connection, when set, is what a connection's az JSON says Azure
	// offers and accepts (azure.ParsePolicies, Accepts.ReadConnection):
	// with a custom IPsec/IKE policy (row "custom-policy") exactly that
	// one combination, its Child SA lifetimes, and the connection's DPD
	// timeout. Nil is a connection without custom policy.
	Connection *azure.Accepts
}

// Check reports a TimeScale or Mode that is not usable.
func (c Config) Check() error {
	if c.TimeScale < 0 || c.TimeScale > 10000 {
		return fmt.Errorf("azure emulation: time scale %v out of range 1-10000", c.TimeScale)
	}
	if m, _ := azure.ParseConnectionMode(c.Mode); c.Mode != m && c.Mode != "Default" {
		return fmt.Errorf("azure emulation: connection mode %q: want Default, InitiatorOnly or ResponderOnly", c.Mode)
	}
	return nil
}

func (c Config) scale(d time.Duration) time.Duration {
	if c.TimeScale <= 1 {
		return d
	}
	return time.Duration(float64(d) / c.TimeScale)
}

// Policy is what Azure offers and accepts on a connection without a custom
// IPsec/IKE policy (rows "default-ike", "default-child", "default-pfs",
// "answer-child"; its responder list is read as the cross product of the
// ciphers and groups it names, a little wider than Azure's 26 rows), or
// on c.Connection's with its custom policy's one combination ("custom-
// policy"), with the lifetimes ("ike-lifetime", "child-lifetime", divided
// by TimeScale) and dead peer detection ("dpd").
func (c Config) Policy() (ike.Policy, error) {
	acc := azure.DefaultAccepts()
	if c.Connection != nil {
		acc = *c.Connection
	}
	var p ike.Policy
	seen := map[string]bool{}
	add := func(list *[]ike.Algorithm, find func(string) (ike.Algorithm, bool), name string) (ike.Algorithm, error) {
		a, ok := find(name)
		if !ok {
			return a, fmt.Errorf("azure emulation: algorithm %q of the table unknown to ike", name)
		}
		if k := fmt.Sprintf("%p/%s", list, name); !seen[k] {
			seen[k] = true
			*list = append(*list, a)
		}
		return a, nil
	}
	for _, s := range acc.IKE {
		enc, err := add(&p.IKEEnc, ike.EncAlgorithm, string(s.Enc))
		if err != nil {
			return p, err
		}
		integ, err := add(&p.IKEInteg, ike.IntegAlgorithm, string(s.Integ))
		if err != nil {
			return p, err
		}
		prf, err := add(&p.IKEPRF, ike.PRFAlgorithm, string(s.Integ.PRF()))
		if err != nil {
			return p, err
		}
		if _, err := add(&p.IKEDH, ike.DHAlgorithm, string(s.DH)); err != nil {
			return p, err
		}
		p.IKEOffer = append(p.IKEOffer, ike.IKESuite{Enc: enc, Integ: integ, PRF: prf})
	}
	for _, s := range acc.Child {
		if s.PFS != "" {
			// A custom policy's pfsGroup: offered and required.
			if _, err := add(&p.ChildPFS, ike.DHAlgorithm, string(s.PFS)); err != nil {
				return p, err
			}
		}
		enc, err := add(&p.ChildEnc, ike.EncAlgorithm, string(s.Enc))
		if err != nil {
			return p, err
		}
		cs := ike.ChildSuite{Enc: enc}
		if s.Integ != "" {
			if cs.Integ, err = add(&p.ChildInteg, ike.IntegAlgorithm, string(s.Integ)); err != nil {
				return p, err
			}
		}
		p.ChildOffer = append(p.ChildOffer, cs)
	}
	// Without a custom policy Azure answers a peer's PFS (row
	// "answer-child") but never offers it; with one it sends and accepts
	// only that policy. Its proposals all have extended sequence numbers
	// off.
	if !acc.Custom {
		for _, g := range azure.AnswerPFS {
			if _, err := add(&p.ChildPFSAnswer, ike.DHAlgorithm, string(g)); err != nil {
				return p, err
			}
		}
	}
	p.IKELifetime = c.scale(acc.IKELifetime)
	p.ChildLifetime = c.scale(acc.ChildLifetime)
	p.ChildLifetimeKB = acc.ChildLifetimeKB
	// Azure's dpdTimeoutSeconds: a peer silent this long is probed, and
	// declared dead when the probe stays unanswered as long again.
	p.DPDInterval = acc.DPDTimeout
	return p, nil
}

// IKE makes every tunnel of ic an Azure connection: Azure's policy,
// initiating and responding as the connection mode says (rows
// "initiator", "connection-mode"), and in t Azure's DPD timeout and what
// Windows' IKE does on the wire. It replaces whatever the file's profiles
// said.
func (c Config) IKE(ic *ike.Config, t *ike.CoreConfig) error {
	pol, err := c.Policy()
	if err != nil {
		return err
	}
	ic.Default = pol
	for i := range ic.Tunnels {
		tc := &ic.Tunnels[i]
		tc.Policy = pol
		tc.ConnectAuto = c.Mode != "ResponderOnly"
		switch c.Mode {
		case "InitiatorOnly":
			tc.Direction = ike.InitiatorOnly
		case "ResponderOnly":
			tc.Direction = ike.ResponderOnly
		default:
			tc.Direction = ike.BothDirections
		}
	}
	if t != nil {
		t.DPDTimeout = azure.DPDTimeout
		if c.Connection != nil {
			t.DPDTimeout = c.Connection.DPDTimeout
		}
		// Windows' IKE on the wire (rows "ms-ikev2", "initial-contact",
		// "ike-fragmentation"): Microsoft's vendor IDs, INITIAL_CONTACT
		// as the Vid-Initial-Contact vendor ID, fragments that fit a
		// 576-byte IPv4 packet with its UDP header and the NAT-T port's
		// non-ESP marker.
		t.VendorIDs = azure.VendorIDs
		t.InitialContactVendorID = true
		t.FragmentSize = azure.FragmentMTU - 20 - 8 - 4
	}
	return nil
}

// BGP applies Azure's BGP rules to bc: a neighbor with a reserved ASN
// (row "reserved-asn") or Azure's own (row "ebgp") is refused, as Azure's
// API refuses such a local network gateway; every neighbor gets Azure's
// timers ("bgp-timers") and prefix limit ("prefix-limit"), and waits
// for the neighbor to connect.
func (c Config) BGP(bc *bgp.Config) error {
	for i := range bc.Neighbors {
		n := &bc.Neighbors[i]
		switch {
		case azure.ReservedASN(n.RemoteAS):
			return fmt.Errorf("azure emulation: neighbor %s remote-as %d: Azure refuses a reserved ASN on the on-premises side (row reserved-asn, %s)",
				n.Addr, n.RemoteAS, source("reserved-asn"))
		case n.RemoteAS == bc.ASN:
			return fmt.Errorf("azure emulation: neighbor %s remote-as %d: Azure speaks eBGP only, the on-premises ASN must differ from %d (row ebgp, %s)",
				n.Addr, n.RemoteAS, bc.ASN, source("ebgp"))
		}
		n.Keepalive, n.Hold = azure.BGPKeepalive, azure.BGPHold
		n.MaxPrefixes = uint32(azure.MaxPrefixes)
		// The emulator lets the on-premises side open the session. Two
		// GoBGP speakers that both connect can lock into step after a
		// restart: each one's attempt lands in the other's 5 s idle
		// hold, is refused, and puts it into idle hold in turn (seen in
		// "soft-ix lab --active-active"). A passive side is never refused,
		// so the on-premises side's next attempt succeeds.
		n.Passive = true
	}
	return nil
}

func source(id string) string {
	r, _ := azure.Lookup(id)
	return r.Source
}
