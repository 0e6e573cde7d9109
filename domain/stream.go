package domain

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The event-sourcing contract between the use cases (domain/app) and whatever stores their
// events (eventstore implements it): what a use case hands over to append and what it gets
// back. Pure types, so the application layer names them without importing storage.

// ErrConcurrency means an append's expected stream version did not match the stream: the
// decision was made on stale state and must be taken again.
var ErrConcurrency = errors.New("wrong expected stream version")

// ErrEventIDConflict means some event ids of an append are stored with other content: not
// a retry of the same append, so nothing was written.
var ErrEventIDConflict = errors.New("event id already used by a different event")

// ErrKeyClaimed means an idempotency key an append claims (Pending.Keys) is claimed by an
// event stored before: nothing was written.
var ErrKeyClaimed = errors.New("idempotency key already claimed")

// Metadata travels with every event: who caused it and in answer to what.
type Metadata struct {
	Actor         string `json:"actor,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// ExpectedVersion is the stream version an append requires: Any, NoStream or Exact(v).
type ExpectedVersion int64

const (
	// Any appends whatever the stream's version.
	Any ExpectedVersion = -1
	// NoStream requires that the stream has no events yet.
	NoStream ExpectedVersion = 0
)

// Exact requires the stream to be at version v (v > 0; Exact(0) is NoStream).
func Exact(v int64) ExpectedVersion { return ExpectedVersion(v) }

func (v ExpectedVersion) String() string {
	switch {
	case v == Any:
		return "any"
	case v == NoStream:
		return "no stream"
	default:
		return fmt.Sprintf("version %d", int64(v))
	}
}

// Pending is a decided event on its way to a stream.
type Pending struct {
	// ID makes the append idempotent: appending an event whose ID is stored is a retry.
	// Zero means "generate one" (then a retry cannot be recognised).
	ID    uuid.UUID
	Event Event
	// Keys are idempotency keys the event claims in its tenant, for good.
	Keys []uuid.UUID
	// Usage is what the event adds to its tenant's usage totals, one entry per metric and
	// quota period (usage.Deltas computes it from usage records): the event store adds it
	// in the append's transaction, and refuses the append (a *QuotaExceeded) when a total
	// would pass its Quota. Left empty for a Metered event, it is the event's UsageDeltas
	// (without quotas): no path that appends usage can leave the totals behind.
	Usage []UsageDelta
}

// Metered is an event that records usage: what it adds to its tenant's usage totals.
type Metered interface {
	Event
	UsageDeltas() []UsageDelta
}

// StreamPart is one stream's share of an append that spans several streams of a tenant.
type StreamPart struct {
	Stream   string
	Expected ExpectedVersion
	Events   []Pending
}

// Recorded is a stored event, decoded, with where and when it was stored.
type Recorded struct {
	Event         Event
	Seq           int64
	StreamID      string
	StreamVersion int64
	RecordedAt    time.Time
}

// Committed says where an append landed.
type Committed struct {
	// Retried is true when every event was stored already (same ids and content): nothing
	// was written.
	Retried       bool
	FirstSeq      int64
	LastSeq       int64
	StreamVersion int64
}
