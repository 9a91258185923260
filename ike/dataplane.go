package ike

import "github.com/soft-ix/soft-ix/internal/childsa"

// DataPlane is what ike needs from the ESP data plane. Make-before-break:
// ike installs the new inbound SA, then the outbound one, then calls
// SetOutbound, and deletes the old pair after a grace period.
type DataPlane interface {
	InstallSA(sa childsa.SA) error
	// SetOutbound makes spi the SA that traffic routed into tunnel uses.
	SetOutbound(tunnel string, spi uint32) error
	DeleteSA(spi uint32, inbound bool) error
	// Counters reports the per-SA counters shown by "show ikev2 child-sa".
	Counters(spi uint32, inbound bool) (childsa.Counters, bool)
}
