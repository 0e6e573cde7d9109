package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

// catalogDoc is a catalog whose pro plan differs from the default one (yearly too, a
// trial, more seats) and that drops enterprise.
const catalogDoc = `{"plans": [
  {"key": "free", "name": "Free", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 5, "burst": 10}},
  {"key": "pro", "name": "Pro", "intervals": {"monthly": {}, "yearly": {"amount": 50000, "currency": "usd"}}, "trial_days": 14,
   "limits": {"seats": SEATS, "requests_per_second": 50, "burst": 100}}
]}`

func catalogDefs(t *testing.T, seats string) plans.Definitions {
	t.Helper()
	defs, err := plans.ParseDocument([]byte(strings.Replace(catalogDoc, "SEATS", seats, 1)))
	require.NoError(t, err)
	return defs
}

// catalogTenancy is a tenancy whose use cases follow a plan catalog over its event store.
func catalogTenancy(t *testing.T) (*tenancy, *app.PlanCatalog) {
	f := newTenancy(t)
	cat := app.NewPlanCatalog(f.events, plans.Default(domain.DefaultPlans()))
	f.signUp.Plans, f.tenants.Plans, f.members.Plans = cat, cat, cat
	return f, cat
}

func apply(t *testing.T, cat *app.PlanCatalog, defs plans.Definitions, dryRun bool) app.CatalogApplied {
	t.Helper()
	out, err := cat.Apply(context.Background(), app.ApplyCatalogInput{Definitions: defs, DryRun: dryRun, Expected: domain.Any, Meta: byTest})
	require.NoError(t, err)
	return out
}

func TestPlanCatalog_ApplyingTheSameDocumentTwiceAppendsNothingTheSecondTime(t *testing.T) {
	t.Parallel()
	f, cat := catalogTenancy(t)
	dry := apply(t, cat, catalogDefs(t, "30"), true)
	require.True(t, dry.DryRun)
	require.Equal(t, plans.Change{Key: "pro", Status: plans.Changed, Version: 2}, dry.Diff.Plans[1])
	require.Empty(t, f.stream(t, plans.Partition, plans.StreamID), "a dry run writes nothing")

	first := apply(t, cat, catalogDefs(t, "30"), false)
	require.Equal(t, dry.Diff, first.Diff)
	require.Equal(t, int64(2), first.CatalogVersion) // pro v2, enterprise retired
	second := apply(t, cat, catalogDefs(t, "30"), false)
	require.False(t, second.Diff.Changes())
	require.Equal(t, int64(2), second.CatalogVersion)
	require.Len(t, f.stream(t, plans.Partition, plans.StreamID), 2)

	// Another process reads the same catalog from the stream.
	other := app.NewPlanCatalog(f.events, plans.Default(domain.DefaultPlans()))
	fresh, err := other.Fresh(context.Background())
	require.NoError(t, err)
	p, ok := fresh.Current(domain.PlanPro)
	require.True(t, ok)
	require.Equal(t, 2, p.Version)
	require.Equal(t, 30, other.Limits(domain.PlanPro, 2).Seats)
	require.Equal(t, 25, other.Limits(domain.PlanPro, 1).Seats)
	require.True(t, fresh.Retired(domain.PlanEnterprise))

	// The deployment's partition verifies like any tenant's chain.
	report, err := f.store.VerifyChain(context.Background(), plans.Partition)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report)
}

func TestPlanCatalog_ConcurrentAppliesAtOneVersion_OneWinsTheOtherConflicts(t *testing.T) {
	t.Parallel()
	_, cat := catalogTenancy(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each a different document, each decided on catalog version 0 (a dry run's answer).
			_, errs[i] = cat.Apply(context.Background(), app.ApplyCatalogInput{Definitions: catalogDefs(t, strings.Repeat("9", i%5+1)+"0"),
				Expected: domain.NoStream, Meta: byTest})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireRefused(t, err, domain.CodeConflict)
	}
	require.Equal(t, 1, won)
}

func TestPlanCatalog_SignUpAndPlanChangeJoinTheCurrentVersion(t *testing.T) {
	t.Parallel()
	f, cat := catalogTenancy(t)
	ctx := context.Background()
	old, err := f.signUp.Run(ctx, signUpInput(t, "on-pro-one", "pro"))
	require.NoError(t, err)
	require.Equal(t, 1, old.Tenant.PlanVersion)
	apply(t, cat, catalogDefs(t, "30"), false)

	// A new tenant joins pro v2, yearly, in trial; the old one stays on v1.
	in := signUpInput(t, "on-pro-two", "pro")
	in.Interval = plans.Yearly
	out, err := f.signUp.Run(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 2, out.Tenant.PlanVersion)
	require.Equal(t, "yearly", out.Tenant.Interval)
	require.NotNil(t, out.Tenant.TrialEndsAt)
	require.Equal(t, f.now.AddDate(0, 0, 14), *out.Tenant.TrialEndsAt)
	oldT, _, err := app.Load(ctx, f.events, old.Tenant.ID, tenant.StreamID, func() *tenant.Tenant { return &tenant.Tenant{} })
	require.NoError(t, err)
	require.Equal(t, 1, oldT.Subscription().PlanVersion)
	require.Equal(t, 25, cat.Limits(domain.PlanPro, oldT.Subscription().PlanVersion).Seats, "limits follow the tenant's version")

	// Unknown and retired plans, and intervals a plan is not sold at, are invalid input.
	for _, tc := range []struct{ slug, plan, interval, field string }{
		{"gold-plan", "gold", "", "plan"}, {"ent-plan", "enterprise", "", "plan"}, {"free-yearly", "free", "yearly", "interval"},
	} {
		in := signUpInput(t, tc.slug, tc.plan)
		in.Interval, _ = plans.ParseInterval(tc.interval)
		_, err := f.signUp.Run(ctx, in)
		requireRefused(t, err, domain.CodeInvalid)
		require.Equal(t, tc.field, err.(*domain.Error).Field)
	}
	_, err = f.tenants.ChangePlan(ctx, old.Tenant.ID, domain.PlanEnterprise, plans.Monthly, byTest)
	requireRefused(t, err, domain.CodeInvalid)

	// Moving to the plan's current version is a plan change like any other.
	ch, err := f.tenants.ChangePlan(ctx, old.Tenant.ID, domain.PlanPro, plans.Yearly, byTest)
	require.NoError(t, err)
	require.Equal(t, tenant.Subscription{Plan: domain.PlanPro, PlanVersion: 2, Interval: plans.Yearly}, ch.Tenant.Subscription())
}

type fixedTenants []uuid.UUID

func (f fixedTenants) TenantsOnPlan(context.Context, domain.PlanName) ([]uuid.UUID, error) {
	return f, nil
}

func TestPlanMigration_MovesTenantsExplicitlyAndOnce(t *testing.T) {
	t.Parallel()
	f, cat := catalogTenancy(t)
	ctx := context.Background()
	a, err := f.signUp.Run(ctx, signUpInput(t, "mig-a", "pro"))
	require.NoError(t, err)
	b, err := f.signUp.Run(ctx, signUpInput(t, "mig-b", "pro"))
	require.NoError(t, err)
	c, err := f.signUp.Run(ctx, signUpInput(t, "mig-c", "free"))
	require.NoError(t, err)
	apply(t, cat, catalogDefs(t, "30"), false)
	mig := app.PlanMigration{Events: f.events, Plans: cat, Tenants: fixedTenants{a.Tenant.ID, b.Tenant.ID, c.Tenant.ID}, Now: func() time.Time { return f.now }}

	_, err = mig.Run(ctx, app.MigrateInput{Plan: domain.PlanPro, ToVersion: 3, Meta: byTest})
	requireRefused(t, err, domain.CodeNotFound)
	out, err := mig.Run(ctx, app.MigrateInput{Plan: domain.PlanPro, FromVersion: 1, ToVersion: 2, Meta: byTest})
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{a.Tenant.ID, b.Tenant.ID}, out.Moved)
	again, err := mig.Run(ctx, app.MigrateInput{Plan: domain.PlanPro, FromVersion: 1, ToVersion: 2, Meta: byTest})
	require.NoError(t, err)
	require.Empty(t, again.Moved, "a repeated migration moves no one twice")
	events := f.stream(t, a.Tenant.ID, tenant.StreamID)
	require.Equal(t, tenant.PlanChanged{From: domain.PlanPro, FromVersion: 1, To: domain.PlanPro, ToVersion: 2, Interval: plans.Monthly},
		domain.Deref(events[len(events)-1]))
	require.Len(t, f.stream(t, c.Tenant.ID, tenant.StreamID), 1, "a tenant on another plan is left alone")
}
