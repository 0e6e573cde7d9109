package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
)

// billingFixture is a fresh database on the worker's role with the projection pipeline
// running, Stripe as stripe-mock behind the real stripe-go adapter, and a clock the test
// moves: the billing use cases wired as cmd wires them.
type billingFixture struct {
	store  *eventstore.Store
	events eventstore.DomainStore
	reads  projections.ReadModels
	stripe *billing.StripeClient
	usage  *app.RecordUsage
	// api is a store on the API's role, which records the Stripe deliveries that concern no
	// tenant (as cmd wires the webhooks).
	api *eventstore.Store

	mu  sync.Mutex
	now time.Time
}

func newBillingFixture(t *testing.T) *billingFixture {
	t.Helper()
	base := os.Getenv("STRIPE_API_BASE")
	if base == "" {
		t.Fatal("STRIPE_API_BASE is not set: run the tests with `make test`, which starts stripe-mock")
	}
	db := pgtest.New(t)
	pool := pgtest.Pool(t, db.WorkerURL, 12)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	log := slog.New(slog.DiscardHandler)
	notifier := eventstore.NewNotifier(pool, 0, log)
	store, err := eventstore.NewStore(pool, eventstore.StoreConfig{Notifier: notifier, GroupCommitters: 4})
	require.NoError(t, err)
	pipeline, err := projections.NewPipeline(projections.PipelineConfig{Store: store, Registry: reg, Logger: log, Notifier: notifier})
	require.NoError(t, err)
	pipeline.Projector.PollInterval = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = pipeline.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	events := eventstore.DomainStore{Store: store, Registry: reg}
	recordUsage := app.NewRecordUsage(app.RecordUsageConfig{Store: events, Keys: store})
	return &billingFixture{store: store, events: events, reads: projections.ReadModels{Store: store}, api: eventstore.New(pgtest.Pool(t, db.AppURL, 2)),
		stripe: &billing.StripeClient{API: billing.NewStripeAPI("sk_test_123", base, 5*time.Second),
			Caller: &billing.Caller{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}},
		usage: recordUsage,
		// Half past an hour, so the windows of the last hours are due (settle: 5 minutes).
		now: time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)}
}

func (f *billingFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *billingFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// cycle is the billing steps with the default prices and a 5-minute settle.
func (f *billingFixture) cycle(t *testing.T) *app.BillingCycle {
	t.Helper()
	b, err := app.NewBillingCycle(f.events, f.stripe, billing.UsageTotals{Store: f.store, ReadModels: f.reads},
		app.ClockFunc(f.clock), nil, app.BillingConfig{Prices: billing.DefaultPrices(), Settle: 5 * time.Minute})
	require.NoError(t, err)
	return b
}

var billingSlugs atomic.Int64

// createTenant signs a tenant up on plan (its tenant.created event) and waits until the
// directory lists it.
func (f *billingFixture) createTenant(t *testing.T, plan domain.PlanName) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	slug, err := domain.ParseSlug(fmt.Sprintf("app-bill-%d-%d", time.Now().UnixNano()%1e9, billingSlugs.Add(1)))
	require.NoError(t, err)
	f.tenantCommand(t, id, func(tn *tenant.Tenant) ([]domain.Event, error) {
		return tenant.Create(id, "Billing "+slug.String(), slug, plan, f.clock())
	})
	require.NoError(t, f.store.WaitForDirectory(context.Background(), id, time.Minute))
	return id
}

func (f *billingFixture) tenantCommand(t *testing.T, id uuid.UUID, decide func(*tenant.Tenant) ([]domain.Event, error)) *tenant.Tenant {
	t.Helper()
	cmd := app.Command[*tenant.Tenant]{Store: f.events, Tenant: id, Stream: tenant.StreamID,
		New: func() *tenant.Tenant { return &tenant.Tenant{} }, Metadata: domain.Metadata{Actor: "test"}}
	tn, _, err := cmd.Run(context.Background(), decide)
	require.NoError(t, err)
	return tn
}

func (f *billingFixture) loadTenant(t *testing.T, id uuid.UUID) *tenant.Tenant {
	t.Helper()
	tn, _, err := app.Load(context.Background(), f.events, id, tenant.StreamID, func() *tenant.Tenant { return &tenant.Tenant{} })
	require.NoError(t, err)
	return tn
}

var usageKeys atomic.Int64

// record records one api_calls record of quantity at each instant, with fresh keys, through
// the usage use case.
func (f *billingFixture) record(t *testing.T, id uuid.UUID, quantity int64, at ...time.Time) {
	t.Helper()
	records := make([]usage.Recorded, len(at))
	for i, ts := range at {
		records[i] = usageRecord(t, fmt.Sprintf("bk-%d", usageKeys.Add(1)), quantity, ts)
	}
	res, err := f.usage.Record(context.Background(), app.UsageInput{Tenant: id, Metadata: domain.Metadata{Actor: "test"}, Records: records})
	require.NoError(t, err)
	require.Equal(t, len(at), res.Accepted)
}

// usageRecord is an api_calls record with the idempotency key key.
func usageRecord(t *testing.T, key string, quantity int64, at time.Time) usage.Recorded {
	t.Helper()
	m, err := usage.ParseMetric("api_calls")
	require.NoError(t, err)
	q, err := usage.NewQuantity(quantity)
	require.NoError(t, err)
	k, err := usage.ParseIdempotencyKey(key)
	require.NoError(t, err)
	return usage.Recorded{Metric: m, Quantity: q, OccurredAt: at.UTC(), IdempotencyKey: k}
}
