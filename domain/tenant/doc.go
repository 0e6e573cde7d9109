// Package tenant is the Tenant aggregate: a tenant's name, slug, plan and
// lifecycle status (active, past due, suspended, closed).
//
// Commands are methods that validate against the current state and return the
// events that would record the change; they never mutate. Apply folds an event
// into the state and Replay rebuilds a Tenant from its stream. Every command
// takes now so the package stays clock-free, even where the resulting event
// carries no time of its own (the event store stamps recorded_at).
package tenant

// StreamID is the stream that holds a tenant's lifecycle events; there is one
// such stream per tenant.
const StreamID = "tenant"
