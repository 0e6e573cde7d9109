package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/app/logctx"
)

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func TestHandler_AddsTheContextsAttributesOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.NewHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := logctx.With(context.Background(), "request_id", "r1")
	ctx = logctx.With(ctx, "tenant_id", "t1")

	log.InfoContext(ctx, "deep in a request")
	log.InfoContext(ctx, "explicit wins", "tenant_id", "t2")
	log.With("tenant_id", "t3").InfoContext(ctx, "bound wins")
	log.Info("no context")
	log.WithGroup("g").InfoContext(ctx, "in a group")
	log.InfoContext(logctx.With(ctx, "tenant_id", "t4"), "replaced")

	got := lines(t, &buf)
	require.Equal(t, "t1", got[0]["tenant_id"])
	require.Equal(t, "r1", got[0]["request_id"])
	require.Equal(t, "t2", got[1]["tenant_id"])
	require.Equal(t, "t3", got[2]["tenant_id"])
	require.NotContains(t, buf.String(), `"tenant_id":"t3","tenant_id"`)
	require.NotContains(t, got[3], "tenant_id")
	require.NotContains(t, got[4], "tenant_id")
	require.Equal(t, "t4", got[5]["tenant_id"])
	require.Equal(t, 1, strings.Count(strings.Split(buf.String(), "\n")[5], "tenant_id"))
}

// growing is a Source whose attributes grow after the context carrying it was made.
type growing struct{ attrs []slog.Attr }

func (g *growing) LogAttrs() []slog.Attr { return g.attrs }

// A context carrying a Source logs what the source says when the line is logged (a request's
// tenant learnt after its context was made); With on top of it adds to what it said then.
func TestWithSource_LogsTheSourcesAttributesAtTheTimeOfTheLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.NewHandler(slog.NewJSONHandler(&buf, nil)))
	src := &growing{attrs: []slog.Attr{slog.String("request_id", "r1")}}
	ctx := logctx.WithSource(context.Background(), src)

	log.InfoContext(ctx, "before the tenant is known")
	src.attrs = append(src.attrs, slog.String("tenant_id", "t1"))
	log.InfoContext(ctx, "after")
	log.InfoContext(logctx.With(ctx, "job", "j1"), "derived")

	got := lines(t, &buf)
	require.Equal(t, "r1", got[0]["request_id"])
	require.NotContains(t, got[0], "tenant_id")
	require.Equal(t, "t1", got[1]["tenant_id"])
	require.Equal(t, "r1", got[2]["request_id"])
	require.Equal(t, "t1", got[2]["tenant_id"])
	require.Equal(t, "j1", got[2]["job"])
}
