package webhooks_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/webhooks"
)

// BenchmarkWebhooks prints webhook_delivery: deliveries per second from queued to received
// (each attempt's outcome recorded as it goes), by one worker (PollInterval 5 ms) to a receiver on this machine answering 204,
// 16 endpoints of one tenant each with 50 events (each (endpoint, tenant) sends in order, one
// at a time), next to the same HTTP client posting the same bodies straight to the receiver at
// the same concurrency (16). 3 alternating rounds; medians.
func BenchmarkWebhooks(b *testing.B) {
	if !pgtest.BenchSelected("webhook_delivery") {
		b.Skip("webhook_delivery not selected")
	}
	const endpoints, perEndpoint = 16, 50
	f := newFixture(b)
	var hits atomic.Int64
	url := serveTB(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	client := webhooks.NewHTTPClient(10*time.Second, true)
	var vs, bs []float64
	for round := 0; round < 3; round++ {
		var tenants []uuid.UUID
		for range endpoints {
			tn := uuid.Must(uuid.NewV7())
			f.endpoint(b, tn, url)
			tenants = append(tenants, tn)
		}
		for _, tn := range tenants {
			f.record(b, tn, perEndpoint)
		}
		body := bytes.Repeat([]byte("x"), 200)
		start := time.Now()
		var wg sync.WaitGroup
		for range endpoints {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perEndpoint {
					res, err := client.Post(url, "application/json", bytes.NewReader(body))
					if err == nil {
						res.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		bs = append(bs, pgtest.Rate(endpoints*perEndpoint, time.Since(start)))

		w, err := webhooks.New(webhooks.Config{Store: f.worker, Key: f.key, AllowPrivate: true, Batch: 200})
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		before := hits.Load()
		start = time.Now()
		go func() { done <- w.Run(ctx) }()
		for hits.Load()-before < endpoints*perEndpoint {
			time.Sleep(time.Millisecond)
			if time.Since(start) > 5*time.Minute {
				b.Fatal("deliveries not done in 5 minutes")
			}
		}
		elapsed := time.Since(start)
		cancel()
		require.NoError(b, <-done)
		vs = append(vs, pgtest.Rate(endpoints*perEndpoint, elapsed))
	}
	pgtest.BenchLine("webhook_delivery", pgtest.Median(vs), "deliveries/s", "direct_http_posts", pgtest.Median(bs))
}
