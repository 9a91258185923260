package esp

import "net/netip"

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
