package platform

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// `tenantry openapi` prints the document /openapi.json answers (no database, no
// configuration needed), or writes it to --out for `make openapi-lint`.
func TestOpenAPI_PrintsOrWritesTheAPIsDocument(t *testing.T) {
	want, err := httpapi.DocumentJSON()
	require.NoError(t, err)
	env := map[string]string{"LOG_LEVEL": "loud"}
	out, err := run(t, context.Background(), env, "openapi")
	require.NoError(t, err, out)
	require.JSONEq(t, string(want), out)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Equal(t, "3.1.0", doc["openapi"])

	file := filepath.Join(t.TempDir(), "openapi.json")
	out, err = run(t, context.Background(), env, "openapi", "--out", file)
	require.NoError(t, err, out)
	require.Empty(t, out)
	written, err := os.ReadFile(file)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(written))

	_, err = run(t, context.Background(), env, "openapi", "extra")
	require.Error(t, err, "no arguments")
	require.Equal(t, 2, exitCode(err))
}
