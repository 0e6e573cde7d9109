package app

import "time"

// Clock tells the time: use cases take it as a dependency so tests can fix it.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function (time.Now, a test's fixed clock) to Clock.
type ClockFunc func() time.Time

// Now returns f's time.
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the machine's clock.
var SystemClock Clock = ClockFunc(time.Now)
