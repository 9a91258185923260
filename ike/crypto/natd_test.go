package crypto

import (
	"bytes"
	"net/netip"
	"os"
	"testing"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// The NAT detection hashes in the captured IKE_SA_INIT exchange (192.0.2.1
// initiator, 192.0.2.2 responder, both on port 500) match NATDetectionHash.
// strongSwan with kernel-libipsec fakes its own source hash to force UDP
// encapsulation, so only the destination hashes are checked. The ss6
// message is charon 5.9.8's IKE_SA_INIT response over IPv6 (2001:db8:2::6
// answering 2001:db8:1::94, the topology of integration's
// TestIPv6OuterStrongSwan, captured with tcpdump at its internet router):
// its hash of the initiator's 16-byte address is the reference for IPv6.
func TestNATDetectionHash(t *testing.T) {
	i, r := netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500")
	for _, c := range []struct {
		file string
		dst  netip.AddrPort
	}{
		{"../wire/testdata/ss-01-IKE_SA_INIT-req-i.bin", r},
		{"../wire/testdata/ss-02-IKE_SA_INIT-resp-r.bin", i},
		{"../wire/testdata/ss6-02-IKE_SA_INIT-resp-r.bin", netip.MustParseAddrPort("[2001:db8:1::94]:500")},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wire.ParseMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		n := wire.FindNotify(m.Payloads, wire.NAT_DETECTION_DESTINATION_IP)
		if n == nil {
			t.Fatalf("%s: no NAT_DETECTION_DESTINATION_IP", c.file)
		}
		spir := m.SPIr
		if !m.IsResponse() {
			spir = 0
		}
		if got := NATDetectionHash(m.SPIi, spir, c.dst); !bytes.Equal(got, n.Data) {
			t.Errorf("%s: hash %x, message has %x", c.file, got, n.Data)
		}
	}
}
