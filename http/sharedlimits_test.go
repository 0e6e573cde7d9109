package httpapi_test

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/oastest"
)

// Two API replicas with limits in Redis spend from one bucket per tenant: a tenant cannot
// get twice its plan's rate by spreading requests over replicas.
func TestRateLimits_AreSharedAcrossReplicas(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	require.NotEmpty(t, url, "run with `make test`, which finds or starts Redis")
	shared, err := httpapi.NewRedisLimits(url)
	require.NoError(t, err)
	plans, err := domain.ParsePlanOverrides(domain.DefaultPlans(), "pro.rps=0.05,pro.burst=4")
	require.NoError(t, err)
	a := newAPI(t, func(d *httpapi.Deps) { d.SharedLimits, d.Plans = shared, plans })
	second := httptest.NewServer(oastest.Handler(t, httpapi.New(a.deps))) // another replica on the same store and Redis
	t.Cleanup(second.Close)
	ten := a.createTenant("pro")

	allowed := 0
	for i := 0; i < 12; i++ {
		base := a.url
		if i%2 == 1 {
			base = second.URL
		}
		req, _ := http.NewRequest("GET", base+"/v1/tenant", nil)
		req.Header.Set("Authorization", "Bearer "+ten.key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		// The shared bucket's state, whichever replica answers: 4 requests per 80 s.
		require.Equal(t, `"plan";q=4;w=80`, res.Header.Get("RateLimit-Policy"))
		if i == 0 {
			require.Regexp(t, `^"plan";r=3;t=\d+$`, res.Header.Get("RateLimit"))
		}
		switch res.StatusCode {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
			require.NotEmpty(t, res.Header.Get("Retry-After"))
		default:
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	// The burst of 4 (one more only if the test took over 20 s), not 4 per replica.
	require.GreaterOrEqual(t, allowed, 4)
	require.LessOrEqual(t, allowed, 6, "the replicas share one bucket")
}

// With Redis unreachable, a replica limits from its own buckets (neither refusing every
// request nor waving all through) and says so in its log.
func TestRateLimits_FallBackToTheReplicaWhenRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens here now
	plans, err := domain.ParsePlanOverrides(domain.DefaultPlans(), "pro.rps=0.05,pro.burst=3")
	require.NoError(t, err)
	var logs safeBuffer
	a := newAPI(t, func(d *httpapi.Deps) {
		d.SharedLimits, d.Plans = httpapi.UnreachableRedisLimits(addr), plans
		d.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ten := a.createTenant("pro")
	var statuses []int
	for i := 0; i < 5; i++ {
		statuses = append(statuses, a.do(req{method: "GET", path: "/v1/tenant", token: ten.key}).status)
	}
	require.Equal(t, []int{200, 200, 200, 429, 429}, statuses, "the burst of 3 from this replica's bucket")
	require.Contains(t, logs.String(), "shared rate limits unavailable")
}

func TestRedisLimits_ABadURLIsReportedWithoutItsPassword(t *testing.T) {
	for _, bad := range []string{"redis://user:s3cret@host:po rt/0", "redis://:s3cret@ho st/0", "rediss://u:s3cret@h:6379/x"} {
		_, err := httpapi.NewRedisLimits(bad)
		require.Error(t, err)
		require.ErrorContains(t, err, "REDIS_URL")
		require.NotContains(t, err.Error(), "s3cret")
	}
}
