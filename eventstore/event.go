// Package eventstore is Tenantry's tenant-partitioned, hash-chained, append-only event log
// in PostgreSQL: appends with optimistic concurrency and idempotent retries, per-stream,
// per-tenant and gap-safe global reads, a type registry with upcasting, and chain verification.
package eventstore

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// MaxEventsPerAppend bounds one append so a single call cannot hold a tenant's lock for long.
const MaxEventsPerAppend = 1000

// maxEventBytes bounds one event's data plus metadata.
const maxEventBytes = 1 << 20

// NewEvent is an event proposed for appending.
type NewEvent struct {
	// ID makes the append idempotent: appending an event whose ID is stored is a retry.
	// Zero means "generate a UUIDv7" (then a retry cannot be recognised).
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      Metadata
	// Keys are idempotency keys the event claims in its tenant, for good: an append fails
	// with ErrKeyClaimed, writing nothing, when any of them is claimed already. Keys and
	// the ids of events that claim themselves (see usage) share one space per tenant.
	Keys []uuid.UUID
	// Usage is what the event adds to the tenant's usage totals (tenantry.usage_totals), in
	// the append's transaction: the store passes it through, knowing nothing of usage
	// records. A total beyond its delta's Quota fails the append with a *QuotaExceeded.
	Usage []UsageDelta
}

// UsageDelta is one event's addition to one usage total (see domain.UsageDelta).
type UsageDelta = domain.UsageDelta

// QuotaExceeded is an append refused for a usage total beyond its hard quota.
type QuotaExceeded = domain.QuotaExceeded

// Metadata travels with every event: who caused it and in answer to what.
type Metadata = domain.Metadata

// Event is a stored event. Data and Metadata hold PostgreSQL's jsonb text, the exact bytes
// the hash chain covers.
type Event struct {
	TenantID      uuid.UUID
	Seq           int64
	StreamID      string
	StreamVersion int64
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	Data          []byte
	Metadata      []byte
	RecordedAt    time.Time
	TxID          uint64
	Position      int64
	PrevHash      [32]byte
	Hash          [32]byte
}

// eventTypeShaped matches ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$: dot-separated lowercase
// words, at least two (checked for every appended event, so without a regexp).
func eventTypeShaped(t string) bool {
	words, start := 0, true
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case start:
			if c < 'a' || c > 'z' {
				return false
			}
			start = false
			words++
		case c == '.':
			start = true
		case (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_':
			return false
		}
	}
	return words >= 2 && !start
}

// ValidateStreamID reports whether id can name a stream: 1 to 200 bytes of UTF-8 without
// control characters.
func ValidateStreamID(id string) error {
	if id == "" || len(id) > 200 || !utf8.ValidString(id) {
		return fmt.Errorf("%w: stream id must be 1 to 200 bytes of UTF-8", ErrInvalidEvent)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: stream id contains a control character", ErrInvalidEvent)
		}
	}
	return nil
}

func (e *NewEvent) validate() error {
	if !eventTypeShaped(e.Type) || len(e.Type) > 100 {
		return fmt.Errorf("%w: event type %q must look like aggregate.past_tense", ErrInvalidEvent, e.Type)
	}
	if e.SchemaVersion < 1 {
		return fmt.Errorf("%w: event %s needs a schema version >= 1", ErrInvalidEvent, e.Type)
	}
	if len(e.Data) > maxEventBytes {
		return fmt.Errorf("%w: event %s data exceeds %d bytes", ErrInvalidEvent, e.Type, maxEventBytes)
	}
	if !json.Valid(e.Data) {
		return fmt.Errorf("%w: event %s data is not valid JSON", ErrInvalidEvent, e.Type)
	}
	return nil
}

// ExpectedVersion is the stream version an append requires (see domain.ExpectedVersion).
type ExpectedVersion = domain.ExpectedVersion

const (
	// Any appends whatever the stream's version.
	Any = domain.Any
	// NoStream requires that the stream has no events yet.
	NoStream = domain.NoStream
)

// Exact requires the stream to be at version v (v > 0; Exact(0) is NoStream).
func Exact(v int64) ExpectedVersion { return domain.Exact(v) }

// AppendResult describes a successful append.
type AppendResult struct {
	// Retried is true when every event was already stored (same ids and content): nothing
	// was written and the stored positions are returned.
	Retried       bool
	FirstSeq      int64
	LastSeq       int64
	StreamVersion int64 // the stream's version after the last appended event
	Events        []Appended
}

// Appended is where one appended event landed.
type Appended struct {
	ID            uuid.UUID
	Seq           int64
	StreamVersion int64
	Position      int64
	RecordedAt    time.Time
	Hash          [32]byte
}
