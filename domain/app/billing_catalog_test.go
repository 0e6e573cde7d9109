package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/workers/billing"
)

// recordingStripe is the real adapter (stripe-mock behind it), remembering what it was asked.
type recordingStripe struct {
	*billing.StripeClient
	mu     sync.Mutex
	subs   []app.StripeSubscription
	prices []app.StripePrice
}

func (r *recordingStripe) CreateSubscription(ctx context.Context, s app.StripeSubscription) (app.StripeSubscriptionRef, error) {
	r.mu.Lock()
	r.subs = append(r.subs, s)
	r.mu.Unlock()
	return r.StripeClient.CreateSubscription(ctx, s)
}

func (r *recordingStripe) EnsurePrice(ctx context.Context, p app.StripePrice) (string, error) {
	r.mu.Lock()
	r.prices = append(r.prices, p)
	r.mu.Unlock()
	return r.StripeClient.EnsurePrice(ctx, p)
}

const billedCatalog = `{"plans": [
  {"key": "free", "name": "Free", "intervals": {"monthly": {}}, "limits": {"seats": 3, "requests_per_second": 5, "burst": 10}},
  {"key": "pro", "name": "Pro", "intervals": {"monthly": {"stripe_price": "price_pro_monthly"}, "yearly": {"amount": 290000, "currency": "usd"}},
   "trial_days": 14, "limits": {"seats": 25, "requests_per_second": 50, "burst": 100}}
]}`

// A yearly tenant in trial on a plan version without a Stripe price: the worker creates the
// price once (by its lookup key), starts the subscription in trial, and moves it to the
// monthly price when the tenant changes interval (a prorated price change).
func TestBillingCycle_SubscriptionsFollowTheCatalog(t *testing.T) {
	f := newBillingFixture(t)
	ctx := context.Background()
	cat := app.NewPlanCatalog(f.events, plans.Default(domain.DefaultPlans()))
	defs, err := plans.ParseDocument([]byte(billedCatalog))
	require.NoError(t, err)
	_, err = cat.Apply(ctx, app.ApplyCatalogInput{Definitions: defs, Expected: domain.Any, Meta: byTest})
	require.NoError(t, err)
	pro, ok := cat.Current().Current(domain.PlanPro)
	require.True(t, ok)
	require.Equal(t, 2, pro.Version)

	rec := &recordingStripe{StripeClient: f.stripe}
	steps, err := app.NewBillingCycle(f.events, rec, billing.UsageTotals{Store: f.store, ReadModels: f.reads},
		app.ClockFunc(f.clock), nil, app.BillingConfig{Prices: billing.DefaultPrices(), Plans: cat, Settle: 5 * time.Minute})
	require.NoError(t, err)

	id := uuid.Must(uuid.NewV7())
	slug, err := domain.ParseSlug("yearly-trial-" + strings.ToLower(id.String()[24:]))
	require.NoError(t, err)
	f.tenantCommand(t, id, func(*tenant.Tenant) ([]domain.Event, error) {
		return tenant.CreateOn(id, "Yearly", slug, pro, plans.Yearly, f.clock())
	})
	n, err := steps.Provision(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []app.StripePrice{{LookupKey: "tenantry_pro_v2_yearly", ProductName: "Pro", Amount: 290000, Currency: "usd", Interval: "year"}}, rec.prices)
	require.Len(t, rec.subs, 1)
	require.Equal(t, f.clock().AddDate(0, 0, 14), rec.subs[0].TrialEnd, "the subscription starts in trial")
	acct, _, err := app.Load(ctx, f.events, id, dbilling.AccountStreamID, dbilling.NewAccount)
	require.NoError(t, err)
	yearly := acct.PriceID()
	require.NotEmpty(t, yearly)
	require.NotEqual(t, "price_tenantry_pro", yearly, "the yearly price, not the configured monthly one")

	n, err = steps.Provision(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n)

	f.tenantCommand(t, id, func(tn *tenant.Tenant) ([]domain.Event, error) {
		return tn.ChangeSubscription(pro, plans.Monthly, f.clock())
	})
	n, err = steps.Provision(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n, "an interval change moves the subscription to the monthly price")
	acct, _, err = app.Load(ctx, f.events, id, dbilling.AccountStreamID, dbilling.NewAccount)
	require.NoError(t, err)
	require.Equal(t, "price_pro_monthly", acct.PriceID())
	require.Len(t, rec.prices, 1, "the yearly price was created once")
}
