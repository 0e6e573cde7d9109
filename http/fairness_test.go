package httpapi_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// A request that waits on the database (here for read models that will not get there) does
// not hold its tenant's fairness slot: however many such requests a tenant has waiting,
// its next request is answered at once.
func TestFairness_WaitingRequestsDoNotHoldTheTenantsSlots(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(d *httpapi.Deps) { d.SettleTimeout = 10 * time.Second })
	ten := a.createTenant("pro")
	// Keep the tenant's usage projection retrying (a transient error) so that reads of a
	// usage seq wait for the whole settle timeout. (A min_seq beyond the tenant's last
	// event is refused at once, so it no longer makes a request wait.)
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	schema := pgx.Identifier{"tenant_" + strings.ReplaceAll(ten.id, "-", "")}.Sanitize()
	_, err := super.Exec(context.Background(), `CREATE FUNCTION `+schema+`.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END $$;
		CREATE TRIGGER flaky BEFORE INSERT ON `+schema+`.usage_hourly FOR EACH ROW EXECUTE FUNCTION `+schema+`.flaky()`)
	require.NoError(t, err)
	u := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "wait"}})
	require.Equal(t, http.StatusAccepted, u.status, string(u.raw))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	minSeq := jsonNumber(t, u.get("seq"))
	for i := 0; i < runtime.GOMAXPROCS(0)+2; i++ { // more than the tenant's slots
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequestWithContext(ctx, "GET", a.url+"/v1/usage?min_seq="+minSeq, nil)
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
