package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkHTTP prints the API figures, each with a baseline measured in the same run, in
// three alternating rounds of figure and baseline, reporting medians:
//
//	http_ingest        single-record usage POSTs per second at 64 connections (baseline: a
//	                   trivial Gin handler), and http_ingest_p99 (ms) next to the trivial p99
//	http_ingest_batch  records per second in 1,000-record bodies at 64 connections
//	                   (baseline: single records at 64 connections)
//	http_ingest_quota  http_ingest for a tenant whose plan has a hard quota on the metric,
//	                   never reached (baseline: a tenant on a plan without quotas, same API)
//	noisy_neighbour    a quiet tenant's p99 at 100 requests/s, open loop, while another
//	                   tenant, on a plan that admits it, floods at full speed from 32
//	                   connections (baseline: its p99 alone)
func BenchmarkHTTP(b *testing.B) {
	want := pgtest.BenchSelected
	if !want("http_ingest") && !want("http_ingest_p99") && !want("http_ingest_batch") && !want("http_ingest_quota") && !want("noisy_neighbour") {
		b.Skip("no HTTP figure selected")
	}
	seconds := 5.0
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	window := time.Duration(seconds * float64(time.Second))
	// The servers measured answer without the tests' OpenAPI checks (newBenchAPI).
	a := newBenchAPI(b, testDB, func(d *httpapi.Deps) {
		d.Plans = mustPlans(b, "enterprise.rps=1000000,enterprise.burst=1000000")
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

	if want("http_ingest") || want("http_ingest_p99") || want("http_ingest_batch") {
		ten := a.createTenant("enterprise")
		trivial := trivialServer()
		defer trivial.Close()
		var n atomic.Int64
		single := func() []byte {
			return []byte(fmt.Sprintf(`{"metric":"api_calls","quantity":1,"idempotency_key":"k-%d"}`, n.Add(1)))
		}
		var api, base []load
		pgtest.InTurns(3, func() { // report medians (the machine is noisy)
			base = append(base, drive(client, trivial.URL+"/v1/usage", "", 64, window, single, http.StatusAccepted))
		}, func() {
			api = append(api, drive(client, a.url+"/v1/usage", ten.key, 64, window, single, http.StatusAccepted))
		})
		rps, baseRPS := medianOf(api, func(l load) float64 { return l.rate }), medianOf(base, func(l load) float64 { return l.rate })
		pgtest.BenchLine("http_ingest", rps, "req/s", "trivial_gin", baseRPS)
		pgtest.BenchLine("http_ingest_p99", medianOf(api, func(l load) float64 { return l.p99 }), "ms", "trivial_gin_p99",
			medianOf(base, func(l load) float64 { return l.p99 }))
		if want("http_ingest_batch") {
			batch := func() []byte {
				var buf bytes.Buffer
				buf.WriteString(`{"records":[`)
				for i := 0; i < httpapi.MaxUsageRecords; i++ {
					if i > 0 {
						buf.WriteByte(',')
					}
					fmt.Fprintf(&buf, `{"metric":"api_calls","quantity":1,"idempotency_key":"b-%d"}`, n.Add(1))
				}
				buf.WriteString(`]}`)
				return buf.Bytes()
			}
			var batches, singles []load
			pgtest.InTurns(3, func() {
				singles = append(singles, drive(client, a.url+"/v1/usage", ten.key, 64, window, single, http.StatusAccepted))
			}, func() {
				batches = append(batches, drive(client, a.url+"/v1/usage", ten.key, 64, window, batch, http.StatusAccepted))
			})
			pgtest.BenchLine("http_ingest_batch", medianOf(batches, func(l load) float64 { return l.rate })*httpapi.MaxUsageRecords, "records/s",
				"http_ingest_single_64", medianOf(singles, func(l load) float64 { return l.rate }))
		}
	}

	if want("http_ingest_quota") {
		// The quota check's cost: the same single-record ingestion for a tenant with a hard
		// quota on the metric (checked in every append) and one without, on one API.
		q := withQuotaCatalog(b, newBenchAPI(b, pgtest.New(b)))
		plain, quota := q.createTenant("plainq"), q.createTenant("bigq")
		var n atomic.Int64
		single := func() []byte {
			return []byte(fmt.Sprintf(`{"metric":"api_calls","quantity":1,"idempotency_key":"q-%d"}`, n.Add(1)))
		}
		rate := func(key string) func() float64 {
			return func() float64 {
				return drive(client, q.url+"/v1/usage", key, 64, window, single, http.StatusAccepted).rate
			}
		}
		// In turn, each first in every other round: the second of a fixed pair ran while the
		// projector digested the first's events (0.81 against 0.97 with the order swapped).
		with, without := pgtest.Alternate(4, rate(quota.key), rate(plain.key))
		pgtest.BenchLine("http_ingest_quota", pgtest.Median(with), "req/s", "http_ingest_no_quota", pgtest.Median(without))
	}

	if want("noisy_neighbour") {
		// Both tenants are on a plan whose rate limit admits everything they send, so the
		// flood is served, not refused: what the quiet tenant feels is the flood's load.
		quiet, noisy := a.createTenant("enterprise"), a.createTenant("enterprise")
		var alone, flooded []float64
		pgtest.InTurns(3, func() { // report medians
			alone = append(alone, openLoop(client, a.url+"/v1/tenant", quiet.key, 100, window))
		}, func() {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var served, refused atomic.Int64
			for i := 0; i < 32; i++ { // the flood: as fast as it can
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if send(client, a.url+"/v1/tenant", noisy.key, "GET", nil) == http.StatusOK {
							served.Add(1)
						} else {
							refused.Add(1)
						}
					}
				}()
			}
			start := time.Now()
			flooded = append(flooded, openLoop(client, a.url+"/v1/tenant", quiet.key, 100, window))
			close(stop)
			wg.Wait()
			fmt.Printf("noisy_neighbour round %d: the flood was served %.0f req/s (%d not 200)\n", len(flooded),
				pgtest.Rate(served.Load(), time.Since(start)), refused.Load())
		})
		pgtest.BenchLine("noisy_neighbour", pgtest.Median(flooded), "ms_p99", "quiet_alone_p99", pgtest.Median(alone))
	}
}

// load is one round of a closed-loop load.
type load struct {
	rate, p99 float64
}

// drive sends POSTs from conns goroutines for d and measures throughput and p99 latency of
// the answers with status want.
func drive(client *http.Client, url, key string, conns int, d time.Duration, body func() []byte, want int) load {
	var mu sync.Mutex
	var lat []float64
	var ok atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if status := send(client, url, key, "POST", body()); status == want {
					ok.Add(1)
					mine = append(mine, float64(time.Since(t0).Microseconds())/1000)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return load{rate: pgtest.Rate(ok.Load(), time.Since(start)), p99: percentile(lat, 0.99)}
}

// openLoop sends one GET every 1/rate seconds for d, each at its intended time whatever the
// earlier ones are doing (an open-loop generator), and returns the p99 latency (ms) measured
// from each request's intended send time, so a stall delays and counts every request it
// holds up rather than hiding them (no coordinated omission). A request that fails or is
// not answered 200 counts as taking the whole window.
func openLoop(client *http.Client, url, key string, rate int, d time.Duration) float64 {
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	lat := make([]float64, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		intended := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(intended))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if send(client, url, key, "GET", nil) == http.StatusOK {
				lat[i] = float64(time.Since(intended).Microseconds()) / 1000
			} else {
				lat[i] = float64(d.Microseconds()) / 1000
			}
		}(i)
	}
	wg.Wait()
	return percentile(lat, 0.99)
}

func send(client *http.Client, url, key, method string, body []byte) int {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// trivialServer answers POST /v1/usage with a fixed 202 after reading the body: the cost of
// HTTP, Gin and JSON on this machine, with nothing of Tenantry.
func trivialServer() *httptest.Server {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/v1/usage", func(c *gin.Context) {
		_, _ = io.ReadAll(c.Request.Body)
		c.JSON(http.StatusAccepted, gin.H{"accepted": 1, "duplicates": 0, "seq": 1})
	})
	return httptest.NewServer(r)
}

func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

func medianOf(ls []load, f func(load) float64) float64 {
	xs := make([]float64, len(ls))
	for i, l := range ls {
		xs[i] = f(l)
	}
	return pgtest.Median(xs)
}

// BenchmarkFastPath_UsageCoalescer weighs the coalescing of concurrent single-record usage
// POSTs (one append in flight per tenant and key; the records that arrive meanwhile go
// together as one event) against no coalescing (Deps.NoUsageCoalescing: one append per
// request, still through group commit as in `serve`). Figure: records/s accepted from 64
// concurrent clients of one tenant, each sending single records; one op is 1,280 requests.
// Each sub-benchmark checks afterwards that its path was the one taken.
func BenchmarkFastPath_UsageCoalescer(b *testing.B) {
	if !pgtest.BenchSelected("fastpath") { // `make bench BENCH=...` runs it only when asked
		b.Skip("fastpath not selected")
	}
	const clients, perClient = 64, 20
	for _, path := range []string{"fast", "plain"} {
		b.Run(path, func(b *testing.B) {
			a := newBenchAPI(b, testDB, func(d *httpapi.Deps) {
				d.Plans = mustPlans(b, "enterprise.rps=1000000,enterprise.burst=1000000")
				d.NoUsageCoalescing = path == "plain"
			})
			ten := a.createTenant("enterprise")
			client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
			var n atomic.Int64
			var records int64
			start := time.Now()
			for b.Loop() {
				var wg sync.WaitGroup
				var failed atomic.Int64
				for c := 0; c < clients; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < perClient; i++ {
							body := fmt.Appendf(nil, `{"metric":"api_calls","quantity":1,"idempotency_key":"c-%d"}`, n.Add(1))
							if send(client, a.url+"/v1/usage", ten.key, "POST", body) != http.StatusAccepted {
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				if failed.Load() > 0 {
					b.Fatalf("%d requests were not accepted", failed.Load())
				}
				records += clients * perClient
			}
			b.ReportMetric(pgtest.Rate(records, time.Since(start)), "records/s")
			b.StopTimer()
			events := usageEventsOf(b, a, ten.id)
			if path == "plain" && events != records || path == "fast" && events >= records {
				b.Fatalf("%s path: %d records stored in %d events", path, records, events)
			}
		})
	}
}

// usageEventsOf counts the usage events of a tenant's stream.
func usageEventsOf(b *testing.B, a *api, tenant string) int64 {
	id := uuid.MustParse(tenant)
	var events, after int64
	for {
		page, err := a.deps.Store.ReadTenant(context.Background(), id, after, eventstore.MaxPage)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			return events
		}
		for _, e := range page {
			if e.StreamID == usage.StreamID {
				events++
			}
		}
		after = page[len(page)-1].Seq
	}
}
