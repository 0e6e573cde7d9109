package catalog

import (
	"fmt"

	"github.com/tenantry/tenantry/domain"
)

// Registry is what Register fills: the event store's type registry satisfies it. Declaring
// it here lets the composition root (cmd) hand the catalog to the store, so the data-access
// layer never imports the aggregates.
type Registry interface {
	Register(typ string, version int, newFn func() domain.Event) error
	RegisterUpcaster(typ string, from int, fn func([]byte) ([]byte, error)) error
	// Check reports a registered type whose older versions cannot all be upcast.
	Check() error
}

// Register adds every current event type and every upcaster to r, then checks that each
// stored version can reach the current one.
func Register(r Registry) error {
	for _, s := range Events() {
		if err := r.Register(s.Type, s.Version, s.New); err != nil {
			return fmt.Errorf("register the domain's events: %w", err)
		}
	}
	for _, u := range Upcasters() {
		if err := r.RegisterUpcaster(u.Type, u.FromVersion, u.Fn); err != nil {
			return fmt.Errorf("register the domain's upcasters: %w", err)
		}
	}
	if err := r.Check(); err != nil {
		return fmt.Errorf("check the domain's events: %w", err)
	}
	return nil
}
