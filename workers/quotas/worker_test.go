package quotas_test

import (
	"context"
	"fmt"
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
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/workers/quotas"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

// catalogDoc has a plan with a soft quota of 100 api_calls and 10 GB of storage (gauge, the
// highest reading counts), a hard quota of 100 on exports (never alerted) and a plan without.
const catalogDoc = `{"metrics": [{"metric": "api_calls", "kind": "counter", "aggregation": "sum", "scale": 0},
  {"metric": "exports", "kind": "counter", "aggregation": "sum", "scale": 0},
  {"metric": "storage_gb", "kind": "gauge", "aggregation": "max", "scale": 3, "unit": "GB"}],
"plans": [
  {"key": "metered", "name": "Metered", "intervals": {"monthly": {}}, "limits": {"seats": 5, "requests_per_second": 100, "burst": 100},
   "metrics": {"api_calls": {"included": "100", "beyond": "soft"}, "storage_gb": {"included": "10", "beyond": "soft"},
               "exports": {"included": "100", "beyond": "hard"}}},
  {"key": "flat", "name": "Flat", "intervals": {"monthly": {}}, "limits": {"seats": 5, "requests_per_second": 100, "burst": 100}}
]}`

type fixture struct {
	store   *eventstore.Store
	domain  eventstore.DomainStore
	catalog *app.PlanCatalog
	plans   map[uuid.UUID]domain.PlanName // the tenants' plans (version 1), as the directory would say
	mu      sync.Mutex
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	db := pgtest.New(t) // its own database: the catalog is the deployment's
	store := eventstore.New(pgtest.Pool(t, db.WorkerURL, 8))
	ds := eventstore.DomainStore{Store: store, Registry: reg}
	cat := app.NewPlanCatalog(ds, plans.Default(domain.DefaultPlans()))
	defs, err := plans.ParseDocument([]byte(catalogDoc))
	require.NoError(t, err)
	_, err = cat.Apply(context.Background(), app.ApplyCatalogInput{Definitions: defs, Expected: domain.Any})
	require.NoError(t, err)
	return &fixture{store: store, domain: ds, catalog: cat, plans: map[uuid.UUID]domain.PlanName{},
		now: time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)}
}

// TenantPlan answers as the directory does (the worker's own tests need no projector).
func (f *fixture) TenantPlan(_ context.Context, tenant uuid.UUID) (domain.PlanName, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.plans[tenant]
	if !ok {
		return domain.PlanName{}, 0, eventstore.ErrTenantNotFound
	}
	return p, 1, nil
}

func (f *fixture) tenant(t *testing.T, plan string) uuid.UUID {
	p, err := domain.ParsePlanName(plan)
	require.NoError(t, err)
	id := uuid.Must(uuid.NewV7())
	f.mu.Lock()
	f.plans[id] = p
	f.mu.Unlock()
	return id
}

func (f *fixture) worker(t *testing.T) *quotas.Worker {
	return f.workerLooking(t, f.store)
}

// workerLooking is a worker that asks stored which alerts are recorded.
func (f *fixture) workerLooking(t *testing.T, stored app.StoredEventIDs) *quotas.Worker {
	w, err := quotas.New(quotas.Config{Alerts: &app.QuotaAlerts{Store: f.domain, Stored: stored, Usage: quotas.Source{Store: f.store}, Tenants: f, Plans: f.catalog},
		TenantsOnPlan: func(ctx context.Context, p domain.PlanName) ([]uuid.UUID, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var out []uuid.UUID
			for id, q := range f.plans {
				if q == p {
					out = append(out, id)
				}
			}
			return out, nil
		},
		Now: func() time.Time { return f.now }, Sweep: -1})
	require.NoError(t, err)
	return w
}

// use records quantity of metric at at, as POST /v1/usage does (one usage.recorded event).
func (f *fixture) use(t *testing.T, tenant uuid.UUID, metric, quantity string, at time.Time) {
	t.Helper()
	m, err := usage.ParseMetric(metric)
	require.NoError(t, err)
	d, ok := f.catalog.Definition(m)
	require.True(t, ok)
	q, err := usage.ParseQuantityScale(quantity, d.Scale)
	require.NoError(t, err)
	key, err := usage.ParseIdempotencyKey(uuid.NewString())
	require.NoError(t, err)
	r, err := usage.NewRecord(m, q, at, key, at)
	require.NoError(t, err)
	_, err = f.domain.Append(context.Background(), tenant, usage.StreamID, domain.Any, domain.Metadata{Actor: "test"},
		domain.Pending{ID: usage.RecordEventID(tenant, key), Event: r, Keys: []uuid.UUID{usage.RecordEventID(tenant, key)},
			Usage: usage.Deltas([]usage.Recorded{r})})
	require.NoError(t, err)
}

// alerts reads the tenant's recorded alerts, "metric period threshold" each.
func (f *fixture) alerts(t *testing.T, tenant uuid.UUID) []string {
	t.Helper()
	evs, err := f.domain.ReadStream(context.Background(), tenant, plans.AlertStream, 0, 1000)
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		a := e.Event.(*plans.ThresholdCrossed)
		out = append(out, fmt.Sprintf("%s %s %d", a.Metric, a.Period.Format("2006-01"), a.Threshold))
	}
	return out
}

func TestWorker_RecordsEachThresholdOncePerPeriodAcrossRestartsAndReplicas(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.tenant(t, "metered")
	at := f.now.Add(-time.Hour)

	f.use(t, id, "api_calls", "79", at)
	require.NoError(t, f.worker(t).Check(ctx, id))
	require.Empty(t, f.alerts(t, id), "79 of 100 crosses nothing")

	f.use(t, id, "api_calls", "1", at)
	f.use(t, id, "exports", "100", at) // a hard quota: refused beyond, never alerted
	f.use(t, id, "storage_gb", "8.5", at)
	// Several replicas (or restarts) notice the same crossings at once: each is recorded once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); require.NoError(t, f.worker(t).Check(ctx, id)) }()
	}
	wg.Wait()
	require.ElementsMatch(t, []string{"api_calls 2026-12 80", "storage_gb 2026-12 80"}, f.alerts(t, id))

	// A gauge's highest reading counts: a lower reading later crosses nothing more.
	f.use(t, id, "storage_gb", "2", at.Add(time.Minute))
	f.use(t, id, "api_calls", "25", at)
	require.NoError(t, f.worker(t).Check(ctx, id))
	require.NoError(t, f.worker(t).Check(ctx, id))
	require.ElementsMatch(t, []string{"api_calls 2026-12 80", "storage_gb 2026-12 80", "api_calls 2026-12 100"}, f.alerts(t, id))

	// Usage dated in the previous month counts there, against that month's own quota.
	f.use(t, id, "api_calls", "100", time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC))
	require.NoError(t, f.worker(t).Check(ctx, id))
	require.ElementsMatch(t, []string{"api_calls 2026-12 80", "storage_gb 2026-12 80", "api_calls 2026-12 100",
		"api_calls 2026-11 80", "api_calls 2026-11 100"}, f.alerts(t, id))

	// A new month starts from nothing.
	f.now = time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	require.NoError(t, f.worker(t).Check(ctx, id))
	require.Len(t, f.alerts(t, id), 5)
}

func TestWorker_ChecksNotedTenantsAndSweepsAtStart(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	metered, flat := f.tenant(t, "metered"), f.tenant(t, "flat")
	at := f.now.Add(-time.Hour)
	f.use(t, metered, "api_calls", "90", at)
	f.use(t, flat, "api_calls", "1000", at)

	// Started after the usage: the sweep at start finds the crossing no message announced.
	w := f.worker(t)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	require.Eventually(t, func() bool { return len(f.alerts(t, metered)) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Empty(t, f.alerts(t, flat), "a plan without soft quotas has no alerts")
	cancel()
	<-done
}

// countedLookups counts the store's answers to "which of these alerts are recorded".
type countedLookups struct {
	*eventstore.Store
	n atomic.Int64
}

func (c *countedLookups) StoredEventIDs(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	c.n.Add(1)
	return c.Store.StoredEventIDs(ctx, tenant, ids)
}

// A tenant past a threshold is checked again on each of its usage messages: the worker
// remembers what it recorded or found recorded, and asks the store no more.
func TestWorker_AsksNoMoreOnceItKnowsTheAlertsAreRecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.tenant(t, "metered")
	f.use(t, id, "api_calls", "90", f.now.Add(-time.Hour))
	require.NoError(t, f.worker(t).Check(ctx, id)) // another worker records the alert

	lookups := &countedLookups{Store: f.store}
	w := f.workerLooking(t, lookups)
	for range 3 {
		require.NoError(t, w.Check(ctx, id))
	}
	require.Equal(t, int64(1), lookups.n.Load(), "one lookup finds the alert recorded; later checks ask nothing")
	f.use(t, id, "api_calls", "10", f.now.Add(-time.Hour))
	require.NoError(t, w.Check(ctx, id))
	require.Equal(t, int64(2), lookups.n.Load(), "a new crossing is looked up")
	require.Equal(t, []string{"api_calls 2026-12 80", "api_calls 2026-12 100"}, f.alerts(t, id))
}
