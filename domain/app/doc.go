// Package app is Tenantry's application layer: one function or small type per thing a user
// does (sign up, invite and accept, manage keys, change plan, record usage, apply a Stripe
// delivery, run a billing step, reconcile, replay as of a time, export and verify). HTTP
// handlers, CLI commands and workers decode their input, authorise, call a use case here and
// encode its answer; none of them holds business rules of its own.
//
// A use case depends on the domain and on small interfaces declared in this package (the
// event store, read models, Stripe, the clock), never on Gin, pgx or stripe-go: the adapters
// (eventstore, workers/billing's Stripe caller) implement the interfaces, and cmd/tenantry
// wires them. So use cases are tested without a server, and where it helps without a
// database. Read command.go first.
package app
