package module

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// EventStore is the event store as a module's commands use it: the same method set as
// domain/app.EventStore, so app.Command and app.Load take it. Every append is all or
// nothing, checked against the expected stream version; events with ids already stored
// with the same content are a retry (nothing written), and Pending.Keys are idempotency
// keys claimed for good.
type EventStore interface {
	ReadStream(ctx context.Context, tenant uuid.UUID, stream string, fromVersion int64, limit int) ([]domain.Recorded, error)
	Append(ctx context.Context, tenant uuid.UUID, stream string, expected domain.ExpectedVersion, meta domain.Metadata, events ...domain.Pending) (domain.Committed, error)
	AppendStreams(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, parts ...domain.StreamPart) ([]domain.Committed, error)
}

// Scoped returns store restricted to the module: it appends only the module's own event
// types, to the module's own streams ("<name>."), so a product can never write Tenantry's
// events (a tenant.suspended, an api_key.created) or another module's. Reads are not
// restricted: a module may read any stream of the tenant it serves.
func (m Module) Scoped(store EventStore) EventStore { return scoped{m: m, s: store} }

type scoped struct {
	m Module
	s EventStore
}

func (s scoped) ReadStream(ctx context.Context, tenant uuid.UUID, stream string, fromVersion int64, limit int) ([]domain.Recorded, error) {
	return s.s.ReadStream(ctx, tenant, stream, fromVersion, limit)
}

func (s scoped) Append(ctx context.Context, tenant uuid.UUID, stream string, expected domain.ExpectedVersion, meta domain.Metadata, events ...domain.Pending) (domain.Committed, error) {
	if err := s.check(stream, events); err != nil {
		return domain.Committed{}, err
	}
	return s.s.Append(ctx, tenant, stream, expected, meta, events...)
}

func (s scoped) AppendStreams(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, parts ...domain.StreamPart) ([]domain.Committed, error) {
	for _, p := range parts {
		if err := s.check(p.Stream, p.Events); err != nil {
			return nil, err
		}
	}
	return s.s.AppendStreams(ctx, tenant, meta, parts...)
}

// ErrOutOfScope is an append by a module outside its own streams or event types.
var ErrOutOfScope = fmt.Errorf("append outside the module's streams or event types")

func (s scoped) check(stream string, events []domain.Pending) error {
	if !s.m.OwnsStream(stream) {
		return fmt.Errorf("module %s: stream %q: %w", s.m.Name, stream, ErrOutOfScope)
	}
	for _, e := range events {
		if e.Event == nil || !s.m.OwnsType(e.Event.EventType()) {
			return fmt.Errorf("module %s: event %T: %w", s.m.Name, e.Event, ErrOutOfScope)
		}
	}
	return nil
}
