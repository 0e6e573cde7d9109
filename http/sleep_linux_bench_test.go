//go:build linux

package httpapi_test

import (
	"syscall"
	"time"
)

// sleepPrecisely sleeps for d on this OS thread (nanosleep) rather than on the Go runtime's
// timers: they wake a goroutine when the scheduler next polls, which on an idle process is
// up to a millisecond late (loadgen_lateness_p99 weighs the generator's dispatcher against
// time.Sleep). A load generator that woke that late would charge its own lateness to the
// server it measures.
func sleepPrecisely(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR { // the rest of the sleep, after a signal
	}
}
