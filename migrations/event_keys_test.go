package migrations_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// The claimed idempotency keys are as immutable as the events that hold them: on a fresh
// database (baseline, then the function files, then the triggers that need them) UPDATE,
// DELETE and TRUNCATE are refused on the table and on each partition, even for a superuser,
// whom row-level security does not stop.
func TestEventKeys_RefuseUpdateDeleteAndTruncateOnAFreshDatabase(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	tenant, key := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err := eventstore.New(pgtest.Pool(t, db.AppURL, 1)).Append(ctx, tenant, "usage", eventstore.Any,
		eventstore.NewEvent{Type: "usage.batch_recorded", SchemaVersion: 1, Data: []byte(`{"records": []}`), Keys: []uuid.UUID{key}})
	require.NoError(t, err)

	super := connect(t, db.SuperURL)
	var part string
	require.NoError(t, super.QueryRow(ctx, `SELECT tableoid::regclass::text FROM tenantry.event_keys WHERE key_id = $1`, key).Scan(&part))
	for _, stmt := range []string{
		`UPDATE tenantry.event_keys SET seq = seq + 1 WHERE key_id = '` + key.String() + `'`,
		`DELETE FROM tenantry.event_keys WHERE key_id = '` + key.String() + `'`,
		`TRUNCATE tenantry.event_keys`,
		`UPDATE ` + part + ` SET seq = seq + 1`,
		`DELETE FROM ` + part,
		`TRUNCATE ` + part,
	} {
		err := pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		require.Equal(t, "TYM01", sqlState(err), "%s: %v", stmt, err)
	}
	var n int
	require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM tenantry.event_keys WHERE key_id = $1`, key).Scan(&n))
	require.Equal(t, 1, n)
}

// append_events refuses a key that names no event of its append (index 0, or past the
// last event), before it takes any lock, and claims a key that names one.
func TestAppendEvents_RefusesAKeyThatNamesNoEventOfItsAppend(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	app := connect(t, db.AppURL)
	tenant := uuid.Must(uuid.NewV7())
	appendWithKey := func(event int) error {
		_, err := app.Exec(ctx, `SELECT * FROM tenantry.append_events(
			p_tenant => set_config('tenantry.tenant_id', $1::text, true)::uuid, p_stream => 's', p_expected => -1,
			p_ids => ARRAY[gen_random_uuid()], p_types => ARRAY['usage.recorded'], p_versions => ARRAY[1],
			p_data => ARRAY['{}'], p_metadata => ARRAY['{}'], p_keys => ARRAY[gen_random_uuid()], p_key_events => ARRAY[$2::int])`,
			tenant, event)
		return err
	}
	for _, event := range []int{0, 2} {
		require.Equal(t, "22023", sqlState(appendWithKey(event)), "key naming event %d of 1", event)
	}
	require.NoError(t, appendWithKey(1))
	var keys int
	require.NoError(t, pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1::text, true)`, tenant); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM tenantry.event_keys`).Scan(&keys)
	}))
	require.Equal(t, 1, keys)
}
