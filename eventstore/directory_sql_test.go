package eventstore_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// listed writes tenant's directory row as the directory projector does.
func listed(t *testing.T, worker *eventstore.Store, tenant uuid.UUID, slug string, customer *string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, worker.RefreshDirectory(ctx(t), tenant, func() (*eventstore.DirectoryRow, error) {
		return &eventstore.DirectoryRow{Tenant: tenant, Slug: slug, Name: "Tenant " + slug, Status: "active", PlanOn: eventstore.PlanOn{Plan: "pro", PlanVersion: 1, Interval: "monthly"},
			StripeCustomerID: customer, CreatedAt: now, UpdatedAt: now, Seq: 3}, nil
	}))
}

func TestFindTenant_LooksUpBySlugOrId_AndByStripeCustomer(t *testing.T) {
	t.Parallel()
	worker, app := workerStore(t, 1), appStore(t, 1)
	a, b := newTenant(t), newTenant(t)
	slugA, slugB := freshSlug(), freshSlug()
	customer := "cus_" + uuid.NewString()
	listed(t, worker, a, slugA, &customer)
	listed(t, worker, b, slugB, nil)

	for _, ref := range []string{slugA, a.String()} {
		e, err := app.FindTenant(ctx(t), ref)
		require.NoError(t, err, ref)
		require.Equal(t, a, e.ID, ref)
		require.Equal(t, slugA, e.Slug)
		require.Equal(t, "tenant_"+hexOf(a), e.Schema)
		require.Equal(t, customer, e.StripeCustomerID)
	}
	e, err := app.FindTenant(ctx(t), slugB)
	require.NoError(t, err)
	require.Equal(t, b, e.ID)
	require.Empty(t, e.StripeCustomerID)

	_, err = app.FindTenant(ctx(t), freshSlug())
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound)
	_, err = app.FindTenant(ctx(t), uuid.NewString())
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound)
	_, err = app.FindTenant(ctx(t), b.String()[:8])
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound, "a prefix of an id is no id")

	e, err = worker.FindTenantByCustomer(ctx(t), customer)
	require.NoError(t, err)
	require.Equal(t, a, e.ID)
	_, err = worker.FindTenantByCustomer(ctx(t), "cus_unknown_"+uuid.NewString())
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound)
}

func TestRefreshDirectory_WritesNothingWhenReadSaysSo(t *testing.T) {
	t.Parallel()
	worker := workerStore(t, 1)
	tenant := newTenant(t)
	require.NoError(t, worker.RefreshDirectory(ctx(t), tenant, func() (*eventstore.DirectoryRow, error) { return nil, nil }))
	_, err := worker.FindTenant(ctx(t), tenant.String())
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound)
}

func TestRefreshDirectory_UnderOneTenantNeverWritesAnothersRow(t *testing.T) {
	t.Parallel()
	worker := workerStore(t, 1)
	a, b := newTenant(t), newTenant(t)
	now := time.Now().UTC()
	err := worker.RefreshDirectory(ctx(t), a, func() (*eventstore.DirectoryRow, error) {
		return &eventstore.DirectoryRow{Tenant: b, Slug: freshSlug(), Name: "B", Status: "active", PlanOn: eventstore.PlanOn{Plan: "pro", PlanVersion: 1, Interval: "monthly"},
			CreatedAt: now, UpdatedAt: now, Seq: 1}, nil
	})
	require.Equal(t, "42501", sqlState(err), "row-level security refuses B's row in A's context: %v", err)
	_, err = worker.FindTenant(ctx(t), b.String())
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound)
}
