package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/client"
)

// A server that answers oddly: the client returns an error (or tolerates what a newer
// server may add), never panics, and never reads more than MaxBody.
func TestClient_ToleratesOrRefusesOddAnswersWithoutPanicking(t *testing.T) {
	t.Parallel()
	answers := map[string]func(w http.ResponseWriter){
		"/healthz": func(w http.ResponseWriter) { // a newer server's extra fields
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok","uptime":{"s":3},"new":[1,2]}`))
		},
		"/readyz": func(w http.ResponseWriter) { // not JSON
			_, _ = w.Write([]byte(`<html>ready</html>`))
		},
		"/v1/tenant": func(w http.ResponseWriter) { // a proxy's error page with an HTTP-date
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(strings.Repeat("<p>bad gateway</p>", 1000)))
		},
		"/v1/billing": func(w http.ResponseWriter) { // a problem that is not quite one
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "-5")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type": 7, "title": ["x"]}`))
		},
		"/v1/usage": func(w http.ResponseWriter) { // endless
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"series":[`))
			chunk := []byte(strings.Repeat(`{"metric":"m","points":[],"total":1},`, 1000))
			for written := 0; written <= client.MaxBody; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"/v1/members": func(w http.ResponseWriter) { // has_more without a cursor
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"members":[],"next_cursor":null,"has_more":true}`))
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := answers[r.URL.Path]; ok {
			a(w)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL + "/")
	require.NoError(t, err)
	ctx := context.Background()

	st, _, err := c.GetHealth(ctx)
	require.NoError(t, err, "unknown fields are tolerated")
	require.Equal(t, "ok", st.Status)

	_, res, err := c.GetReadiness(ctx)
	require.ErrorContains(t, err, "decode the 200 answer")
	require.Equal(t, http.StatusOK, res.StatusCode)

	_, _, err = c.GetTenant(ctx)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadGateway, ce.StatusCode)
	require.Empty(t, ce.Problem.Type)
	require.Empty(t, ce.Kind())
	require.Len(t, ce.Body, 4<<10, "the start of a body that is not a problem")
	require.InDelta(t, 90, ce.RetryAfter.Seconds(), 3)

	_, _, err = c.GetBilling(ctx, time.Time{})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusServiceUnavailable, ce.StatusCode)
	require.Zero(t, ce.RetryAfter, "a negative Retry-After is no delay")
	require.Contains(t, ce.Error(), "503")

	_, _, err = c.GetUsage(ctx, client.UsageQuery{})
	require.ErrorContains(t, err, "exceeds the client's limit")

	_, _, err = c.RemoveMember(ctx, [16]byte{})
	require.True(t, client.IsNotFound(err))

	n := 0
	for _, err := range c.Members(ctx, 0) {
		n++
		require.ErrorContains(t, err, "has_more with no new next_cursor")
	}
	require.Equal(t, 1, n, "a stuck cursor ends the iteration with one error")
}

func TestNew_RefusesABaseURLThatIsNotAbsoluteHTTP(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://x/?a=b", "://"} {
		_, err := client.New(u)
		require.Error(t, err, u)
	}
	_, err := client.New("https://api.example.com/prefix")
	require.NoError(t, err)
}
