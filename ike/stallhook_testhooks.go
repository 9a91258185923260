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
// On SIGUSR2 the IKE workers are held still for $SOFTIX_TESTHOOK_IKE_STALL
// (a Go duration, default 2s) from the signal on: each IKE datagram that
// reaches a worker in that window waits, with the Core's lock held, until
// the window ends. ESP's receive loop must keep flowing meanwhile. The
// hook reports on stderr when it holds and releases a worker, so the test
// can see that the stall happened.

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
	var until atomic.Int64 // end of the stall window, Unix nanoseconds
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2)
	go func() {
		for range sig {
			end := time.Now().Add(hold)
			until.Store(end.UnixNano())
			fmt.Fprintf(os.Stderr, "ike testhook: stall window %s until %s\n", hold, end.UTC().Format(time.RFC3339Nano))
		}
	}()
	testHookStall = func() {
		start := time.Now()
		end := time.Unix(0, until.Load())
		if !start.Before(end) {
			return
		}
		time.Sleep(end.Sub(start))
		fmt.Fprintf(os.Stderr, "ike testhook: worker held %s from %s to %s\n", time.Since(start).Round(time.Millisecond),
			start.UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
	}
}
