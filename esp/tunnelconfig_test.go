package esp

import (
	"testing"

	"github.com/soft-ix/soft-ix/internal/childsa"
)

func TestWithWorstSuite(t *testing.T) {
	seed := Suite{childsa.EncrAESCBC, 256, childsa.IntegHMACSHA256128}
	tc := TunnelConfig{Name: "Tunnel0.0", AdjustMSS: MSSAuto}.WithWorstSuite([]Suite{seed})
	if tc.DeviceMTU() != 1422 {
		t.Fatalf("MTU %d, want 1422", tc.DeviceMTU())
	}
	if m4, m6 := tc.mss(); m4 != 1382 || m6 != 1362 {
		t.Fatalf("auto MSS %d/%d, want 1382/1362", m4, m6)
	}
	gcm := Suite{childsa.EncrAESGCM16, 256, childsa.IntegNone}
	cbc512 := Suite{childsa.EncrAESCBC, 256, childsa.IntegHMACSHA512256}
	if m := (TunnelConfig{}).WithWorstSuite([]Suite{gcm, seed, cbc512, {}}).DeviceMTU(); m != 1406 {
		t.Fatalf("MTU %d, want 1406 (CBC with SHA-512 is the worst)", m)
	}
	if m := (TunnelConfig{}).WithWorstSuite(nil).DeviceMTU(); m != 1406 {
		t.Fatalf("no suites: MTU %d, want the worst case 1406", m)
	}
}
