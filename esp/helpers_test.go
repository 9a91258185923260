package esp

import "net/netip"

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }
