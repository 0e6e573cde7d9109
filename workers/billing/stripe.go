package billing

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"golang.org/x/time/rate"

	"github.com/tenantry/tenantry/domain/app"
)

// NewStripeAPI returns a stripe-go client (API version stripe.APIVersion, 2023-10-16) for
// key that talks to base (https://api.stripe.com, or stripe-mock). stripe-go's own retries
// are off: Caller retries with the same idempotency key, under the rate limit.
func NewStripeAPI(key, base string, timeout time.Duration) *client.API {
	cfg := &stripe.BackendConfig{
		URL:               stripe.String(strings.TrimRight(base, "/")),
		HTTPClient:        &http.Client{Timeout: timeout},
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry:   stripe.Bool(false),
	}
	api := &client.API{}
	api.Init(key, &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	})
	return api
}

// Caller makes Stripe calls at no more than a configured rate and retries the ones worth
// retrying (429, 5xx, 409 idempotency races, timeouts and network errors) with exponential
// backoff and full jitter. Every attempt of a call carries the same idempotency key, so a
// retry after a lost response cannot do the work twice.
type Caller struct {
	Limiter     *rate.Limiter // nil: no limit
	MaxAttempts int           // 0: 8
	BaseDelay   time.Duration // 0: 250ms
	MaxDelay    time.Duration // 0: 15s

	calls, retries, failures atomic.Int64
}

// CallerStats counts attempts: every request sent, the ones retried, the calls given up.
type CallerStats struct {
	Calls, Retries, Failures int64
}

// Stats returns the counts so far.
func (c *Caller) Stats() CallerStats {
	return CallerStats{Calls: c.calls.Load(), Retries: c.retries.Load(), Failures: c.failures.Load()}
}

// Do runs fn until it succeeds, fails permanently, runs out of attempts or ctx ends.
func (c *Caller) Do(ctx context.Context, fn func() error) error {
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = 8
	}
	base, maxDelay := c.BaseDelay, c.MaxDelay
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 15 * time.Second
	}
	var err error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			c.retries.Add(1)
			d := base << (attempt - 1)
			if d > maxDelay || d <= 0 {
				d = maxDelay
			}
			t := time.NewTimer(rand.N(d) + 1)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
		}
		if c.Limiter != nil {
			if werr := c.Limiter.Wait(ctx); werr != nil {
				return errors.Join(err, werr)
			}
		}
		c.calls.Add(1)
		if err = fn(); err == nil {
			return nil
		}
		if !Retryable(err) || ctx.Err() != nil {
			break
		}
	}
	c.failures.Add(1)
	return err
}

// Retryable reports whether a Stripe call that failed with err may succeed if sent again
// with the same idempotency key.
func Retryable(err error) bool {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch {
		case se.HTTPStatusCode == http.StatusTooManyRequests, se.HTTPStatusCode >= 500,
			se.HTTPStatusCode == http.StatusConflict: // a concurrent request with the same key
			return true
		case se.HTTPStatusCode == 0: // no HTTP answer at all
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// StripeClient is app.Stripe over stripe-go: every call goes through Caller (rate limit,
// retries under the call's idempotency key).
type StripeClient struct {
	API    *client.API
	Caller *Caller
}

// CreateCustomer creates the tenant's customer, its id and slug in the metadata.
func (s *StripeClient) CreateCustomer(ctx context.Context, c app.StripeCustomer) (string, error) {
	var cus *stripe.Customer
	err := s.Caller.Do(ctx, func() error {
		p := &stripe.CustomerParams{
			Name:     stripe.String(c.Name),
			Metadata: map[string]string{"tenant_id": c.TenantID.String(), "tenant_slug": c.Slug},
		}
		p.Context = ctx
		p.SetIdempotencyKey(c.IdempotencyKey)
		var err error
		cus, err = s.API.Customers.New(p)
		return err
	})
	if err != nil {
		return "", err
	}
	return cus.ID, nil
}

// CreateSubscription subscribes the customer to one price, the tenant's id in the metadata.
func (s *StripeClient) CreateSubscription(ctx context.Context, sub app.StripeSubscription) (app.StripeSubscriptionRef, error) {
	var out *stripe.Subscription
	err := s.Caller.Do(ctx, func() error {
		p := &stripe.SubscriptionParams{
			Customer: stripe.String(sub.CustomerID),
			Items:    []*stripe.SubscriptionItemsParams{{Price: stripe.String(sub.PriceID)}},
			Metadata: map[string]string{"tenant_id": sub.TenantID.String()},
		}
		if !sub.TrialEnd.IsZero() {
			p.TrialEnd = stripe.Int64(sub.TrialEnd.Unix())
		}
		p.Context = ctx
		p.SetIdempotencyKey(sub.IdempotencyKey)
		var err error
		out, err = s.API.Subscriptions.New(p)
		return err
	})
	if err != nil {
		return app.StripeSubscriptionRef{}, err
	}
	return subscriptionRef(out), nil
}

// ChangeSubscriptionPrice moves the item to the price, with prorations.
func (s *StripeClient) ChangeSubscriptionPrice(ctx context.Context, c app.StripePriceChange) (app.StripeSubscriptionRef, error) {
	var out *stripe.Subscription
	err := s.Caller.Do(ctx, func() error {
		p := &stripe.SubscriptionParams{
			Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(c.ItemID), Price: stripe.String(c.PriceID)}},
			ProrationBehavior: stripe.String(string(stripe.SubscriptionSchedulePhaseProrationBehaviorCreateProrations)),
		}
		p.Context = ctx
		p.SetIdempotencyKey(c.IdempotencyKey)
		var err error
		out, err = s.API.Subscriptions.Update(c.SubscriptionID, p)
		return err
	})
	if err != nil {
		return app.StripeSubscriptionRef{}, err
	}
	return subscriptionRef(out), nil
}

// EnsurePrice finds the recurring price by its lookup key, or creates its product and the
// price (under idempotency keys derived from the lookup key, so a retry creates neither
// twice) and answers its id.
func (s *StripeClient) EnsurePrice(ctx context.Context, pr app.StripePrice) (string, error) {
	var id string
	err := s.Caller.Do(ctx, func() error {
		lp := &stripe.PriceListParams{LookupKeys: stripe.StringSlice([]string{pr.LookupKey})}
		lp.Context = ctx
		it := s.API.Prices.List(lp)
		for it.Next() {
			if p := it.Price(); p.LookupKey == pr.LookupKey && p.Active {
				id = p.ID
				return nil
			}
		}
		return it.Err()
	})
	if err != nil || id != "" {
		return id, err
	}
	var product *stripe.Product
	if err := s.Caller.Do(ctx, func() error {
		p := &stripe.ProductParams{Name: stripe.String(pr.ProductName), Metadata: map[string]string{"tenantry_price": pr.LookupKey}}
		p.Context = ctx
		p.SetIdempotencyKey("tenantry:product:" + pr.LookupKey)
		var err error
		product, err = s.API.Products.New(p)
		return err
	}); err != nil {
		return "", err
	}
	var price *stripe.Price
	err = s.Caller.Do(ctx, func() error {
		p := &stripe.PriceParams{Product: stripe.String(product.ID), Currency: stripe.String(pr.Currency),
			UnitAmount: stripe.Int64(pr.Amount), LookupKey: stripe.String(pr.LookupKey),
			Recurring: &stripe.PriceRecurringParams{Interval: stripe.String(pr.Interval)}}
		p.Context = ctx
		p.SetIdempotencyKey("tenantry:price:" + pr.LookupKey)
		var err error
		price, err = s.API.Prices.New(p)
		return err
	})
	if err != nil {
		return "", err
	}
	return price.ID, nil
}

// SendMeterEvent sends one billing meter event.
func (s *StripeClient) SendMeterEvent(ctx context.Context, e app.StripeMeterEvent) error {
	return s.Caller.Do(ctx, func() error {
		params := &stripe.BillingMeterEventParams{
			EventName:  stripe.String(e.EventName),
			Identifier: stripe.String(e.Identifier),
			Payload: map[string]string{
				"stripe_customer_id": e.CustomerID,
				"value":              e.Value.String(),
			},
			Timestamp: stripe.Int64(e.Timestamp.Unix()),
		}
		params.Context = ctx
		params.SetIdempotencyKey(e.IdempotencyKey)
		_, err := s.API.BillingMeterEvents.New(params)
		return err
	})
}

// subscriptionRef names a subscription and its first item (empty when it has none).
func subscriptionRef(sub *stripe.Subscription) app.StripeSubscriptionRef {
	if sub == nil {
		return app.StripeSubscriptionRef{}
	}
	ref := app.StripeSubscriptionRef{ID: sub.ID}
	if sub.Items != nil && len(sub.Items.Data) > 0 && sub.Items.Data[0] != nil {
		ref.ItemID = sub.Items.Data[0].ID
	}
	return ref
}
