package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseMessage checks that ParseMessage never panics and that every
// message it accepts re-encodes to bytes that parse to the same message
// (the canonical form: critical bits of known payloads and reserved fields
// are zeroed, so the bytes may differ from the input only there).
func FuzzParseMessage(f *testing.F) {
	m := &Message{Header: Header{SPIi: 7, MajorVersion: 2, Exchange: IKE_SA_INIT, Flags: FlagInitiator}, Payloads: samplePayloads()}
	f.Add(m.Append(nil))
	files, _ := filepath.Glob("testdata/*.bin")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		enc := m.Append(nil)
		if len(enc) != len(b) {
			t.Fatalf("re-encoded length %d, input %d", len(enc), len(b))
		}
		m2, err := ParseMessage(enc)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		if !reflect.DeepEqual(m.Payloads, m2.Payloads) || m.Header != m2.Header {
			t.Fatalf("re-encoded message parses differently")
		}
		if enc2 := m2.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("canonical form is not stable")
		}
	})
}

// FuzzParsePayloads covers decrypted SK contents: no panic, and accepted
// chains re-encode to a chain that parses the same.
func FuzzParsePayloads(f *testing.F) {
	for _, p := range samplePayloads() {
		f.Add(uint8(p.Type()), AppendPayloads(nil, []Payload{p}))
	}
	f.Add(uint8(PayloadIDi), AppendPayloads(nil, samplePayloads()[3:]))
	f.Fuzz(func(t *testing.T, first uint8, b []byte) {
		ps, err := ParsePayloads(PayloadType(first), b)
		if err != nil {
			return
		}
		enc := AppendPayloads(nil, ps)
		ps2, err := ParsePayloads(FirstType(ps), enc)
		if err != nil {
			t.Fatalf("re-encoded chain rejected: %v", err)
		}
		if !reflect.DeepEqual(ps, ps2) {
			t.Fatalf("re-encoded chain parses differently")
		}
	})
}
