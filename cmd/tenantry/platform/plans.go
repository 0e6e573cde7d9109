package platform

import (
	"time"

	usecases "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
)

// catalogRefresh is how often a process reads the catalog stream for changes another
// process applied (a process that applies or signs up refreshes at once).
const catalogRefresh = 5 * time.Second

// planCatalog is the plan catalog over events: the default catalog (with the
// TENANTRY_PLAN_LIMITS overrides) and the catalog stream folded over it by Fresh.
func (a *app) planCatalog(events usecases.EventStore) *usecases.PlanCatalog {
	return usecases.NewPlanCatalog(events, plans.Default(a.cfg.Plans))
}
