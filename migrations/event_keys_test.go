package migrations_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// gooseAsOwner is a goose provider over db's shared migrations, run as tenantry_owner like
// Migrate runs them.
func gooseAsOwner(t *testing.T, db *pgtest.DB) *goose.Provider {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.SuperURL)
	require.NoError(t, err)
	sqlDB := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+migrations.OwnerRole)
		return err
	}))
	t.Cleanup(func() { sqlDB.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.SharedFS(),
		goose.WithTableName(migrations.Schema+".schema_migrations"), goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	return p
}

// Usage records stored one event each before migration 13 are claimed by it: a retry of
// such a record after the upgrade, alone or in a batch, is still a duplicate. Its Down
// restores the previous append_events, which the Up then replaces again.
func TestEventKeys_MigrationClaimsTheRecordsStoredBeforeIt(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	p := gooseAsOwner(t, db)
	_, err := p.DownTo(ctx, 12)
	require.NoError(t, err)

	// A usage record as the previous version stored it: one event whose id is its key id.
	tenant, key := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	app := connect(t, db.AppURL)
	var seq int64
	require.NoError(t, app.QueryRow(ctx, `SELECT seq FROM tenantry.append_events(set_config('tenantry.tenant_id', $1::text, true)::uuid,
		'usage', -1, ARRAY[$2::uuid], ARRAY['usage.recorded'], ARRAY[1], ARRAY['{"n": 1}'], ARRAY['{}'])`, tenant, key).Scan(&seq))

	_, err = migrations.Migrate(ctx, db.SuperURL, migrations.Options{})
	require.NoError(t, err)
	store := eventstore.New(pgtest.Pool(t, db.AppURL, 2))
	claimed, err := store.ClaimedKeys(ctx, tenant, []uuid.UUID{key})
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]int64{key: seq}, claimed)
	_, err = store.Append(ctx, tenant, "usage", eventstore.Any, eventstore.NewEvent{Type: "usage.batch_recorded",
		SchemaVersion: 1, Data: []byte(`{"records": []}`), Keys: []uuid.UUID{uuid.Must(uuid.NewV7()), key}})
	require.ErrorIs(t, err, eventstore.ErrKeyClaimed)
}
