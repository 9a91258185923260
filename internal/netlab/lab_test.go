package netlab

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// These tests need neither root nor any daemon: they check names and how
// a lab waits. The namespace behaviour is tested in
// integration/lab_test.go.

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "sxref", "softix-lab", "ix2"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "UPPER", "a_b", "a.b", "a b", "x/y", strings.Repeat("a", 25)} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	if err := WaitFor(5*time.Second, "third call", func() error {
		n++
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("WaitFor = %v after %d calls", err, n)
	}

	start := time.Now()
	err := WaitFor(300*time.Millisecond, "never", func() error { return errors.New("still broken") })
	if err == nil {
		t.Fatal("WaitFor succeeded on a condition that never holds")
	}
	if !strings.Contains(err.Error(), "never") || !strings.Contains(err.Error(), "still broken") {
		t.Errorf("error %q should name the wait and the last reason", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("WaitFor gave up after %v, want about 300ms", d)
	}
}
