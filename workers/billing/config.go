package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76/client"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// Config is the billing worker's configuration: cmd fills the settings from the
// environment and the collaborators when it wires the worker. New defaults and validates it
// once; the worker never changes it.
type Config struct {
	// Store and Registry are the event store, on the worker's pool.
	Store    *eventstore.Store
	Registry *eventstore.Registry
	// Stripe is the stripe-go client (NewStripeAPI).
	Stripe *client.API
	// Caller makes the Stripe calls; nil: one limited to RequestsPerSecond.
	Caller *Caller
	// ReadModels is the tenant directory and the projections' progress.
	ReadModels ReadModels
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Concurrency is how many tenants a cycle works on at once (default 4).
	Concurrency int
	// Claim, when set, makes Run's cycles run once per period across replicas: a cycle runs
	// only if this process claims ("billing_cycle", the period), and finish marks it done.
	Claim func(ctx context.Context, job string, period time.Time) (finish func(), ok bool, err error)

	// Prices maps each plan of the default catalog to the Stripe price its subscription
	// uses when its plan version names none.
	Prices map[domain.PlanName]string
	// Plans is the plan catalog (app.PlanCatalog); nil: the default catalog.
	Plans app.PlanSource
	// Meters maps a usage metric to the event name of its Stripe billing meter; a metric
	// not listed uses its own name.
	Meters map[string]string
	// Definitions declares metrics: a gauge is pushed per billing period (the UTC month)
	// by its aggregation, max on a Stripe meter whose formula is sum, last on one whose
	// formula is last (see the package doc). nil: every metric is a counter.
	Definitions usage.Definitions
	// Interval between push cycles (default one hour).
	Interval time.Duration
	// Grace is how long a past-due tenant keeps working (default 7 days).
	Grace time.Duration
	// Settle is how long after a window ends its usage is first pushed, so that records
	// sent a little late still make the first revision (default 5 minutes).
	Settle time.Duration
	// RequestsPerSecond caps Stripe calls (default 20: Stripe allows 25/s in test mode).
	RequestsPerSecond float64
}

// ReadModels is what the worker reads besides the event store; cmd wires the projections'
// implementation.
type ReadModels interface {
	// EachTenant calls fn for every tenant in the directory, stopping at fn's first error.
	EachTenant(ctx context.Context, fn func(tenant uuid.UUID) error) error
	// WaitForUsage blocks until the tenant's usage read model includes seq, or timeout.
	WaitForUsage(ctx context.Context, tenant uuid.UUID, seq int64, timeout time.Duration) error
}

// Defaults for Config.
const (
	DefaultInterval          = time.Hour
	DefaultGrace             = 7 * 24 * time.Hour
	DefaultSettle            = app.DefaultSettle
	DefaultRequestsPerSecond = 20
	DefaultConcurrency       = 4
)

// DefaultPrices names a price per plan: "price_tenantry_<plan>". Create prices with these
// lookup-friendly ids in Stripe, or set TENANTRY_STRIPE_PRICES.
func DefaultPrices() map[domain.PlanName]string {
	out := map[domain.PlanName]string{}
	for _, p := range domain.PlanNames() {
		out[p] = "price_tenantry_" + p.String()
	}
	return out
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.Prices == nil {
		c.Prices = DefaultPrices()
	}
	if c.Meters == nil {
		c.Meters = map[string]string{}
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.Settle < 0 {
		c.Settle = 0
	} else if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.RequestsPerSecond <= 0 {
		c.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// withCollaborators fills the nil collaborators New may make itself.
func (c Config) withCollaborators() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Caller == nil {
		c.Caller = &Caller{Limiter: rate.NewLimiter(rate.Limit(c.RequestsPerSecond), max(1, int(c.RequestsPerSecond)))}
	}
	return c
}

// validate names the first missing collaborator.
func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("billing worker: Store is required")
	case c.Registry == nil:
		return errors.New("billing worker: Registry is required")
	case c.Stripe == nil:
		return errors.New("billing worker: Stripe is required")
	case c.ReadModels == nil:
		return errors.New("billing worker: ReadModels is required")
	}
	return nil
}

var stripeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,100}$`)

// ParsePrices reads "free=price_a,pro=price_b,enterprise=price_c" over DefaultPrices.
func ParsePrices(s string) (map[domain.PlanName]string, error) {
	out := DefaultPrices()
	err := parsePairs(s, func(k, v string) error {
		p, err := domain.ParsePlanName(k)
		if err != nil || !slices.Contains(domain.PlanNames(), p) {
			return fmt.Errorf("unknown plan %q (prices of the default catalog's plans; a catalog document names its own)", k)
		}
		if !stripeIDPattern.MatchString(v) {
			return fmt.Errorf("price id %q for %s is not a Stripe id", v, k)
		}
		out[p] = v
		return nil
	})
	return out, err
}

// ParseMeters reads "api_calls=api_requests,storage_gb=storage" (metric=meter event name).
func ParseMeters(s string) (map[string]string, error) {
	out := map[string]string{}
	err := parsePairs(s, func(k, v string) error {
		if _, err := usage.ParseMetric(k); err != nil {
			return fmt.Errorf("metric %q: %v", k, err)
		}
		if !stripeIDPattern.MatchString(v) {
			return fmt.Errorf("meter event name %q for %s must be 1 to 100 letters, digits, - or _", v, k)
		}
		out[k] = v
		return nil
	})
	return out, err
}

func parsePairs(s string, set func(k, v string) error) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return fmt.Errorf("%q is not key=value", item)
		}
		if seen[k] {
			return fmt.Errorf("%s is given twice", k)
		}
		seen[k] = true
		if err := set(k, v); err != nil {
			return err
		}
	}
	return nil
}
