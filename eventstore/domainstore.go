package eventstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// DomainStore is the event store as the use cases see it (domain/app.EventStore): domain
// events in and out, encoded and decoded by Registry, stored by Store.
type DomainStore struct {
	Store    *Store
	Registry *Registry
}

// ReadStream returns up to limit decoded events of one stream, from fromVersion on.
func (d DomainStore) ReadStream(ctx context.Context, tenant uuid.UUID, stream string, fromVersion int64, limit int) ([]domain.Recorded, error) {
	page, err := d.Store.ReadStream(ctx, tenant, stream, fromVersion, limit)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Recorded, len(page))
	for i := range page {
		if out[i], err = d.decode(&page[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d DomainStore) decode(e *Event) (domain.Recorded, error) {
	p, err := d.Registry.DecodeEvent(e)
	if err != nil {
		return domain.Recorded{}, err
	}
	if p == nil {
		return domain.Recorded{}, fmt.Errorf("%w: %q decoded to nothing", ErrUnknownEventType, e.Type)
	}
	return domain.Recorded{Event: p, Seq: e.Seq, StreamID: e.StreamID, StreamVersion: e.StreamVersion, RecordedAt: e.RecordedAt}, nil
}

// Append encodes events and appends them to one stream (see Store.Append).
func (d DomainStore) Append(ctx context.Context, tenant uuid.UUID, stream string, expected domain.ExpectedVersion, meta domain.Metadata, events ...domain.Pending) (domain.Committed, error) {
	enc, err := d.encode(meta, events)
	if err != nil {
		return domain.Committed{}, err
	}
	res, err := d.Store.Append(ctx, tenant, stream, expected, enc...)
	if err != nil {
		return domain.Committed{}, err
	}
	return committed(res), nil
}

// AppendStreams encodes and appends to several streams of one tenant in one transaction
// (see Store.AppendStreams).
func (d DomainStore) AppendStreams(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, parts ...domain.StreamPart) ([]domain.Committed, error) {
	enc := make([]StreamAppend, len(parts))
	for i, p := range parts {
		events, err := d.encode(meta, p.Events)
		if err != nil {
			return nil, err
		}
		enc[i] = StreamAppend{Stream: p.Stream, Expected: p.Expected, Events: events}
	}
	res, err := d.Store.AppendStreams(ctx, tenant, enc...)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Committed, len(res))
	for i, r := range res {
		out[i] = committed(r)
	}
	return out, nil
}

func (d DomainStore) encode(meta domain.Metadata, events []domain.Pending) ([]NewEvent, error) {
	out := make([]NewEvent, len(events))
	for i, e := range events {
		ne, err := d.Registry.Encode(e.Event, meta)
		if err != nil {
			return nil, err
		}
		ne.ID, ne.Keys, ne.Usage = e.ID, e.Keys, e.Usage
		if m, ok := e.Event.(domain.Metered); ok && len(ne.Usage) == 0 {
			ne.Usage = m.UsageDeltas()
		}
		out[i] = ne
	}
	return out, nil
}

func committed(r AppendResult) domain.Committed {
	return domain.Committed{Retried: r.Retried, FirstSeq: r.FirstSeq, LastSeq: r.LastSeq, StreamVersion: r.StreamVersion}
}
