// Command wakeup measures what one thread waking another costs on this
// machine: a one-byte ping-pong over two pipes between two OS threads
// pinned to the same CPU or to two different CPUs, back to back and with
// an idle pause before each round (as between the pings of e2e.sh, 10 ms
// apart). A packet crossing soft-ix (or any userspace tunnel) needs such
// a wake-up at least once per direction per endpoint, so this is the
// floor under the "added RTT" of integration/bench/e2e.sh: four wake-ups
// per ping through two tunnel endpoints.
//
//	go run ./integration/bench/wakeup
//
// It needs two CPUs; it runs for about five seconds and prints medians.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	rounds := flag.Int("rounds", 200, "ping-pongs per measurement")
	flag.Parse()
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "wakeup: needs at least two CPUs")
		os.Exit(1)
	}
	fmt.Println("median round trip of a pipe ping-pong between two threads (two wake-ups):")
	for _, gap := range []time.Duration{0, 10 * time.Millisecond} {
		same, err := pingPong(0, 0, gap, *rounds)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wakeup:", err)
			os.Exit(1)
		}
		other, err := pingPong(0, 1, gap, *rounds)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wakeup:", err)
			os.Exit(1)
		}
		fmt.Printf("  idle %-5v before each: same CPU %6.1f us, other CPU %6.1f us\n",
			gap, float64(same.Nanoseconds())/1e3, float64(other.Nanoseconds())/1e3)
	}
}

// pin locks the calling goroutine to its thread and the thread to cpu.
func pin(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// pingPong returns the median round trip of rounds one-byte exchanges
// between a thread on cpuA and one on cpuB, sleeping gap before each.
func pingPong(cpuA, cpuB int, gap time.Duration, rounds int) (time.Duration, error) {
	var ab, ba [2]int
	if err := unix.Pipe(ab[:]); err != nil {
		return 0, err
	}
	if err := unix.Pipe(ba[:]); err != nil {
		return 0, err
	}
	defer func() {
		for _, fd := range []int{ab[0], ab[1], ba[0], ba[1]} {
			unix.Close(fd)
		}
	}()
	echoed := make(chan error, 1)
	go func() {
		defer runtime.UnlockOSThread()
		if err := pin(cpuB); err != nil {
			echoed <- err
			return
		}
		b := make([]byte, 1)
		for i := 0; i < rounds; i++ {
			if _, err := unix.Read(ab[0], b); err != nil {
				echoed <- err
				return
			}
			if _, err := unix.Write(ba[1], b); err != nil {
				echoed <- err
				return
			}
		}
		echoed <- nil
	}()
	defer runtime.UnlockOSThread()
	if err := pin(cpuA); err != nil {
		return 0, err
	}
	b := make([]byte, 1)
	rtts := make([]time.Duration, 0, rounds)
	for i := 0; i < rounds; i++ {
		time.Sleep(gap)
		start := time.Now()
		if _, err := unix.Write(ab[1], b); err != nil {
			return 0, err
		}
		if _, err := unix.Read(ba[0], b); err != nil {
			return 0, err
		}
		rtts = append(rtts, time.Since(start))
	}
	if err := <-echoed; err != nil {
		return 0, err
	}
	slices.Sort(rtts)
	return rtts[len(rtts)/2], nil
}
