package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkEntitlementCheck prints the entitlement check's figures next to a trivial Gin
// handler's measured in the same run, in three rounds taking turns at going first
// (pgtest.InTurns), reporting medians:
//
//	entitlement_check           checks ({metric, quantity}) per second at 64 connections,
//	                            closed loop (baseline: a trivial Gin handler)
//	entitlement_check_p99       their p99 in ms (baseline: the trivial handler's); closed
//	                            loop saturates the 2 cores, so this is mostly queueing
//	entitlement_check_open_p99  p99 in ms at a fixed offered 5,000 req/s over the 64
//	                            connections, from each request's scheduled send time
//	                            (baseline: the trivial handler at the same rate); the
//	                            issue's target is at most 2 ms
//	entitlement_check_open_send_p99  the same requests' p99 from their actual send: the
//	                            difference is the load generator waking late on a busy
//	                            machine (baseline: the trivial handler's)
//	entitlement_check_handler   µs of one check in process, the server's handler called
//	                            directly without a network (baseline: the trivial
//	                            handler's); the least noisy figure of the server's own work
//	entitlement_check_allocs    heap allocations of that check (baseline: the trivial
//	                            handler's); exact, a regression shows at once
//	heap_floor_open_p99         entitlement_check_open_p99 with the API's heap floor
//	                            (httpapi.RunHeapFloor at its default, as tenantry runs it)
//	                            (baseline: no_heap_floor_open_p99, Go's default pacing)
//
// Both servers are driven by driveRaw and driveOpen (keep-alive connections writing
// prepared bytes). BENCH_SECONDS sets each window (default 5). The process runs with the
// heap floor, as an API process does, except in heap_floor_open_p99's baseline turns.
func BenchmarkEntitlementCheck(b *testing.B) {
	names := []string{"entitlement_check", "entitlement_check_p99", "entitlement_check_open_p99", "entitlement_check_open_send_p99",
		"entitlement_check_handler", "entitlement_check_allocs", "heap_floor_open_p99"}
	selected := false
	for _, n := range names {
		selected = selected || pgtest.BenchSelected(n)
	}
	if !selected {
		b.Skip("no entitlement figure selected")
	}
	seconds := 5.0
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	window := time.Duration(seconds * float64(time.Second))
	a := newBenchAPI(b, pgtest.New(b))
	// The tests' catalog with a rate limit the check's in-process rounds (over 100,000 checks
	// a second on a quiet machine) cannot spend: the limiter still runs on every check.
	a.applyEntitlementsCatalogWithProRate(1_000_000, 1_000_000)
	ten := a.createTenant("pro")
	a.postUsage(ten.key, usageBody("api_calls", "40", "bench"))
	body := []byte(`{"metric":"api_calls","quantity":3}`)
	// A server of a's, on the catalog as applied (its rate limits are the applied pro's).
	d := a.deps
	d.Catalog = app.NewPlanCatalog(eventstore.DomainStore{Store: d.Store, Registry: d.Registry}, plans.Default(d.Plans))
	if _, err := d.Catalog.Fresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	h, _ := httpapi.NewServer(d)
	srv := httptest.NewServer(h)
	defer srv.Close()
	if r := (&api{t: b, url: srv.URL}).check(ten.key, map[string]any{"metric": "api_calls", "quantity": 3}); r.get("allowed") != true {
		b.Fatalf("the check is not allowed: %d %s", r.status, r.raw)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/v1/entitlements/check", func(c *gin.Context) {
		_, _ = io.ReadAll(c.Request.Body)
		c.JSON(http.StatusOK, gin.H{"allowed": true, "reason": "included"})
	})
	trivial := httptest.NewServer(r)
	defer trivial.Close()
	const path, conns, offered = "/v1/entitlements/check", 64, 5000.0
	// openRound drives url at the offered rate for one window, adding its load and its p99
	// from the actual send to open and send.
	openRound := func(url string, open, send *[]load) func() {
		return func() {
			l, sendP99, err := driveOpen(strings.TrimPrefix(url, "http://"), path, ten.key, conns, offered, window, body, http.StatusOK)
			if err != nil {
				b.Fatal(err)
			}
			*open = append(*open, l)
			*send = append(*send, load{p99: sendP99})
		}
	}
	p99 := func(l load) float64 { return l.p99 }
	floor := startHeapFloor()
	defer floor.stop()
	if pgtest.BenchSelected("heap_floor_open_p99") {
		var with, without, sends []load
		withFloor := func(on bool, round func()) func() {
			return func() {
				if on {
					floor.start()
				} else {
					floor.stop()
				}
				round()
			}
		}
		pgtest.InTurns(3, withFloor(false, openRound(srv.URL, &without, &sends)), withFloor(true, openRound(srv.URL, &with, &sends)))
		floor.start()
		pgtest.BenchLine("heap_floor_open_p99", medianOf(with, p99), "ms", "no_heap_floor_open_p99", medianOf(without, p99))
	}
	if pgtest.BenchSelected("entitlement_check_handler") || pgtest.BenchSelected("entitlement_check_allocs") {
		var us, usBase, allocs, allocsBase []float64
		measure := func(h http.Handler, us, allocs *[]float64) func() {
			return func() {
				perCall, perAllocs := inProcess(b, h, path, ten.key, body, window/5)
				*us, *allocs = append(*us, perCall), append(*allocs, perAllocs)
			}
		}
		pgtest.InTurns(3, measure(r, &usBase, &allocsBase), measure(h, &us, &allocs))
		pgtest.BenchLine("entitlement_check_handler", pgtest.Median(us), "µs", "trivial_gin_handler", pgtest.Median(usBase))
		pgtest.BenchLine("entitlement_check_allocs", pgtest.Median(allocs), "allocs", "trivial_gin_allocs", pgtest.Median(allocsBase))
	}
	network := false
	for _, n := range names[:4] {
		network = network || pgtest.BenchSelected(n)
	}
	if !network {
		return
	}
	// The open-loop rounds first, all of them, then the closed-loop ones, so that the open
	// rounds follow one another as a server's steady load does, never a saturating window.
	var closed, closedBase, open, openBase, send, sendBase []load
	closedRound := func(url string, closed *[]load) func() {
		return func() {
			l, err := driveRaw(strings.TrimPrefix(url, "http://"), path, ten.key, conns, window, body, http.StatusOK)
			if err != nil {
				b.Fatal(err)
			}
			*closed = append(*closed, l)
		}
	}
	pgtest.InTurns(3, openRound(trivial.URL, &openBase, &sendBase), openRound(srv.URL, &open, &send))
	pgtest.InTurns(3, closedRound(trivial.URL, &closedBase), closedRound(srv.URL, &closed))
	rate := func(l load) float64 { return l.rate }
	pgtest.BenchLine("entitlement_check", medianOf(closed, rate), "req/s", "trivial_gin", medianOf(closedBase, rate))
	pgtest.BenchLine("entitlement_check_p99", medianOf(closed, p99), "ms", "trivial_gin_p99", medianOf(closedBase, p99))
	pgtest.BenchLine("entitlement_check_open_p99", medianOf(open, p99), "ms", "trivial_gin_open_p99", medianOf(openBase, p99))
	pgtest.BenchLine("entitlement_check_open_send_p99", medianOf(send, p99), "ms", "trivial_gin_open_send_p99", medianOf(sendBase, p99))
	b.Logf("offered %.0f req/s: achieved %.0f (entitlements), %.0f (trivial)", offered, medianOf(open, rate), medianOf(openBase, rate))
}

// heapFloor runs httpapi.RunHeapFloor at its default in the benchmark's process, as an API
// process does, until stopped (start and stop may be called again).
type heapFloor struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startHeapFloor() *heapFloor {
	f := &heapFloor{}
	f.start()
	return f
}

func (f *heapFloor) start() {
	if f.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		httpapi.RunHeapFloor(ctx, httpapi.DefaultHeapFloor, httpapi.HeapFloorEvery)
	}()
}

func (f *heapFloor) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	<-f.done
	f.cancel = nil
}

// inProcess calls h with one prepared POST of body to path again and again for d, as one
// client on one goroutine without a network, and answers the µs and heap allocations per
// call (net/http's own work for a connection and a request is not in either).
func inProcess(b *testing.B, h http.Handler, path, token string, body []byte, d time.Duration) (us, allocs float64) {
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	rd := bytes.NewReader(body)
	w := &discardWriter{h: http.Header{}}
	one := func() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("in process: status %d", w.status)
		}
	}
	for range 1000 { // warm: caches, pools, the tenant's entitlements
		one()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start, n := time.Now(), 0
	for ; n%1000 != 0 || time.Since(start) < d; n++ {
		one()
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return float64(elapsed) / float64(time.Microsecond) / float64(n), float64(after.Mallocs-before.Mallocs) / float64(n)
}

// discardWriter is a ResponseWriter that keeps the status only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
