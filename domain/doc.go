// Package domain is the shared kernel of Tenantry: the Event contract, coded
// errors, and the validated value types (slugs, emails, roles, plans) that the
// aggregates in its subpackages build on.
//
// Everything under domain/ is pure: no I/O, no clocks, no globals. Commands take
// the current time as a parameter, validate, and return events without mutating
// state; Apply folds events into state.
//
// Value types are structs with an unexported field, so the zero value is the
// only value a caller can make without a Parse function, and it is always
// invalid. They encode to JSON as text and refuse to encode when unset, so an
// invalid value can never be written into an event.
package domain
