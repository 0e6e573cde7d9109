package httpapi_test

import (
	"runtime"
	"time"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// driveOpen is driveRaw at a fixed offered rate (open loop): each of conns keep-alive
// connections sends its share of rate requests per second at planned instants, evenly
// spread and offset between connections, for d. A request's latency runs from its planned
// send time, not from when the connection got round to sending it, so a server that falls
// behind is charged for the wait of every request it delayed (no coordinated omission). It
// answers the achieved rate and that p99, and the p99 from each request's actual send (what
// the server adds, without the generator's own lateness in waking up on a busy machine).
func driveOpen(addr, path, token string, conns int, rate float64, d time.Duration, body []byte, want int) (load, float64, error) {
	step := time.Duration(float64(time.Second) / rate) // between consecutive sends, over all connections
	start := time.Now().Add(50 * time.Millisecond)     // every connection dialled before the first send
	end := start.Add(d)
	// One dispatcher on an OS thread of its own wakes at each planned instant (nanosleep, see
	// sleepPrecisely) and hands it to the connection whose turn it is, round robin: 64
	// goroutines each sleeping on the runtime's timers woke up to a millisecond late, and 64
	// threads each in nanosleep took the CPU from the server they measured.
	turns := make([]chan time.Time, conns)
	for i := range turns {
		turns[i] = make(chan time.Time, 64)
	}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for k := 0; ; k++ {
			at := start.Add(step * time.Duration(k))
			if !at.Before(end) {
				break
			}
			if wait := time.Until(at); wait > 0 {
				sleepPrecisely(wait)
			}
			turns[k%conns] <- at
		}
		for _, t := range turns {
			close(t)
		}
	}()
	ok, planned, sent, err := driveConns(addr, rawRequest(addr, path, token, body), conns, want, func(conn int) func() (time.Time, bool) {
		return func() (time.Time, bool) { at, more := <-turns[conn]; return at, more }
	})
	return load{rate: pgtest.Rate(ok, time.Since(start)), p99: percentile(planned, 0.99)}, percentile(sent, 0.99), err
}
