package esp_test

import (
	"testing"

	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/ike"
)

// TestIKESeam keeps SAConfig and Counters convertible to and from the ike
// package's types (esp itself does not import ike), and the transform IDs
// equal.
func TestIKESeam(t *testing.T) {
	_ = esp.SAConfig(ike.ChildSA{})
	_ = ike.SACounters(esp.Counters{})
	if esp.EncrAESCBC != ike.EncrAESCBC || esp.EncrAESGCM16 != ike.EncrAESGCM16 ||
		esp.IntegHMACSHA1_96 != ike.IntegHMACSHA1_96 || esp.IntegHMACSHA256128 != ike.IntegHMACSHA256128 ||
		esp.IntegHMACSHA384192 != ike.IntegHMACSHA384192 || esp.IntegHMACSHA512256 != ike.IntegHMACSHA512256 {
		t.Fatal("transform IDs differ from ike's")
	}
	var _ interface {
		InstallSA(esp.SAConfig) error
		SetOutbound(string, uint32) error
		DeleteSA(uint32, bool) error
		Counters(uint32, bool) (esp.Counters, bool)
	} = (*esp.Engine)(nil)
	var _ ike.DataPlaneEvents = esp.Events(nil)
}
