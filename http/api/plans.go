package api

import "github.com/google/uuid"

// CatalogDocument is the body of PUT /v1/admin/catalog: the whole catalog, as JSON (the
// CLI's `tenantry plans apply` reads the same document from YAML). Unknown fields are
// refused.
type CatalogDocument struct {
	Metrics []CatalogMetric `json:"metrics,omitempty" doc:"the metrics the plans meter: their kind, aggregation, decimal scale, unit and Stripe meter; a metric left out is retired (it reads as a whole-unit counter again)"`
	Plans   []CatalogPlan   `json:"plans" doc:"every plan on offer; a plan left out is retired (its tenants keep their version, no one can join it)"`
}

// CatalogMetric declares a metric.
type CatalogMetric struct {
	Metric      string `json:"metric" doc:"the metric's name (lowercase letters, digits, underscores)"`
	Kind        string `json:"kind" jsonschema:"enum=counter,enum=gauge" doc:"counter (records add up) or gauge (records are readings of a level)"`
	Aggregation string `json:"aggregation" jsonschema:"enum=sum,enum=max,enum=last" doc:"sum for a counter; max or last for a gauge"`
	Scale       int    `json:"scale" jsonschema:"minimum=0,maximum=6" doc:"how many decimal places a quantity may carry"`
	Unit        string `json:"unit,omitempty" doc:"shown to people (GB, calls); no effect on arithmetic"`
	Meter       string `json:"meter,omitempty" doc:"the event name of the metric's Stripe billing meter; required for overage quotas"`
}

// CatalogPlan is one plan of a catalog document.
type CatalogPlan struct {
	Key       string                          `json:"key" doc:"the plan's key (lowercase letters, digits, underscores): what tenants name at sign-up"`
	Name      string                          `json:"name" doc:"display name"`
	Intervals map[string]IntervalPriceRequest `json:"intervals" doc:"the billing intervals the plan is sold at, monthly and/or yearly, each with its price"`
	TrialDays int                             `json:"trial_days,omitempty" jsonschema:"minimum=0,maximum=365" doc:"days of trial a tenant starts with when it signs up on the plan"`
	Limits    PlanLimits                      `json:"limits" doc:"seat and rate limits"`
	Features  map[string]bool                 `json:"features,omitempty" doc:"features on (true) or off (false), by name"`
	Metrics   map[string]PlanQuota            `json:"metrics,omitempty" doc:"per metric: the quota included per billing period and what happens beyond it"`
}

// IntervalPriceRequest is the price of one interval in a catalog document.
type IntervalPriceRequest struct {
	StripePrice string `json:"stripe_price,omitempty" doc:"an existing Stripe price id"`
	Amount      *int64 `json:"amount,omitempty" doc:"the price in minor units (cents), for a price the billing worker creates; with currency"`
	Currency    string `json:"currency,omitempty" doc:"lowercase ISO 4217 currency of amount"`
}

// PlanPrice is the price of one interval of a plan version: a Stripe price, or an amount
// for the billing worker to create one, or neither (the worker's configured price).
type PlanPrice struct {
	StripePrice string `json:"stripe_price" doc:"the Stripe price id it names (empty: none)"`
	Amount      int64  `json:"amount" doc:"the price in minor units when currency is set"`
	Currency    string `json:"currency" doc:"lowercase ISO 4217 currency of amount (empty: no amount)"`
}

// PlanLimits are a plan's seat and rate limits.
type PlanLimits struct {
	Seats             int     `json:"seats" doc:"members plus pending invitations a tenant may have"`
	RequestsPerSecond float64 `json:"requests_per_second" doc:"sustained API requests per second"`
	Burst             int     `json:"burst" doc:"requests allowed at once above the sustained rate"`
}

// QuotaText is a quota as a catalog document writes it: a JSON number, or a string of its
// decimal digits (as YAML gives it); answers write it as a string.
type QuotaText string

// PlanQuota is a plan's quota of one metric.
type PlanQuota struct {
	Included QuotaText `json:"included" doc:"the quantity included per billing period: an exact decimal within the metric's scale (a JSON number or string in a document)"`
	Beyond   string    `json:"beyond" jsonschema:"enum=hard,enum=soft,enum=overage" doc:"hard: usage beyond is refused; soft: allowed and alerted; overage: allowed and billed through the metric's meter"`
}

// CatalogChange is what an apply does to one plan or metric.
type CatalogChange struct {
	Key     string `json:"key" doc:"the plan's key or the metric's name"`
	Status  string `json:"status" jsonschema:"enum=added,enum=changed,enum=unchanged,enum=retired" doc:"added, changed (a new version), unchanged or retired"`
	Version int    `json:"version" doc:"the version it is at afterwards (retired: its last one)"`
}

// CatalogApplied answers PUT /v1/admin/catalog.
type CatalogApplied struct {
	Plans          []CatalogChange `json:"plans" doc:"every plan of the document, then those it retires"`
	Metrics        []CatalogChange `json:"metrics" doc:"every metric of the document, then those it retires"`
	CatalogVersion int64           `json:"catalog_version" doc:"the catalog's version after the apply (a dry run: the version it was compared with; pass it as catalog_version to apply exactly what was reviewed)"`
	DryRun         bool            `json:"dry_run" doc:"true when nothing was written"`
}

// PlanVersion is one version of a plan.
type PlanVersion struct {
	Version   int                  `json:"version" doc:"the version (1, 2, ...): a changed definition is a new version"`
	Name      string               `json:"name" doc:"display name"`
	Intervals map[string]PlanPrice `json:"intervals" doc:"the billing intervals the version is sold at, with their prices"`
	TrialDays int                  `json:"trial_days" doc:"days of trial at sign-up"`
	Limits    PlanLimits           `json:"limits" doc:"seat and rate limits"`
	Features  map[string]bool      `json:"features" doc:"features on or off, by name"`
	Metrics   map[string]PlanQuota `json:"metrics" doc:"per metric: included quota per period and what happens beyond it"`
}

// PlanEntry is a plan with its current version.
type PlanEntry struct {
	Key            string      `json:"key" doc:"the plan's key"`
	Retired        bool        `json:"retired" doc:"true when no tenant can join the plan any more"`
	CurrentVersion int         `json:"current_version" doc:"the latest version (the one sign-ups join unless retired)"`
	Current        PlanVersion `json:"current" doc:"the latest version's definition"`
}

// PlanList answers GET /v1/admin/plans.
type PlanList struct {
	CatalogVersion int64           `json:"catalog_version" doc:"the catalog stream's version (0: the default catalog, nothing applied)"`
	Plans          []PlanEntry     `json:"plans" doc:"every plan ever defined, in the order first defined"`
	Metrics        []CatalogMetric `json:"metrics" doc:"the declared metrics"`
}

// PlanHistory answers GET /v1/admin/plans/{key}.
type PlanHistory struct {
	Key      string        `json:"key" doc:"the plan's key"`
	Retired  bool          `json:"retired" doc:"true when no tenant can join the plan any more"`
	Versions []PlanVersion `json:"versions" doc:"every version, oldest first"`
}

// MigrateTenantsRequest is the body of POST /v1/admin/plans/{key}/migrate-tenants.
type MigrateTenantsRequest struct {
	FromVersion int `json:"from_version,omitempty" jsonschema:"minimum=0" doc:"move only the tenants on this version (absent or 0: any other version)"`
	ToVersion   int `json:"to_version" jsonschema:"minimum=1" doc:"the version to move them to"`
}

// TenantsMigrated answers POST /v1/admin/plans/{key}/migrate-tenants.
type TenantsMigrated struct {
	Plan      string            `json:"plan" doc:"the plan's key"`
	ToVersion int               `json:"to_version" doc:"the version tenants were moved to"`
	Moved     []uuid.UUID       `json:"moved" doc:"the tenants moved by this call (each got one tenant.plan_changed); a repeated call moves no one twice"`
	Skipped   map[string]string `json:"skipped" doc:"tenants left where they are, by id, with the reason (closed, or the version is not sold at their interval)"`
}
