package httpapi_test

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// A request that waits on the database (here for read models that will not get there) does
// not hold its tenant's fairness slot: however many such requests a tenant has waiting,
// its next request is answered at once.
func TestFairness_WaitingRequestsDoNotHoldTheTenantsSlots(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(d *httpapi.Deps) { d.SettleTimeout = 10 * time.Second })
	ten := a.createTenant("pro")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := 0; i < runtime.GOMAXPROCS(0)+2; i++ { // more than the tenant's slots
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequestWithContext(ctx, "GET", a.url+"/v1/tenant?min_seq=1000000000", nil)
			r.Header.Set("Authorization", "Bearer "+ten.key)
			if res, err := http.DefaultClient.Do(r); err == nil {
				res.Body.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let them reach their wait (the settle timeout is 10 s)
	start := time.Now()
	r := a.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Less(t, time.Since(start), 5*time.Second, "the tenant's waiting requests held its slots")
}
