package platform

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// keygen writes a key readable by its owner only, in the encoding TENANTRY_AUDIT_SIGNING_KEY
// takes, prints its public key and nothing of the secret, and never overwrites a key.
func TestAuditKeygen_WritesAnOwnerOnlyKeyAndRefusesToOverwriteIt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "signing.key")
	out, err := run(t, ctx, nil, "audit", "keygen", "--out", file)
	require.NoError(t, err, out)
	pub := strings.TrimSpace(out)
	require.Regexp(t, `^[0-9a-f]{64}$`, pub, "standard output is the public key alone")

	fi, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	secret, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{64}\n$`, string(secret), "a 32-byte seed in hex, one line")
	require.NotContains(t, out, strings.TrimSpace(string(secret)), "the secret is never printed when it goes to a file")
	signer, err := auditlog.ParseSigningKey(string(secret))
	require.NoError(t, err, "TENANTRY_AUDIT_SIGNING_KEY takes what keygen writes")
	require.Equal(t, pub, hex.EncodeToString(signer.PublicKey()))

	// A second keygen into the same file is refused (exit 1) and leaves the key as it was.
	out, err = run(t, ctx, nil, "audit", "keygen", "--out", file)
	require.ErrorContains(t, err, "refusing to overwrite", out)
	require.Equal(t, 1, exitCode(err))
	again, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, secret, again)

	// --json: one object; with --out, no private key in it.
	file2 := filepath.Join(dir, "second.key")
	out, err = run(t, ctx, nil, "audit", "keygen", "--out", file2, "--json")
	require.NoError(t, err, out)
	var ans map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &ans), out)
	require.Equal(t, []string{"file", "key_id", "public_key"}, sortedKeys(ans))
	require.Equal(t, file2, ans["file"])
	pubBytes, err := hex.DecodeString(ans["public_key"].(string))
	require.NoError(t, err)
	require.Equal(t, auditlog.KeyID(pubBytes), ans["key_id"])
	require.NotEqual(t, pub, ans["public_key"], "a new key each time")

	// Without --out the private key is the one line of standard output (for a secret store).
	var stdout, stderr strings.Builder
	root := NewCommand(func(string) string { return "" }, &stdout, &stderr)
	root.SetArgs([]string{"audit", "keygen"})
	require.NoError(t, root.ExecuteContext(ctx))
	s, err := auditlog.ParseSigningKey(stdout.String())
	require.NoError(t, err, stdout.String())
	require.Equal(t, "public key: "+hex.EncodeToString(s.PublicKey())+"\n", stderr.String())

	_, err = run(t, ctx, nil, "audit", "keygen", "--out", filepath.Join(dir, "no-such-dir", "k"))
	require.Error(t, err)
	_, err = run(t, ctx, nil, "audit", "keygen", "extra")
	require.Equal(t, 2, exitCode(err), "an argument is a usage error")
}

func sortedKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// A key made by keygen, given as TENANTRY_AUDIT_SIGNING_KEY_FILE, signs heads that verify
// with the public key keygen printed, and `audit head --public-key` prints that same key.
func TestAuditKeygen_KeyFileSignsHeadsThatVerifyWithThePrintedPublicKey(t *testing.T) {
	db := pgtest.New(t)
	ctx := startServe(t, db)
	file := filepath.Join(t.TempDir(), "signing.key")
	out, err := run(t, ctx, nil, "audit", "keygen", "--out", file)
	require.NoError(t, err, out)
	printed := strings.TrimSpace(out)
	secret, err := os.ReadFile(file)
	require.NoError(t, err)

	pool := pgtest.Pool(t, db.AppURL, 2)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	id := appendTenant(t, eventstore.New(pool), reg, "keyed", domain.PlanFree)
	require.Eventually(t, func() bool { _, err := eventstore.New(pool).FindTenant(ctx, "keyed"); return err == nil }, time.Minute, 10*time.Millisecond)

	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json", "TENANTRY_AUDIT_SIGNING_KEY_FILE": file}
	out, err = run(t, ctx, env, "audit", "head", "--public-key")
	require.NoError(t, err, out)
	require.Equal(t, printed, strings.TrimSpace(out))

	out, err = run(t, ctx, env, "audit", "head", "--tenant", "keyed")
	require.NoError(t, err, out)
	require.NotContains(t, out, strings.TrimSpace(string(secret)), "the key never reaches output or a log line")
	head, err := audit.ParseHead([]byte(strings.SplitN(out, "\n", 2)[0]))
	require.NoError(t, err, out)
	require.Equal(t, id, head.TenantID)
	require.NotEmpty(t, head.Signature)
	pub, err := audit.ParsePublicKey(printed)
	require.NoError(t, err)
	require.NoError(t, head.Verify(pub), "the head verifies with the printed public key")
	other, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	require.Error(t, head.Verify(other.PublicKey()), "and with no other key")
}

// TENANTRY_AUDIT_SIGNING_KEY_FILE is refused, with a configuration error that names it and
// never shows the key, when others may read it, when it cannot be read, when it holds no
// key, and when TENANTRY_AUDIT_SIGNING_KEY is set as well.
func TestConfig_RefusesABadSigningKeyFile(t *testing.T) {
	dir := t.TempDir()
	seed := strings.Repeat("4d", 32)
	write := func(name, body string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	good := write("good.key", seed+"\n", 0o600)
	c, err := loadConfig(func(k string) string {
		return map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": good, "LOG_FORMAT": "json"}[k]
	})
	require.NoError(t, err)
	want, err := auditlog.ParseSigningKey(seed)
	require.NoError(t, err)
	require.Equal(t, want.PublicKey(), c.AuditSigner.PublicKey())

	owner := write("owner-read-only.key", seed, 0o400)
	_, err = loadConfig(func(k string) string { return map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": owner}[k] })
	require.NoError(t, err, "0400 is fine")

	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"group-readable": {map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": write("group.key", seed, 0o640)}, "mode 0640"},
		"world-readable": {map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": write("world.key", seed, 0o604)}, "mode 0604"},
		"missing":        {map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": filepath.Join(dir, "nothing.key")}, "cannot read it"},
		"a directory":    {map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": dir}, "not a regular file"},
		"not a key":      {map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": write("junk.key", "4d4d-not-hex", 0o600)}, "want an Ed25519 seed"},
		"both variables": {map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": good, "TENANTRY_AUDIT_SIGNING_KEY": seed}, "both set"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(func(k string) string { return tc.env[k] })
			require.ErrorContains(t, err, "TENANTRY_AUDIT_SIGNING_KEY")
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "4d4d", "the key is never echoed")
			// A command refuses to start on it.
			out, err := run(t, context.Background(), tc.env, "audit", "head", "--public-key")
			require.ErrorContains(t, err, tc.want, out)
			require.NotContains(t, out, "4d4d")
		})
	}
	if os.Geteuid() != 0 { // root reads any file
		unreadable := write("unreadable.key", seed, 0o000)
		_, err := loadConfig(func(k string) string { return map[string]string{"TENANTRY_AUDIT_SIGNING_KEY_FILE": unreadable}[k] })
		require.ErrorContains(t, err, "cannot read it")
	}
}
