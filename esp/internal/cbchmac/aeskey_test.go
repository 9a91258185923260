//go:build amd64 && !purego

package cbchmac

import (
	"encoding/hex"
	"testing"
)

// TestExpandKey checks the schedule against FIPS 197 appendix A.1 (the
// last round key of its AES-128 example) and the InvMixColumns tables
// against bit-serial multiplication.
func TestExpandKey(t *testing.T) {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	rounds, enc, dec := expandKey(key)
	if want := "d014f9a8c9ee2589e13f0cc8b6630ca6"; rounds != 10 || hex.EncodeToString(enc[160:176]) != want {
		t.Fatalf("rounds %d, last round key %x; want 10, %s", rounds, enc[160:176], want)
	}
	if string(dec[:16]) != string(enc[160:176]) || string(dec[160:176]) != string(enc[:16]) {
		t.Error("the inverse schedule does not start with the last round key and end with the first")
	}
	for x := range 256 {
		for i, m := range [4]byte{14, 11, 13, 9} {
			if invMix[i][x] != gmul(byte(x), m) {
				t.Fatalf("invMix: %d * %d = %d, want %d", x, m, invMix[i][x], gmul(byte(x), m))
			}
		}
	}
}

// BenchmarkExpandKey is the key schedule of one SA (AES-256), which a hub
// runs for every Child SA it installs.
func BenchmarkExpandKey(b *testing.B) {
	key := make([]byte, 32)
	for b.Loop() {
		expandKey(key)
	}
}
