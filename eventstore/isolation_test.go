package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// inTenantTx runs fn as tenantry_app in a transaction whose tenant context is tenant
// (uuid.Nil: no context at all).
func inTenantTx(t *testing.T, tenant uuid.UUID, fn func(tx pgx.Tx) error) error {
	t.Helper()
	pool := appStore(t, 1).Pool()
	return pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		if tenant != uuid.Nil {
			if _, err := tx.Exec(context.Background(), "SELECT set_config('tenantry.tenant_id', $1, true)", tenant.String()); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

func countEvents(t *testing.T, tx pgx.Tx, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, tx.QueryRow(context.Background(), "SELECT count(*) FROM tenantry.events "+where, args...).Scan(&n))
	return n
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestRLS_RuntimeRoleSeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	s := appStore(t, 2)
	a, b := newTenant(t), newTenant(t)
	_, err := s.Append(ctx(t), a, "s", eventstore.Any, evs("thing.happened", 3)...)
	require.NoError(t, err)
	_, err = s.Append(ctx(t), b, "s", eventstore.Any, evs("thing.happened", 5)...)
	require.NoError(t, err)

	t.Run("TenantContextSeesOnlyItsOwnRows", func(t *testing.T) {
		require.NoError(t, inTenantTx(t, a, func(tx pgx.Tx) error {
			require.Equal(t, 3, countEvents(t, tx, "WHERE tenant_id = $1", a))
			require.Equal(t, 0, countEvents(t, tx, "WHERE tenant_id = $1", b), "B's rows are invisible even when asked for by id")
			require.Equal(t, 3, countEvents(t, tx, "WHERE tenant_id IN ($1, $2)", a, b), "a query that forgets its filter sees only A")
			var heads int
			require.NoError(t, tx.QueryRow(ctx(t), "SELECT count(*) FROM tenantry.tenant_heads WHERE tenant_id IN ($1, $2)", a, b).Scan(&heads))
			require.Equal(t, 1, heads)
			return nil
		}))
	})
	t.Run("NoContextSeesNothing", func(t *testing.T) {
		require.NoError(t, inTenantTx(t, uuid.Nil, func(tx pgx.Tx) error {
			require.Equal(t, 0, countEvents(t, tx, "WHERE tenant_id IN ($1, $2)", a, b))
			return nil
		}))
		// An empty string (what a reset setting looks like) fails closed too.
		require.NoError(t, inTenantTx(t, uuid.Nil, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), "SELECT set_config('tenantry.tenant_id', '', true)")
			require.NoError(t, err)
			require.Equal(t, 0, countEvents(t, tx, "WHERE tenant_id IN ($1, $2)", a, b))
			return nil
		}))
	})
	t.Run("ContextDoesNotOutliveItsTransaction", func(t *testing.T) {
		pool := appStore(t, 1).Pool() // one connection: the next transaction reuses it
		require.NoError(t, pgx.BeginFunc(ctx(t), pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), "SELECT set_config('tenantry.tenant_id', $1, true)", a.String())
			return err
		}))
		var n int
		require.NoError(t, pool.QueryRow(ctx(t), "SELECT count(*) FROM tenantry.events WHERE tenant_id = $1", a).Scan(&n))
		require.Zero(t, n)
	})
	t.Run("WritingAnotherTenantsEventsIsRefused", func(t *testing.T) {
		err := inTenantTx(t, a, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), `SELECT * FROM tenantry.append_events($1, 's', -1, ARRAY[$2::uuid], ARRAY['thing.happened'], ARRAY[1], ARRAY['{}'], ARRAY['{}'])`, b, uuid.New())
			return err
		})
		require.Error(t, err)
		require.Equal(t, "42501", sqlState(err), "RLS refuses: %v", err)

		err = inTenantTx(t, a, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), `INSERT INTO tenantry.events (tenant_id, seq, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at, tx_id, position, prev_hash, hash)
				VALUES ($1, 99, 's', 99, $2, 'thing.happened', 1, '{}', '{}', now(), pg_current_xact_id(), 0, sha256(''), sha256(''))`, b, uuid.New())
			return err
		})
		require.Equal(t, "42501", sqlState(err), "a direct insert is refused (no INSERT grant; RLS too): %v", err)

		err = inTenantTx(t, uuid.Nil, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), `SELECT * FROM tenantry.append_events($1, 's', -1, ARRAY[$2::uuid], ARRAY['thing.happened'], ARRAY[1], ARRAY['{}'], ARRAY['{}'])`, b, uuid.New())
			return err
		})
		require.Equal(t, "42501", sqlState(err), "no context, no write: %v", err)

		events, err := s.ReadTenant(ctx(t), b, 0, 0)
		require.NoError(t, err)
		require.Len(t, events, 5)
	})
	t.Run("PartitionsAreNotADoorAround", func(t *testing.T) {
		err := inTenantTx(t, a, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), "SELECT count(*) FROM tenantry.events_p0000")
			return err
		})
		require.Equal(t, "42501", sqlState(err), "no grant on partitions: %v", err)
	})
}

func TestImmutability_UpdateDeleteTruncateAreRefusedForEveryone(t *testing.T) {
	t.Parallel()
	s := appStore(t, 1)
	tenant := newTenant(t)
	_, err := s.Append(ctx(t), tenant, "s", eventstore.Any, evs("thing.happened", 2)...)
	require.NoError(t, err)

	statements := []string{
		"UPDATE tenantry.events SET data = '{}' WHERE tenant_id = $1",
		"DELETE FROM tenantry.events WHERE tenant_id = $1",
		"TRUNCATE tenantry.events",
		"TRUNCATE tenantry.events_p0000, tenantry.events_p0001, tenantry.events_p0002, tenantry.events_p0003",
	}
	requireRefusedForEveryone(t, tenant, statements...)
	rep, err := s.VerifyChain(ctx(t), tenant)
	require.NoError(t, err)
	require.True(t, rep.OK)
	require.Equal(t, int64(2), rep.Events)
}

// requireRefusedForEveryone runs each statement (with the tenant as $1 unless it is a
// TRUNCATE) as the runtime role, which must lack the grant, and as the owner and a
// superuser, whom the trigger must stop.
func requireRefusedForEveryone(t *testing.T, tenant uuid.UUID, statements ...string) {
	t.Helper()
	for _, sql := range statements {
		err := inTenantTx(t, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx(t), sql, argsFor(sql, tenant)...)
			return err
		})
		require.Equal(t, "42501", sqlState(err), "app: %s: %v", sql, err)
		for _, role := range []string{"tenantry_owner", ""} {
			err := pgx.BeginFunc(ctx(t), superPool(t), func(tx pgx.Tx) error {
				if role != "" {
					if _, err := tx.Exec(ctx(t), "SET LOCAL ROLE "+role); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx(t), sql, argsFor(sql, tenant)...)
				return err
			})
			require.Equal(t, "TYM01", sqlState(err), "role %q: %s: %v", role, sql, err)
		}
	}
}

func argsFor(sql string, tenant uuid.UUID) []any {
	if len(sql) > 8 && sql[:8] == "TRUNCATE" {
		return nil
	}
	return []any{tenant}
}
