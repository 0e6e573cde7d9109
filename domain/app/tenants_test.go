package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

func TestTenants(t *testing.T) {
	t.Parallel()
	f := newTenancy(t)
	ctx := context.Background()

	t.Run("ChangePlanEmitsPlanChanged", func(t *testing.T) {
		id := f.signedUp(t, "upgrade").Tenant.ID
		ch, err := f.tenants.ChangePlan(ctx, id, domain.PlanPro, plans.Interval{}, byTest)
		require.NoError(t, err)
		require.Equal(t, domain.PlanPro, ch.Tenant.Plan())
		events := f.stream(t, id, tenant.StreamID)
		require.Equal(t, tenant.PlanChanged{From: domain.PlanFree, FromVersion: 1, To: domain.PlanPro, ToVersion: 1, Interval: plans.Monthly}, domain.Deref(events[len(events)-1]))
		head, _, err := f.store.Head(ctx, id)
		require.NoError(t, err)
		require.Equal(t, head, ch.Seq)

		_, err = f.tenants.ChangePlan(ctx, id, domain.PlanPro, plans.Interval{}, byTest)
		requireRefused(t, err, domain.CodeConflict)
		require.Len(t, f.stream(t, id, tenant.StreamID), len(events), "a refused change writes nothing")
	})

	t.Run("RenameAndTheOperatorsLifecycle", func(t *testing.T) {
		id := f.signedUp(t, "lifecycle").Tenant.ID
		ch, err := f.tenants.Rename(ctx, id, "Renamed", byTest)
		require.NoError(t, err)
		require.Equal(t, "Renamed", ch.Tenant.Name().String())

		ch, err = f.tenants.Suspend(ctx, id, tenant.ReasonOperator, "abuse", byTest)
		require.NoError(t, err)
		require.Equal(t, tenant.StatusSuspended, ch.Tenant.Status())
		require.Equal(t, "abuse", ch.Tenant.SuspendNote())
		ch, err = f.tenants.ChangePlan(ctx, id, domain.PlanPro, plans.Interval{}, byTest) // a suspended tenant may change plan
		require.NoError(t, err)
		require.Equal(t, []any{domain.PlanPro, tenant.StatusSuspended}, []any{ch.Tenant.Plan(), ch.Tenant.Status()})

		ch, err = f.tenants.Reactivate(ctx, id, byTest)
		require.NoError(t, err)
		require.Equal(t, tenant.StatusActive, ch.Tenant.Status())
		ch, err = f.tenants.Close(ctx, id, "bye", byTest)
		require.NoError(t, err)
		require.Equal(t, tenant.StatusClosed, ch.Tenant.Status())
		_, err = f.tenants.Reactivate(ctx, id, byTest)
		requireRefused(t, err, domain.CodeConflict)
		require.Len(t, f.stream(t, id, tenant.StreamID), 6) // created, renamed, suspended, plan changed, reactivated, closed
	})
}
