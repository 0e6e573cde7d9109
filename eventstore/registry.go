package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/tenantry/tenantry/domain"
)

// Payload is what the registry decodes events into: a Go type that names its own stable
// type string and current schema version. It is domain.Event, so the domain's catalog can
// fill a registry (catalog.Register) without the event store importing the aggregates.
type Payload = domain.Event

// Upcaster turns the JSON of one schema version into the JSON of the next (an alias, so a
// plain func satisfies catalog.Registry's method).
type Upcaster = func(data []byte) ([]byte, error)

// Registry maps stored type names and schema versions to Go types. Only the current version
// of each type has a Go type; older versions are upcast step by step (v1→v2→…) on read.
type Registry struct {
	mu        sync.RWMutex
	current   map[string]registered
	upcasters map[typeVersion]Upcaster
}

type registered struct {
	version int
	newFn   func() Payload
}

type typeVersion struct {
	typ     string
	version int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{current: map[string]registered{}, upcasters: map[typeVersion]Upcaster{}}
}

// Register maps typ at its current schema version to the Go type newFn returns. The value
// must report the same type and version, so a rename cannot silently change history.
func (r *Registry) Register(typ string, version int, newFn func() Payload) error {
	if !eventTypeShaped(typ) || version < 1 {
		return fmt.Errorf("register %q v%d: invalid type name or version", typ, version)
	}
	if p := newFn(); p.EventType() != typ || p.SchemaVersion() != version {
		return fmt.Errorf("register %q v%d: Go type reports %q v%d", typ, version, p.EventType(), p.SchemaVersion())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.current[typ]; dup {
		return fmt.Errorf("register %q: already registered", typ)
	}
	r.current[typ] = registered{version: version, newFn: newFn}
	return nil
}

// RegisterUpcaster adds the step from schema version from to from+1 of typ.
func (r *Registry) RegisterUpcaster(typ string, from int, fn Upcaster) error {
	if from < 1 || fn == nil {
		return fmt.Errorf("register upcaster %q v%d: invalid", typ, from)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := typeVersion{typ, from}
	if _, dup := r.upcasters[k]; dup {
		return fmt.Errorf("register upcaster %q v%d: already registered", typ, from)
	}
	r.upcasters[k] = fn
	return nil
}

// Current is the schema version this build writes for typ (0 when unknown).
func (r *Registry) Current(typ string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current[typ].version
}

// Check reports every registered type whose upcast chain from version 1 has a hole.
func (r *Registry) Check() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for typ, reg := range r.current {
		for v := 1; v < reg.version; v++ {
			if _, ok := r.upcasters[typeVersion{typ, v}]; !ok {
				return fmt.Errorf("event %q is at v%d but has no upcaster from v%d", typ, reg.version, v)
			}
		}
	}
	return nil
}

// Decode turns a stored event's JSON into its current Go type, upcasting older versions.
// Unknown types and versions newer than the code yield ErrUnknownEventType.
func (r *Registry) Decode(typ string, version int, data []byte) (Payload, error) {
	r.mu.RLock()
	reg, ok := r.current[typ]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q v%d", ErrUnknownEventType, typ, version)
	}
	if version < 1 || version > reg.version {
		return nil, fmt.Errorf("%w: %q v%d (this build knows up to v%d)", ErrUnknownEventType, typ, version, reg.version)
	}
	for v := version; v < reg.version; v++ {
		r.mu.RLock()
		up, ok := r.upcasters[typeVersion{typ, v}]
		r.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("%w: %q has no upcaster from v%d", ErrUnknownEventType, typ, v)
		}
		next, err := up(data)
		if err != nil {
			return nil, fmt.Errorf("upcast %q v%d: %w", typ, v, err)
		}
		data = next
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("decode %q v%d: data is not a JSON object", typ, reg.version)
	}
	p := reg.newFn()
	if err := json.Unmarshal(data, p); err != nil { // one value: trailing data is an error
		return nil, fmt.Errorf("decode %q v%d: %w", typ, reg.version, err)
	}
	return p, nil
}

// DecodeEvent decodes a stored event's data.
func (r *Registry) DecodeEvent(e *Event) (Payload, error) {
	p, err := r.Decode(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return nil, fmt.Errorf("tenant %s seq %d: %w", e.TenantID, e.Seq, err)
	}
	return p, nil
}

// Encode turns a payload into a NewEvent at the payload's current version. The payload's
// type must be registered, so nothing unreadable is ever written.
func (r *Registry) Encode(p Payload, meta Metadata) (NewEvent, error) {
	r.mu.RLock()
	reg, ok := r.current[p.EventType()]
	r.mu.RUnlock()
	if !ok || reg.version != p.SchemaVersion() {
		return NewEvent{}, fmt.Errorf("%w: %q v%d is not registered", ErrUnknownEventType, p.EventType(), p.SchemaVersion())
	}
	data, err := json.Marshal(p)
	if err != nil {
		return NewEvent{}, fmt.Errorf("encode %q: %w", p.EventType(), err)
	}
	return NewEvent{Type: p.EventType(), SchemaVersion: p.SchemaVersion(), Data: data, Metadata: meta}, nil
}
