package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// feed reads one page of GET /v1/events.
func (a *api) feed(key, query string) response {
	a.t.Helper()
	return a.do(req{method: "GET", path: "/v1/events?" + query, token: key})
}

// recordUsage appends one usage event to the tenant.
func (a *api) recordUsage(ten tenantFixture) {
	a.t.Helper()
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key,
		body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": uuid.NewString()}})
	require.Equal(a.t, http.StatusAccepted, r.status, string(r.raw))
}

// feedCursor is the feed's cursor after the tenant's last event now.
func (a *api) feedCursor(ten tenantFixture) string {
	a.t.Helper()
	cursor := ""
	for {
		r := a.feed(ten.key, "limit=1000&cursor="+url.QueryEscape(cursor))
		require.Equal(a.t, http.StatusOK, r.status, string(r.raw))
		cursor = r.str("next_cursor")
		if r.get("has_more") != true {
			return cursor
		}
	}
}

func TestEventFeed_PagesThroughEveryEventInSeqOrder(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	for range 5 {
		a.recordUsage(ten)
	}
	var seqs []float64
	cursor, pages := "", 0
	for {
		r := a.feed(ten.key, "limit=2&cursor="+url.QueryEscape(cursor))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		pages++
		items := r.get("items").([]any)
		require.LessOrEqual(t, len(items), 2)
		for _, it := range items {
			e := it.(map[string]any)
			seqs = append(seqs, e["seq"].(float64))
			for _, f := range []string{"id", "type", "stream_id", "recorded_at"} {
				require.NotEmpty(t, e[f], f)
			}
			require.IsType(t, map[string]any{}, e["data"])
			require.IsType(t, map[string]any{}, e["metadata"])
			require.NotZero(t, e["schema_version"])
			require.NotZero(t, e["stream_version"])
		}
		require.NotEmpty(t, r.str("next_cursor"), "set on every page, the last one included")
		cursor = r.str("next_cursor")
		if r.get("has_more") != true {
			break
		}
	}
	require.GreaterOrEqual(t, len(seqs), 6, "tenant.created and 5 usage events at least")
	for i, s := range seqs {
		require.Equal(t, float64(i+1), s, "seqs dense and in order")
	}
	require.Equal(t, (len(seqs)+1)/2, pages)
	// After the last page: an empty page that keeps the cursor.
	r := a.feed(ten.key, "cursor="+url.QueryEscape(cursor))
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.get("items"))
	require.Equal(t, cursor, r.str("next_cursor"))
	require.Equal(t, false, r.get("has_more"))
	// The workspace form answers the same.
	r = a.do(req{method: "GET", path: "/v1/workspaces/" + ten.slug + "/events?limit=1", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(1), r.get("items").([]any)[0].(map[string]any)["seq"])
}

func TestEventFeed_RefusesBadCursorsLimitsAndWaits(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	for _, q := range []string{
		"cursor=" + domain.SeqCursor(domain.ListAuditEvents, 1), // another list's cursor
		"cursor=" + domain.IDCursor(domain.ListMembers, uuid.New()),
		"cursor=garbage", "limit=0", "limit=1001", "wait=31", "wait=-1", "wait=1.5",
		"after=garbage", "after=" + domain.SeqCursor(domain.ListEvents, 1) + "&cursor=" + domain.SeqCursor(domain.ListEvents, 1), // one of them
	} {
		r := a.feed(ten.key, q)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", q, r.raw)
	}
	// after= is cursor's other name: the same page.
	byAfter := a.feed(ten.key, "after="+domain.SeqCursor(domain.ListEvents, 1))
	byCursor := a.feed(ten.key, "cursor="+domain.SeqCursor(domain.ListEvents, 1))
	require.Equal(t, http.StatusOK, byAfter.status, string(byAfter.raw))
	require.Equal(t, string(byCursor.raw), string(byAfter.raw))
}

func TestEventFeed_LongPollReturnsAsSoonAsAnotherRequestAppendsAnEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	cursor := a.feedCursor(ten)
	type answer struct {
		r    response
		took time.Duration
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		r := a.feed(ten.key, "wait=20&cursor="+url.QueryEscape(cursor))
		done <- answer{r, time.Since(start)}
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case got := <-done:
		t.Fatalf("answered before any event: %d %s", got.r.status, got.r.raw)
	default:
	}
	a.recordUsage(ten)
	got := <-done
	require.Equal(t, http.StatusOK, got.r.status, string(got.r.raw))
	require.Less(t, got.took, 5*time.Second, "woken by the append, well before the wait ends")
	items := got.r.get("items").([]any)
	require.NotEmpty(t, items)
	require.Equal(t, "usage.recorded", items[0].(map[string]any)["type"])
}

func TestEventFeed_WaitEndsWithAnEmptyPageWhenNothingIsRecorded(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	cursor := a.feedCursor(ten)
	start := time.Now()
	r := a.feed(ten.key, "wait=1&cursor="+url.QueryEscape(cursor))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Empty(t, r.get("items"))
	require.Equal(t, cursor, r.str("next_cursor"))
	require.GreaterOrEqual(t, time.Since(start), time.Second)
}

func TestEventFeed_BoundsTheRequestsWaitingOnOneTenant(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten, other := a.createTenant("pro"), a.createTenant("pro")
	cursor := a.feedCursor(ten)
	var wg sync.WaitGroup
	statuses := make(chan int, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- a.feed(ten.key, "wait=30&cursor="+url.QueryEscape(cursor)).status
		}()
	}
	// The eleventh waiter is refused once the ten wait.
	time.Sleep(time.Second)
	r := a.feed(ten.key, "wait=30&cursor="+url.QueryEscape(cursor))
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
	require.NotEmpty(t, r.header.Get("Retry-After"))
	// Another tenant is not held back by the first one's waiters.
	require.Equal(t, http.StatusOK, a.feed(other.key, "wait=1&cursor="+url.QueryEscape(a.feedCursor(other))).status)
	// A request that needs no wait is answered too.
	require.Equal(t, http.StatusOK, a.feed(ten.key, "limit=1").status)
	a.recordUsage(ten) // wakes the ten
	wg.Wait()
	close(statuses)
	for s := range statuses {
		require.Equal(t, http.StatusOK, s)
	}
}

func TestEventFeed_IsForAdminsAndAuditorsOfTheirOwnTenant(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten, other := a.createTenant("pro"), a.createTenant("pro")
	keys := a.keysByRole(ten)
	for role, key := range keys {
		want := http.StatusForbidden
		if role == domain.RoleAdmin || role == domain.RoleAuditor {
			want = http.StatusOK
		}
		require.Equal(t, want, a.feed(key, "limit=1").status, role.String())
	}
	for _, r := range []req{
		{method: "GET", path: "/v1/events", token: other.key, header: map[string]string{"X-Tenant": ten.slug}},
		{method: "GET", path: "/v1/workspaces/" + ten.id + "/events", token: other.key},
		{method: "GET", path: "/v1/events", token: other.key, host: ten.slug + ".tenantry.test"},
	} {
		got := a.do(r)
		require.Equal(t, http.StatusNotFound, got.status, fmt.Sprintf("%+v: %s", r, got.raw))
	}
}
