package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
)

// auditCache bounds the work GET /v1/audit/verify and GET /v1/audit/state do per request:
// without it each re-read the tenant's whole history, so a client asking again and again
// could make the server read millions of events a second.
//
//   - verify re-hashes the whole stream at most once per fullVerifyEvery per tenant; in
//     between it extends the last verification with the events recorded since (the use
//     case app.Verify decides, given the last verification kept here). A failed
//     verification is answered again, unchanged, while the head has not moved.
//   - state keeps each tenant's history folded up to its newest event, and folds only the
//     events recorded since; the current state (and any instant after the newest event)
//     costs those alone. An earlier instant needs a replay from the first event: the last
//     few such answers are kept, and beyond that each tenant may ask for
//     historicalReplayBudget a minute.
//
// Concurrent requests of one tenant share one verification or fold (singleflight), and
// both maps hold at most maxAuditTenants tenants. The use cases it calls, and the export's,
// are built once with the server.
type auditCache struct {
	export app.Export
	replay app.Replay
	check  app.Verify

	mu       sync.Mutex
	verified *lru[uuid.UUID, app.Verified]
	folded   *lru[uuid.UUID, *app.Fold]
	past     *lru[pastKey, app.State]
	budgets  *lru[uuid.UUID, *rate.Limiter]
	flights  singleflight.Group
	// replayed and rehashed count the events state and verify read, for the tests.
	replayed, rehashed atomic.Int64
}

// The maps' bounds weigh memory against work: a folded history holds its tenant's
// lifecycle and membership events (thousands for a tenant with thousands of members), a
// past state its members; a tenant pushed out pays one replay from the start when it next
// asks.
const (
	fullVerifyEvery        = 10 * time.Minute
	historicalReplayBudget = 6
	maxAuditTenants        = 256
	maxPastStates          = 64
)

type pastKey struct {
	tenant uuid.UUID
	seq    int64 // the newest seq when it was replayed: an earlier instant's state never changes, but a late commit can join it
	asOf   time.Time
}

func newAuditCache(d Deps) *auditCache {
	return &auditCache{
		export:   app.Export{Events: d.Store, Heads: d.Store, Signer: d.AuditSigner, Now: func() time.Time { return d.Now().UTC() }},
		replay:   app.Replay{History: eventstore.DomainStore{Store: d.Store, Registry: d.Registry}},
		check:    app.Verify{Chains: d.Store},
		verified: newLRU[uuid.UUID, app.Verified](maxAuditTenants),
		folded:   newLRU[uuid.UUID, *app.Fold](maxAuditTenants),
		past:     newLRU[pastKey, app.State](maxPastStates),
		budgets:  newLRU[uuid.UUID, *rate.Limiter](maxAuditTenants)}
}

// VerifyAnswer is GET /v1/audit/verify's answer: the chain report, and when the whole
// stream was last re-hashed (the events up to then are taken as checked since).
type VerifyAnswer struct {
	auditlog.ChainReport
	FullCheckAt time.Time `json:"full_check_at"`
}

func (a *auditCache) verify(ctx context.Context, tenant uuid.UUID, now time.Time) (VerifyAnswer, error) {
	v, err, _ := a.flights.Do("verify:"+tenant.String(), func() (any, error) {
		ctx := context.WithoutCancel(ctx) // shared: no one caller's cancellation ends it
		a.mu.Lock()
		prev, ok := a.verified.get(tenant)
		a.mu.Unlock()
		in := app.VerifyInput{Tenant: tenant, FullEvery: fullVerifyEvery, Now: now}
		if ok {
			in.Earlier = &prev
		}
		got, err := a.check.Chain(ctx, in)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.verified.put(tenant, got)
		a.mu.Unlock()
		a.rehashed.Add(got.Rehashed)
		return VerifyAnswer{ChainReport: got.Report, FullCheckAt: got.FullAt}, nil
	})
	if err != nil {
		return VerifyAnswer{}, err
	}
	return v.(VerifyAnswer), nil
}

// state answers GET /v1/audit/state; wait > 0 means the tenant spent its budget of
// replays to earlier instants.
func (a *auditCache) state(ctx context.Context, tenant uuid.UUID, asOf, now time.Time) (app.State, time.Duration, error) {
	type latest struct {
		st   app.State
		last time.Time
		seq  int64
	}
	v, err, _ := a.flights.Do("state:"+tenant.String(), func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		a.mu.Lock()
		r, ok := a.folded.get(tenant)
		a.mu.Unlock()
		if ok {
			r = r.Clone() // folded further below; requests still reading r keep theirs
		} else {
			r = &app.Fold{}
		}
		before := r.Seq()
		if err := a.replay.Extend(ctx, r, tenant, time.Now().Add(time.Hour)); err != nil {
			return nil, err
		}
		a.replayed.Add(r.Seq() - before)
		st, err := r.State(r.Last())
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.folded.put(tenant, r)
		a.mu.Unlock()
		return latest{st: st, last: r.Last(), seq: r.Seq()}, nil
	})
	if err != nil {
		return app.State{}, 0, err
	}
	l := v.(latest)
	if !asOf.Before(l.last) {
		st := l.st
		st.AsOf = asOf.UTC()
		return st, 0, nil
	}
	key := pastKey{tenant: tenant, seq: l.seq, asOf: asOf.UTC()}
	a.mu.Lock()
	if st, ok := a.past.get(key); ok {
		a.mu.Unlock()
		return st, 0, nil
	}
	lim, ok := a.budgets.get(tenant)
	if !ok {
		lim = rate.NewLimiter(rate.Every(time.Minute/historicalReplayBudget), historicalReplayBudget)
		a.budgets.put(tenant, lim)
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		a.mu.Unlock()
		return app.State{}, d, nil
	}
	a.mu.Unlock()
	v, err, _ = a.flights.Do("past:"+tenant.String()+":"+asOf.UTC().Format(time.RFC3339Nano), func() (any, error) {
		st, err := a.replay.AsOf(context.WithoutCancel(ctx), app.ReplayInput{Tenant: tenant, AsOf: asOf})
		a.replayed.Add(st.Seq)
		return st, err
	})
	if err != nil {
		return app.State{}, 0, err
	}
	st := v.(app.State)
	st.AsOf = asOf.UTC()
	a.mu.Lock()
	a.past.put(key, st)
	a.mu.Unlock()
	return st, 0, nil
}
