package httpapi

import (
	"context"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/eventstore"
)

// auditCache bounds the work GET /v1/audit/verify and GET /v1/audit/state do per request:
// without it each re-read the tenant's whole history, so a client asking again and again
// could make the server read millions of events a second.
//
//   - verify re-hashes the whole stream at most once per fullVerifyEvery per tenant; in
//     between it extends the last verification with the events recorded since
//     (VerifyChainFrom). A failed verification is answered again, unchanged, while the
//     head has not moved.
//   - state keeps each tenant's history folded up to its newest event, and folds only the
//     events recorded since; the current state (and any instant after the newest event)
//     costs those alone. An earlier instant needs a replay from the first event: the last
//     few such answers are kept, and beyond that each tenant may ask for
//     historicalReplayBudget a minute.
//
// Concurrent requests of one tenant share one verification or fold (singleflight), and
// both maps hold at most maxAuditTenants tenants.
type auditCache struct {
	mu       sync.Mutex
	verified *lru[uuid.UUID, verifiedChain]
	folded   *lru[uuid.UUID, *replay]
	past     *lru[pastKey, State]
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

type verifiedChain struct {
	report eventstore.ChainReport
	fullAt time.Time // when the whole stream was last re-hashed
}

type pastKey struct {
	tenant uuid.UUID
	seq    int64 // the newest seq when it was replayed: an earlier instant's state never changes, but a late commit can join it
	asOf   time.Time
}

func newAuditCache() *auditCache {
	return &auditCache{verified: newLRU[uuid.UUID, verifiedChain](maxAuditTenants),
		folded:  newLRU[uuid.UUID, *replay](maxAuditTenants),
		past:    newLRU[pastKey, State](maxPastStates),
		budgets: newLRU[uuid.UUID, *rate.Limiter](maxAuditTenants)}
}

// VerifyAnswer is GET /v1/audit/verify's answer: the chain report, and when the whole
// stream was last re-hashed (the events up to then are taken as checked since).
type VerifyAnswer struct {
	eventstore.ChainReport
	FullCheckAt time.Time `json:"full_check_at"`
}

func (a *auditCache) verify(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, now time.Time) (VerifyAnswer, error) {
	v, err, _ := a.flights.Do("verify:"+tenant.String(), func() (any, error) {
		ctx := context.WithoutCancel(ctx) // shared: no one caller's cancellation ends it
		a.mu.Lock()
		prev, ok := a.verified.get(tenant)
		a.mu.Unlock()
		fresh := ok && now.Sub(prev.fullAt) < fullVerifyEvery
		var hash [32]byte
		var rep eventstore.ChainReport
		var err error
		switch {
		case fresh && prev.report.OK && hexInto(hash[:], prev.report.HeadHash):
			rep, err = store.VerifyChainFrom(ctx, tenant, prev.report.HeadSeq, hash)
		case fresh && !prev.report.OK: // the same answer while the head stays where it was
			seq, _, herr := store.Head(ctx, tenant)
			if herr != nil {
				return nil, herr
			}
			if seq == prev.report.HeadSeq {
				return VerifyAnswer{ChainReport: prev.report, FullCheckAt: prev.fullAt}, nil
			}
			fresh = false
			rep, err = store.VerifyChain(ctx, tenant)
		default:
			fresh = false
			rep, err = store.VerifyChain(ctx, tenant)
		}
		if err != nil {
			return nil, err
		}
		entry := verifiedChain{report: rep, fullAt: now}
		if fresh {
			entry.fullAt = prev.fullAt
		}
		a.mu.Lock()
		a.verified.put(tenant, entry)
		a.mu.Unlock()
		rehashed := rep.Events
		if fresh {
			rehashed -= prev.report.HeadSeq
		}
		a.rehashed.Add(rehashed)
		return VerifyAnswer{ChainReport: rep, FullCheckAt: entry.fullAt}, nil
	})
	if err != nil {
		return VerifyAnswer{}, err
	}
	return v.(VerifyAnswer), nil
}

// state answers GET /v1/audit/state; wait > 0 means the tenant spent its budget of
// replays to earlier instants.
func (a *auditCache) state(ctx context.Context, store *eventstore.Store, reg *eventstore.Registry, tenant uuid.UUID, asOf, now time.Time) (State, time.Duration, error) {
	type latest struct {
		st   State
		last time.Time
		seq  int64
	}
	v, err, _ := a.flights.Do("state:"+tenant.String(), func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		a.mu.Lock()
		r, ok := a.folded.get(tenant)
		a.mu.Unlock()
		if ok {
			r = r.clone() // folded further below; requests still reading r keep theirs
		} else {
			r = &replay{}
		}
		before := r.seq
		if err := r.fold(ctx, store, reg, tenant, time.Now().Add(time.Hour)); err != nil {
			return nil, err
		}
		a.replayed.Add(r.seq - before)
		st, err := r.state(r.last)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.folded.put(tenant, r)
		a.mu.Unlock()
		return latest{st: st, last: r.last, seq: r.seq}, nil
	})
	if err != nil {
		return State{}, 0, err
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
		return State{}, d, nil
	}
	a.mu.Unlock()
	v, err, _ = a.flights.Do("past:"+tenant.String()+":"+asOf.UTC().Format(time.RFC3339Nano), func() (any, error) {
		st, err := ReplayState(context.WithoutCancel(ctx), store, reg, tenant, asOf)
		a.replayed.Add(st.Seq)
		return st, err
	})
	if err != nil {
		return State{}, 0, err
	}
	st := v.(State)
	st.AsOf = asOf.UTC()
	a.mu.Lock()
	a.past.put(key, st)
	a.mu.Unlock()
	return st, 0, nil
}

// hexInto decodes s into dst: true when s is empty (the hash of no events, all zero) or
// exactly len(dst) bytes of hex.
func hexInto(dst []byte, s string) bool {
	if s == "" {
		return true
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}
