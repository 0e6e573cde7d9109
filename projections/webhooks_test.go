package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

func TestWebhooksProjection_QueuesEachEventOnceForMatchingEndpointsAndNoRebuildRequeues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	app := eventstore.New(pgtest.Pool(t, testDB.AppURL, 2))
	ctx := context.Background()
	id := f.createTenant(t) // recorded before any endpoint: never delivered
	endpoint := func(types ...string) uuid.UUID {
		e, err := app.CreateWebhookEndpoint(ctx, eventstore.WebhookEndpoint{ID: uuid.New(), Owner: id, URL: "https://example.com/h",
			EventTypes: types, SecretSealed: []byte("sealed")}, 16)
		require.NoError(t, err)
		return e.ID
	}
	all, renames := endpoint("*"), endpoint(tenant.TypeRenamed)
	f.append(t, id, tenant.StreamID, tenant.Renamed{Name: mustName(t, "Renamed")})
	f.append(t, id, usage.StreamID, usageEvent(t, 1))
	p := f.projector()
	p.Webhooks = true
	require.Contains(t, p.Names(), ProjectionWebhooks)
	f.projectAll(t, p, id)

	deliveries := func(ep uuid.UUID) []eventstore.WebhookDelivery {
		ds, err := app.WebhookDeliveries(ctx, id, ep, nil, 100)
		require.NoError(t, err)
		return ds
	}
	require.Len(t, deliveries(all), 2)
	require.Len(t, deliveries(renames), 1)
	head := f.head(t, id)
	seqs, failed := f.checkpoints(t, id)
	require.Empty(t, failed)
	require.Equal(t, head, seqs[ProjectionWebhooks])

	// The body is the event as stored: id, type, tenant, seq, time and data.
	var body []byte
	f.inTenant(t, id, func(tx pgx.Tx) {
		require.NoError(t, tx.QueryRow(ctx, `SELECT body FROM tenantry.webhook_deliveries WHERE endpoint_id = $1`, renames).Scan(&body))
	})
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	evs, err := f.store.ReadTenant(ctx, id, head-2, 1)
	require.NoError(t, err)
	require.Equal(t, evs[0].ID.String(), got["id"])
	require.Equal(t, tenant.TypeRenamed, got["type"])
	require.Equal(t, id.String(), got["tenant_id"])
	require.Equal(t, float64(evs[0].Seq), got["seq"])
	require.Equal(t, "Renamed", got["data"].(map[string]any)["name"], fmt.Sprint(got))

	// A rebuild neither queues again nor moves the webhooks checkpoint: the event recorded
	// just before it is queued afterwards by the projection, once.
	f.append(t, id, tenant.StreamID, tenant.Renamed{Name: mustName(t, "Again")})
	require.NoError(t, p.Rebuild(ctx, id, nil))
	seqs, _ = f.checkpoints(t, id)
	require.Equal(t, head, seqs[ProjectionWebhooks])
	require.Equal(t, head+1, seqs[ProjectionAuth])
	f.projectAll(t, p, id)
	require.Len(t, deliveries(all), 3)
	require.Len(t, deliveries(renames), 2)
}
