package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/client"
)

func TestClient_IntrospectsAnAPIKeyWithTheServiceToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	_, created := e.tenant(t, "pro")
	svc := e.operator.With(client.WithToken(serviceToken))
	got, res, err := svc.IntrospectAPIKey(ctx, api.IntrospectionRequest{Token: created.APIKey.Key})
	require.NoError(t, err)
	require.True(t, got.Active)
	require.Equal(t, created.Tenant.ID, got.Tenant.ID)
	require.Equal(t, created.Admin.ID, got.Member.ID)
	require.Equal(t, "admin", got.Role)
	require.NotNil(t, got.Limits)
	require.Equal(t, "private, max-age=2", res.Header.Get("Cache-Control"))

	got, _, err = svc.IntrospectAPIKey(ctx, api.IntrospectionRequest{Token: "not-a-key"})
	require.NoError(t, err, "an inactive key is an answer")
	require.Equal(t, api.Introspection{Active: false}, got)
}

func TestClient_IteratesOverTheEventFeedAndWaitsForTheNextEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, _ := e.tenant(t, "pro")
	for i := range 3 {
		_, _, err := c.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{{Metric: "api_calls", Quantity: "1", IdempotencyKey: "k" + string(rune('a'+i))}}})
		require.NoError(t, err)
	}
	var last int64
	for ev, err := range c.Events(ctx, 2) {
		require.NoError(t, err)
		require.Equal(t, last+1, ev.Seq)
		last = ev.Seq
	}
	require.GreaterOrEqual(t, last, int64(4))

	// Wait from the last page's cursor: woken by the next event.
	page, _, err := c.ListEvents(ctx, client.PageParams{Limit: 1000}, 0)
	require.NoError(t, err)
	require.NotNil(t, page.NextCursor)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _, _ = c.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{{Metric: "api_calls", Quantity: "1", IdempotencyKey: "late"}}})
	}()
	start := time.Now()
	next, _, err := c.ListEvents(ctx, client.PageParams{Cursor: *page.NextCursor}, 20*time.Second)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, next.Items, 1)
	require.Equal(t, last+1, next.Items[0].Seq)
}

func TestClient_ReadsAndChecksEntitlements(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, _ := e.tenant(t, "pro")
	rec, _, err := c.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{{Metric: "api_calls", Quantity: "2", IdempotencyKey: "ent"}}})
	require.NoError(t, err)
	got, _, err := c.GetEntitlements(ctx, client.WithMinSeq(rec.Seq))
	require.NoError(t, err)
	require.Equal(t, "pro", got.Plan)
	require.GreaterOrEqual(t, got.Seq, rec.Seq)
	require.Empty(t, got.Metrics, "the default catalog's plans set no quota")
	check, _, err := c.CheckEntitlement(ctx, api.EntitlementCheckRequest{Feature: "sso"})
	require.NoError(t, err)
	require.Equal(t, api.EntitlementCheck{Allowed: false, Reason: "not_in_plan", Message: check.Message, Feature: "sso",
		PeriodEnd: got.PeriodEnd, Seq: check.Seq}, check)
	require.NotEmpty(t, check.Message)
}
