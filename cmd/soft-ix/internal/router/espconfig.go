package router

import (
	"github.com/soft-ix/soft-ix/config"
	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// tunnelESPConfig is esp's configuration of tunnel ifc of cfg: its
// effective profile's child proposals, and for the path the "ip mtu" of
// the interface its ESP leaves by (config.OuterMTU), as the IX sizes
// pre-fragmentation and the tunnel MTU for its outgoing interface.
func tunnelESPConfig(cfg *config.Config, ifc *config.Interface) esp.TunnelConfig {
	prof := cfg.ProfileFor(ifc)
	return espTunnelConfig(ifc, &prof, cfg.OuterMTU(ifc))
}

// espTunnelConfig translates the IX tunnel interface ifc into esp's own
// configuration: its name, "ip mtu", "ip tcp adjust-mss" and "ikev2 ipsec
// pre-fragment", with the derived MTU sized for the worst of the child
// proposals of prof (nil: the worst of all suites) and for the outer
// header of the peer's family. outerMTU is the path MTU of the outgoing
// interface; zero means 1500.
func espTunnelConfig(ifc *config.Interface, prof *config.Profile, outerMTU int) esp.TunnelConfig {
	tc := esp.TunnelConfig{
		Name:      ifc.Name,
		MTU:       ifc.MTU,
		OuterMTU:  outerMTU,
		AdjustMSS: ifc.AdjustMSS, // config.MSSAuto == esp.MSSAuto
	}
	if ifc.Tunnel != nil {
		tc.PreFragment = ifc.Tunnel.PreFragment
		tc.OuterIPv6 = isIPv6(ifc.Tunnel.Peer)
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
	var suites []esp.Suite
	for _, enc := range prof.ChildEnc {
		for _, integ := range integs {
			suites = append(suites, espSuite(enc, integ))
		}
	}
	return tc.WithWorstSuite(suites)
}

// espSuite maps IX algorithm names to IANA transform IDs; a zero EncrID
// means the combination is not one esp supports.
func espSuite(enc config.EncAlg, integ config.IntegAlg) esp.Suite {
	var s esp.Suite
	switch enc {
	case config.EncAESGCM128:
		return esp.Suite{EncrID: childsa.EncrAESGCM16, EncrKeyBits: 128, IntegID: childsa.IntegNone}
	case config.EncAESGCM256:
		return esp.Suite{EncrID: childsa.EncrAESGCM16, EncrKeyBits: 256, IntegID: childsa.IntegNone}
	case config.EncAESCBC128:
		s.EncrID, s.EncrKeyBits = childsa.EncrAESCBC, 128
	case config.EncAESCBC192:
		s.EncrID, s.EncrKeyBits = childsa.EncrAESCBC, 192
	case config.EncAESCBC256:
		s.EncrID, s.EncrKeyBits = childsa.EncrAESCBC, 256
	default:
		return esp.Suite{}
	}
	switch integ {
	case config.IntegSHA1:
		s.IntegID = childsa.IntegHMACSHA1_96
	case config.IntegSHA256:
		s.IntegID = childsa.IntegHMACSHA256128
	case config.IntegSHA384:
		s.IntegID = childsa.IntegHMACSHA384192
	case config.IntegSHA512:
		s.IntegID = childsa.IntegHMACSHA512256
	default:
		return esp.Suite{}
	}
	return s
}
