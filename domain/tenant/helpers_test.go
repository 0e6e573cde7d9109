package tenant_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

var (
	now      = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tenantID = uuid.MustParse("01956b7e-0000-7000-8000-000000000001")
	since    = now.Add(-time.Hour)
	grace    = now.Add(7 * 24 * time.Hour)
)

func mustName(t testing.TB, s string) tenant.Name {
	t.Helper()
	n, err := tenant.ParseName(s)
	require.NoError(t, err)
	return n
}

func mustSlug(t testing.TB, s string) domain.Slug {
	t.Helper()
	v, err := domain.ParseSlug(s)
	require.NoError(t, err)
	return v
}

func created(t testing.TB) tenant.Created {
	return tenant.Created{
		TenantID: tenantID, Name: mustName(t, "Acme"), Slug: mustSlug(t, "acme"),
		Plan: domain.PlanFree, PlanVersion: 1, Interval: plans.Monthly, CreatedAt: now.Add(-24 * time.Hour),
	}
}

// given replays events into a fresh tenant.
func given(t testing.TB, events ...domain.Event) *tenant.Tenant {
	t.Helper()
	tn, err := tenant.Replay(events)
	require.NoError(t, err)
	return tn
}

// requireOutcome checks a command's result: either exactly want, or an error
// with code.
func requireOutcome(t *testing.T, got []domain.Event, err error, want []domain.Event, code domain.Code) {
	t.Helper()
	if code != "" {
		require.Error(t, err)
		require.Equal(t, code, domain.ErrorCode(err), "error: %v", err)
		require.NotEmpty(t, err.Error())
		require.Nil(t, got)
		return
	}
	require.NoError(t, err)
	require.Equal(t, want, got)
}
