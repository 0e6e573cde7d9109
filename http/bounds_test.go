package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore/audit"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/oastest"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func testSigner(t *testing.T) *auditlog.Signer {
	s, err := auditlog.ParseSigningKey(strings.Repeat("cd", 32))
	require.NoError(t, err)
	return s
}

// Reading the last page of the audit export again and again records no new signed head;
// a head that moved is recorded once.
func TestAuditEvents_TheLastPageRecordsAHeadOncePerSeq(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	a := newAPI(t, func(d *httpapi.Deps) { d.AuditSigner = signer })
	ten := a.createTenant("pro")
	admin := pgtest.Pool(t, testDB.SuperURL, 1)
	heads := func() int {
		var n int
		require.NoError(t, admin.QueryRow(context.Background(),
			`SELECT count(*) FROM tenantry.signed_heads WHERE tenant_id = $1`, ten.id).Scan(&n))
		return n
	}
	for i := 0; i < 5; i++ {
		r := a.do(req{method: "GET", path: "/v1/audit/events", token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		rep, err := audit.Verify(bytes.NewReader(r.raw), audit.VerifyOptions{PublicKey: signer.PublicKey()})
		require.NoError(t, err)
		require.True(t, rep.OK && rep.Signed, "%+v", rep)
	}
	require.Equal(t, 1, heads())
	r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "k"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	for i := 0; i < 3; i++ {
		r = a.do(req{method: "GET", path: "/v1/audit/events", token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
	}
	require.Equal(t, 2, heads())
}

// Asking for verification again re-hashes only the events recorded since.
func TestAuditVerify_RepeatedRequestsRehashOnlyNewEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	r := a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, true, r.get("ok"))
	head := int64(r.get("head_seq").(float64))
	require.Positive(t, head)
	require.Equal(t, head, httpapi.RehashedEvents(a.server))
	for i := 0; i < 3; i++ {
		r = a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key})
		require.Equal(t, true, r.get("ok"), string(r.raw))
		require.Equal(t, float64(head), r.get("events_checked"))
	}
	require.Equal(t, head, httpapi.RehashedEvents(a.server), "nothing new: nothing re-hashed")
	u := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": "k"}})
	require.Equal(t, http.StatusAccepted, u.status, string(u.raw))
	r = a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key})
	require.Equal(t, true, r.get("ok"), string(r.raw))
	require.Equal(t, float64(head+1), r.get("events_checked"))
	require.Equal(t, head+1, httpapi.RehashedEvents(a.server))
}

// The current state costs the events recorded since it was last asked for; earlier
// instants are replayed within a budget per tenant, and answered again from memory.
func TestAuditState_RepeatedRequestsReplayOnlyNewEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	time.Sleep(10 * time.Millisecond)
	before := time.Now().UTC()
	time.Sleep(10 * time.Millisecond)
	inv := a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: map[string]any{"email": "au@example.com", "role": "auditor"}})
	require.Equal(t, http.StatusCreated, inv.status, string(inv.raw))

	r := a.do(req{method: "GET", path: "/v1/audit/state", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	seq := int64(r.get("seq").(float64))
	require.Equal(t, seq, httpapi.ReplayedEvents(a.server))
	for i := 0; i < 5; i++ {
		r = a.do(req{method: "GET", path: "/v1/audit/state", token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
	}
	require.Equal(t, seq, httpapi.ReplayedEvents(a.server), "nothing new: nothing replayed")
	u := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 3, "idempotency_key": "k"}})
	require.Equal(t, http.StatusAccepted, u.status, string(u.raw))
	r = a.do(req{method: "GET", path: "/v1/audit/state", token: ten.key})
	require.Equal(t, float64(3), r.get("usage_totals", "api_calls"), string(r.raw))
	require.Equal(t, seq+1, httpapi.ReplayedEvents(a.server))

	// Earlier instants: replayed (the invitation is not there yet), within the budget.
	asOf := func(i int) string {
		return url.QueryEscape(before.Add(-time.Duration(i) * time.Microsecond).Format(time.RFC3339Nano))
	}
	for i := 0; i < httpapi.HistoricalReplayBudget; i++ {
		r = a.do(req{method: "GET", path: "/v1/audit/state?as_of=" + asOf(i), token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Len(t, r.get("members"), 1)
		require.Nil(t, r.get("usage_totals", "api_calls"))
	}
	r = a.do(req{method: "GET", path: "/v1/audit/state?as_of=" + asOf(100), token: ten.key})
	require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
	require.NotEmpty(t, r.header.Get("Retry-After"))
	r = a.do(req{method: "GET", path: "/v1/audit/state?as_of=" + asOf(0), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, "an instant asked for before is answered from memory: %s", r.raw)
}

// An export that takes longer than the write timeout completes while the client reads.
func TestAuditEvents_AnExportLongerThanTheWriteTimeoutCompletes(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	a := newAPI(t, func(d *httpapi.Deps) { d.AuditSigner = signer })
	ten := a.createTenant("enterprise")
	for b := 0; b < 15; b++ { // 15 events of 1,000 records: about 1.5 MB of export
		recs := make([]any, 0, 1000)
		for i := 0; i < 1000; i++ {
			recs = append(recs, map[string]any{"metric": "api_calls", "quantity": 1, "idempotency_key": fmt.Sprintf("%d-%d", b, i)})
		}
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": recs}})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	}
	// Small socket buffers on both ends, as over a real network: the server's writes wait
	// for the client to read, so its last ones come long after the write timeout.
	d := a.deps
	shortTimeouts(&d) // for the export only: the set-up's large writes may take longer
	srv := httptest.NewUnstartedServer(oastest.Handler(t, httpapi.New(d)))
	d.Timeouts.Apply(srv.Config)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			_ = c.(*net.TCPConn).SetWriteBuffer(16 << 10)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
		}
		return c, err
	}}}
	hr, err := http.NewRequest("GET", srv.URL+"/v1/audit/events", nil)
	require.NoError(t, err)
	hr.Header.Set("Authorization", "Bearer "+ten.key)
	start := time.Now()
	res, err := client.Do(hr)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var out bytes.Buffer
	br := bufio.NewReaderSize(res.Body, 8<<10)
	buf := make([]byte, 8<<10)
	for { // a slow reader: the stream lasts well over the 700 ms write timeout
		n, err := br.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "after %s and %d bytes", time.Since(start), out.Len())
		time.Sleep(10 * time.Millisecond)
	}
	require.Greater(t, time.Since(start), 1400*time.Millisecond, "the test needs a stream longer than the timeout (%d bytes)", out.Len())
	rep, err := audit.Verify(bytes.NewReader(out.Bytes()), audit.VerifyOptions{PublicKey: signer.PublicKey()})
	require.NoError(t, err)
	require.True(t, rep.OK && rep.Signed, "%+v", rep)
}
