package client_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/client"
)

// The catalog routes through the client; only a dry run and a migration that moves no one,
// since the package's tests share one database (and so one catalog).
func TestClient_ReadsTheCatalogAndDryRunsADocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	list, _, err := e.operator.ListPlans(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, list.Plans)
	pro, _, err := e.operator.GetPlan(ctx, "pro")
	require.NoError(t, err)
	require.Equal(t, 1, pro.Versions[0].Version)

	zero := int64(0)
	doc := api.CatalogDocument{Plans: []api.CatalogPlan{{Key: "silver", Name: "Silver", Intervals: map[string]api.IntervalPriceRequest{"monthly": {}},
		Limits: api.PlanLimits{Seats: 5, RequestsPerSecond: 5, Burst: 5}, Metrics: map[string]api.PlanQuota{"api_calls": {Included: "100", Beyond: "hard"}}}}}
	out, _, err := e.operator.ApplyCatalog(ctx, doc, client.ApplyOptions{DryRun: true, CatalogVersion: &zero})
	require.NoError(t, err)
	require.True(t, out.DryRun)
	require.Equal(t, api.CatalogChange{Key: "silver", Status: "added", Version: 1}, out.Plans[0])

	moved, _, err := e.operator.MigrateTenants(ctx, "pro", api.MigrateTenantsRequest{FromVersion: 2, ToVersion: 1})
	var ce *client.Error
	require.ErrorAs(t, err, &ce, "pro has no version 2: %+v", moved)
	require.Equal(t, 400, ce.StatusCode)
}
