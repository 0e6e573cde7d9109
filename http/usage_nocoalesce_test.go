package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// With Deps.NoUsageCoalescing, single-record POSTs that arrive while the tenant's append is
// held are not gathered behind it: each is appended on its own, as its own usage.recorded
// event (coalescing would store the later ones as one usage.batch_recorded).
func TestUsage_WithoutCoalescingEachSingleRecordIsItsOwnEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(d *httpapi.Deps) { d.NoUsageCoalescing = true })
	ten := a.createTenant("pro")
	tenant := uuid.MustParse(ten.id)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, testDB.SuperURL)
	require.NoError(t, err)
	defer su.Close(ctx)

	// The tenant's append lock (as in TestUsage_ConcurrentSinglesAreCoalescedIntoOneEvent):
	// every append waits in the database until it is released.
	_, err = su.Exec(ctx, `SELECT pg_advisory_lock(7365710, hashtext($1::text))`, tenant.String())
	require.NoError(t, err)
	answers := make(chan response, 3)
	for _, key := range []string{"n1", "n2", "n3"} {
		go func() {
			answers <- a.do(req{method: "POST", path: "/v1/usage", token: ten.key,
				body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": key}})
		}()
	}
	require.Never(t, func() bool { return httpapi.Gathered(a.server, tenant) > 0 }, time.Second, 5*time.Millisecond,
		"a request was gathered for coalescing")
	_, err = su.Exec(ctx, `SELECT pg_advisory_unlock(7365710, hashtext($1::text))`, tenant.String())
	require.NoError(t, err)

	for i := 0; i < 3; i++ {
		r := <-answers
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
		require.Equal(t, []any{float64(1), float64(0)}, []any{r.get("accepted"), r.get("duplicates")})
	}
	stored, err := a.deps.Store.ReadStream(ctx, tenant, "usage", 1, 0)
	require.NoError(t, err)
	require.Len(t, stored, 3)
	for _, e := range stored {
		require.Equal(t, "usage.recorded", e.Type)
	}
}
