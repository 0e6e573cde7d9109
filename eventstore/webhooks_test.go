package eventstore_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func newEndpoint(t *testing.T, app *eventstore.Store, owner uuid.UUID, types ...string) eventstore.WebhookEndpoint {
	t.Helper()
	e, err := app.CreateWebhookEndpoint(ctx(t), eventstore.WebhookEndpoint{ID: uuid.New(), Owner: owner,
		URL: "https://example.com/" + owner.String(), EventTypes: types, SecretSealed: []byte("sealed")}, 16)
	require.NoError(t, err)
	return e
}

// enqueue records n events of typ for tenant and has the projector's transaction enqueue
// each one's webhooks, as the webhooks projection does.
func enqueue(t *testing.T, worker *eventstore.Store, tenant uuid.UUID, typ string, n int) []eventstore.Event {
	t.Helper()
	if n > 0 {
		_, err := worker.Append(ctx(t), tenant, "s-"+uuid.NewString()[:8], eventstore.Any, evs(typ, n)...)
		require.NoError(t, err)
	}
	var got []eventstore.Event
	require.NoError(t, worker.InProjection(ctx(t), tenant, func(tx *eventstore.ProjectionTx) error {
		if _, _, _, err := tx.Lock(ctx(t), eventstore.ProjectionUsage, ""); err != nil {
			return err
		}
		var err error
		got, err = tx.ReadEvents(ctx(t), 0, 1000, nil)
		require.NoError(t, err)
		for _, e := range got {
			if e.Type != typ {
				continue
			}
			if _, err := tx.EnqueueWebhooks(ctx(t), e, []byte(`{"seq":1}`)); err != nil {
				return err
			}
		}
		return nil
	}))
	return got
}

func TestWebhookEndpoints_AreScopedToTheirOwnerAndLimited(t *testing.T) {
	t.Parallel()
	app := appStore(t, 4)
	a, b := newTenant(t), newTenant(t)
	e := newEndpoint(t, app, a, "tenant.suspended")
	require.Equal(t, "enabled", e.Status)

	_, err := app.WebhookEndpoint(ctx(t), b, e.ID)
	require.ErrorIs(t, err, eventstore.ErrWebhookEndpointNotFound, "another tenant never sees the endpoint")
	list, err := app.WebhookEndpoints(ctx(t), b)
	require.NoError(t, err)
	require.Empty(t, list)
	require.ErrorIs(t, app.DeleteWebhookEndpoint(ctx(t), b, e.ID), eventstore.ErrWebhookEndpointNotFound)

	// Row-level security is the second line: a query without the owner filter, under b's
	// context, reads nothing of a's.
	var n int
	require.NoError(t, eventstore.InTenant(ctx(t), app.Pool(), b, true, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx(t), `SELECT count(*) FROM tenantry.webhook_endpoints`).Scan(&n)
	}))
	require.Zero(t, n)

	url, disabled := "https://example.org/x", "disabled"
	p, err := app.PatchWebhookEndpoint(ctx(t), a, e.ID, eventstore.WebhookEndpointPatch{URL: &url, Status: &disabled, DisabledReason: "by its owner"})
	require.NoError(t, err)
	require.Equal(t, url, p.URL)
	require.Equal(t, "disabled", p.Status)
	require.Equal(t, "by its owner", *p.DisabledReason)
	enabled := "enabled"
	p, err = app.PatchWebhookEndpoint(ctx(t), a, e.ID, eventstore.WebhookEndpointPatch{Status: &enabled})
	require.NoError(t, err)
	require.Nil(t, p.DisabledReason)

	r, err := app.RotateWebhookSecret(ctx(t), a, e.ID, []byte("sealed-2"), time.Hour)
	require.NoError(t, err)
	require.Equal(t, []byte("sealed-2"), r.SecretSealed)
	require.Equal(t, []byte("sealed"), r.PreviousSealed)
	require.WithinDuration(t, time.Now().Add(time.Hour), *r.PreviousExpiresAt, time.Minute)

	for range 15 {
		newEndpoint(t, app, a, "*")
	}
	_, err = app.CreateWebhookEndpoint(ctx(t), eventstore.WebhookEndpoint{ID: uuid.New(), Owner: a, URL: "https://x", EventTypes: []string{"*"}, SecretSealed: []byte("s")}, 16)
	require.ErrorIs(t, err, eventstore.ErrWebhookEndpointLimit)
	require.NoError(t, app.DeleteWebhookEndpoint(ctx(t), a, e.ID))
}

func TestEnqueueWebhooks_AddsOneDeliveryPerMatchingEndpointOnce(t *testing.T) {
	app, worker := appStore(t, 4), workerStore(t, 4)
	a, b := newTenant(t), newTenant(t)
	mine := newEndpoint(t, app, a, "thing.happened")
	other := newEndpoint(t, app, b, "*")
	notWanted := newEndpoint(t, app, a, "thing.other")
	op := newEndpoint(t, app, uuid.Nil, "*")

	enqueue(t, worker, a, "thing.happened", 3)
	enqueue(t, worker, a, "thing.happened", 0) // the replay of the first three adds nothing

	count := func(owner, ep uuid.UUID) int {
		ds, err := app.WebhookDeliveries(ctx(t), owner, ep, nil, 100)
		require.NoError(t, err)
		return len(ds)
	}
	require.Equal(t, 3, count(a, mine.ID))
	require.Equal(t, 0, count(b, other.ID))
	require.Equal(t, 0, count(a, notWanted.ID))
	// The operator's endpoint also gets tenant a's events (the other tests' tenants too:
	// count at least these).
	ds, err := app.WebhookDeliveries(ctx(t), uuid.Nil, op.ID, nil, 1000)
	require.NoError(t, err)
	var ofA int
	for _, d := range ds {
		if d.TenantID == a {
			ofA++
		}
	}
	require.Equal(t, 3, ofA)
	_, err = app.WebhookDeliveries(ctx(t), b, mine.ID, nil, 10)
	require.ErrorIs(t, err, eventstore.ErrWebhookEndpointNotFound)

	// Paging: newest first, the cursor continues after the last row.
	page, err := app.WebhookDeliveries(ctx(t), a, mine.ID, nil, 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	last := page[1]
	rest, err := app.WebhookDeliveries(ctx(t), a, mine.ID, &eventstore.WebhookDeliveryCursor{CreatedAt: last.CreatedAt, TenantID: last.TenantID, Seq: last.Seq}, 2)
	require.NoError(t, err)
	require.Len(t, rest, 1)
	require.Less(t, rest[0].Seq, last.Seq)
}

func TestClaimWebhooks_LeasesOnlyTheOldestPendingOfEachEndpointAndTenant(t *testing.T) {
	app, worker := appStore(t, 4), workerStore(t, 4)
	a := newTenant(t)
	ep := newEndpoint(t, app, a, "thing.happened")
	evsA := enqueue(t, worker, a, "thing.happened", 3)
	ds, err := app.WebhookDeliveries(ctx(t), a, ep.ID, nil, 10)
	require.NoError(t, err)
	require.Len(t, ds, 3)

	// Other tests' endpoints are due too: look at ours only, excluding none.
	mine := func(jobs []eventstore.WebhookJob) []eventstore.WebhookJob {
		var out []eventstore.WebhookJob
		for _, j := range jobs {
			if j.EndpointID == ep.ID {
				out = append(out, j)
			}
		}
		return out
	}
	jobs := mine(claimAll(t, worker))
	require.Len(t, jobs, 1)
	require.Equal(t, evsA[0].Seq, jobs[0].Seq)
	require.Empty(t, mine(claimAll(t, worker)), "a leased delivery holds back its pair's later ones")

	require.NoError(t, worker.CompleteWebhook(ctx(t), jobs[0], eventstore.WebhookOutcome{Status: 500, Error: "500", Retry: 0}))
	again := mine(claimAll(t, worker))
	require.Len(t, again, 1)
	require.Equal(t, evsA[0].Seq, again[0].Seq, "a failed delivery is retried before later ones")
	require.Equal(t, 1, again[0].Attempts)
	require.NoError(t, worker.CompleteWebhook(ctx(t), again[0], eventstore.WebhookOutcome{Delivered: true, Status: 204}))
	next := mine(claimAll(t, worker))
	require.Len(t, next, 1)
	require.Equal(t, evsA[1].Seq, next[0].Seq)

	// The owner reads the log and redelivers a delivered event: it is due first again.
	require.NoError(t, worker.CompleteWebhook(ctx(t), next[0], eventstore.WebhookOutcome{Delivered: true, Status: 200}))
	require.NoError(t, app.RedeliverWebhook(ctx(t), a, ep.ID, a, evsA[0].Seq))
	require.ErrorIs(t, app.RedeliverWebhook(ctx(t), a, ep.ID, a, 999), eventstore.ErrWebhookDeliveryNotFound)
	re := mine(claimAll(t, worker))
	require.Len(t, re, 1)
	require.Equal(t, evsA[0].Seq, re[0].Seq)

	// Disabling after sustained failure stops claims for the endpoint.
	require.NoError(t, worker.CompleteWebhook(ctx(t), re[0], eventstore.WebhookOutcome{Status: 500, Retry: 0, Disable: "failing"}))
	require.Empty(t, mine(claimAll(t, worker)))
	got, err := app.WebhookEndpoint(ctx(t), a, ep.ID)
	require.NoError(t, err)
	require.Equal(t, "disabled", got.Status)
	require.Equal(t, 1, got.ConsecutiveFailures)
}

// Recording a delivered attempt can lease the pair's next delivery in the same
// transaction: the endpoint's slot passes from one to the other.
func TestCompleteWebhookAndClaimNext_LeasesThePairsNextDueDelivery(t *testing.T) {
	app, worker := appStore(t, 4), workerStore(t, 4)
	a := newTenant(t)
	ep := newEndpoint(t, app, a, "thing.chained")
	evs := enqueue(t, worker, a, "thing.chained", 3)
	var first *eventstore.WebhookJob
	for _, j := range claimAll(t, worker) {
		if j.EndpointID == ep.ID {
			first = &j
		}
	}
	require.NotNil(t, first)
	require.Equal(t, evs[0].Seq, first.Seq)

	next, err := worker.CompleteWebhookAndClaimNext(ctx(t), *first, eventstore.WebhookOutcome{Delivered: true, Status: 204}, time.Minute)
	require.NoError(t, err)
	require.NotNil(t, next)
	require.Equal(t, evs[1].Seq, next.Seq)
	require.Equal(t, ep.ID, next.EndpointID)
	for _, j := range claimAll(t, worker) {
		require.NotEqual(t, ep.ID, j.EndpointID, "the next one is leased: no claim takes it again")
	}

	// A failed attempt leases nothing: the pair waits for its retry.
	none, err := worker.CompleteWebhookAndClaimNext(ctx(t), *next, eventstore.WebhookOutcome{Status: 500, Error: "500", Retry: time.Hour}, time.Minute)
	require.NoError(t, err)
	require.Nil(t, none)
	for _, j := range claimAll(t, worker) {
		require.NotEqual(t, ep.ID, j.EndpointID, "its head is not due for an hour")
	}
}

func claimAll(t *testing.T, worker *eventstore.Store) []eventstore.WebhookJob {
	t.Helper()
	jobs, err := worker.ClaimWebhooks(ctx(t), 1000, 4, time.Minute)
	require.NoError(t, err)
	return jobs
}

func TestDeleteWebhookEndpoint_TakesItsDeliveriesWithIt(t *testing.T) {
	t.Parallel()
	app, worker := appStore(t, 2), workerStore(t, 2)
	a := newTenant(t)
	ep := newEndpoint(t, app, a, "thing.deleted")
	enqueue(t, worker, a, "thing.deleted", 2)
	ds, err := app.WebhookDeliveries(ctx(t), a, ep.ID, nil, 10)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	require.NoError(t, app.DeleteWebhookEndpoint(ctx(t), a, ep.ID))
	var n int
	require.NoError(t, superPool(t).QueryRow(ctx(t), `SELECT count(*) FROM tenantry.webhook_deliveries WHERE endpoint_id = $1`, ep.ID).Scan(&n))
	require.Zero(t, n)
}
