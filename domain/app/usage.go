package app

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// ClaimedKeys says which idempotency key ids a tenant has claimed already (an event that
// stored them claims them for good); eventstore.Store implements it.
type ClaimedKeys interface {
	ClaimedKeys(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]int64, error)
}

// RecordUsage records metered usage: a record whose idempotency key the tenant has sent
// before is counted as a duplicate and never again (its key id is derived from the key, the
// event that stores it claims it, and the event store refuses a second claim).
type RecordUsage struct {
	store        EventStore
	keys         ClaimedKeys
	sums         UsageSums
	catalog      *PlanCatalog
	lanes        *coalescer
	noCoalescing bool
}

// RecordUsageConfig is what RecordUsage is built from.
type RecordUsageConfig struct {
	Store EventStore
	Keys  ClaimedKeys
	// Sums and Catalog enforce the hard quotas of the tenants' plans (Catalog: which apply;
	// Sums: what remains, read when coalesced records are refused together); with either
	// nil, no quota is enforced.
	Sums    UsageSums
	Catalog *PlanCatalog
	// Background makes the context a coalesced append runs in (no single request's context
	// may govern it; it carries what the logs need, such as the tenant id); nil means
	// context.Background.
	Background func(tenant uuid.UUID) context.Context
	// NoCoalescing appends each single record on its own instead of with the concurrent
	// single records of its tenant and actor: the plain path the coalescer's benchmark
	// (http BenchmarkFastPath_UsageCoalescer) measures it against.
	NoCoalescing bool
}

// NewRecordUsage builds the use case; Store and Keys are required.
func NewRecordUsage(cfg RecordUsageConfig) *RecordUsage {
	background := cfg.Background
	if background == nil {
		background = func(uuid.UUID) context.Context { return context.Background() }
	}
	u := &RecordUsage{store: cfg.Store, keys: cfg.Keys, noCoalescing: cfg.NoCoalescing, sums: cfg.Sums, catalog: cfg.Catalog}
	if cfg.Sums == nil {
		u.catalog = nil
	}
	u.lanes = &coalescer{store: u.storeRecords, background: background, lanes: map[laneKey]*lane{}}
	return u
}

// UsageInput is one request's records, already validated (usage.ParseRecordJSON,
// usage.CheckTotals).
type UsageInput struct {
	Tenant   uuid.UUID
	Metadata domain.Metadata
	Records  []usage.Recorded
	// Plan and PlanVersion are the tenant's plan version (its credential's): the version's
	// hard quotas apply to the records.
	Plan        domain.PlanName
	PlanVersion int
}

// UsageRecorded says what a request recorded: Accepted records are new, Duplicates were
// sent before (or twice in the request); Seq is the newest event that holds them (for a
// duplicate, the event that recorded it first): pass it as min_seq to read them.
type UsageRecorded struct {
	Accepted   int   `json:"accepted"`
	Duplicates int   `json:"duplicates"`
	Seq        int64 `json:"seq"`
}

// Record stores the records. One record is appended with the concurrent single records of
// its tenant and actor (see coalescer); more are one event, a key sent twice counting once.
//
// Hard quotas of the tenant's plan version: a gauge reading above its quota refuses the
// request before anything is appended; a counter's period sum is checked by the event store
// inside the append's transaction, under the tenant's lock, so the accepted usage never
// overshoots the quota, by any amount, under any concurrency. A request of several records
// is refused whole (*domain.QuotaExceeded); coalesced single records are refused one by
// one (see storeRecords). A duplicate is never refused: it is recognised first.
func (u *RecordUsage) Record(ctx context.Context, in UsageInput) (UsageRecorded, error) {
	if len(in.Records) == 0 {
		return UsageRecorded{}, domain.Invalid("records", "send at least one usage record")
	}
	quotas := u.quotasOf(in.Plan, in.PlanVersion)
	if err := quotas.checkReadings(in.Records); err != nil {
		return UsageRecorded{}, err
	}
	if len(in.Records) == 1 && !u.noCoalescing {
		r := in.Records[0]
		ok, seq, err := u.lanes.record(ctx, in.Tenant, in.Metadata, quotas, r, usage.RecordEventID(in.Tenant, r.IdempotencyKey))
		if err != nil {
			return UsageRecorded{}, err
		}
		accepted := 0
		if ok {
			accepted = 1
		}
		return UsageRecorded{Accepted: accepted, Duplicates: 1 - accepted, Seq: seq}, nil
	}
	ids := make([]uuid.UUID, 0, len(in.Records))
	distinct := make([]usage.Recorded, 0, len(in.Records))
	seen := make(map[uuid.UUID]bool, len(in.Records))
	for _, r := range in.Records {
		if id := usage.RecordEventID(in.Tenant, r.IdempotencyKey); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
			distinct = append(distinct, r)
		}
	}
	out, err := u.storeRecords(ctx, in.Tenant, in.Metadata, quotas, distinct, ids, nil)
	if err != nil {
		return UsageRecorded{}, err
	}
	seqs := out.seqs
	accepted := 0
	for _, a := range out.accepted {
		if a {
			accepted++
		}
	}
	return UsageRecorded{Accepted: accepted, Duplicates: len(in.Records) - accepted, Seq: slices.Max(seqs)}, nil
}

// storedRecords is what storeRecords did with each record: accepted (new), the seq of the
// event that holds it (for a key claimed before, the event that claimed it), or refused
// (a *domain.QuotaExceeded; coalesced records only).
type storedRecords struct {
	accepted []bool
	seqs     []int64
	refused  []error
}

// maxClaimRounds bounds storeRecords' appends after a key was found claimed: each follows
// a concurrent request's claim of one of our keys between two of our appends. Appends after
// a quota refusal are not counted: each leaves out at least one record (see storeRecords).
const maxClaimRounds = 8

// storeRecords appends records (with distinct key ids ids) as one event of the tenant's
// usage stream, leaving out those whose keys are claimed already, and reports which were
// accepted and, per record, the seq of the event that holds it (for a key claimed before,
// the event that claimed it). It optimistically
// appends everything, a new key being the common case; only if some key is claimed already
// (sent before, or by a concurrent request) does it look up which, and append the rest.
//
// One record is a usage.recorded event whose id is its key id (a retried request is then
// recognised as a retry), more are one usage.batch_recorded event; either claims every
// record's key id. requests, when set, names each record's request (coalesced requests):
// a batch carries them as request_ids, a lone record's metadata takes its own.
//
// The event carries its usage deltas with the hard quotas of counted metrics (the store
// checks them under the tenant's lock, after the keys: a duplicate fails as one first).
// When the store refuses it for a quota, one request's records are refused together (the
// error); coalesced requests' records (requests set) are fitted instead: the periods' sums
// are re-read, the records that still fit, in arrival order, are appended again, and the
// others refused one by one (refused[i]). So a refused record never had room left for it
// when it was decided, and the sums only grow: at the end, quota - accepted < its quantity.
// However long the contention lasts, no record that still fits is refused: the store
// refused the records left because the sums it saw under the lock, which the re-read sees
// or exceeds, left no room for them all, so the refit leaves out at least one of them, and
// the appends after quota refusals are at most as many as the records (a refit that would
// leave out none, which the store's sums rule out, lets the store's refusal stand).
func (u *RecordUsage) storeRecords(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, quotas hardQuotas,
	records []usage.Recorded, ids []uuid.UUID, requests []string,
) (out storedRecords, err error) {
	out = storedRecords{accepted: make([]bool, len(records)), seqs: make([]int64, len(records)), refused: make([]error, len(records))}
	fresh := make([]int, len(records))
	for i := range fresh {
		fresh[i] = i
	}
	var last error // the previous append's refusal; nil before the first
	claimRounds := 0
	for {
		switch {
		case last == nil:
		case isQuota(last):
			before := len(fresh)
			if fresh, err = u.fit(ctx, tenant, quotas, records, fresh, out.refused); err != nil {
				return storedRecords{}, err
			}
			if len(fresh) == before {
				return storedRecords{}, last
			}
		default:
			claimed, err := u.keys.ClaimedKeys(ctx, tenant, ids)
			if err != nil {
				return storedRecords{}, err
			}
			left := fresh[:0]
			for _, i := range fresh {
				if seq, ok := claimed[ids[i]]; ok {
					out.seqs[i] = seq
				} else {
					left = append(left, i)
				}
			}
			fresh = left
		}
		if len(fresh) == 0 {
			return out, nil
		}
		event, eventMeta := usageEvent(meta, records, ids, requests, fresh)
		quotas.limit(event.Usage)
		res, err := u.store.Append(ctx, tenant, usage.StreamID, domain.Any, eventMeta, event)
		if err == nil {
			for _, i := range fresh {
				out.accepted[i] = !res.Retried
				out.seqs[i] = res.LastSeq
			}
			return out, nil
		}
		last = err
		switch {
		case isQuota(err) && requests != nil: // the next refit leaves out a record at least
		case errors.Is(err, domain.ErrKeyClaimed) || errors.Is(err, domain.ErrEventIDConflict):
			if claimRounds++; claimRounds == maxClaimRounds {
				return storedRecords{}, err
			}
		default:
			return storedRecords{}, err
		}
	}
}

// usageEvent is the event for the records at indexes fresh, and its metadata (see
// storeRecords).
func usageEvent(meta domain.Metadata, records []usage.Recorded, ids []uuid.UUID, requests []string, fresh []int) (domain.Pending, domain.Metadata) {
	keys := make([]uuid.UUID, len(fresh))
	if len(fresh) == 1 {
		i := fresh[0]
		keys[0] = ids[i]
		if requests != nil {
			meta.RequestID, meta.CorrelationID = requests[i], requests[i]
		}
		return domain.Pending{ID: ids[i], Event: records[i], Keys: keys, Usage: usage.Deltas(records[i : i+1])}, meta
	}
	b := usage.BatchRecorded{Records: make([]usage.Recorded, len(fresh))}
	if requests != nil {
		b.RequestIDs = make([]string, len(fresh))
		meta.RequestID, meta.CorrelationID = "", ""
	}
	for j, i := range fresh {
		b.Records[j], keys[j] = records[i], ids[i]
		if requests != nil {
			b.RequestIDs[j] = requests[i]
		}
	}
	return domain.Pending{Event: b, Keys: keys, Usage: usage.Deltas(b.Records)}, meta
}
