//go:build softix_testhooks

package ike

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// This file is only in a soft-ix built with -tags softix_testhooks, for
// the integration test that stalls a real daemon's IKE processing
// (integration/ike_stall_test.go); the daemon is built without it.
//
// SIGUSR2 arms the hook: the next IKE datagram that reaches a worker
// opens a stall window of $SOFTIX_TESTHOOK_IKE_STALL (a Go duration,
// default 2s), and each datagram that reaches a worker in that window
// waits, with the Core's lock held, until the window ends. ESP's receive
// loop must keep flowing meanwhile. The hook reports on stderr when it
// holds and releases a worker, so the test sees when the stall happened.

// stallHookEnv names the environment variable with the hold duration.
const stallHookEnv = "SOFTIX_TESTHOOK_IKE_STALL"

func init() {
	hold := 2 * time.Second
	if s := os.Getenv(stallHookEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "ike testhook: %s=%q: want a positive duration\n", stallHookEnv, s)
			os.Exit(2)
		}
		hold = d
	}
	var armed atomic.Bool
	var until atomic.Int64 // end of the stall window, Unix nanoseconds
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2)
	go func() {
		for range sig {
			armed.Store(true)
			fmt.Fprintf(os.Stderr, "ike testhook: armed: the next IKE datagram stalls the workers for %s\n", hold)
		}
	}()
	testHookStall = func() {
		start := time.Now()
		if armed.CompareAndSwap(true, false) {
			until.Store(start.Add(hold).UnixNano())
		}
		end := time.Unix(0, until.Load())
		if !start.Before(end) {
			return
		}
		time.Sleep(end.Sub(start))
		fmt.Fprintf(os.Stderr, "ike testhook: worker held %s from %s to %s\n", time.Since(start).Round(time.Millisecond),
			start.UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
	}
}
