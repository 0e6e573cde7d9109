package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// driveRaw is drive for latency figures: conns keep-alive connections, each sending one
// request, reading its whole answer, then sending the next, for d. It writes the same
// prepared bytes every time and reads answers with one bufio.Reader per connection, one
// goroutine per connection: a load generator that takes as little of this 2-core
// machine's CPU as it can, so what the p99 measures is mostly the server. (net/http's
// client runs two goroutines and several allocations per connection and request, and on
// this machine it took as much CPU as the server it measured.) The server must answer
// with a Content-Length, as Gin does for a small JSON body.
func driveRaw(addr, path, token string, conns int, d time.Duration, body []byte, want int) (load, error) {
	start := time.Now()
	deadline := start.Add(d)
	ok, _, sent, err := driveConns(addr, rawRequest(addr, path, token, body), conns, want, time.Time{}, func(int) func() (time.Time, bool) {
		return func() (time.Time, bool) { now := time.Now(); return now, now.Before(deadline) }
	})
	return load{rate: pgtest.Rate(ok, time.Since(start)), p99: percentile(sent, 0.99)}, err
}

// rawRequest is the POST driveConns writes.
func rawRequest(addr, path, token string, body []byte) []byte {
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, addr, token, len(body), body)
}

// driveConns runs the lean generator's conns connections: each asks its plan (plan(i),
// called once per connection) when to send its next request, sleeps until then, writes req
// and reads the answer, until the plan says it is done. It answers how many answers had
// status want, and their latencies in ms from the planned instant and from the actual send,
// of the requests planned at from or later (the earlier ones warm up: sent, answered and
// checked, not counted).
func driveConns(addr string, req []byte, conns, want int, from time.Time, plan func(conn int) func() (time.Time, bool)) (ok int64, planned, sent []float64, first error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		good atomic.Int64
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	for i := 0; i < conns; i++ {
		next := plan(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 16<<10)
			// Grown as needed rather than made large up front: 64 connections' worth of big
			// slices would be tens of MiB of live heap in the server's process, pacing its
			// collector as no API process is paced (see heap_floor_open_p99).
			var fromPlan, fromSend []float64
			for at, more := next(); more; at, more = next() {
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				t0 := time.Now()
				if _, err := conn.Write(req); err != nil {
					fail(err)
					return
				}
				status, err := readAnswer(r)
				if err != nil {
					fail(err)
					return
				}
				if status != want {
					fail(fmt.Errorf("answered %d, want %d", status, want))
					return
				}
				if at.Before(from) {
					continue
				}
				good.Add(1)
				done := time.Now()
				fromPlan = append(fromPlan, float64(done.Sub(at).Microseconds())/1000)
				fromSend = append(fromSend, float64(done.Sub(t0).Microseconds())/1000)
			}
			mu.Lock()
			planned, sent = append(planned, fromPlan...), append(sent, fromSend...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return good.Load(), planned, sent, first
}

// readAnswer reads one HTTP/1.1 answer with a Content-Length body and returns its status,
// without allocating.
func readAnswer(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("not an HTTP/1.1 status line: %q", line)
	}
	status, ok := atoi(line[9:12])
	if !ok {
		return 0, fmt.Errorf("not an HTTP/1.1 status line: %q", line)
	}
	length := -1
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		if bytes.EqualFold(name, []byte("Content-Length")) {
			if length, ok = atoi(bytes.TrimSpace(value)); !ok {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("answer %d without a Content-Length", status)
	}
	_, err = r.Discard(length)
	return status, err
}

// atoi reads 1 to 9 decimal digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
