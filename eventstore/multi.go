package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// StreamAppend is one stream's part of an AppendStreams call.
type StreamAppend struct {
	Stream   string
	Expected ExpectedVersion
	Events   []NewEvent
}

// AppendStreams writes to several streams of one tenant in one transaction, all or
// nothing: for facts that must never exist apart (a tenant and its founding admin). Each
// part is checked against its expected version as in Append. It does not recognise
// retries; callers that need that use deterministic ids and Append.
func (s *Store) AppendStreams(ctx context.Context, tenant uuid.UUID, parts ...StreamAppend) (_ []AppendResult, err error) {
	if s.observe != nil {
		start, n := time.Now(), 0
		for _, p := range parts {
			n += len(p.Events)
		}
		defer func() { s.observe(n, time.Since(start), err) }()
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: nothing to append", ErrInvalidEvent)
	}
	params := make([]*appendParams, len(parts))
	for i, p := range parts {
		a, _, err := newAppendParams(tenant, p.Stream, p.Expected, p.Events)
		if err != nil {
			return nil, err
		}
		params[i] = a
	}
	results := make([]AppendResult, len(parts))
	// Every statement is an append_events call: the tenant's lock comes before any write.
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := range parts {
			i := i
			b.Queue(appendSQL, params[i].args()...).Query(func(rows pgx.Rows) error { // rows closed by the batch
				res, err := readAppended(rows, len(parts[i].Events), scanAppended)
				results[i] = res
				if err != nil {
					return mapAppendError(err, parts[i].Stream, parts[i].Expected)
				}
				return nil
			})
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("append to tenant %s: %w", tenant, err)
	}
	for _, r := range results {
		if s.notifier != nil {
			s.notifier.appended(tenant, r.LastSeq)
		}
		feeds.appended(tenant, r.LastSeq)
	}
	return results, nil
}
