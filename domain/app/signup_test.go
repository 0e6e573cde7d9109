package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

func TestParseSignUp_ReportsEveryInvalidFieldAtOnce(t *testing.T) {
	_, invalid := app.ParseSignUp("", "Not A Slug", "Platinum", "weekly", "nope")
	var fields []string
	for _, e := range invalid {
		require.Equal(t, domain.CodeInvalid, e.Code)
		require.NotEmpty(t, e.Message)
		fields = append(fields, e.Field)
	}
	require.Equal(t, []string{"name", "slug", "plan", "interval", "admin_email"}, fields)

	in, invalid := app.ParseSignUp("Acme", "acme", "", "", "admin@acme.example")
	require.Empty(t, invalid)
	require.Equal(t, domain.PlanFree, in.Plan, "no plan is the free plan")
}

func TestSignUp(t *testing.T) {
	t.Parallel()
	f := newTenancy(t)
	ctx := context.Background()

	t.Run("AppendsTheTenantAndItsFounderWithAnAdminKey", func(t *testing.T) {
		out, err := f.signUp.Run(ctx, signUpInput(t, "founded", "pro"))
		require.NoError(t, err)
		require.Equal(t, app.TenantSummary{ID: out.Tenant.ID, Name: "Acme founded", Slug: "founded", Plan: "pro", PlanVersion: 1,
			Interval: "monthly", Status: "active"}, out.Tenant)
		require.Equal(t, "admin", out.Admin.Role)
		ten, key, ok := app.ParseSecret(app.KeyScheme, out.APIKey.Key)
		require.True(t, ok)
		require.Equal(t, out.Tenant.ID, ten)
		require.Equal(t, out.APIKey.ID, key)

		created := f.stream(t, out.Tenant.ID, tenant.StreamID)
		require.Len(t, created, 1)
		require.IsType(t, tenant.Created{}, domain.Deref(created[0]))
		m, err := membership.Replay(f.stream(t, out.Tenant.ID, membership.StreamID))
		require.NoError(t, err)
		k, found := m.APIKey(out.APIKey.ID)
		require.True(t, found)
		require.Equal(t, membership.HashToken(out.APIKey.Key), k.KeySHA256, "only the key's hash is stored")
		require.Equal(t, out.Admin.ID, k.MemberID)
		head, _, err := f.store.Head(ctx, out.Tenant.ID)
		require.NoError(t, err)
		require.Equal(t, head, out.Seq, "the answer names the tenant's last event")
	})

	t.Run("RefusesASlugAnotherTenantHolds", func(t *testing.T) {
		f.signedUp(t, "taken")
		_, err := f.signUp.Run(ctx, signUpInput(t, "taken", "free"))
		require.ErrorIs(t, err, app.ErrSlugTaken)
		requireRefused(t, err, domain.CodeConflict)
	})

	t.Run("ReleasesTheSlugClaimWhenTheAppendFails", func(t *testing.T) {
		// A registry that knows no event type makes the append fail after the claim.
		broken := f.signUp
		broken.Events = eventstore.DomainStore{Store: f.store, Registry: eventstore.NewRegistry()}
		_, err := broken.Run(ctx, signUpInput(t, "retried", "free"))
		require.Error(t, err)
		require.NotErrorIs(t, err, app.ErrSlugTaken)

		out, err := f.signUp.Run(ctx, signUpInput(t, "retried", "free"))
		require.NoError(t, err, "the failed sign-up left its slug free")
		require.Equal(t, "retried", out.Tenant.Slug)
	})
}
