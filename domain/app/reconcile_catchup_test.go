package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/billing"
)

func TestReconcile_WithCatchUp_ReadsUsageRecordedAndReportedJustBefore(t *testing.T) {
	f := newBillingFixture(t)
	steps := f.cycle(t)
	ctx := context.Background()
	id := f.createTenant(t, domain.PlanPro)
	_, err := steps.Provision(ctx, id)
	require.NoError(t, err)
	h := f.clock().Truncate(time.Hour)
	f.record(t, id, 4, h.Add(-2*time.Hour+time.Minute))
	rec := app.NewReconcile(billing.UsageLedger{Store: f.store}, 5*time.Minute)

	// One call each, no polling: the use case waits for the read models itself.
	before, err := rec.Run(ctx, app.ReconcileInput{Tenant: id, Now: f.clock(), CatchUp: 30 * time.Second})
	require.NoError(t, err)
	require.NoError(t, before.Behind)
	require.Len(t, before.Lines, 1)
	require.Equal(t, "4", before.Lines[0].Recorded.String(), "the usage recorded just before")
	require.Equal(t, 1, before.Differences)

	n, err := steps.PushUsage(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	after, err := rec.Run(ctx, app.ReconcileInput{Tenant: id, Now: f.clock(), CatchUp: 30 * time.Second})
	require.NoError(t, err)
	require.NoError(t, after.Behind)
	require.Len(t, after.Lines, 1)
	require.Equal(t, "4", after.Lines[0].Reported.String(), "the push just done shows as reported")
	require.Zero(t, after.Differences)
}

func TestReconcile_WithCatchUp_SaysWhenTheReadModelsStayBehind(t *testing.T) {
	db := pgtest.New(t)
	store := eventstore.New(pgtest.Pool(t, db.WorkerURL, 2))
	ctx := context.Background()
	id := uuid.New()
	raw := func(typ string) eventstore.NewEvent {
		return eventstore.NewEvent{ID: uuid.New(), Type: typ, SchemaVersion: 1, Data: []byte(`{}`), Metadata: eventstore.Metadata{Actor: "test"}}
	}
	// Read models provisioned, and no projector running: they never include what follows.
	_, err := store.Append(ctx, id, "tenant", eventstore.NoStream, raw("tenant.created"))
	require.NoError(t, err)
	require.NoError(t, store.InProjection(ctx, id, func(tx *eventstore.ProjectionTx) error {
		if _, _, _, err := tx.Lock(ctx, eventstore.ProjectionAuth, ""); err != nil {
			return err
		}
		return tx.Provision(ctx)
	}))
	_, err = store.Append(ctx, id, "other", eventstore.Any, raw("thing.happened"))
	require.NoError(t, err)
	rec := app.NewReconcile(billing.UsageLedger{Store: store}, 5*time.Minute)

	r, err := rec.Run(ctx, app.ReconcileInput{Tenant: id, Now: time.Now(), CatchUp: 100 * time.Millisecond})
	require.NoError(t, err, "stale figures are still figures")
	require.ErrorIs(t, r.Behind, context.DeadlineExceeded)
	require.Empty(t, r.Lines)

	r, err = rec.Run(ctx, app.ReconcileInput{Tenant: id, Now: time.Now()})
	require.NoError(t, err)
	require.NoError(t, r.Behind, "without CatchUp nothing is waited for")
}
