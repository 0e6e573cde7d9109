package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store appends and reads events through a pool logged in as the runtime role
// (tenantry_app); row-level security holds every call to the tenant it names.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store over pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the pool the store runs on.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const setTenantSQL = `SELECT set_config('tenantry.tenant_id', $1, true)`

const appendSQL = `SELECT seq, stream_version, event_id, position, recorded_at, hash, retried
FROM tenantry.append_events($1, $2, $3, $4, $5, $6, $7, $8)`

// Append writes events to one stream of one tenant, all or nothing. expected is checked
// against the stream's version under the tenant's head lock; a mismatch is a
// *ConcurrencyError. Appending events whose ids are all stored with the same content is a
// retry: nothing is written and the result has Retried set.
//
// One append is one round trip and one transaction: the tenant context and the append
// function travel as a pipelined batch. Callers only see this signature, so concurrent
// appends can later be coalesced into one transaction (group commit) behind it.
func (s *Store) Append(ctx context.Context, tenant uuid.UUID, stream string, expected ExpectedVersion, events ...NewEvent) (AppendResult, error) {
	args, err := appendArgs(tenant, stream, expected, events)
	if err != nil {
		return AppendResult{}, err
	}
	b := &pgx.Batch{}
	b.Queue(setTenantSQL, tenant.String())
	b.Queue(appendSQL, args...)
	br := s.pool.SendBatch(ctx, b)
	res, err := readAppend(br, len(events))
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return AppendResult{}, fmt.Errorf("append to tenant %s stream %q: %w", tenant, stream, mapAppendError(err, stream, expected))
	}
	return res, nil
}

func appendArgs(tenant uuid.UUID, stream string, expected ExpectedVersion, events []NewEvent) ([]any, error) {
	if tenant == uuid.Nil {
		return nil, ErrNoTenant
	}
	if err := ValidateStreamID(stream); err != nil {
		return nil, err
	}
	if expected < Any {
		return nil, fmt.Errorf("%w: expected version %d", ErrInvalidEvent, int64(expected))
	}
	if len(events) == 0 || len(events) > MaxEventsPerAppend {
		return nil, fmt.Errorf("%w: an append takes 1 to %d events, got %d", ErrInvalidEvent, MaxEventsPerAppend, len(events))
	}
	n := len(events)
	ids := make([]uuid.UUID, n)
	types := make([]string, n)
	versions := make([]int32, n)
	data := make([]string, n)
	meta := make([]string, n)
	seen := make(map[uuid.UUID]struct{}, n)
	for i := range events {
		e := &events[i]
		if err := e.validate(); err != nil {
			return nil, err
		}
		id := e.ID
		if id == uuid.Nil {
			var err error
			if id, err = uuid.NewV7(); err != nil {
				return nil, fmt.Errorf("generate event id: %w", err)
			}
		}
		if _, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: event id %s appears twice in one append", ErrInvalidEvent, id)
		}
		seen[id] = struct{}{}
		m, err := json.Marshal(e.Metadata)
		if err != nil {
			return nil, fmt.Errorf("encode metadata: %w", err)
		}
		ids[i], types[i], versions[i], data[i], meta[i] = id, e.Type, int32(e.SchemaVersion), string(e.Data), string(m)
	}
	return []any{tenant, stream, int64(expected), ids, types, versions, data, meta}, nil
}

func readAppend(br pgx.BatchResults, n int) (AppendResult, error) {
	if _, err := br.Exec(); err != nil {
		return AppendResult{}, err
	}
	rows, err := br.Query()
	if err != nil {
		return AppendResult{}, err
	}
	res := AppendResult{Events: make([]Appended, 0, n)}
	for rows.Next() {
		var a Appended
		var hash []byte
		if err := rows.Scan(&a.Seq, &a.StreamVersion, &a.ID, &a.Position, &a.RecordedAt, &hash, &res.Retried); err != nil {
			rows.Close()
			return AppendResult{}, err
		}
		copy(a.Hash[:], hash)
		res.Events = append(res.Events, a)
	}
	if err := rows.Err(); err != nil {
		return AppendResult{}, err
	}
	if len(res.Events) != n {
		return AppendResult{}, fmt.Errorf("append returned %d rows for %d events", len(res.Events), n)
	}
	sort.Slice(res.Events, func(i, j int) bool { return res.Events[i].Seq < res.Events[j].Seq })
	res.FirstSeq = res.Events[0].Seq
	res.LastSeq = res.Events[n-1].Seq
	res.StreamVersion = res.Events[n-1].StreamVersion
	return res, nil
}
