package httpapi_test

import (
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
	interval := time.Duration(float64(conns) / rate * float64(time.Second))
	start := time.Now().Add(50 * time.Millisecond) // every connection dialled before the first send
	end := start.Add(d)
	ok, planned, sent, err := driveConns(addr, rawRequest(addr, path, token, body), conns, want, func(conn int) func() (time.Time, bool) {
		at := start.Add(interval * time.Duration(conn) / time.Duration(conns)).Add(-interval)
		return func() (time.Time, bool) { at = at.Add(interval); return at, at.Before(end) }
	})
	return load{rate: pgtest.Rate(ok, time.Since(start)), p99: percentile(planned, 0.99)}, percentile(sent, 0.99), err
}
