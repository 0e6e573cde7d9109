package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadWebhookConfig_ReadsTheKeyFromTheEnvironmentOrAnOwnerOnlyFile(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	var errs []string
	c := loadWebhookConfig(env(map[string]string{"TENANTRY_WEBHOOK_KEY": strings.Repeat("ab", 32), "TENANTRY_WEBHOOK_ALLOW_HTTP": "1"}), &errs)
	require.Empty(t, errs)
	require.NotNil(t, c.Key)
	require.True(t, c.AllowHTTP)
	require.False(t, c.AllowPrivate)

	dir := t.TempDir()
	path := filepath.Join(dir, "webhook.key")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("cd", 32)+"\n"), 0o600))
	c = loadWebhookConfig(env(map[string]string{"TENANTRY_WEBHOOK_KEY_FILE": path}), &errs)
	require.Empty(t, errs)
	require.NotNil(t, c.Key)

	require.NoError(t, os.Chmod(path, 0o644))
	loadWebhookConfig(env(map[string]string{"TENANTRY_WEBHOOK_KEY_FILE": path}), &errs)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "chmod 600")

	errs = nil
	loadWebhookConfig(env(map[string]string{"TENANTRY_WEBHOOK_KEY": "secret-but-short", "TENANTRY_WEBHOOK_ALLOW_PRIVATE": "yes"}), &errs)
	require.Len(t, errs, 2)
	require.NotContains(t, strings.Join(errs, " "), "secret-but-short", "never the key's value")

	c = loadWebhookConfig(env(map[string]string{}), &errs)
	require.Nil(t, c.Key)
}
