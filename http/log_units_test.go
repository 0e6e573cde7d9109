package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

func TestLogs_RequestLatencyIsFloatMilliseconds(t *testing.T) {
	t.Parallel()
	var buf safeBuffer
	a := newAPI(t, func(d *httpapi.Deps) { d.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	require.Equal(t, http.StatusOK, a.do(req{method: "GET", path: "/healthz"}).status)
	var line map[string]any
	require.Eventually(t, func() bool {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, `"route":"GET /healthz"`) {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
	ms, ok := line["latency_ms"].(float64)
	require.True(t, ok, "latency_ms is a number: %v", line)
	require.Less(t, ms, 5000.0, "milliseconds, not nanoseconds")
	require.NotContains(t, line, "latency", "one unit: no nanosecond field")
}
