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
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, addr, token, len(body), body)
	var (
		mu    sync.Mutex
		lat   []float64
		ok    atomic.Int64
		first error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	start := time.Now()
	deadline := start.Add(d)
	for i := 0; i < conns; i++ {
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
			mine := make([]float64, 0, 1<<14)
			for time.Now().Before(deadline) {
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
				ok.Add(1)
				mine = append(mine, float64(time.Since(t0).Microseconds())/1000)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return load{rate: pgtest.Rate(ok.Load(), time.Since(start)), p99: percentile(lat, 0.99)}, first
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
