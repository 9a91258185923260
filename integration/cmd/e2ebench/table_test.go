package main

import "testing"

// TestRTTVerdict: the added-RTT bar holds only when every raw ESP suite
// the run measured is at most wireguard-go's, and the verdict names the
// one above.
func TestRTTVerdict(t *testing.T) {
	for _, tc := range []struct{ wg, cbc, gcm, want string }{
		{"495", "418", "420", "met"},
		{"461", "434", "461", "met"},
		{"461", "434", "483", "NOT MET (gcm 483 us)"},
		{"438", "463", "439", "NOT MET (cbc 463, gcm 439 us)"},
		{"438", "n/a", "400", "met"},
		{"438", "n/a", "500", "NOT MET (gcm 500 us)"},
		{"438", "n/a", "n/a", "n/a"},
	} {
		if got := rttVerdict(tc.wg, tc.cbc, tc.gcm); got != tc.want {
			t.Errorf("wg %s, cbc %s, gcm %s: %q, want %q", tc.wg, tc.cbc, tc.gcm, got, tc.want)
		}
	}
}
