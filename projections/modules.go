package projections

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// moduleProjection is a product module's projection as the projector runs it: a
// projection of its own, named by its checkpoint ("<module>.<projection>").
type moduleProjection struct {
	name    string
	handles map[string]bool
	apply   func(ctx context.Context, tx module.Tx, e domain.Recorded) error
	// raw, instead of apply, takes every event as stored, undecoded, in the projector's
	// own transaction: Tenantry's webhooks projection (webhooks.go), which no rebuild runs.
	raw func(ctx context.Context, tx *eventstore.ProjectionTx, e *eventstore.Event) error
}

// projectionSet is every projection the projector runs, built once from Projector.Modules.
type projectionSet struct {
	err      error    // module.Check's answer: the projector refuses to run on it
	names    []string // Tenantry's projections (in Projections order), then the modules'
	modules  []*moduleProjection
	byName   map[string]*moduleProjection
	handlers map[string][]*moduleProjection // by event type: the module projections applying it
	modTypes map[string]bool                // the event types modules declare (never the auth projection's)
	poisons  map[string]*atomic.Int64
}

// catalog returns the projector's projections; its Modules are read once, on first use.
func (p *Projector) catalog() *projectionSet {
	p.catOnce.Do(func() {
		p.cat = newCatalog(p.Modules)
		if p.Webhooks {
			p.cat.addRaw(webhooksProjection())
		}
	})
	return p.cat
}

// addRaw adds a projection of Tenantry's that takes every event undecoded (raw): it has a
// checkpoint of its own, and neither the handlers by type nor so a rebuild run it.
func (c *projectionSet) addRaw(r *moduleProjection) {
	c.modules = append(c.modules, r)
	c.byName[r.name] = r
	c.names = append(c.names, r.name)
	c.poisons[r.name] = new(atomic.Int64)
}

func newCatalog(mods []module.Module) *projectionSet {
	c := &projectionSet{byName: map[string]*moduleProjection{}, handlers: map[string][]*moduleProjection{},
		modTypes: map[string]bool{}, poisons: map[string]*atomic.Int64{}}
	c.names = append(c.names, Projections[:]...)
	if err := module.Check(mods); err != nil {
		c.err = fmt.Errorf("product modules: %w", err)
	} else {
		for _, m := range mods {
			for _, e := range m.Events {
				c.modTypes[e.Type] = true
			}
			for _, mp := range m.Projections {
				r := &moduleProjection{name: m.Checkpoint(mp), handles: map[string]bool{}, apply: mp.Apply}
				for _, t := range mp.Handles {
					if !r.handles[t] {
						r.handles[t] = true
						c.handlers[t] = append(c.handlers[t], r)
					}
				}
				c.modules = append(c.modules, r)
				c.byName[r.name] = r
				c.names = append(c.names, r.name)
			}
		}
	}
	for _, n := range c.names {
		c.poisons[n] = new(atomic.Int64)
	}
	return c
}

// Names lists the projections the projector runs, each with its own checkpoint per
// tenant: Tenantry's own (Projections) first, then each module projection's
// "<module>.<projection>", in the order Modules declares them. Metrics, backlog scans and
// rebuilds go over these.
func (p *Projector) Names() []string { return slices.Clone(p.catalog().names) }

// rebuilt lists the projections a rebuild replaces (and moves to its end): every one but
// the raw ones, which keep no read model (the webhooks projection's deliveries are queued
// once, by its own checkpoint, never again by a rebuild).
func (c *projectionSet) rebuilt() []string {
	return slices.DeleteFunc(slices.Clone(c.names), func(n string) bool { m := c.byName[n]; return m != nil && m.raw != nil })
}

// carriable lists the projections besides auth whose checkpoints the group fast path may
// move over usage records they pass over: the webhooks projection (when no endpoint wants
// the tenant's events) and every module projection that handles no usage type.
func (c *projectionSet) carriable() []string {
	var out []string
	for _, m := range c.modules {
		if m.raw != nil || !m.handlesUsage() {
			out = append(out, m.name)
		}
	}
	return out
}

// passesOverUsage reports whether projection name (one of carriable's) does nothing with
// usage records: a module projection never does; the webhooks projection does when an
// enabled endpoint could want them (webhooksWanted).
func (c *projectionSet) passesOverUsage(name string, webhooksWanted bool) bool {
	m := c.byName[name]
	if m == nil {
		return false
	}
	if m.raw != nil {
		return name == ProjectionWebhooks && !webhooksWanted
	}
	return !m.handlesUsage()
}

// handlesUsage reports whether a module projection applies any of the usage types.
func (m *moduleProjection) handlesUsage() bool {
	for t := range m.handles {
		if isUsage(t) {
			return true
		}
	}
	return false
}

// isUsage reports the event types the usage projection applies.
func isUsage(t string) bool {
	return t == usage.TypeRecorded || t == usage.TypeBatchRecorded || t == typeUsageReported
}

// owns reports whether projection name applies events of type t. Every event type of
// Tenantry's belongs to exactly one of its projections (usage or auth), and a module's event
// types to neither: the auth projection passes over them, as over usage records. A type
// outside Tenantry's namespaces (module.IsCoreType) that no module of this binary declares
// is another binary's product: passed over too, so that running plain Tenantry beside a
// product's binary never stops a tenant's authorisation state. An unknown type in
// Tenantry's own namespaces still stops it: this binary is older than its data. A module
// projection owns exactly the types it Handles (its module's or Tenantry's). name "" owns
// everything (a rebuild applies all of them into one shadow schema).
func (c *projectionSet) owns(name, t string) bool {
	switch name {
	case "":
		return true
	case ProjectionUsage:
		return isUsage(t)
	case ProjectionAuth:
		return !isUsage(t) && !c.modTypes[t] && module.IsCoreType(t)
	}
	if m := c.byName[name]; m != nil {
		return m.raw != nil || m.handles[t]
	}
	return false
}

// appliers says who applies an event of type t in projection name's batch: Tenantry's
// apply (or the usage sums) when core is set, and the module projections listed. A rebuild
// (name "") applies an event Tenantry and modules both handle with each of them.
func (c *projectionSet) appliers(name, t string) (core bool, mods []*moduleProjection) {
	switch name {
	case "":
		return !c.modTypes[t] && module.IsCoreType(t), c.handlers[t]
	case ProjectionUsage, ProjectionAuth:
		return c.owns(name, t), nil
	}
	if m := c.byName[name]; m != nil && (m.raw != nil || m.handles[t]) {
		return false, []*moduleProjection{m}
	}
	return false, nil
}

// run applies one event through the module's Apply, in the projector's transaction. A
// panic in the module's code is the event's error (it stops the projection for the tenant)
// rather than the worker's end.
func (m *moduleProjection) run(ctx context.Context, tx *eventstore.ProjectionTx, e *eventstore.Event, payload domain.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("projection %s panicked on %s: %v", m.name, e.Type, r)
		}
	}()
	if m.raw != nil {
		if err := m.raw(ctx, tx, e); err != nil {
			return fmt.Errorf("projection %s: %s: %w", m.name, e.Type, err)
		}
		return nil
	}
	if err := m.apply(ctx, tx.Module(), domain.Recorded{Event: payload, Seq: e.Seq, StreamID: e.StreamID,
		StreamVersion: e.StreamVersion, RecordedAt: e.RecordedAt}); err != nil {
		return fmt.Errorf("projection %s: %s: %w", m.name, e.Type, err)
	}
	return nil
}
