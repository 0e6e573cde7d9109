package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// tenantry_app inside tenant A's context could insert rows carrying A's id into tenant B's
// schema (and into B's rebuild shadow, which the swap makes live): row-level security
// compared tenant_id with the context only. Every table of a tenant schema now admits only
// the rows of the tenant it is named after.
func TestAppRole_CannotWriteIntoAnotherTenantsSchema(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	super := pgtest.Pool(t, db.SuperURL, 2)
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	for _, id := range []uuid.UUID{a, b} {
		appendAs(t, super, id)
		_, err := super.Exec(ctx, `SELECT tenantry.migrate_tenant_schema($1)`, id)
		require.NoError(t, err)
	}
	_, err := pgtest.Pool(t, db.WorkerURL, 1).Exec(ctx, `SELECT tenantry.rebuild_start($1)`, b)
	require.NoError(t, err)

	app := pgtest.Pool(t, db.AppURL, 2)
	inA := func(stmt string) error {
		return pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, a.String()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, stmt, a)
			return err
		})
	}
	schemaOf := func(id uuid.UUID) string { return "tenant_" + strings.ReplaceAll(id.String(), "-", "") }
	for _, schema := range []string{schemaOf(b), schemaOf(b) + "_rebuild"} {
		for _, stmt := range []string{
			`INSERT INTO %s.members (tenant_id, member_id, email, role, joined_at) VALUES ($1, gen_random_uuid(), 'planted@example.com', 'admin', now())`,
			`INSERT INTO %s.usage_hourly (tenant_id, metric, hour, quantity) VALUES ($1, 'planted', now(), 1)`,
		} {
			err := inA(fmt.Sprintf(stmt, schema))
			require.Error(t, err, "A's context wrote into %s", schema)
			require.Equal(t, "42501", sqlState(err), "%v", err)
		}
	}
	// A's own schema takes A's rows as before.
	require.NoError(t, inA(fmt.Sprintf(`INSERT INTO %s.usage_hourly (tenant_id, metric, hour, quantity) VALUES ($1, 'own', now(), 1)`, schemaOf(a))))
}
