package usage

import "github.com/tenantry/tenantry/domain"

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
