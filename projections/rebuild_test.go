package projections

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
)

var readModelTables = []string{"profile", "members", "invitations", "api_keys", "usage_hourly", "usage_daily", "billing"}

// snapshot is every row of every read model of a tenant, as text, in a stable order.
func (f *fixture) snapshot(t testing.TB, id uuid.UUID) map[string]string {
	t.Helper()
	out := map[string]string{}
	f.inTenant(t, id, func(tx pgx.Tx) {
		for _, table := range readModelTables {
			var rows *string
			require.NoError(t, tx.QueryRow(context.Background(),
				fmt.Sprintf(`SELECT string_agg(r::text, '|' ORDER BY r::text) FROM %s r`, pgx.Identifier{table}.Sanitize())).Scan(&rows))
			if rows != nil {
				out[table] = *rows
			}
		}
	})
	return out
}

func TestRebuild_ProducesTheSameModelAndSwapsItIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	id := f.createTenant(t)
	f.append(t, id, tenant.StreamID, tenant.PlanChanged{From: domain.PlanPro, FromVersion: 1, To: domain.PlanEnterprise, ToVersion: 1, Interval: plans.Monthly})
	for i := 0; i < 120; i++ {
		f.append(t, id, usage.StreamID, usageEvent(t, i))
	}
	p := f.projector()
	f.projectAll(t, p, id)
	before := f.snapshot(t, id)
	require.NotEmpty(t, before["usage_daily"])

	var calls []int64
	require.NoError(t, p.Rebuild(context.Background(), id, func(done, total int64) { calls = append(calls, done); require.Equal(t, int64(123), total) }))
	require.Equal(t, before, f.snapshot(t, id))
	require.Equal(t, int64(123), calls[len(calls)-1])
	require.NoError(t, f.store.WaitFor(context.Background(), id, 123, time.Second))

	// The projector carries on from the rebuilt checkpoint without re-applying anything.
	f.append(t, id, usage.StreamID, usageEvent(t, 999))
	f.projectAll(t, p, id)
	f.inTenant(t, id, func(tx pgx.Tx) {
		var calls int
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT sum(quantity) FROM usage_daily`).Scan(&calls))
		require.Equal(t, 121, calls)
	})
}

// Readers during rebuilds see the whole model every time: the old one or the new one.
func TestRebuild_ConcurrentReadersNeverSeeAPartialModel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8)
	id := f.createTenant(t)
	const events = 800
	for i := 0; i < events/100; i++ {
		batch := make([]domain.Event, 100)
		for j := range batch {
			batch[j] = usageEvent(t, i*100+j)
		}
		f.append(t, id, usage.StreamID, batch...)
	}
	p := f.projector()
	p.BatchSize = 200
	f.projectAll(t, p, id)

	ctx, cancel := context.WithCancel(context.Background())
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := pgx.BeginFunc(context.Background(), f.pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(context.Background(), `SELECT set_config('tenantry.tenant_id', $1, true), set_config('search_path', tenantry.tenant_schema_name($1::uuid), true)`, id.String()); err != nil {
						return err
					}
					var sum, members int
					if err := tx.QueryRow(context.Background(), `SELECT (SELECT sum(quantity) FROM usage_daily), (SELECT count(*) FROM members)`).Scan(&sum, &members); err != nil {
						return err
					}
					if sum != events || members != 1 {
						return fmt.Errorf("partial model: %d usage, %d members", sum, members)
					}
					return nil
				})
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for i := 0; i < 3; i++ {
		require.NoError(t, p.Rebuild(context.Background(), id, nil))
	}
	cancel()
	wg.Wait()
	require.Greater(t, reads.Load(), int64(10))
}

func TestRebuild_StopsOnAPoisonEventAndLeavesTheLiveModel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	id := f.createTenant(t)
	f.append(t, id, usage.StreamID, usageEvent(t, 1))
	_, err := f.store.Append(context.Background(), id, "odd", -1, eventsOfUnknownType())
	require.NoError(t, err)
	p := f.projector()
	f.projectAll(t, p, id) // stops at the poison event, with the usage applied
	before := f.snapshot(t, id)
	require.NotEmpty(t, before["usage_daily"])
	err = p.Rebuild(context.Background(), id, nil)
	require.ErrorIs(t, err, ErrRebuildStopped)
	require.Equal(t, before, f.snapshot(t, id))
}
