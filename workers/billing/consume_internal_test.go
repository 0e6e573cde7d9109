package billing

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Consume queues a tenant for prompt provisioning when a relayed message carries its
// tenant.created or tenant.plan_changed among other events, and only then; every message is
// acknowledged.
func TestConsume_QueuesTenantsWhosePlanWasSet(t *testing.T) {
	w := &Worker{provision: make(chan uuid.UUID, provisionQueue)}
	event := func(tenantID uuid.UUID, seq int64, typ string) eventstore.Event {
		return eventstore.Event{TenantID: tenantID, Seq: seq, StreamID: "s", StreamVersion: seq, ID: uuid.New(), Type: typ,
			SchemaVersion: 1, Data: []byte(`{}`), Metadata: []byte(`{}`)}
	}
	usageOnly, created, changed := uuid.New(), uuid.New(), uuid.New()
	var msgs []*message.Message
	for _, batch := range [][]eventstore.Event{
		{event(usageOnly, 7, usage.TypeRecorded), event(usageOnly, 8, usage.TypeRecorded)},
		{event(created, 1, tenant.TypeCreated), event(created, 2, usage.TypeRecorded)},
		{event(changed, 5, usage.TypeRecorded), event(changed, 6, tenant.TypePlanChanged)},
	} {
		m, err := eventstore.EventsMessage(batch)
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	ch := make(chan *message.Message, len(msgs))
	for _, m := range msgs {
		ch <- m
	}
	close(ch)
	w.Consume(context.Background(), ch)

	var queued []uuid.UUID
	for len(w.provision) > 0 {
		queued = append(queued, <-w.provision)
	}
	require.Equal(t, []uuid.UUID{created, changed}, queued)
	for _, m := range msgs {
		select {
		case <-m.Acked():
		case <-time.After(time.Second):
			t.Fatal("a message was not acknowledged")
		}
	}
}
