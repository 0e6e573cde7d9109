package migrations_test

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

var update = flag.Bool("update", false, "rewrite testdata/catalog.golden from the migrated database")

// functionFiles copies the embedded function files, with edits applied.
func functionFiles(t *testing.T, edits map[string]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(migrations.FunctionsFS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FunctionsFS(), path)
		out[path] = &fstest.MapFile{Data: b}
		return err
	}))
	for path, sql := range edits {
		out[path] = &fstest.MapFile{Data: []byte(sql)}
	}
	return out
}

func functionDef(t *testing.T, conn *pgx.Conn, fn string) string {
	t.Helper()
	var def string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT pg_get_functiondef($1::regprocedure)`, fn).Scan(&def))
	return def
}

// A change to a function is an edit of its one file: the next migrate applies that file
// and no other, records its checksum, and a run after that applies nothing.
func TestMigrate_AppliesOnlyTheFunctionFileThatChanged(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	conn := connect(t, db.SuperURL)
	original, err := fs.ReadFile(migrations.FunctionsFS(), "tenant_schema_name.sql")
	require.NoError(t, err)
	edited := strings.Replace(string(original), "AS $$", "AS $$\n    -- edited by the test", 1)
	require.NotEqual(t, string(original), edited)
	files := functionFiles(t, map[string]string{"tenant_schema_name.sql": edited})

	res, err := migrations.Migrate(ctx, db.SuperURL, migrations.Options{Functions: files})
	require.NoError(t, err)
	require.Equal(t, []string{"tenant_schema_name"}, res.Functions)
	require.Empty(t, res.Applied)
	require.Contains(t, functionDef(t, conn, "tenantry.tenant_schema_name(uuid)"), "edited by the test")

	res, err = migrations.Migrate(ctx, db.SuperURL, migrations.Options{Functions: files})
	require.NoError(t, err)
	require.Empty(t, res.Functions, "nothing changed since the last run")

	res, err = migrations.Migrate(ctx, db.SuperURL, migrations.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"tenant_schema_name"}, res.Functions, "back to the shipped file")
	require.NotContains(t, functionDef(t, conn, "tenantry.tenant_schema_name(uuid)"), "edited by the test")
	// The grants come with the file: the runtime roles still execute it, PUBLIC does not.
	var app, public bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT has_function_privilege('tenantry_app', 'tenantry.tenant_schema_name(uuid)', 'EXECUTE'),
		EXISTS (SELECT FROM pg_proc p, aclexplode(p.proacl) a WHERE p.oid = 'tenantry.tenant_schema_name(uuid)'::regprocedure AND a.grantee = 0)`).Scan(&app, &public))
	require.True(t, app)
	require.False(t, public)
}

// Migrate runs started together against one new database all succeed, and between them
// apply each migration and each function file exactly once.
func TestMigrate_ConcurrentRunsOnAFreshDatabaseApplyEverythingOnce(t *testing.T) {
	ctx := context.Background()
	admin := connect(t, pgtest.BaseURL())
	name := "tenantry_test_fresh_" + randomSuffix(t)
	t.Cleanup(func() { _, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	url, err := migrations.WithDatabase(pgtest.BaseURL(), name)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)

	const runs = 4
	results := make([]migrations.Result, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = migrations.Migrate(ctx, url, migrations.Options{})
		}()
	}
	wg.Wait()
	versions, functions := map[int64]int{}, map[string]int{}
	for i := range runs {
		require.NoError(t, errs[i])
		for _, v := range results[i].Applied {
			versions[v]++
		}
		for _, f := range results[i].Functions {
			functions[f]++
		}
	}
	require.Equal(t, map[int64]int{1: 1, 2: 1, 3: 1, 4: 1, 6: 1}, versions)
	files, err := fs.Glob(migrations.FunctionsFS(), "*.sql")
	require.NoError(t, err)
	require.Len(t, functions, len(files))
	for f, n := range functions {
		require.Equal(t, 1, n, "function file %s applied %d times", f, n)
	}
}

// The squashed baseline, the function files and the triggers after them build the catalog
// that the first builds' 18 migrations built (testdata/catalog.golden was first written
// from such a database; it differs only by tenantry.function_versions). A schema change
// rewrites it with `go test ./migrations -run Catalog -update`, and the diff is reviewed.
func TestMigrate_BuildsTheReviewedCatalog(t *testing.T) {
	db := pgtest.New(t)
	query, err := os.ReadFile("testdata/catalog.sql")
	require.NoError(t, err)
	rows, err := connect(t, db.SuperURL).Query(context.Background(), string(query))
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		require.NoError(t, os.WriteFile("testdata/catalog.golden", []byte(got), 0o644))
	}
	want, err := os.ReadFile("testdata/catalog.golden")
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}
