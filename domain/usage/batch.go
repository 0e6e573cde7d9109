package usage

import (
	"math"

	"github.com/tenantry/tenantry/domain"
)

// TypeBatchRecorded is the stored event type of records accepted together. Never rename.
const TypeBatchRecorded = "usage.batch_recorded"

// BatchRecorded is the usage records of one request, accepted together and stored as one
// event: one row, one chain link and one message for up to a thousand records, where one
// event per record made every record pay for all of those. Each record still counts once:
// the event claims every record's key id (RecordEventID) in the event store, as a single
// Recorded event claims its own.
//
// The API also stores concurrent single-record requests of one tenant and actor as one
// batch (see the HTTP API's usage coalescing); RequestIDs then names each record's request,
// in record order. It is absent when the records came in one request (the event's metadata
// names it).
type BatchRecorded struct {
	Records    []Recorded `json:"records"`
	RequestIDs []string   `json:"request_ids,omitempty"`
}

// EventType implements domain.Event.
func (BatchRecorded) EventType() string { return TypeBatchRecorded }

// SchemaVersion implements domain.Event.
func (BatchRecorded) SchemaVersion() int { return 1 }

// UsageDeltas implements domain.Metered.
func (b BatchRecorded) UsageDeltas() []domain.UsageDelta { return Deltas(b.Records) }

// Records returns the usage records an event carries: one for a Recorded, all of them for
// a BatchRecorded (value or pointer), and ok false for any other event.
func Records(e domain.Event) (records []Recorded, ok bool) {
	switch v := e.(type) {
	case Recorded:
		return []Recorded{v}, true
	case *Recorded:
		if v != nil {
			return []Recorded{*v}, true
		}
	case BatchRecorded:
		return v.Records, true
	case *BatchRecorded:
		if v != nil {
			return v.Records, true
		}
	}
	return nil, false
}

// CheckTotals refuses records whose sum per metric and hour, or per metric and day (the
// buckets the read models add them into), would not fit an int64. With MaxQuantity and the
// API's batch limits it cannot trigger; it is the checked guard that keeps any future
// caller (larger batches, a lower bound lifted) from wrapping a sum around silently.
func CheckTotals(records []Recorded) error {
	type bucket struct {
		metric string
		at     int64
		daily  bool
	}
	sums := make(map[bucket]int64, len(records))
	for i, r := range records {
		at := r.OccurredAt.UTC()
		hour := at.Unix() - at.Unix()%3600
		day := at.Unix() - at.Unix()%86400
		for _, k := range []bucket{{r.Metric.String(), hour, false}, {r.Metric.String(), day, true}} {
			sum, ok := AddQuantities(sums[k], r.Quantity.Int64())
			if !ok {
				return domain.LimitExceeded("records", "record %d: the records of metric %s add up to more than %d in one window",
					i, r.Metric, int64(math.MaxInt64))
			}
			sums[k] = sum
		}
	}
	return nil
}
