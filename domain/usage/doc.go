// Package usage validates metered usage records (API calls, storage, seats,
// ...) and turns them into events: usage.recorded for one record, and
// usage.batch_recorded for the records of one request (or of concurrent
// single-record requests stored together, each record naming its request).
//
// Usage has no aggregate state: a record is valid or not on its own, and
// retries are made harmless by RecordEventID, which maps the same tenant and
// idempotency key to the same key id every time; each usage event claims its
// records' key ids in the event store, which refuses a key claimed before.
package usage

// StreamID is the stream that holds a tenant's usage events; there is one
// such stream per tenant.
const StreamID = "usage"
