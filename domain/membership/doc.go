// Package membership is the Membership aggregate: every member, pending
// invitation and API key of one tenant, with the invariants that span them (at
// least one admin, the seat limit, unique emails, keys only for current members
// and within their role, invitations only while their inviter may grant their
// role).
//
// Commands validate against the current state and return events without
// mutating; Apply folds events and Replay rebuilds from a stream. Invitation
// tokens and API keys never enter this package: callers pass their hex SHA-256
// (see HashToken), which is all that is stored.
package membership

// StreamID is the stream that holds a tenant's membership events; there is
// one such stream per tenant.
const StreamID = "membership"
