package app_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/domain/plans"
)

// countingSource is an in-memory app.UsageTotalsSource that counts loads and open watches,
// so the memory's bounds can be asserted exactly (the store's own behaviour is tested
// against PostgreSQL in http's entitlement tests).
type countingSource struct {
	loads   atomic.Int64
	open    atomic.Int64
	mu      sync.Mutex
	head    map[uuid.UUID]int64
	wake    map[uuid.UUID]chan struct{}
	loading chan struct{}             // when set, loads wait for it to close
	periods atomic.Pointer[time.Time] // the period last loaded
}

func newCountingSource() *countingSource {
	return &countingSource{head: map[uuid.UUID]int64{}, wake: map[uuid.UUID]chan struct{}{}}
}

func (s *countingSource) UsageTotals(ctx context.Context, tenant uuid.UUID, period time.Time) (int64, entitlements.Totals, error) {
	s.loads.Add(1)
	s.periods.Store(&period)
	s.mu.Lock()
	loading := s.loading
	s.mu.Unlock()
	if loading != nil {
		select {
		case <-loading:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head[tenant], entitlements.Totals{}, nil
}

func (s *countingSource) Head(_ context.Context, tenant uuid.UUID) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head[tenant], nil
}

// append moves the tenant's head and wakes its watches.
func (s *countingSource) append(tenant uuid.UUID) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head[tenant]++
	if ch := s.wake[tenant]; ch != nil {
		close(ch)
	}
	s.wake[tenant] = make(chan struct{})
	return s.head[tenant]
}

type countingWatch struct {
	s      *countingSource
	tenant uuid.UUID
	seen   int64
	closed atomic.Bool
}

func (s *countingSource) WatchTenant(tenant uuid.UUID, after int64) app.TenantWatch {
	s.open.Add(1)
	return &countingWatch{s: s, tenant: tenant, seen: after}
}

func (w *countingWatch) Wait(ctx context.Context) bool {
	for {
		w.s.mu.Lock()
		head, ch := w.s.head[w.tenant], w.s.wake[w.tenant]
		if ch == nil {
			ch = make(chan struct{})
			w.s.wake[w.tenant] = ch
		}
		w.s.mu.Unlock()
		if head > w.seen {
			w.seen = head
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (w *countingWatch) Close() {
	if w.closed.CompareAndSwap(false, true) {
		w.s.open.Add(-1)
	}
}

func newMemory(src *countingSource, cfg app.EntitlementsConfig, clock app.Clock) *app.Entitlements {
	return app.NewEntitlements(src, app.NewPlanCatalog(nil, plans.Default(domain.DefaultPlans())), clock, cfg)
}

func TestEntitlements_HoldAtMostMaxTenantsAndCloseTheEvictedWatches(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	e := newMemory(src, app.EntitlementsConfig{MaxTenants: 3}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	for i := 0; i < 10; i++ {
		_, err := e.List(context.Background(), uuid.New(), domain.PlanPro, 1, 0)
		require.NoError(t, err)
		require.LessOrEqual(t, e.Held(), 3)
	}
	require.Eventually(t, func() bool { return src.open.Load() == 3 }, 5*time.Second, time.Millisecond,
		"evicted tenants' watches are closed: %d open", src.open.Load())
	cancel()
	<-done
	require.Equal(t, int64(0), src.open.Load(), "Run's end closes every watch")
	require.Equal(t, 0, e.Held())
}

func TestEntitlements_EvictTenantsIdleLongerThanIdleAfter(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := app.ClockFunc(func() time.Time { return time.Unix(0, now.Load()).UTC() })
	e := newMemory(src, app.EntitlementsConfig{IdleAfter: time.Minute}, clock)
	idle := uuid.New()
	_, err := e.List(context.Background(), idle, domain.PlanPro, 1, 0)
	require.NoError(t, err)
	now.Add(int64(2 * time.Minute))
	_, err = e.List(context.Background(), uuid.New(), domain.PlanPro, 1, 0) // a new tenant sweeps the idle one out
	require.NoError(t, err)
	require.Equal(t, 1, e.Held())
	require.Eventually(t, func() bool { return src.open.Load() == 1 }, 5*time.Second, time.Millisecond)
}

// Concurrent first reads of a tenant share one load, and appends while a refresh runs
// coalesce: the loads stay far below the appends, and the memory ends at the last seq.
func TestEntitlements_ConcurrentReadsShareOneLoadAndAppendsCoalesce(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	stall := make(chan struct{})
	src.loading = stall
	e := newMemory(src, app.EntitlementsConfig{}, nil)
	tenant := uuid.New()
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.List(context.Background(), tenant, domain.PlanPro, 1, 0)
			require.NoError(t, err)
		}()
	}
	time.Sleep(50 * time.Millisecond) // the readers wait on the one load
	close(stall)
	wg.Wait()
	require.Equal(t, int64(1), src.loads.Load(), "64 first reads, one load")

	var last int64
	for i := 0; i < 500; i++ {
		last = src.append(tenant)
	}
	ans, err := e.List(context.Background(), tenant, domain.PlanPro, 1, last)
	require.NoError(t, err)
	require.Equal(t, last, ans.Seq)
	require.Less(t, src.loads.Load(), int64(500), "500 appends coalesce into fewer refreshes")
}

func TestEntitlements_MinSeqBeyondTheHeadIsInvalidAndAnUnreachedOneIsBehind(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	e := newMemory(src, app.EntitlementsConfig{MaxWait: 50 * time.Millisecond}, nil)
	tenant := uuid.New()
	src.append(tenant)
	_, err := e.List(context.Background(), tenant, domain.PlanPro, 1, 2)
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), "%v", err)

	_, err = e.List(context.Background(), tenant, domain.PlanPro, 1, 1)
	require.NoError(t, err)

	// Refreshes stall: the memory cannot reach the next seq in time, and says so.
	stall := make(chan struct{})
	src.mu.Lock()
	src.loading = stall
	src.mu.Unlock()
	seq := src.append(tenant)
	_, err = e.List(context.Background(), tenant, domain.PlanPro, 1, seq)
	require.ErrorIs(t, err, app.ErrEntitlementsBehind)
	close(stall)
	ans, err := e.List(context.Background(), tenant, domain.PlanPro, 1, seq)
	require.NoError(t, err, "once the refresh completes, the same read answers")
	require.Equal(t, seq, ans.Seq)
}

// A reader whose min_seq the store has recorded but whose watch has not woken (another
// process's notification late or lost) makes the memory refresh at once.
func TestEntitlements_AMinSeqRecordedButNotNotifiedRefreshesTheMemory(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	e := newMemory(src, app.EntitlementsConfig{MaxWait: 5 * time.Second}, nil)
	tenant := uuid.New()
	src.append(tenant)
	_, err := e.List(context.Background(), tenant, domain.PlanPro, 1, 1)
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond) // follow is parked in its wait
	src.mu.Lock()
	src.head[tenant] = 9 // recorded, no wake
	src.mu.Unlock()
	start := time.Now()
	ans, err := e.List(context.Background(), tenant, domain.PlanPro, 1, 9)
	require.NoError(t, err)
	require.Equal(t, int64(9), ans.Seq)
	require.Less(t, time.Since(start), time.Second, "refreshed on the reader's poke, not at the wait's bound")
}

// At the end of a quota period the memory answers the new period, loaded afresh, never the
// old period's usage.
func TestEntitlements_AnswerTheNewPeriodOnceTheMonthEnds(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC).UnixNano())
	clock := app.ClockFunc(func() time.Time { return time.Unix(0, now.Load()).UTC() })
	e := newMemory(src, app.EntitlementsConfig{}, clock)
	tenant := uuid.New()
	ans, err := e.List(context.Background(), tenant, domain.PlanPro, 1, 0)
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ans.Period.End)

	now.Store(time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC).UnixNano())
	ans, err = e.List(context.Background(), tenant, domain.PlanPro, 1, 0)
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ans.Period.Start)
	require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), *src.periods.Load(), "the new period's totals were loaded")
}
