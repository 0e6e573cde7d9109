package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkIntrospect prints introspection's figures next to a trivial Gin handler's
// measured in the same run, in three rounds taking turns at going first (pgtest.InTurns),
// reporting medians:
//
//	introspect      introspections per second of an active key at 64 connections
//	                (baseline: a trivial Gin handler answering a fixed body)
//	introspect_p99  their p99 latency in ms (baseline: the trivial handler's p99); the
//	                target is at most 5 ms
//
// Both servers are driven by driveRaw (keep-alive connections writing prepared bytes), the
// leanest load generator this process can run beside them on a 2-core machine.
func BenchmarkIntrospect(b *testing.B) {
	if !pgtest.BenchSelected("introspect") && !pgtest.BenchSelected("introspect_p99") {
		b.Skip("no introspection figure selected")
	}
	seconds := 5.0
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	window := time.Duration(seconds * float64(time.Second))
	a := newBenchAPI(b, testDB, withIntrospection)
	ten := a.createTenant("pro")
	body := []byte(`{"token":"` + ten.key + `"}`)
	if r := a.introspect(ten.key); r.get("active") != true {
		b.Fatalf("the key is not active: %d %s", r.status, r.raw)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/v1/introspect", func(c *gin.Context) {
		_, _ = io.ReadAll(c.Request.Body)
		c.JSON(http.StatusOK, gin.H{"active": true})
	})
	trivial := httptest.NewServer(r)
	defer trivial.Close()
	var api, base []load
	drive := func(url string, into *[]load) func() {
		return func() {
			l, err := driveRaw(strings.TrimPrefix(url, "http://"), "/v1/introspect", serviceToken, 64, window, body, http.StatusOK)
			if err != nil {
				b.Fatal(err)
			}
			*into = append(*into, l)
		}
	}
	pgtest.InTurns(3, drive(trivial.URL, &base), drive(a.url, &api))
	pgtest.BenchLine("introspect", medianOf(api, func(l load) float64 { return l.rate }), "req/s", "trivial_gin",
		medianOf(base, func(l load) float64 { return l.rate }))
	pgtest.BenchLine("introspect_p99", medianOf(api, func(l load) float64 { return l.p99 }), "ms", "trivial_gin_p99",
		medianOf(base, func(l load) float64 { return l.p99 }))
}
