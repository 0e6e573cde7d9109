package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// catalogSnapshot is everything a migrate run could change, as text, for comparison.
func catalogSnapshot(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT 'rel ' || c.oid::regclass || ' ' || pg_get_userbyid(c.relowner) || ' ' || c.relrowsecurity || c.relforcerowsecurity || ' ' || coalesce(c.relacl::text, '')
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenantry'
		UNION ALL
		SELECT 'pol ' || polrelid::regclass || ' ' || polname FROM pg_policy
		UNION ALL
		SELECT 'fn ' || p.oid::regprocedure || ' ' || pg_get_userbyid(p.proowner) || ' ' || coalesce(p.proacl::text, '')
		  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'tenantry'
		UNION ALL
		SELECT 'role ' || rolname || ' ' || rolsuper || rolbypassrls || rolcanlogin || rolcreaterole || rolcreatedb
		  FROM pg_roles WHERE rolname LIKE 'tenantry\_%'
		UNION ALL
		SELECT 'version ' || max(version_id) FROM tenantry.schema_migrations
		ORDER BY 1`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestMigrate_SecondRunChangesNothing(t *testing.T) {
	db := pgtest.New(t) // already migrated once (and once more after cloning)
	conn := connect(t, db.SuperURL)
	before := catalogSnapshot(t, conn)

	res, err := migrations.Migrate(context.Background(), db.SuperURL, migrations.Options{Partitions: 32})
	require.NoError(t, err)
	require.Empty(t, res.Applied)
	require.Empty(t, res.Functions)
	require.Equal(t, 16, res.Partitions, "the partition count is fixed at the first migrate")
	require.Equal(t, before, catalogSnapshot(t, conn))
}

// A database built by the migrations before the baseline squash records versions up to 18,
// which this release does not ship: migrate says so, and changes nothing.
func TestMigrate_RefusesADatabaseFromBeforeTheBaselineSquash(t *testing.T) {
	db := pgtest.New(t)
	conn := connect(t, db.SuperURL)
	_, err := conn.Exec(context.Background(), `INSERT INTO tenantry.schema_migrations (version_id, is_applied) VALUES (18, true)`)
	require.NoError(t, err)
	before := catalogSnapshot(t, conn)
	_, err = migrations.Migrate(context.Background(), db.SuperURL, migrations.Options{})
	require.ErrorIs(t, err, migrations.ErrUnknownSchemaVersion)
	require.ErrorContains(t, err, "clean-data")
	require.Equal(t, before, catalogSnapshot(t, conn))
}

func TestMigrate_CreatesSafeRolesAndOwnership(t *testing.T) {
	db := pgtest.New(t)
	conn := connect(t, db.SuperURL)
	ctx := context.Background()

	var super, bypass, login, createrole, createdb bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'tenantry_app'`).
		Scan(&super, &bypass, &login, &createrole, &createdb))
	require.Equal(t, []bool{false, false, true, false, false}, []bool{super, bypass, login, createrole, createdb})
	require.NoError(t, conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tenantry_owner'`).Scan(&super, &bypass))
	require.False(t, super || bypass)

	var foreign []string
	rows, err := conn.Query(ctx, `
		SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'tenantry' AND pg_get_userbyid(c.relowner) <> 'tenantry_owner'
		UNION ALL
		SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'tenantry' AND pg_get_userbyid(nspowner) <> 'tenantry_owner'`)
	require.NoError(t, err)
	foreign, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, foreign, "everything in schema tenantry is owned by tenantry_owner")

	// Every table that holds tenant data has RLS enabled and forced.
	rows, err = conn.Query(ctx, `
		SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'tenantry' AND c.relkind IN ('r', 'p')
		   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
		   AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`)
	require.NoError(t, err)
	open, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, open)

	// The runtime role holds no UPDATE or DELETE on the events, nor any privilege on partitions.
	var canUpdate, canDelete, canTruncate, canPartition bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT has_table_privilege('tenantry_app', 'tenantry.events', 'UPDATE'),
		has_table_privilege('tenantry_app', 'tenantry.events', 'DELETE'),
		has_table_privilege('tenantry_app', 'tenantry.events', 'TRUNCATE'),
		has_table_privilege('tenantry_app', 'tenantry.events_p0000', 'SELECT')`).Scan(&canUpdate, &canDelete, &canTruncate, &canPartition))
	require.False(t, canUpdate || canDelete || canTruncate || canPartition)

	// And passes the start-up check.
	require.NoError(t, eventstore.CheckRuntimeRole(ctx, connect(t, db.AppURL)))
}

func TestCheckRuntimeRole_RefusesRolesThatCouldBypassRLS(t *testing.T) {
	db := pgtest.New(t)
	conn := connect(t, db.SuperURL)
	ctx := context.Background()
	role := "tenantry_probe_" + db.Name[len(db.Name)-12:]
	cases := []struct {
		name  string
		setup []string
		want  string
	}{
		{"Superuser", []string{"CREATE ROLE %s LOGIN SUPERUSER"}, "is a superuser"},
		{"BypassRLS", []string{"CREATE ROLE %s LOGIN BYPASSRLS"}, "has BYPASSRLS"},
		{"MemberOfOwner", []string{"CREATE ROLE %s LOGIN", "GRANT tenantry_owner TO %s"}, `member of "tenantry_owner"`},
		{"OwnsATenantTable", []string{"CREATE ROLE %s LOGIN", "GRANT CREATE ON SCHEMA tenantry TO %s", "SET ROLE %s", "CREATE TABLE tenantry.sneaky (tenant_id uuid)", "RESET ROLE"}, "owns tenantry.sneaky"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() {
				for _, s := range []string{"DROP TABLE IF EXISTS tenantry.sneaky", "REVOKE CREATE ON SCHEMA tenantry FROM " + role, "DROP ROLE IF EXISTS " + role} {
					_, _ = conn.Exec(ctx, s)
				}
			})
			for _, s := range c.setup {
				if strings.Contains(s, "%s") {
					s = fmt.Sprintf(s, role)
				}
				_, err := conn.Exec(ctx, s)
				require.NoError(t, err, s)
			}
			url, err := migrations.AppURL(db.SuperURL, "")
			require.NoError(t, err)
			url = replaceUser(t, url, role)
			err = eventstore.CheckRuntimeRole(ctx, connect(t, url))
			require.ErrorIs(t, err, eventstore.ErrUnsafeRole)
			require.Contains(t, err.Error(), c.want)
		})
	}
	t.Run("SuperuserURLItself", func(t *testing.T) {
		err := eventstore.CheckRuntimeRole(ctx, conn)
		require.ErrorIs(t, err, eventstore.ErrUnsafeRole)
	})
}

func TestCheckRuntimeRole_RefusesAnUnmigratedDatabase(t *testing.T) {
	ctx := context.Background()
	admin := connect(t, pgtest.BaseURL())
	name := "tenantry_test_empty_" + randomSuffix(t)
	_, err := admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	url, err := migrations.WithDatabase(pgtest.BaseURL(), name)
	require.NoError(t, err)
	url, err = migrations.AppURL(url, "")
	require.NoError(t, err)
	err = eventstore.CheckRuntimeRole(ctx, connect(t, url))
	require.ErrorContains(t, err, "run `tenantry migrate` first")
}

func TestAppURL(t *testing.T) {
	got, err := migrations.AppURL("postgres://root:secret@db.example:6543/app?sslmode=require", "")
	require.NoError(t, err)
	require.Equal(t, "postgres://tenantry_app@db.example:6543/app?sslmode=require", got)
	got, err = migrations.AppURL("postgresql://root@h/app", "p@ss w")
	require.NoError(t, err)
	require.Equal(t, "postgresql://tenantry_app:p%40ss%20w@h/app", got)
	_, err = migrations.AppURL("host=localhost user=root", "")
	require.ErrorContains(t, err, "TENANTRY_APP_DATABASE_URL")
	require.Equal(t, "postgres://root:xxxxx@h/db", migrations.Redact("postgres://root:secret@h/db"))
}
