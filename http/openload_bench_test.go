package httpapi_test

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// driveOpen is driveRaw at a fixed offered rate (open loop): each of conns keep-alive
// connections sends its share of rate requests per second at planned instants, evenly
// spread and offset between connections, for openWarmUp and then d; only the requests of d
// are counted, once the fresh connections and the server have settled at that rate. A
// request's latency runs from its planned send time, not from when the connection got
// round to sending it, so a server that falls behind is charged for the wait of every
// request it delayed (no coordinated omission). It answers the achieved rate and that p99,
// and the p99 from each request's actual send (what the server adds, without the
// generator's own lateness in waking up on a busy machine).
func driveOpen(addr, path, token string, conns int, rate float64, d time.Duration, body []byte, want int) (load, float64, error) {
	step := time.Duration(float64(time.Second) / rate) // between consecutive sends, over all connections
	start := time.Now().Add(50 * time.Millisecond)     // every connection dialled before the first send
	from := start.Add(openWarmUp)
	end := from.Add(d)
	turns := dispatch(start, end, step, conns)
	ok, planned, sent, err := driveConns(addr, rawRequest(addr, path, token, body), conns, want, from, func(conn int) func() (time.Time, bool) {
		return func() (time.Time, bool) { at, more := <-turns[conn]; return at, more }
	})
	return load{rate: pgtest.Rate(ok, time.Since(from)), p99: percentile(planned, 0.99)}, percentile(sent, 0.99), err
}

// openWarmUp is how long driveOpen sends at its rate before it counts.
const openWarmUp = 2 * time.Second

// dispatch hands planned instants, step apart from start until end, to conns takers round
// robin (taker i receives on its channel; each closes at the end). One dispatcher on an OS
// thread of its own wakes at each instant with nanosleep (sleepPrecisely): 64 goroutines each
// sleeping on the runtime's timers wake up to a millisecond late, and 64 threads each in
// nanosleep took the CPU from the server they measured. loadgen_lateness_p99 measures it.
func dispatch(start, end time.Time, step time.Duration, conns int) []chan time.Time {
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
	return turns
}

// BenchmarkLoadGenerator prints how late the open-loop generator's connections learn that
// it is time to send, with nothing else running:
//
//	loadgen_lateness_p99  ms from each planned instant to its connection's goroutine
//	                      running, 64 connections at 5,000 instants per second (dispatch)
//	                      (baseline: timer_sleep_lateness_p99, each connection's goroutine
//	                      sleeping with time.Sleep until its instant, as the generator did)
//
// Three rounds taking turns at going first, BENCH_SECONDS each (default 2), medians.
func BenchmarkLoadGenerator(b *testing.B) {
	if !pgtest.BenchSelected("loadgen_lateness_p99") {
		b.Skip("loadgen_lateness_p99 not selected")
	}
	seconds := 2.0
	if v, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && v > 0 {
		seconds = v
	}
	const conns, rate = 64, 5000.0
	step := time.Duration(float64(time.Second) / rate)
	window := time.Duration(seconds * float64(time.Second))
	lateness := func(wait func(conn int, start, end time.Time) func() (time.Time, bool)) float64 {
		start := time.Now().Add(20 * time.Millisecond)
		end := start.Add(window)
		var mu sync.Mutex
		var wg sync.WaitGroup
		var late []float64
		for i := range conns {
			next := wait(i, start, end)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []float64
				for at, more := next(); more; at, more = next() {
					mine = append(mine, float64(time.Since(at).Microseconds())/1000)
				}
				mu.Lock()
				late = append(late, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return percentile(late, 0.99)
	}
	var dispatched, slept []float64
	pgtest.InTurns(3, func() {
		slept = append(slept, lateness(func(conn int, start, end time.Time) func() (time.Time, bool) {
			interval := step * conns
			at := start.Add(step * time.Duration(conn)).Add(-interval)
			return func() (time.Time, bool) {
				at = at.Add(interval)
				if !at.Before(end) {
					return at, false
				}
				time.Sleep(time.Until(at))
				return at, true
			}
		}))
	}, func() {
		var turns []chan time.Time
		var once sync.Once
		dispatched = append(dispatched, lateness(func(conn int, start, end time.Time) func() (time.Time, bool) {
			once.Do(func() { turns = dispatch(start, end, step, conns) })
			return func() (time.Time, bool) { at, more := <-turns[conn]; return at, more }
		}))
	})
	pgtest.BenchLine("loadgen_lateness_p99", pgtest.Median(dispatched), "ms", "timer_sleep_lateness_p99", pgtest.Median(slept))
}
