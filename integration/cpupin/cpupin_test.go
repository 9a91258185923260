package cpupin

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPin confines this process to CPU 0 and back to every CPU, and checks
// every thread's mask each time.
func TestPin(t *testing.T) {
	check := func(want func(*unix.CPUSet) bool) {
		t.Helper()
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &set); err != nil {
				continue // the thread ended
			}
			if !want(&set) {
				t.Errorf("thread %d: %d CPUs, CPU 0 %v", tid, set.Count(), set.IsSet(0))
			}
		}
	}
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if err := Pin(0, 0); err != nil {
		t.Fatal(err)
	}
	check(func(s *unix.CPUSet) bool { return s.Count() == 1 && s.IsSet(0) })
	if err := Pin(0); err != nil {
		t.Fatal(err)
	}
	check(func(s *unix.CPUSet) bool { return s.Count() >= all.Count() })
	if err := Pin(0, len(all)*64); err == nil {
		t.Error("a CPU beyond the mask's size was accepted")
	}
}
