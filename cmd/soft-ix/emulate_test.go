package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEmulatorConnectionFlags: --emulate-connection's connectionMode is
// used unless --emulate-connection-mode names one (any case); an explicit
// mode, Default included, that contradicts the file is an error.
func TestEmulatorConnectionFlags(t *testing.T) {
	dir := t.TempDir()
	initiator := filepath.Join(dir, "init.json")
	plain := filepath.Join(dir, "plain.json")
	os.WriteFile(initiator, []byte(`{"connectionType": "IPsec", "connectionMode": "InitiatorOnly", "ipsecPolicies": []}`), 0o600)
	os.WriteFile(plain, []byte(`{"connectionType": "IPsec", "ipsecPolicies": []}`), 0o600)
	for _, tc := range []struct {
		mode, file, want string // want "" for an error
	}{
		{"", initiator, "InitiatorOnly"},
		{"initiatoronly", initiator, "InitiatorOnly"},
		{"Default", initiator, ""},
		{"ResponderOnly", initiator, ""},
		{"responderonly", plain, "ResponderOnly"},
		{"", plain, ""},
		{"Sometimes", "", ""},
	} {
		o := &options{emulate: "azure", connectionMode: tc.mode, connectionFile: tc.file}
		c, err := o.emulator()
		switch {
		case tc.want == "" && tc.mode == "" && tc.file == plain:
			if err != nil || c.Mode != "" {
				t.Errorf("no mode anywhere: %+v, %v", c, err)
			}
		case tc.want == "":
			if err == nil {
				t.Errorf("mode %q, file %s: accepted (%+v)", tc.mode, filepath.Base(tc.file), c)
			}
		case err != nil || c.Mode != tc.want:
			t.Errorf("mode %q, file %s: %+v, %v; want mode %s", tc.mode, filepath.Base(tc.file), c, err, tc.want)
		}
	}
	if _, err := (&options{connectionMode: "ResponderOnly"}).emulator(); err == nil {
		t.Error("--emulate-connection-mode without --emulate azure accepted")
	}
}
