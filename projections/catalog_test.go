package projections

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// The isolation promise, read from the catalog after tenants were provisioned and rebuilt:
// every table in every tenant schema and every tenant-data table in tenantry has row-level
// security enabled and forced with a policy, is owned by tenantry_owner, and the runtime
// role owns nothing, cannot bypass RLS and cannot become a role that could.
func TestCatalog_EveryTenantTableIsIsolated(t *testing.T) {
	f := isolatedFixture(t, 4)
	p := f.projector()
	for i := 0; i < 3; i++ {
		id := f.createTenant(t)
		f.projectAll(t, p, id)
		if i == 0 {
			require.NoError(t, p.Rebuild(context.Background(), id, nil))
		}
	}
	ctx := context.Background()
	conn := f.pool // runtime role, for its own view of itself
	var superuser, bypass bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&superuser, &bypass))
	require.False(t, superuser || bypass)
	require.NoError(t, eventstore.CheckRuntimeRole(ctx, conn))

	rows, err := conn.Query(ctx, `
		SELECT n.nspname || '.' || c.relname,
		       c.relrowsecurity AND c.relforcerowsecurity,
		       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid),
		       pg_get_userbyid(c.relowner)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind IN ('r', 'p')
		   AND (n.nspname ~ '^tenant_[0-9a-f]{32}(_rebuild|_old)?$'
		        OR (n.nspname = 'tenantry' AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')))
		 ORDER BY 1`)
	require.NoError(t, err)
	type rel struct {
		name          string
		forced, polic bool
		owner         string
	}
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rel, error) {
		var x rel
		err := r.Scan(&x.name, &x.forced, &x.polic, &x.owner)
		return x, err
	})
	require.NoError(t, err)
	require.Greater(t, len(rels), 3*7, "three tenants' tables and the shared ones")
	for _, r := range rels {
		require.True(t, r.forced, "%s: RLS enabled and forced", r.name)
		require.True(t, r.polic, "%s: has a policy", r.name)
		require.Equal(t, "tenantry_owner", r.owner, r.name)
	}
	var owned int
	require.NoError(t, conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = 'tenantry_app'))
		+ (SELECT count(*) FROM pg_namespace WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = 'tenantry_app'))
		+ (SELECT count(*) FROM pg_proc WHERE proowner = (SELECT oid FROM pg_roles WHERE rolname = 'tenantry_app'))`).Scan(&owned))
	require.Zero(t, owned, "tenantry_app owns nothing")
}
