package platform

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// keywordValue turns a test database URL into pgx's keyword/value form with the given
// password, quoted since it holds a space.
func keywordValue(t *testing.T, rawURL, password string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(rawURL)
	require.NoError(t, err)
	return fmt.Sprintf("host=%s port=%d user=%s password='%s' dbname=%s sslmode=disable connect_timeout=5",
		cfg.Host, cfg.Port, cfg.User, strings.ReplaceAll(password, "'", `\'`), cfg.Database)
}

func TestMigrate_NeverLogsTheKeywordValuePassword(t *testing.T) {
	db := pgtest.New(t)
	cfg, err := pgconn.ParseConfig(db.SuperURL)
	require.NoError(t, err)
	password := cfg.Password // the cluster's own, when it asks for one; trust ignores it
	if password == "" {
		password = "hunter2 kv-s3cret"
	}
	for _, format := range []string{"json", "text"} {
		out, err := run(t, context.Background(), map[string]string{
			"DATABASE_URL": keywordValue(t, db.SuperURL, password), "LOG_FORMAT": format,
		}, "migrate")
		require.NoError(t, err, out)
		require.Contains(t, out, "shared schema migrated")
		require.Contains(t, out, "password=xxxxx", "the log names the database, password hidden")
		requireHidden(t, out, password)
	}

	// A failing connection reports its target without the password too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := fmt.Sprintf("postgres://%s@127.0.0.1:%d/db?sslmode=disable", cfg.User, ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())
	out, err := run(t, context.Background(), map[string]string{"DATABASE_URL": keywordValue(t, dead, password)}, "migrate")
	require.Error(t, err)
	require.ErrorContains(t, err, "connect for migrate")
	requireHidden(t, err.Error()+out, password)
}

// requireHidden fails when out shows password, as written or URL-escaped.
func requireHidden(t *testing.T, out, password string) {
	t.Helper()
	for _, shown := range []string{password, url.QueryEscape(password), url.PathEscape(password), strings.Fields(password)[0]} {
		require.NotContains(t, out, shown)
	}
}
