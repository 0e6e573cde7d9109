package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestUsage_DuplicatesAreNeverCountedTwice(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	rec := func(key string, q int) map[string]any {
		return map[string]any{"metric": "api_calls", "quantity": q, "idempotency_key": key}
	}
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: rec("one", 5)})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	require.Equal(t, float64(1), r.get("accepted"))

	// Retried alone, inside a batch, twice inside one batch, and concurrently: counted once.
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: rec("one", 5)})
	require.Equal(t, []any{float64(0), float64(1)}, []any{r.get("accepted"), r.get("duplicates")})
	batch := []any{rec("one", 5), rec("two", 7), rec("two", 7)}
	for i := 0; i < 20; i++ {
		batch = append(batch, rec(fmt.Sprintf("b-%d", i), 1))
	}
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": batch}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	require.Equal(t, []any{float64(21), float64(2)}, []any{r.get("accepted"), r.get("duplicates")})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": []any{rec("c-1", 100), rec("c-2", 100)}}})
			assert.Equal(t, http.StatusAccepted, r.status, string(r.raw)) // not require: not the test's goroutine
		}()
	}
	wg.Wait()
	last := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: rec("final", 1)})

	r = a.do(req{method: "GET", path: "/v1/usage?granularity=day&min_seq=" + jsonNumber(t, last.get("seq")), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	series := r.get("series").([]any)
	require.Len(t, series, 1)
	require.Equal(t, float64(5+7+20+200+1), series[0].(map[string]any)["total"], string(r.raw))
}

// A request of many records is one usage.batch_recorded event that claims every record's
// key: a key sent in a batch is a duplicate when it comes again alone, in another batch or
// in several concurrent requests at once.
func TestUsage_ABatchIsOneEventThatClaimsEveryKey(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	rec := func(key string, q int) map[string]any {
		return map[string]any{"metric": "api_calls", "quantity": q, "idempotency_key": key}
	}
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": []any{rec("x", 1), rec("y", 2), rec("z", 3)}}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	require.Equal(t, []any{float64(3), float64(0)}, []any{r.get("accepted"), r.get("duplicates")})
	tenant := uuid.MustParse(ten.id)
	stored, err := a.deps.Store.ReadStream(context.Background(), tenant, "usage", 1, 0)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	require.Equal(t, "usage.batch_recorded", stored[0].Type)
	require.Equal(t, r.get("seq"), float64(stored[0].Seq))

	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: rec("y", 2)})
	require.Equal(t, []any{float64(0), float64(1)}, []any{r.get("accepted"), r.get("duplicates")})
	require.Equal(t, float64(stored[0].Seq), r.get("seq"), "a duplicate answers the seq that holds it")
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": []any{rec("x", 1), rec("z", 3)}}})
	require.Equal(t, []any{float64(0), float64(2), float64(stored[0].Seq)}, []any{r.get("accepted"), r.get("duplicates"), r.get("seq")})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := any(rec("w", 10)) // half alone, half in a batch with a key stored before
			if i%2 == 1 {
				body = map[string]any{"records": []any{rec("z", 3), rec("w", 10)}}
			}
			r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: body})
			assert.Equal(t, http.StatusAccepted, r.status, string(r.raw)) // not require: not the test's goroutine
		}(i)
	}
	wg.Wait()
	stored, err = a.deps.Store.ReadStream(context.Background(), tenant, "usage", 1, 0)
	require.NoError(t, err)
	require.Len(t, stored, 2, "the concurrent requests stored w once, and nothing else")
	claimed, err := a.deps.Store.ClaimedKeys(context.Background(), tenant, []uuid.UUID{stored[1].ID})
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]int64{stored[1].ID: stored[1].Seq}, claimed, "a lone record's event id is its key id")

	r = a.do(req{method: "GET", path: "/v1/usage?granularity=day&min_seq=" + strconv.FormatInt(stored[1].Seq, 10), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(1+2+3+10), r.get("series").([]any)[0].(map[string]any)["total"], string(r.raw))
}

func TestIdempotencyKey_ReplaysTheFirstAnswer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	invite := func(email, key string) response {
		return a.do(req{method: "POST", path: "/v1/members", token: ten.key, header: map[string]string{"Idempotency-Key": key},
			body: map[string]any{"email": email, "role": "viewer"}})
	}
	first := invite("v@example.com", "idem-1")
	require.Equal(t, http.StatusCreated, first.status, string(first.raw))
	replay := invite("v@example.com", "idem-1")
	require.Equal(t, http.StatusCreated, replay.status)
	require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.raw, replay.raw, "the same answer, token included")
	other := invite("w@example.com", "idem-1")
	require.Equal(t, http.StatusUnprocessableEntity, other.status)
	require.Equal(t, "idempotency-key-reused", other.problemType())

	list := a.do(req{method: "GET", path: "/v1/invitations", token: ten.key})
	require.Len(t, list.get("invitations"), 1, "invited once")

	// Tenant creation by the operator is idempotent too.
	body := map[string]any{"name": "Idem", "slug": "idem-" + ten.slug, "admin_email": "a@example.com"}
	c1 := a.do(req{method: "POST", path: "/v1/tenants", token: operatorToken, body: body, header: map[string]string{"Idempotency-Key": "create-1"}})
	c2 := a.do(req{method: "POST", path: "/v1/tenants", token: operatorToken, body: body, header: map[string]string{"Idempotency-Key": "create-1"}})
	require.Equal(t, http.StatusCreated, c1.status, string(c1.raw))
	require.Equal(t, c1.raw, c2.raw)
	bad := a.do(req{method: "POST", path: "/v1/members", token: ten.key, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 300)},
		body: map[string]any{"email": "z@example.com", "role": "viewer"}})
	require.Equal(t, http.StatusBadRequest, bad.status)
}

func TestRateLimit_AnswersTooManyRequestsWithRetryAfter(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(d *httpapi.Deps) {}) // default plans in tests are generous: make one tenant small
	ten := a.createTenant("free")
	small := newAPI(t, func(d *httpapi.Deps) { d.Plans = mustPlans(t, "free.rps=1,free.burst=3") })
	limited := 0
	for i := 0; i < 10; i++ {
		start := time.Now()
		r := small.do(req{method: "GET", path: "/v1/tenant", token: ten.key})
		if r.status == http.StatusTooManyRequests {
			limited++
			require.Equal(t, "rate-limited", r.problemType())
			require.NotEmpty(t, r.header.Get("Retry-After"))
			require.GreaterOrEqual(t, time.Since(start), 125*time.Millisecond, "a refusal is answered after a (jittered) delay")
		} else {
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
		}
	}
	require.GreaterOrEqual(t, limited, 6)
	// Another tenant is not affected.
	other := a.createTenant("free")
	r := small.do(req{method: "GET", path: "/v1/tenant", token: other.key})
	require.Equal(t, http.StatusOK, r.status)

	// Requests outside any tenant are limited per client address. Sent at once: one after
	// the other, on a loaded machine (-race), the bucket refills between them.
	open := newAPI(t, func(d *httpapi.Deps) { d.OpenSignup = true })
	statuses := make([]int, 30)
	raws := make([]string, len(statuses))
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := open.do(req{method: "POST", path: "/v1/tenants", body: `{"slug": "Not A Slug"}`})
			statuses[i], raws[i] = r.status, string(r.raw)
		}()
	}
	wg.Wait()
	limited = 0
	for i, st := range statuses {
		if st == http.StatusTooManyRequests {
			limited++
		} else {
			require.Equal(t, http.StatusBadRequest, st, raws[i])
		}
	}
	require.GreaterOrEqual(t, limited, 5, "anonymous requests past the burst are refused")
}

func TestIdempotencyKey_ARequestStillInFlightAnswers409(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	body := `{"email": "f@example.com", "role": "viewer"}`
	keyHash, sum := httpapi.IdempotencyRow(uuid.MustParse(ten.id), "key:"+keyID(t, ten.key), "busy-1", "POST", "/v1/members", []byte(body))
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	// The first request's claim, as it stands while that request runs.
	_, err := super.Exec(context.Background(), `INSERT INTO tenantry.idempotency_keys (tenant_id, key_hash, request_hash)
		VALUES ($1, $2, $3)`, ten.id, keyHash, sum)
	require.NoError(t, err)
	r := a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: body, header: map[string]string{"Idempotency-Key": "busy-1"}})
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	require.Equal(t, "request-in-progress", r.problemType())
	require.Equal(t, "1", r.header.Get("Retry-After"))
}

// keyID is the key id inside an API key's lookup prefix.
func keyID(t *testing.T, key string) string {
	head, _, _ := strings.Cut(strings.TrimPrefix(key, "tk_"), ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	require.NoError(t, err)
	id, err := uuid.FromBytes(b[16:])
	require.NoError(t, err)
	return id.String()
}

func TestLogs_OneLinePerRequestWithIDsAndNoSecrets(t *testing.T) {
	var buf safeBuffer
	a := newAPI(t, func(d *httpapi.Deps) { d.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	ten := a.createTenant("pro")
	r := a.do(req{method: "GET", path: "/v1/tenant", token: ten.key, header: map[string]string{"X-Request-ID": "req-abc-123"}})
	require.Equal(t, "req-abc-123", r.header.Get("X-Request-ID"))
	logs := buf.String()
	require.Contains(t, logs, `"request_id":"req-abc-123"`)
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "req-abc-123") && strings.Contains(l, `"msg":"request"`) {
			line = l
		}
	}
	require.NotEmpty(t, line)
	for _, want := range []string{`"tenant_id":"` + ten.id + `"`, `"route":"GET /v1/tenant"`, `"status":200`, `"latency_ms":`} {
		require.Contains(t, line, want)
	}
	require.NotContains(t, logs, ten.key)
	require.NotContains(t, logs, operatorToken)
	require.NotContains(t, logs, "tk_")
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestIdempotencyKey_OldAnswersAreForgotten(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/members", token: ten.key, header: map[string]string{"Idempotency-Key": "old-1"},
		body: map[string]any{"email": "old@example.com", "role": "viewer"}})
	require.Equal(t, http.StatusCreated, r.status)
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	keyHash, _ := httpapi.IdempotencyRow(uuid.MustParse(ten.id), "key:"+keyID(t, ten.key), "old-1", "", "", nil)
	_, err := super.Exec(context.Background(), `UPDATE tenantry.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key_hash = $1`, keyHash)
	require.NoError(t, err)
	require.NoError(t, eventstore.New(pgtest.Pool(t, testDB.WorkerURL, 1)).ExpireIdempotencyKeys(context.Background())) // a worker's job
	var n int
	require.NoError(t, super.QueryRow(context.Background(), `SELECT count(*) FROM tenantry.idempotency_keys WHERE key_hash = $1`, keyHash).Scan(&n))
	require.Zero(t, n)
}

// Concurrent single-record requests of one tenant and key are coalesced: while one append
// is committed, the records that arrive gather and go in the next append together, as one
// usage.batch_recorded event naming each record's request. A key claimed meanwhile, or sent
// twice among the gathered requests, is still a duplicate; every request learns its own
// outcome and the seq of the event that carries its record.
func TestUsage_ConcurrentSinglesAreCoalescedIntoOneEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	tenant := uuid.MustParse(ten.id)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, testDB.SuperURL)
	require.NoError(t, err)
	defer su.Close(ctx)

	type answer struct {
		key, reqID string
		r          response
	}
	post := func(key string, q int) chan answer {
		ch := make(chan answer, 1)
		reqID := uuid.NewString()
		go func() {
			ch <- answer{key, reqID, a.do(req{method: "POST", path: "/v1/usage", token: ten.key, header: map[string]string{"X-Request-ID": reqID},
				body: map[string]any{"metric": "api_calls", "quantity": q, "idempotency_key": key}})}
		}()
		return ch
	}
	// hold takes the tenant's append lock (the one append_events and group commits take), so
	// that the next append waits in the database until release.
	hold := func() (release func()) {
		_, err := su.Exec(ctx, `SELECT pg_advisory_lock(7365710, hashtext($1::text))`, tenant.String())
		require.NoError(t, err)
		return func() {
			_, err := su.Exec(ctx, `SELECT pg_advisory_unlock(7365710, hashtext($1::text))`, tenant.String())
			require.NoError(t, err)
		}
	}
	appendWaits := func() bool {
		var n int
		require.NoError(t, su.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND classid = 7365710 AND objsubid = 2
			  AND objid::bigint = (hashtext($1::text)::bigint + 4294967296) % 4294967296
			  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, tenant.String()).Scan(&n))
		return n > 0
	}
	gathered := func(n int) func() bool {
		return func() bool { return httpapi.Gathered(a.server, tenant) == n }
	}
	events := func() []eventstore.Event {
		stored, err := a.deps.Store.ReadStream(ctx, tenant, "usage", 1, 0)
		require.NoError(t, err)
		return stored
	}

	// One request in flight, four gathering behind it; "a" is claimed by the first meanwhile.
	release := hold()
	first := post("a", 1)
	pgtest.Until(t, 10*time.Second, 5*time.Millisecond, appendWaits)
	var rest []chan answer
	for i, key := range []string{"b1", "b2", "b3", "a"} {
		rest = append(rest, post(key, 10*(i+1)))
	}
	require.Eventually(t, gathered(4), 10*time.Second, 5*time.Millisecond)
	release()

	f := <-first
	require.Equal(t, http.StatusAccepted, f.r.status, string(f.r.raw))
	require.Equal(t, []any{float64(1), float64(0)}, []any{f.r.get("accepted"), f.r.get("duplicates")})
	byKey := map[string]answer{}
	for _, ch := range rest {
		an := <-ch
		require.Equal(t, http.StatusAccepted, an.r.status, string(an.r.raw))
		byKey[an.key] = an
	}
	require.Equal(t, []any{float64(0), float64(1)}, []any{byKey["a"].r.get("accepted"), byKey["a"].r.get("duplicates")})
	stored := events()
	require.Len(t, stored, 2, "the first record alone, then the gathered ones in one event")
	require.Equal(t, "usage.recorded", stored[0].Type)
	require.Equal(t, f.r.get("seq"), float64(stored[0].Seq))
	meta := func(e eventstore.Event) (m eventstore.Metadata) {
		require.NoError(t, json.Unmarshal(e.Metadata, &m))
		return m
	}
	require.Equal(t, f.reqID, meta(stored[0]).RequestID)
	require.Equal(t, "usage.batch_recorded", stored[1].Type)
	require.Empty(t, meta(stored[1]).RequestID, "a coalesced event names its requests per record")
	require.Equal(t, meta(stored[0]).Actor, meta(stored[1]).Actor)
	var batch usage.BatchRecorded
	require.NoError(t, json.Unmarshal(stored[1].Data, &batch))
	require.Len(t, batch.Records, 3)
	require.Len(t, batch.RequestIDs, 3)
	for i, rec := range batch.Records {
		an := byKey[rec.IdempotencyKey.String()]
		require.Equal(t, an.reqID, batch.RequestIDs[i], "record %s names its request", rec.IdempotencyKey)
		require.Equal(t, []any{float64(1), float64(0), float64(stored[1].Seq)}, []any{an.r.get("accepted"), an.r.get("duplicates"), an.r.get("seq")})
	}
	require.Equal(t, float64(stored[0].Seq), byKey["a"].r.get("seq"), "a duplicate answers the seq of the event that holds its key")

	// One key three times among the gathered requests: one of them counts.
	release = hold()
	lead := post("d", 1)
	pgtest.Until(t, 10*time.Second, 5*time.Millisecond, appendWaits)
	var same []chan answer
	for i := 0; i < 3; i++ {
		same = append(same, post("c", 100))
	}
	require.Eventually(t, gathered(3), 10*time.Second, 5*time.Millisecond)
	release()
	require.Equal(t, http.StatusAccepted, (<-lead).r.status)
	accepted := 0.0
	for _, ch := range same {
		an := <-ch
		require.Equal(t, http.StatusAccepted, an.r.status, string(an.r.raw))
		accepted += an.r.get("accepted").(float64)
	}
	require.Equal(t, 1.0, accepted)
	stored = events()
	require.Len(t, stored, 4)
	require.Equal(t, "usage.recorded", stored[3].Type, "one fresh record is stored as a lone request's would be")
	c, err := usage.ParseIdempotencyKey("c")
	require.NoError(t, err)
	require.Equal(t, usage.RecordEventID(tenant, c), stored[3].ID)

	// An append that fails fails the requests it carried and wrote none of their records:
	// the first is cut off in the database; the ones gathered behind it still go through.
	release = hold()
	lost := post("e", 1000)
	pgtest.Until(t, 10*time.Second, 5*time.Millisecond, appendWaits)
	behind := post("f", 1)
	require.Eventually(t, gathered(1), 10*time.Second, 5*time.Millisecond)
	_, err = su.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND NOT granted AND classid = 7365710 AND objsubid = 2
		  AND objid::bigint = (hashtext($1::text)::bigint + 4294967296) % 4294967296
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, tenant.String())
	require.NoError(t, err)
	l := <-lost
	require.GreaterOrEqual(t, l.r.status, 500, string(l.r.raw))
	release()
	require.Equal(t, http.StatusAccepted, (<-behind).r.status)
	l2 := post("e", 1000)
	again := (<-l2).r
	require.Equal(t, []any{float64(1), float64(0)}, []any{again.get("accepted"), again.get("duplicates")}, "the failed append wrote nothing")

	r := a.do(req{method: "GET", path: "/v1/usage?granularity=day&min_seq=" + jsonNumber(t, again.get("seq")), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(1+10+20+30+1+100+1+1000), r.get("series").([]any)[0].(map[string]any)["total"], string(r.raw))
}
