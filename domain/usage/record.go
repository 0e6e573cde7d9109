package usage

import (
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
)

// TypeRecorded is the stored event type name. Never rename.
const TypeRecorded = "usage.recorded"

// Accepted window for occurred_at, relative to now; both bounds inclusive.
// The future allowance absorbs client clock skew; the past limit lets a
// client flush a month of buffered usage while the billing period it belongs
// to can still be invoiced.
const (
	MaxFutureSkew = 5 * time.Minute
	MaxAge        = 35 * 24 * time.Hour
)

// Recorded is one usage record: Quantity units of Metric at OccurredAt.
type Recorded struct {
	Metric         Metric         `json:"metric"`
	Quantity       Quantity       `json:"quantity"`
	OccurredAt     time.Time      `json:"occurred_at"`
	IdempotencyKey IdempotencyKey `json:"idempotency_key"`
}

// EventType implements domain.Event.
func (Recorded) EventType() string { return TypeRecorded }

// SchemaVersion implements domain.Event.
func (Recorded) SchemaVersion() int { return 1 }

// UsageDeltas implements domain.Metered.
func (r Recorded) UsageDeltas() []domain.UsageDelta { return Deltas([]Recorded{r}) }

// NewRecord validates a record at now: every part must be set and occurredAt
// must lie within [now-MaxAge, now+MaxFutureSkew].
func NewRecord(metric Metric, quantity Quantity, occurredAt time.Time, key IdempotencyKey, now time.Time) (Recorded, error) {
	switch {
	case metric.IsZero():
		return Recorded{}, domain.Invalid("metric", "metric is required")
	case quantity.IsZero():
		return Recorded{}, domain.Invalid("quantity", "quantity is required")
	case key.IsZero():
		return Recorded{}, domain.Invalid("idempotency_key", "idempotency key is required")
	case occurredAt.After(now.Add(MaxFutureSkew)):
		return Recorded{}, domain.Invalid("occurred_at", "occurred_at must be at most 5 minutes in the future")
	case occurredAt.Before(now.Add(-MaxAge)):
		return Recorded{}, domain.Invalid("occurred_at", "occurred_at must be at most 35 days in the past")
	}
	return Recorded{Metric: metric, Quantity: quantity, OccurredAt: occurredAt.UTC(), IdempotencyKey: key}, nil
}

// recordIDNamespace separates these hashes from any other use of SHA-256 over
// tenant ids, and versions the derivation.
const recordIDNamespace = "tenantry/usage/v1"

// RecordEventID returns the event id for the record with key in tenant.
//
// Event ids are normally random UUIDv7s, but a client that retries a record
// (after a timeout, say) must reproduce the same id so the event store's
// idempotent append drops the duplicate. So the id is derived (domain.DeriveID).
func RecordEventID(tenant uuid.UUID, key IdempotencyKey) uuid.UUID {
	return domain.DeriveID(recordIDNamespace, tenant, key.s)
}

var (
	_ domain.Metered = Recorded{}
	_ domain.Metered = BatchRecorded{}
)
