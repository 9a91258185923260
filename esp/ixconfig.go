package esp

import (
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// TunnelConfigFor returns the TunnelConfig of the IX tunnel interface ifc:
// its name, "ip mtu", "ip tcp adjust-mss" and "ikev2 ipsec pre-fragment",
// with the derived MTU sized for the worst of the child proposals of prof
// (may be nil: the worst of all suites). outerMTU is the path MTU of the
// outgoing interface; zero means 1500.
func TunnelConfigFor(ifc *config.Interface, prof *config.Profile, outerMTU int) TunnelConfig {
	tc := TunnelConfig{
		Name:      ifc.Name,
		MTU:       ifc.MTU,
		OuterMTU:  outerMTU,
		AdjustMSS: ifc.AdjustMSS, // config.MSSAuto == MSSAuto
	}
	if ifc.Tunnel != nil {
		tc.PreFragment = ifc.Tunnel.PreFragment
	}
	if ifc.Address.IsValid() && ifc.Address.Addr().Is4() {
		tc.ICMPSource = ifc.Address.Addr()
	}
	if prof == nil || len(prof.ChildEnc) == 0 {
		return tc
	}
	integs := prof.ChildIntegrity
	if len(integs) == 0 {
		integs = []config.IntegAlg{config.IntegSHA512} // unknown: worst case
	}
	best := -1
	for _, enc := range prof.ChildEnc {
		for _, integ := range integs {
			c := tc
			c.EncrID, c.EncrKeyBits, c.IntegID = suiteIDs(enc, integ)
			if c.EncrID == 0 {
				continue
			}
			if m := c.DeviceMTU(); best < 0 || m < best {
				best = m
				tc.EncrID, tc.EncrKeyBits, tc.IntegID = c.EncrID, c.EncrKeyBits, c.IntegID
			}
		}
	}
	return tc
}

// suiteIDs maps IX algorithm names to IANA transform IDs; EncrID 0 means
// the combination is not one esp supports.
func suiteIDs(enc config.EncAlg, integ config.IntegAlg) (encr childsa.EncrID, bits int, integID childsa.IntegID) {
	switch enc {
	case config.EncAESGCM128:
		return childsa.EncrAESGCM16, 128, childsa.IntegNone
	case config.EncAESGCM256:
		return childsa.EncrAESGCM16, 256, childsa.IntegNone
	case config.EncAESCBC128:
		encr, bits = childsa.EncrAESCBC, 128
	case config.EncAESCBC192:
		encr, bits = childsa.EncrAESCBC, 192
	case config.EncAESCBC256:
		encr, bits = childsa.EncrAESCBC, 256
	default:
		return 0, 0, 0
	}
	switch integ {
	case config.IntegSHA1:
		return encr, bits, childsa.IntegHMACSHA1_96
	case config.IntegSHA256:
		return encr, bits, childsa.IntegHMACSHA256128
	case config.IntegSHA384:
		return encr, bits, childsa.IntegHMACSHA384192
	case config.IntegSHA512:
		return encr, bits, childsa.IntegHMACSHA512256
	}
	return 0, 0, 0
}
