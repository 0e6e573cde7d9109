package platform

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// `tenantry version` says what the binary is from its build information alone: no
// database, no configuration (a bad LOG_LEVEL does not stop it).
func TestVersion_PrintsModuleCommitAndGoVersion(t *testing.T) {
	old := buildInfo
	t.Cleanup(func() { buildInfo = old })
	buildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/tenantry/tenantry", Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"},
				{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}}}, true
	}
	env := map[string]string{"LOG_LEVEL": "loud"}
	out, err := run(t, context.Background(), env, "version")
	require.NoError(t, err, out)
	require.Equal(t, "tenantry v1.2.3\ncommit 0123abcd (modified)\ngo1.99.1\n", out)

	out, err = run(t, context.Background(), env, "version", "--json")
	require.NoError(t, err, out)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, map[string]any{"module": "github.com/tenantry/tenantry", "version": "v1.2.3", "commit": "0123abcd",
		"modified": true, "commit_time": "2026-12-01T10:00:00Z", "go": "go1.99.1"}, got)

	// Without VCS stamping (go build -buildvcs=false) the fields say so rather than lie.
	buildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/tenantry/tenantry", Version: "(devel)"}}, true
	}
	out, err = run(t, context.Background(), env, "version", "--json")
	require.NoError(t, err, out)
	require.True(t, strings.HasPrefix(out, `{"module":"github.com/tenantry/tenantry","version":"(devel)","commit":"(unknown)","modified":false,"go":"go1.99.1"}`), out)
}
