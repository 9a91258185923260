package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// fakeTB records how a requirement ended the test.
type fakeTB struct{ skipped, failed string }

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }

func TestUnavailableSkipsOutsideCIAndFailsInCI(t *testing.T) {
	t.Setenv("CI", "")
	var dev fakeTB
	Unavailable(&dev, "needs %s", "bird")
	if dev.failed != "" || !strings.Contains(dev.skipped, "needs bird") {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip with the reason", dev.skipped, dev.failed)
	}
	t.Setenv("CI", "true")
	var ci fakeTB
	Unavailable(&ci, "needs %s", "bird")
	if ci.skipped != "" || !strings.Contains(ci.failed, "needs bird") {
		t.Errorf("CI=true: skipped %q, failed %q; want a failure with the reason", ci.skipped, ci.failed)
	}
}
