// Package module is the extension API of Tenantry: how a team brings its own product's data
// (events, tenant tables, projections) behind the same isolation as Tenantry's own. A
// Module is a plain Go value a team writes and passes to Tenantry when it builds its own
// binary (with its HTTP routes: package http/product, and cmd/tenantry/platform.Main).
//
// Everything a module declares is namespaced by its Name: its event types are
// "<name>.<aggregate>.<past tense>", its streams start with "<name>.", its projections'
// checkpoints are "<name>.<projection>", and its tables, by convention, start with
// "<name>_". The package is pure Go (no I/O): the event store, the migrator, the projector
// and the HTTP server read the declaration.
//
// Stability: this package and http/product are the extension API. Before 1.0 they follow
// the rules in the README ("Build your product on Tenantry", "Versioning").
package module

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
)

// Module declares a product's data. Only Name is required.
type Module struct {
	// Name identifies the module: 2 to 31 characters of lowercase letters, digits and
	// underscores, starting with a letter; not "tenantry" (Tenantry's own areas).
	Name string
	// Events are the module's event types at their current schema versions; every type
	// starts with Name + ".".
	Events []EventType
	// Upcasters turn stored payloads of older schema versions into the next version.
	Upcasters []Upcaster
	// Migrations are the module's tenant migrations, files named NNNN_name.sql (versions
	// counted per module), applied by `tenantry migrate` to every tenant's schema and to
	// each new tenant's schema, in the tenant's schema (unqualified names land there). Every
	// table they leave must have a tenant_id column, row-level security enabled and forced,
	// and a policy; the runtime roles get DML only. A shipped migration never changes.
	Migrations fs.FS
	// Projections keep the module's tables current from events (its own or Tenantry's).
	Projections []Projection
	// Metrics are the usage metrics the module records (billed like Tenantry's own).
	Metrics []Metric
	// Roles says what each role may do in the product's terms (documentation: the
	// permission rows of the module's routes decide).
	Roles map[domain.Role]string
	// State, when set, returns an empty replay state: an auditor's as-of replay applies the
	// module's events to it and shows it (JSON-encoded) beside Tenantry's own state.
	State func() State
}

// EventType is one stored event type at its current schema version. New returns a
// pointer to a zero event, the target of json.Unmarshal.
type EventType struct {
	Type    string
	Version int
	New     func() domain.Event
}

// Event declares the event type T (a struct whose pointer implements domain.Event); its
// type name and version are read from T itself, so they cannot disagree.
func Event[T any, PT interface {
	*T
	domain.Event
}]() EventType {
	probe := PT(new(T))
	return EventType{Type: probe.EventType(), Version: probe.SchemaVersion(), New: func() domain.Event { return PT(new(T)) }}
}

// Upcaster converts a payload of Type at FromVersion to FromVersion+1.
type Upcaster struct {
	Type        string
	FromVersion int
	Fn          func([]byte) ([]byte, error)
}

// Projection applies events to the module's tables in the tenant's schema. Each event is
// applied exactly once, in the tenant's transaction (tenant context and search_path set,
// row-level security in force), together with the projection's own checkpoint. An Apply
// error stops this projection for this tenant only (Tenantry's read models and other
// projections go on) until an operator rebuilds it; transient database errors are retried.
type Projection struct {
	// Name is unique within the module; the checkpoint is "<module>.<name>".
	Name string
	// Handles lists the event types Apply is given: the module's own, or Tenantry's (e.g.
	// "member.removed"). Other events only move the checkpoint.
	Handles []string
	// Apply writes one event's effect through tx.
	Apply func(ctx context.Context, tx Tx, e domain.Recorded) error
}

// Metric is a usage metric the module records.
type Metric struct {
	Name        string // as usage metrics: ^[a-z][a-z0-9_]{0,62}$
	Unit        string // e.g. "tasks", "bytes"
	Description string
}

// State is a module's replayed view of a tenant (see Module.State); it is shown as JSON.
type State interface {
	Apply(e domain.Recorded) error
}

// Tx is a transaction in one tenant's schema: the tenant context and search_path are set,
// so unqualified table names are the tenant's, and row-level security admits only the
// tenant's rows. SQL is the module's own text; values are always parameters.
type Tx interface {
	Tenant() uuid.UUID
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Row is one result row (pgx's Row satisfies it).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set (pgx's Rows satisfies it): Next, Scan, then Close and Err.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)
	metricRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	typeRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
)

// Core is the Name of Tenantry's own areas, declared through this same API.
const Core = "tenantry"

// corePrefixes are the first words of Tenantry's own event types (and of those it may add
// in these areas): no module may take one as its name.
var corePrefixes = []string{Core, "tenant", "member", "invitation", "api_key", "usage", "billing", "plan", "webhook", "audit", "entitlement"}

// IsCoreType reports whether event type t is in one of Tenantry's own namespaces (which a
// module can never declare): a binary that meets such a type and does not know it is older
// than its data, while a module's type it does not know is a product it does not run.
func IsCoreType(t string) bool {
	prefix, _, _ := strings.Cut(t, ".")
	for _, c := range corePrefixes {
		if prefix == c {
			return true
		}
	}
	return false
}

// Validate reports the first thing wrong with the declaration.
func (m Module) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return fmt.Errorf("module %q: name must be 2 to 31 lowercase letters, digits or underscores, starting with a letter", m.Name)
	}
	own := m.Name != Core
	if own && IsCoreType(m.Name+".") {
		return fmt.Errorf("module %q: the name is reserved for Tenantry's own event types", m.Name)
	}
	types := map[string]bool{}
	for _, e := range m.Events {
		if !typeRE.MatchString(e.Type) || len(e.Type) > 100 || e.Version < 1 || e.New == nil {
			return fmt.Errorf("module %s: event %q v%d: invalid type name, version or constructor", m.Name, e.Type, e.Version)
		}
		if own && !strings.HasPrefix(e.Type, m.Name+".") {
			return fmt.Errorf("module %s: event type %q must start with %q", m.Name, e.Type, m.Name+".")
		}
		if types[e.Type] {
			return fmt.Errorf("module %s: event type %q declared twice", m.Name, e.Type)
		}
		types[e.Type] = true
	}
	for _, u := range m.Upcasters {
		if !types[u.Type] || u.FromVersion < 1 || u.Fn == nil {
			return fmt.Errorf("module %s: upcaster of %q v%d: not a declared event type, or invalid", m.Name, u.Type, u.FromVersion)
		}
	}
	names := map[string]bool{}
	for _, p := range m.Projections {
		if !nameRE.MatchString(p.Name) || names[p.Name] {
			return fmt.Errorf("module %s: projection %q: invalid or duplicate name", m.Name, p.Name)
		}
		names[p.Name] = true
		if p.Apply == nil || len(p.Handles) == 0 {
			return fmt.Errorf("module %s: projection %s: needs Apply and the event types it handles", m.Name, p.Name)
		}
		for _, t := range p.Handles {
			if !typeRE.MatchString(t) {
				return fmt.Errorf("module %s: projection %s handles %q: not an event type name", m.Name, p.Name, t)
			}
		}
	}
	for _, mt := range m.Metrics {
		if !metricRE.MatchString(mt.Name) {
			return fmt.Errorf("module %s: metric %q: must match %s", m.Name, mt.Name, metricRE)
		}
	}
	for r := range m.Roles {
		if _, err := domain.ParseRole(r.String()); err != nil {
			return fmt.Errorf("module %s: roles: %w", m.Name, err)
		}
	}
	return nil
}

// Checkpoint is the name of projection p's checkpoint: "<module>.<projection>".
func (m Module) Checkpoint(p Projection) string { return m.Name + "." + p.Name }

// OwnsStream reports whether stream belongs to the module: it starts with "<name>.".
func (m Module) OwnsStream(stream string) bool { return strings.HasPrefix(stream, m.Name+".") }

// OwnsType reports whether the module declares event type t.
func (m Module) OwnsType(t string) bool {
	for _, e := range m.Events {
		if e.Type == t {
			return true
		}
	}
	return false
}

// Registrar is what receives a module's event types (the event store's registry).
type Registrar interface {
	Register(typ string, version int, newFn func() domain.Event) error
	RegisterUpcaster(typ string, from int, fn func([]byte) ([]byte, error)) error
}

// Register validates m and adds its event types and upcasters to reg.
func Register(reg Registrar, m Module) error {
	if err := m.Validate(); err != nil {
		return err
	}
	for _, e := range m.Events {
		if err := reg.Register(e.Type, e.Version, e.New); err != nil {
			return fmt.Errorf("module %s: %w", m.Name, err)
		}
	}
	for _, u := range m.Upcasters {
		if err := reg.RegisterUpcaster(u.Type, u.FromVersion, u.Fn); err != nil {
			return fmt.Errorf("module %s: %w", m.Name, err)
		}
	}
	return nil
}

// Check validates a set of modules together: each valid, names unique, and no event type
// or metric declared by two.
func Check(mods []Module) error {
	seen, types, metrics := map[string]bool{}, map[string]string{}, map[string]string{}
	for _, m := range mods {
		if err := m.Validate(); err != nil {
			return err
		}
		if seen[m.Name] {
			return fmt.Errorf("module %s: declared twice", m.Name)
		}
		seen[m.Name] = true
		for _, e := range m.Events {
			if o, ok := types[e.Type]; ok {
				return fmt.Errorf("event type %q declared by modules %s and %s", e.Type, o, m.Name)
			}
			types[e.Type] = m.Name
		}
		for _, mt := range m.Metrics {
			if o, ok := metrics[mt.Name]; ok {
				return fmt.Errorf("metric %q declared by modules %s and %s", mt.Name, o, m.Name)
			}
			metrics[mt.Name] = m.Name
		}
	}
	return nil
}
