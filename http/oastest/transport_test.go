package oastest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/oastest"
)

func TestTransport_FailsTheTestThatReceivedADriftingAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-ID", "r")
		if r.URL.Query().Get("drift") != "" {
			_, _ = w.Write([]byte(`{"status":"fine"}`)) // not ok or ready
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	for _, c := range []struct {
		query string
		fails bool
	}{{"", false}, {"?drift=1", true}} {
		rec := &recordingTB{TB: t}
		hc := &http.Client{Transport: oastest.Transport(rec, nil)}
		res, err := hc.Get(srv.URL + "/healthz" + c.query)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Contains(t, string(body), `"status"`, "the client still reads the whole body")
		if c.fails {
			require.NotEmpty(t, rec.errors, "the drift must fail the test")
			require.Contains(t, rec.errors[0], "/healthz")
		} else {
			require.Empty(t, rec.errors)
		}
	}
}
