// Package membership is the Membership aggregate: every member and pending
// invitation of one tenant, with the invariants that span them (at least one
// admin, the seat limit, unique emails).
//
// Commands validate against the current state and return events without
// mutating; Apply folds events and Replay rebuilds from a stream. Invitation
// tokens never enter this package: callers pass the hex SHA-256 of the token
// (see HashToken), which is all that is stored.
package membership

// StreamID is the stream that holds a tenant's membership events; there is
// one such stream per tenant.
const StreamID = "membership"
