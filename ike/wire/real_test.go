package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRealMessages runs the codec over messages captured between two
// strongSwan 5.9.8 instances (testdata/capture.sh): each parses, encodes
// back to the identical bytes, and every truncated prefix is rejected.
func TestRealMessages(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bin")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured messages: %v", err)
	}
	seen := map[PayloadType]bool{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range m.Payloads {
			seen[p.Type()] = true
		}
		if enc := m.Append(nil); !bytes.Equal(enc, b) {
			t.Errorf("%s: re-encoding differs", name)
		}
		checkTruncations(t, b)
	}
	for _, want := range []PayloadType{PayloadSA, PayloadKE, PayloadNonce, PayloadNotify, PayloadSK, PayloadSKF} {
		if !seen[want] {
			t.Errorf("corpus has no %v payload", want)
		}
	}
}
