package webhooks_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/webhooks"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

const eventType = "thing.happened"

// fixture is the stores of both runtime roles and the deployment's webhook key.
type fixture struct {
	app, worker *eventstore.Store
	key         *webhook.Key
	mu          sync.Mutex
	queued      map[uuid.UUID]int64 // per tenant: the last seq queued
}

func newFixture(t testing.TB) *fixture {
	key, err := webhook.ParseKey(strings.Repeat("7e", 32))
	require.NoError(t, err)
	return &fixture{app: eventstore.New(pgtest.Pool(t, testDB.AppURL, 4)), worker: eventstore.New(pgtest.Pool(t, testDB.WorkerURL, 8)),
		key: key, queued: map[uuid.UUID]int64{}}
}

// endpoint registers an endpoint of owner for every type, as the API does, and returns its
// id and secret.
func (f *fixture) endpoint(t testing.TB, owner uuid.UUID, url string) (uuid.UUID, string) {
	t.Helper()
	id := uuid.New()
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	sealed, err := f.key.Seal(id, secret)
	require.NoError(t, err)
	_, err = f.app.CreateWebhookEndpoint(context.Background(), eventstore.WebhookEndpoint{ID: id, Owner: owner, URL: url,
		EventTypes: []string{"*"}, SecretSealed: sealed}, 16)
	require.NoError(t, err)
	// Its deliveries go with it: the package's tests run one at a time and each worker
	// claims whatever is due, so none is left for the next test.
	t.Cleanup(func() { _ = f.app.DeleteWebhookEndpoint(context.Background(), owner, id) })
	return id, secret
}

// record appends n events for the tenant and queues their deliveries as the webhooks
// projection does (the same eventstore call, the same body).
func (f *fixture) record(t testing.TB, tenant uuid.UUID, n int) {
	t.Helper()
	ctx := context.Background()
	evs := make([]eventstore.NewEvent, n)
	for i := range evs {
		evs[i] = eventstore.NewEvent{ID: uuid.Must(uuid.NewV7()), Type: eventType, SchemaVersion: 1, Data: []byte(`{"n":` + itoa(i) + `}`)}
	}
	_, err := f.worker.Append(ctx, tenant, "things", eventstore.Any, evs...)
	require.NoError(t, err)
	f.mu.Lock()
	after := f.queued[tenant]
	f.mu.Unlock()
	require.NoError(t, f.worker.InProjection(ctx, tenant, func(tx *eventstore.ProjectionTx) error {
		if _, _, _, err := tx.Lock(ctx, "webhooks", ""); err != nil {
			return err
		}
		got, err := tx.ReadEvents(ctx, after, 1000, nil)
		if err != nil {
			return err
		}
		for _, e := range got {
			body, err := webhook.Body{ID: e.ID, Type: e.Type, TenantID: e.TenantID, Seq: e.Seq, CreatedAt: e.RecordedAt, Data: e.Data}.Encode()
			if err != nil {
				return err
			}
			if _, err := tx.EnqueueWebhooks(ctx, e, body); err != nil {
				return err
			}
			after = e.Seq
		}
		return nil
	}))
	f.mu.Lock()
	f.queued[tenant] = after
	f.mu.Unlock()
}

func (f *fixture) deliveries(t testing.TB, owner, ep uuid.UUID) []eventstore.WebhookDelivery {
	t.Helper()
	ds, err := f.app.WebhookDeliveries(context.Background(), owner, ep, nil, 1000)
	require.NoError(t, err)
	return ds
}

// fastRetry retries within milliseconds, so tests see several attempts.
var fastRetry = webhook.Retry{Min: 20 * time.Millisecond, Max: 80 * time.Millisecond, MaxAge: time.Hour}

func (f *fixture) newWorker(t testing.TB, mod ...func(*webhooks.Config)) *webhooks.Worker {
	t.Helper()
	cfg := webhooks.Config{Store: f.worker, Key: f.key, AllowPrivate: true, Retry: fastRetry, PollInterval: 10 * time.Millisecond,
		Timeout: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	w, err := webhooks.New(cfg)
	require.NoError(t, err)
	return w
}

// until runs the worker rounds until cond holds (or fails the test after 20 s).
func until(t testing.TB, w *webhooks.Worker, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not met in time")
		_, err := w.Once(context.Background())
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
