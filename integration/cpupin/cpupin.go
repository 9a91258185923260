// Package cpupin confines a running process, every thread of it, to a set
// of CPUs (sched_setaffinity), so a lab can give an attacker a core of its
// own and measure what the rest does on the other: `taskset` is not on
// every machine the tests run on, and it sets one thread only. Threads a
// process starts later inherit the mask of the thread that starts them, so
// pinning every thread that exists pins the process for good; children
// started afterwards inherit it too.
package cpupin

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pin confines every thread of process pid (0: this process) to cpus; no
// cpus means every CPU of the machine (undoing an earlier Pin). A CPU
// the machine lacks is an error (EINVAL) when no CPU of cpus exists.
func Pin(pid int, cpus ...int) error {
	var set unix.CPUSet
	if len(cpus) == 0 {
		// The kernel keeps the CPUs of the mask that exist.
		for c := range len(set) * 64 {
			set.Set(c)
		}
	}
	for _, c := range cpus {
		if c < 0 || c >= len(set)*64 {
			return fmt.Errorf("cpupin: no CPU %d", c)
		}
		set.Set(c)
	}
	dir := "/proc/self/task"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	// A thread started while the loop runs inherits the mask of the one
	// that started it, which may not be set yet: a second pass catches it.
	for range 2 {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("cpupin: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("cpupin: thread %d of %d: %w", tid, pid, err)
			}
		}
	}
	return nil
}
