package domain

import "reflect"

// Event is a fact recorded in a tenant's stream. EventType is an explicit,
// stable name shaped "<aggregate>.<past tense>" that is never derived from the
// Go type name, so renaming a package cannot silently change stored history;
// SchemaVersion is the version of the payload shape the type encodes.
type Event interface {
	EventType() string
	SchemaVersion() int
}

// Deref returns the event a pointer refers to, so aggregates can apply both the
// values their commands return and the pointers an event store decodes into.
// Anything else, including a nil pointer, is returned unchanged.
func Deref(e Event) Event {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return e
	}
	if inner, ok := v.Elem().Interface().(Event); ok {
		return inner
	}
	return e
}
