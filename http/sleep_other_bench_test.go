//go:build !linux

package httpapi_test

import "time"

// sleepPrecisely is time.Sleep where nanosleep is not at hand (see the Linux version).
func sleepPrecisely(d time.Duration) { time.Sleep(d) }
