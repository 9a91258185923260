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
// encapsulation, so only the destination hashes are checked.
func TestNATDetectionHash(t *testing.T) {
	i, r := netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500")
	for _, c := range []struct {
		file string
		dst  netip.AddrPort
	}{
		{"../wire/testdata/ss-01-IKE_SA_INIT-req-i.bin", r},
		{"../wire/testdata/ss-02-IKE_SA_INIT-resp-r.bin", i},
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
