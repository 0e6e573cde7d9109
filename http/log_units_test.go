package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// lockedBuffer is a log sink the server's goroutines may write to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogs_RequestLatencyIsFloatMilliseconds(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
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
