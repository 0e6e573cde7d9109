package domain

// PlanName is a plan's key in the plan catalog (domain/plans): a lowercase identifier, the
// same shape as a metric name. Whether a plan of that key exists is the catalog's to say.
type PlanName struct{ s string }

// The plans of the built-in default catalog.
var (
	PlanFree       = PlanName{"free"}
	PlanPro        = PlanName{"pro"}
	PlanEnterprise = PlanName{"enterprise"}
)

// PlanNames lists the plans of the built-in default catalog, cheapest first.
func PlanNames() []PlanName { return []PlanName{PlanFree, PlanPro, PlanEnterprise} }

// ParsePlanName accepts a plan key: 1 to 63 lowercase letters, digits and underscores,
// starting with a letter.
func ParsePlanName(s string) (PlanName, error) {
	if !IsKey(s) {
		return PlanName{}, Invalid("plan", "plan must be 1 to 63 characters of lowercase letters, digits and underscores, starting with a letter")
	}
	return PlanName{s: s}, nil
}

// IsKey matches ^[a-z][a-z0-9_]{0,62}$, the shape of plan keys and metric names (without a
// regexp: metric names are checked for every usage record on ingestion and on projection).
func IsKey(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// String returns the plan name; empty for the zero value.
func (p PlanName) String() string { return p.s }

// IsZero reports whether p is the unset value.
func (p PlanName) IsZero() bool { return p.s == "" }

// MarshalText encodes the plan name; an unset plan is an error.
func (p PlanName) MarshalText() ([]byte, error) {
	if p.IsZero() {
		return nil, errUnset("plan")
	}
	return []byte(p.s), nil
}

// UnmarshalText decodes a plan name.
func (p *PlanName) UnmarshalText(b []byte) error {
	v, err := ParsePlanName(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func (p PlanName) index() int {
	switch p {
	case PlanFree:
		return 0
	case PlanPro:
		return 1
	case PlanEnterprise:
		return 2
	}
	return -1
}

// Limits is what a plan allows one tenant.
type Limits struct {
	// Seats caps members plus pending invitations; 0 is invalid. Enterprise
	// uses a large explicit number rather than "unlimited" so every check
	// stays a plain comparison.
	Seats int `json:"seats"`
	// RequestsPerSecond is the sustained per-tenant API rate.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Burst is how many requests may exceed the sustained rate at once.
	Burst int `json:"burst"`
}

// Upper bounds for configured limits, far above any real plan, so that an
// override typo cannot overflow arithmetic downstream.
const (
	maxSeats = 1_000_000
	maxRPS   = 1_000_000
	maxBurst = 10_000_000
)

// Valid reports whether every limit is positive, finite and within bounds.
// The range checks on RequestsPerSecond also fail for NaN and infinities.
func (l Limits) Valid() bool {
	return l.Seats > 0 && l.Seats <= maxSeats &&
		l.RequestsPerSecond > 0 && l.RequestsPerSecond <= maxRPS &&
		l.Burst > 0 && l.Burst <= maxBurst
}

// Plans is the limits of the built-in plans (free, pro, enterprise), with the
// TENANTRY_PLAN_LIMITS overrides: the default catalog's version 1 of each. It is a value: copies are
// independent, so overrides never leak into the defaults.
type Plans struct {
	limits [3]Limits
}

// DefaultPlans is the catalog used when no overrides are configured.
func DefaultPlans() Plans {
	return Plans{limits: [3]Limits{
		{Seats: 3, RequestsPerSecond: 5, Burst: 10},
		{Seats: 25, RequestsPerSecond: 50, Burst: 100},
		{Seats: 10_000, RequestsPerSecond: 500, Burst: 1000},
	}}
}

// Limits returns the limits of a built-in plan, or the zero (invalid) Limits for any
// other plan name.
func (ps Plans) Limits(plan PlanName) Limits {
	i := plan.index()
	if i < 0 {
		return Limits{}
	}
	return ps.limits[i]
}
