package httpapi

import (
	"context"
	"fmt"
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
//   - what is kept is bounded (maxVerifiedTenants verifications, maxAuditTenants folded
//     histories), so a tenant may find nothing kept (pushed out by others, or a restart):
//     its verify then re-hashes, and its state folds, the whole history. Each tenant may
//     cause coldReadBudget such whole-history reads a minute; beyond, 429 with Retry-After.
//     Otherwise any client could have the server read whole histories again and again by
//     pushing its tenant (or a victim's) out with a few hundred others (open signup).
//
// Both budgets of a tenant live in one map of up to maxAuditBudgets tenants, as large as
// the rate limiter's, so that pushing a tenant's budget out (and starting it afresh) takes
// as many tenants as pushing out its rate-limit bucket. Concurrent requests of one tenant
// share one verification or fold (singleflight), and are charged once. The use cases it
// calls, and the export's, are built once with the server.
type auditCache struct {
	export app.Export
	replay app.Replay
	check  app.Verify

	mu       sync.Mutex
	verified *lru[uuid.UUID, app.Verified]
	folded   *lru[uuid.UUID, *app.Fold]
	past     *lru[pastKey, app.State]
	budgets  *lru[uuid.UUID, *auditBudget]
	flights  singleflight.Group
	// replayed and rehashed count the events state and verify read, for the tests.
	replayed, rehashed atomic.Int64
}

// The maps' bounds weigh memory against work: a folded history holds its tenant's
// lifecycle and membership events (thousands for a tenant with thousands of members), a
// past state its members, a verification a few hundred bytes, a budget two token buckets
// (about 400 bytes); a tenant pushed out pays one replay from the start when it next asks,
// from its coldReadBudget.
const (
	fullVerifyEvery        = 10 * time.Minute
	historicalReplayBudget = 6 // replays to an earlier instant, a minute per tenant
	coldReadBudget         = 6 // whole-history reads with nothing kept, a minute per tenant
	maxAuditTenants        = 256
	maxVerifiedTenants     = 10_000
	maxPastStates          = 64
	maxAuditBudgets        = maxBuckets
)

// auditBudget is a tenant's allowance of expensive audit work.
type auditBudget struct {
	past *rate.Limiter // replays to an earlier instant (historicalReplayBudget)
	cold *rate.Limiter // whole-history reads when nothing of the tenant is kept (coldReadBudget)
}

// budgetSpent is the answer, to every request sharing the work, when the tenant's budget
// for it is spent: retry after wait.
type budgetSpent struct {
	wait  time.Duration
	limit int // the budget, a minute
	what  string
}

func (e *budgetSpent) Error() string {
	return fmt.Sprintf("%s is limited to %d a minute per tenant", e.what, e.limit)
}

type pastKey struct {
	tenant uuid.UUID
	seq    int64 // the newest seq when it was replayed: an earlier instant's state never changes, but a late commit can join it
	asOf   time.Time
}

func newAuditCache(d Deps) *auditCache {
	return &auditCache{
		export:   app.Export{Events: d.Store, Heads: d.Store, Signer: d.AuditSigner, Now: func() time.Time { return d.Now().UTC() }},
		replay:   app.Replay{History: eventstore.DomainStore{Store: d.Store, Registry: d.Registry}, Modules: productModules(d.Products)},
		check:    app.Verify{Chains: d.Store},
		verified: newLRU[uuid.UUID, app.Verified](maxVerifiedTenants),
		folded:   newLRU[uuid.UUID, *app.Fold](maxAuditTenants),
		past:     newLRU[pastKey, app.State](maxPastStates),
		budgets:  newLRU[uuid.UUID, *auditBudget](maxAuditBudgets)}
}

// auditWork names what a budget pays for.
type auditWork int

const (
	pastReplay auditWork = iota + 1 // a replay to an earlier instant
	coldRead                        // a whole-history read with nothing of the tenant kept
)

// spend takes one unit of the tenant's budget for work, at now, or returns a *budgetSpent.
// The caller holds a.mu.
func (a *auditCache) spend(tenant uuid.UUID, work auditWork, now time.Time) error {
	b, ok := a.budgets.get(tenant)
	if !ok {
		b = &auditBudget{past: rate.NewLimiter(rate.Every(time.Minute/historicalReplayBudget), historicalReplayBudget),
			cold: rate.NewLimiter(rate.Every(time.Minute/coldReadBudget), coldReadBudget)}
		a.budgets.put(tenant, b)
	}
	lim, spent := b.past, budgetSpent{limit: historicalReplayBudget,
		what: "replaying the history to an earlier instant (the current state, and instants asked for recently, are not)"}
	if work == coldRead {
		lim, spent = b.cold, budgetSpent{limit: coldReadBudget,
			what: "reading a tenant's whole history again (verify or state, when the server keeps nothing of the tenant)"}
	}
	r := lim.ReserveN(now, 1)
	if spent.wait = r.DelayFrom(now); spent.wait > 0 {
		r.CancelAt(now)
		return &spent
	}
	return nil
}

// VerifyAnswer is GET /v1/audit/verify's answer: the chain report, and when the whole
// stream was last re-hashed (the events up to then are taken as checked since).
type VerifyAnswer struct {
	auditlog.ChainReport
	FullCheckAt time.Time `json:"full_check_at"`
}

// verify answers GET /v1/audit/verify; a *budgetSpent error means the tenant spent its
// budget of whole-history reads.
func (a *auditCache) verify(ctx context.Context, tenant uuid.UUID, now time.Time) (VerifyAnswer, error) {
	v, err, _ := a.flights.Do("verify:"+tenant.String(), func() (any, error) {
		ctx := context.WithoutCancel(ctx) // shared: no one caller's cancellation ends it
		a.mu.Lock()
		prev, ok := a.verified.get(tenant)
		var err error
		if !ok { // nothing kept: the whole stream is re-hashed
			err = a.spend(tenant, coldRead, now)
		}
		a.mu.Unlock()
		if err != nil {
			return nil, err
		}
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

// state answers GET /v1/audit/state; a *budgetSpent error means the tenant spent a budget.
func (a *auditCache) state(ctx context.Context, tenant uuid.UUID, asOf, now time.Time) (app.State, error) {
	type latest struct {
		st   app.State
		last time.Time
		seq  int64
	}
	v, err, _ := a.flights.Do("state:"+tenant.String(), func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		a.mu.Lock()
		r, ok := a.folded.get(tenant)
		var err error
		if !ok { // nothing kept: the whole history is folded
			err = a.spend(tenant, coldRead, now)
		}
		a.mu.Unlock()
		if err != nil {
			return nil, err
		}
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
		return app.State{}, err
	}
	l := v.(latest)
	if !asOf.Before(l.last) {
		st := l.st
		st.AsOf = asOf.UTC()
		return st, nil
	}
	key := pastKey{tenant: tenant, seq: l.seq, asOf: asOf.UTC()}
	a.mu.Lock()
	if st, ok := a.past.get(key); ok {
		a.mu.Unlock()
		return st, nil
	}
	if err := a.spend(tenant, pastReplay, now); err != nil {
		a.mu.Unlock()
		return app.State{}, err
	}
	a.mu.Unlock()
	v, err, _ = a.flights.Do("past:"+tenant.String()+":"+asOf.UTC().Format(time.RFC3339Nano), func() (any, error) {
		st, err := a.replay.AsOf(context.WithoutCancel(ctx), app.ReplayInput{Tenant: tenant, AsOf: asOf})
		a.replayed.Add(st.Seq)
		return st, err
	})
	if err != nil {
		return app.State{}, err
	}
	st := v.(app.State)
	st.AsOf = asOf.UTC()
	a.mu.Lock()
	a.past.put(key, st)
	a.mu.Unlock()
	return st, nil
}
