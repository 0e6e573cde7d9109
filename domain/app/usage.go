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
	lanes        *coalescer
	noCoalescing bool
}

// RecordUsageConfig is what RecordUsage is built from.
type RecordUsageConfig struct {
	Store EventStore
	Keys  ClaimedKeys
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
	u := &RecordUsage{store: cfg.Store, keys: cfg.Keys, noCoalescing: cfg.NoCoalescing}
	u.lanes = &coalescer{store: u.storeRecords, background: background, lanes: map[laneKey]*lane{}}
	return u
}

// UsageInput is one request's records, already validated (usage.ParseRecordJSON,
// usage.CheckTotals).
type UsageInput struct {
	Tenant   uuid.UUID
	Metadata domain.Metadata
	Records  []usage.Recorded
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
func (u *RecordUsage) Record(ctx context.Context, in UsageInput) (UsageRecorded, error) {
	if len(in.Records) == 0 {
		return UsageRecorded{}, domain.Invalid("records", "send at least one usage record")
	}
	if len(in.Records) == 1 && !u.noCoalescing {
		r := in.Records[0]
		ok, seq, err := u.lanes.record(ctx, in.Tenant, in.Metadata, r, usage.RecordEventID(in.Tenant, r.IdempotencyKey))
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
	ok, seqs, err := u.storeRecords(ctx, in.Tenant, in.Metadata, distinct, ids, nil)
	if err != nil {
		return UsageRecorded{}, err
	}
	accepted := 0
	for _, a := range ok {
		if a {
			accepted++
		}
	}
	return UsageRecorded{Accepted: accepted, Duplicates: len(in.Records) - accepted, Seq: slices.Max(seqs)}, nil
}

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
func (u *RecordUsage) storeRecords(ctx context.Context, tenant uuid.UUID, meta domain.Metadata,
	records []usage.Recorded, ids []uuid.UUID, requests []string,
) (accepted []bool, seqs []int64, err error) {
	accepted = make([]bool, len(records))
	seqs = make([]int64, len(records))
	fresh := make([]int, len(records))
	for i := range fresh {
		fresh[i] = i
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			claimed, err := u.keys.ClaimedKeys(ctx, tenant, ids)
			if err != nil {
				return nil, nil, err
			}
			fresh = fresh[:0]
			for i, id := range ids {
				if seq, ok := claimed[id]; ok {
					seqs[i] = seq
				} else {
					fresh = append(fresh, i)
				}
			}
			if len(fresh) == 0 {
				return accepted, seqs, nil
			}
		}
		event, eventMeta := usageEvent(meta, records, ids, requests, fresh)
		res, err := u.store.Append(ctx, tenant, usage.StreamID, domain.Any, eventMeta, event)
		if err == nil {
			for _, i := range fresh {
				accepted[i] = !res.Retried
				seqs[i] = res.LastSeq
			}
			return accepted, seqs, nil
		}
		if !errors.Is(err, domain.ErrKeyClaimed) && !errors.Is(err, domain.ErrEventIDConflict) || attempt == 3 {
			return nil, nil, err
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
