package azure

import (
	"crypto/md5"
	"strings"
	"testing"
)

// TestEveryRowHasASource: every Azure fact soft-ix uses must trace to
// Microsoft's documentation.
func TestEveryRowHasASource(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table {
		if r.ID == "" || r.What == "" || r.Value == "" {
			t.Errorf("row %+v is incomplete", r)
		}
		if !strings.HasPrefix(r.Source, "https://learn.microsoft.com/") {
			t.Errorf("row %q: source %q is not a Microsoft Learn page", r.ID, r.Source)
		}
		if seen[r.ID] {
			t.Errorf("row %q twice", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestReservedASN(t *testing.T) {
	for _, asn := range []uint32{65515, 65517, 65520, 8074, 8075, 12076, 23456, 64500, 65535, 4294967295} {
		if !ReservedASN(asn) {
			t.Errorf("%d not reserved", asn)
		}
	}
	for _, asn := range []uint32{65010, 65050, 65516, 64512, 4200000000} {
		if ReservedASN(asn) {
			t.Errorf("%d reserved", asn)
		}
	}
}

// TestVendorIDs: Azure's vendor IDs are the MD5 hashes [MS-IKEE] names
// (row "ms-ikev2"), the first with Windows' version 9 appended.
func TestVendorIDs(t *testing.T) {
	nt5 := md5.Sum([]byte("MS NT5 ISAKMPOAKLEY"))
	disc := md5.Sum([]byte("MS-Negotiation Discovery Capable"))
	want := [][]byte{append(nt5[:], 0, 0, 0, 9), disc[:]}
	if len(VendorIDs) != len(want) {
		t.Fatalf("%d vendor IDs, want %d", len(VendorIDs), len(want))
	}
	for i := range want {
		if string(VendorIDs[i]) != string(want[i]) {
			t.Errorf("vendor ID %d: %x, want %x", i, VendorIDs[i], want[i])
		}
	}
}
