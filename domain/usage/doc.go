// Package usage validates metered usage records (API calls, storage, seats,
// ...) and turns them into usage.recorded events.
//
// Usage has no aggregate state: a record is valid or not on its own, and
// retries are made harmless by RecordEventID, which maps the same tenant and
// idempotency key to the same event id every time.
package usage

// StreamID is the stream that holds a tenant's usage events; there is one
// such stream per tenant.
const StreamID = "usage"
