package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// Aggregate is state rebuilt from one stream by applying its events in order.
type Aggregate interface {
	Apply(domain.Event) error
}

// MaxAttempts bounds how often a command is re-run after losing a concurrency race.
const MaxAttempts = 5

// Command runs decide against the current state of one stream and appends what it decides
// at the version it saw: load, decide, append, and on a lost race (*ConcurrencyError) all
// again, at most MaxAttempts times. decide must be pure (it may run more than once).
// Deciding no events is a success that writes nothing.
type Command[A Aggregate] struct {
	Store    *Store
	Registry *Registry
	Tenant   uuid.UUID
	Stream   string
	New      func() A
	Metadata Metadata
	// EventID, when set, gives the i-th decided event a stable id (e.g. from an idempotency
	// key) so a retried command is recognised instead of appended twice.
	EventID func(i int, e domain.Event) uuid.UUID
	// Applied says decide applies its events to the state itself, as a command decided in
	// steps must (the second step sees the first step's events); Run then does not apply
	// them again.
	Applied bool
}

// Run executes the command and returns the state it decided on and the append result.
func (c Command[A]) Run(ctx context.Context, decide func(A) ([]domain.Event, error)) (A, AppendResult, error) {
	var zero A
	var lastErr error
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		state, version, err := c.load(ctx)
		if err != nil {
			return zero, AppendResult{}, err
		}
		events, err := decide(state)
		if err != nil {
			return state, AppendResult{}, err
		}
		if len(events) == 0 {
			return state, AppendResult{StreamVersion: version}, nil
		}
		proposed := make([]NewEvent, len(events))
		for i, e := range events {
			if proposed[i], err = c.Registry.Encode(e, c.Metadata); err != nil {
				return state, AppendResult{}, err
			}
			if c.EventID != nil {
				proposed[i].ID = c.EventID(i, e)
			}
		}
		res, err := c.Store.Append(ctx, c.Tenant, c.Stream, Exact(version), proposed...)
		if err == nil {
			if c.Applied {
				return state, res, nil
			}
			for _, e := range events {
				if err := state.Apply(e); err != nil {
					return state, res, fmt.Errorf("apply decided event: %w", err)
				}
			}
			return state, res, nil
		}
		if !errors.Is(err, ErrConcurrency) {
			return state, AppendResult{}, err
		}
		lastErr = err
	}
	return zero, AppendResult{}, fmt.Errorf("gave up after %d attempts: %w", MaxAttempts, lastErr)
}

// load rebuilds the aggregate from its stream and returns the stream's version.
func (c Command[A]) load(ctx context.Context) (A, int64, error) {
	return Load(ctx, c.Store, c.Registry, c.Tenant, c.Stream, c.New)
}

// Load rebuilds an aggregate from one stream of a tenant and returns it with the stream's
// version, for callers that decide across several streams (see AppendStreams).
func Load[A Aggregate](ctx context.Context, store *Store, registry *Registry, tenant uuid.UUID, stream string, newFn func() A) (A, int64, error) {
	state := newFn()
	var version int64
	for {
		page, err := store.ReadStream(ctx, tenant, stream, version+1, MaxPage)
		if err != nil {
			return state, 0, err
		}
		for i := range page {
			p, err := registry.DecodeEvent(&page[i])
			if err != nil {
				return state, 0, err
			}
			e, ok := p.(domain.Event)
			if !ok {
				return state, 0, fmt.Errorf("%w: %T is not a domain event", ErrUnknownEventType, p)
			}
			if err := state.Apply(e); err != nil {
				return state, 0, fmt.Errorf("replay tenant %s stream %q v%d: %w", tenant, stream, page[i].StreamVersion, err)
			}
			version = page[i].StreamVersion
		}
		if len(page) < MaxPage {
			return state, version, nil
		}
	}
}
