package billing_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/billing"
)

// BenchmarkBilling prints billing_cycle: usage windows pushed per second by a full worker
// cycle against stripe-mock with the rate limit lifted (each window: plan, send the meter
// event, confirm), next to the same Stripe client's raw meter-event request rate to
// stripe-mock at the same concurrency. Each of 3 alternating rounds brings BENCH_TENANTS
// fresh tenants (default 100) with 6 windows each; medians.
func BenchmarkBilling(b *testing.B) {
	if !pgtest.BenchSelected("billing_cycle") {
		b.Skip("billing_cycle not selected")
	}
	tenants := 100
	if n, err := strconv.Atoi(os.Getenv("BENCH_TENANTS")); err == nil && n > 0 {
		tenants = min(n, 1000)
	}
	const windows, concurrency = 6, 4
	e := newEnv(b)
	e.stripe = stripeBase(b) // no recording proxy: stripe-mock itself
	w := e.worker(func(c *billing.Config) { c.Concurrency = concurrency })
	h := e.clock().Truncate(time.Hour)
	// backlog gives fresh tenants, provisioned in Stripe, windows of usage each, projected:
	// what one cycle then has to push.
	backlog := func() {
		var ids []uuid.UUID
		for i := 0; i < tenants; i++ {
			id := e.createTenant(domain.PlanPro)
			var at []time.Time
			for j := 1; j <= windows; j++ {
				at = append(at, h.Add(-time.Duration(j)*time.Hour+time.Minute))
			}
			e.record(id, "api_calls", 1, at...)
			_, err := w.Provision(context.Background(), id)
			require.NoError(b, err)
			ids = append(ids, id)
		}
		for _, id := range ids { // the read models are caught up: measure the cycle, not the projector
			e.recorded(id)
		}
	}
	total := tenants * windows

	// Baseline: the same client sending as many meter events straight to stripe-mock.
	raw := billing.NewStripeAPI("sk_test_123", e.stripe, 10*time.Second)
	rawRate := func() float64 {
		var sent atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for g := 0; g < concurrency; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent.Add(1) <= int64(total) {
					p := &stripe.BillingMeterEventParams{EventName: stripe.String("api_calls"),
						Identifier: stripe.String(uuid.NewString()),
						Payload:    map[string]string{"stripe_customer_id": "cus_bench", "value": "1"},
						Timestamp:  stripe.Int64(h.Unix())}
					p.SetIdempotencyKey(uuid.NewString())
					if _, err := raw.BillingMeterEvents.New(p); !assert.NoError(b, err) { // not require: not the benchmark's goroutine
						return
					}
				}
			}()
		}
		wg.Wait()
		return pgtest.Rate(int64(total), time.Since(start))
	}

	var vs, bs []float64
	for round := 0; round < 3; round++ { // alternate; report medians
		backlog()
		bs = append(bs, rawRate())
		start := time.Now()
		stats, err := w.Cycle(context.Background())
		require.NoError(b, err)
		elapsed := time.Since(start)
		require.Equal(b, total, stats.Windows, "every window pushed once")
		require.Zero(b, stats.Failed)
		vs = append(vs, pgtest.Rate(int64(stats.Windows), elapsed))
	}
	pgtest.BenchLine("billing_cycle", pgtest.Median(vs), "windows/s", "stripe_mock_raw_requests", pgtest.Median(bs))
}
