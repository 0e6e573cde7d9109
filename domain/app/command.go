package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// EventStore is what the use cases need of the event store (eventstore.DomainStore
// implements it over PostgreSQL). Every call is scoped to one tenant.
type EventStore interface {
	// ReadStream returns up to limit decoded events of one stream, from fromVersion on.
	ReadStream(ctx context.Context, tenant uuid.UUID, stream string, fromVersion int64, limit int) ([]domain.Recorded, error)
	// Append writes events to one stream, all or nothing, if the stream is at expected; a
	// mismatch is an error that wraps domain.ErrConcurrency. Appending events whose ids are
	// all stored with the same content is a retry: nothing is written, Retried is set.
	Append(ctx context.Context, tenant uuid.UUID, stream string, expected domain.ExpectedVersion, meta domain.Metadata, events ...domain.Pending) (domain.Committed, error)
	// AppendStreams writes to several streams of one tenant in one transaction, all or
	// nothing, each part checked against its expected version.
	AppendStreams(ctx context.Context, tenant uuid.UUID, meta domain.Metadata, parts ...domain.StreamPart) ([]domain.Committed, error)
}

// Aggregate is state rebuilt from one stream by applying its events in order.
type Aggregate interface {
	Apply(domain.Event) error
}

// MaxAttempts bounds how often a command is re-run after losing a concurrency race.
const MaxAttempts = 5

// readPage is how many events Load reads per round trip.
const readPage = 1000

// Load rebuilds an aggregate from one stream of a tenant and returns it with the stream's
// version, for use cases that decide across several streams.
func Load[A Aggregate](ctx context.Context, store EventStore, tenant uuid.UUID, stream string, newFn func() A) (A, int64, error) {
	state := newFn()
	var version int64
	for {
		page, err := store.ReadStream(ctx, tenant, stream, version+1, readPage)
		if err != nil {
			return state, 0, err
		}
		for _, r := range page {
			if err := state.Apply(r.Event); err != nil {
				return state, 0, fmt.Errorf("replay tenant %s stream %q v%d: %w", tenant, stream, r.StreamVersion, err)
			}
			version = r.StreamVersion
		}
		if len(page) < readPage {
			return state, version, nil
		}
	}
}

// Command runs decide against the current state of one stream and appends what it decides
// at the version it saw: load, decide, append, and on a lost race (domain.ErrConcurrency)
// all again, at most MaxAttempts times. decide must be pure (it may run more than once).
// Deciding no events is a success that writes nothing.
type Command[A Aggregate] struct {
	Store    EventStore
	Tenant   uuid.UUID
	Stream   string
	New      func() A
	Metadata domain.Metadata
	// EventID, when set, gives the i-th decided event a stable id (e.g. from an idempotency
	// key) so a retried command is recognised instead of appended twice.
	EventID func(i int, e domain.Event) uuid.UUID
	// Applied says decide applies its events to the state itself, as a command decided in
	// steps must (the second step sees the first step's events); Run then does not apply
	// them again.
	Applied bool
}

// Run executes the command and returns the state it decided on and where the events landed.
func (c Command[A]) Run(ctx context.Context, decide func(A) ([]domain.Event, error)) (A, domain.Committed, error) {
	var zero A
	var lastErr error
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		state, version, err := Load(ctx, c.Store, c.Tenant, c.Stream, c.New)
		if err != nil {
			return zero, domain.Committed{}, err
		}
		events, err := decide(state)
		if err != nil {
			return state, domain.Committed{}, err
		}
		if len(events) == 0 {
			return state, domain.Committed{StreamVersion: version}, nil
		}
		pending := make([]domain.Pending, len(events))
		for i, e := range events {
			pending[i].Event = e
			if c.EventID != nil {
				pending[i].ID = c.EventID(i, e)
			}
		}
		res, err := c.Store.Append(ctx, c.Tenant, c.Stream, domain.Exact(version), c.Metadata, pending...)
		if err == nil {
			if !c.Applied {
				for _, e := range events {
					if err := state.Apply(e); err != nil {
						return state, res, fmt.Errorf("apply decided event: %w", err)
					}
				}
			}
			return state, res, nil
		}
		if !errors.Is(err, domain.ErrConcurrency) {
			return state, domain.Committed{}, err
		}
		lastErr = err
	}
	return zero, domain.Committed{}, fmt.Errorf("gave up after %d attempts: %w", MaxAttempts, lastErr)
}
