package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// driveOpen is driveRaw at a fixed offered rate (open loop): each of conns keep-alive
// connections sends its share of rate requests per second at scheduled instants, evenly
// spread and offset between connections, for d. A request's latency runs from its
// scheduled send time, not from when the connection got round to sending it, so a server
// that falls behind is charged for the wait of every request it delayed (no coordinated
// omission). It answers the achieved rate and that p99, and the p99 from each request's
// actual send (what the server alone adds, without the generator's own lateness in
// waking up on a busy machine).
func driveOpen(addr, path, token string, conns int, rate float64, d time.Duration, body []byte, want int) (load, float64, error) {
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, addr, token, len(body), body)
	interval := time.Duration(float64(conns) / rate * float64(time.Second))
	var (
		mu    sync.Mutex
		lat   []float64
		svc   []float64
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
	start := time.Now().Add(50 * time.Millisecond) // every connection dialled before the first send
	end := start.Add(d)
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
			mine := make([]float64, 0, int(d/interval)+1)
			served := make([]float64, 0, int(d/interval)+1)
			for at := start.Add(interval * time.Duration(i) / time.Duration(conns)); at.Before(end); at = at.Add(interval) {
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				sent := time.Now()
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
				mine = append(mine, float64(time.Since(at).Microseconds())/1000)
				served = append(served, float64(time.Since(sent).Microseconds())/1000)
			}
			mu.Lock()
			lat = append(lat, mine...)
			svc = append(svc, served...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return load{rate: pgtest.Rate(ok.Load(), time.Since(start)), p99: percentile(lat, 0.99)}, percentile(svc, 0.99), first
}
