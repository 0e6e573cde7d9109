package projections

import (
	"context"

	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/eventstore"
)

// ProjectionWebhooks is the checkpoint name of the webhooks projection.
const ProjectionWebhooks = "webhooks"

// webhooksProjection queues, for each event of a tenant, one delivery per enabled webhook
// endpoint (the tenant's and the operator's) that wants its type and existed when it was
// recorded. It runs in the tenant's projection transaction with its own checkpoint, so each
// event is queued exactly once; the deliveries' primary key makes a replay add nothing. The
// body is built here, once: its data is the event's as stored.
func webhooksProjection() *moduleProjection {
	return &moduleProjection{name: ProjectionWebhooks, raw: func(ctx context.Context, tx *eventstore.ProjectionTx, e *eventstore.Event) error {
		if wanted, err := tx.WebhooksWanted(ctx); err != nil || !wanted {
			return err
		}
		body, err := webhook.Body{ID: e.ID, Type: e.Type, TenantID: e.TenantID, Seq: e.Seq, CreatedAt: e.RecordedAt, Data: e.Data}.Encode()
		if err != nil {
			return err
		}
		_, err = tx.EnqueueWebhooks(ctx, *e, body)
		return err
	}}
}
