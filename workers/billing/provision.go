package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app/logctx"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

// Provision links the tenant to a Stripe customer and subscription, or moves the
// subscription to the tenant's current plan; nothing when both are done. It takes the
// tenant's billing lock (ErrBusy when another worker has it).
func (w *Worker) Provision(ctx context.Context, id uuid.UUID) (int, error) {
	w.init()
	ctx = logctx.With(ctx, "tenant_id", id.String())
	var n int
	err := w.withTenant(ctx, id, func(ctx context.Context) error {
		var err error
		n, err = w.provisionLocked(ctx, id)
		return err
	})
	return n, err
}

// provisionLocked creates the customer and the subscription under idempotency keys derived
// from the tenant and the action, so a crash after Stripe answered and before
// billing.customer_linked was recorded ends, on the next run, with the same customer and
// subscription rather than new ones.
func (w *Worker) provisionLocked(ctx context.Context, id uuid.UUID) (int, error) {
	t, _, err := eventstore.Load(ctx, w.Store, w.Registry, id, tenant.StreamID, newTenant)
	if err != nil {
		return 0, err
	}
	if t.Version() == 0 || t.Status() == tenant.StatusClosed {
		return 0, nil
	}
	acct, version, err := eventstore.Load(ctx, w.Store, w.Registry, id, dbilling.AccountStreamID, dbilling.NewAccount)
	if err != nil {
		return 0, err
	}
	price, ok := w.Config.Prices[t.Plan()]
	if !ok {
		return 0, fmt.Errorf("no Stripe price configured for plan %s", t.Plan())
	}
	meta := eventstore.Metadata{Actor: "billing-worker"}
	if !acct.Linked() {
		var cus *stripe.Customer
		err := w.Caller.Do(ctx, func() error {
			p := &stripe.CustomerParams{
				Name:     stripe.String(t.Name().String()),
				Metadata: map[string]string{"tenant_id": id.String(), "tenant_slug": t.Slug().String()},
			}
			p.Context = ctx
			p.SetIdempotencyKey("tenantry:customer:" + id.String())
			var err error
			cus, err = w.Stripe.Customers.New(p)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("create Stripe customer: %w", err)
		}
		var sub *stripe.Subscription
		err = w.Caller.Do(ctx, func() error {
			p := &stripe.SubscriptionParams{
				Customer: stripe.String(cus.ID),
				Items:    []*stripe.SubscriptionItemsParams{{Price: stripe.String(price)}},
				Metadata: map[string]string{"tenant_id": id.String()},
			}
			p.Context = ctx
			p.SetIdempotencyKey("tenantry:subscription:" + id.String())
			var err error
			sub, err = w.Stripe.Subscriptions.New(p)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("create Stripe subscription: %w", err)
		}
		events, err := acct.Link(cus.ID, sub.ID, firstItem(sub), t.Plan(), price)
		if err != nil {
			return 0, err
		}
		if _, err := w.append(ctx, id, dbilling.AccountStreamID, version, meta, events...); err != nil {
			return 0, fmt.Errorf("record billing.customer_linked: %w", err)
		}
		w.Logger.InfoContext(ctx, "tenant linked to Stripe", "stripe_customer_id", cus.ID, "stripe_subscription_id", sub.ID)
		return 1, nil
	}
	if acct.Plan() == t.Plan() {
		return 0, nil
	}
	var sub *stripe.Subscription
	err = w.Caller.Do(ctx, func() error {
		p := &stripe.SubscriptionParams{
			Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(acct.SubscriptionItemID()), Price: stripe.String(price)}},
			ProrationBehavior: stripe.String(string(stripe.SubscriptionSchedulePhaseProrationBehaviorCreateProrations)),
		}
		p.Context = ctx
		// One key per plan change: the tenant stream's version identifies it.
		p.SetIdempotencyKey("tenantry:subscription-plan:" + id.String() + ":v" + strconv.Itoa(t.Version()))
		var err error
		sub, err = w.Stripe.Subscriptions.Update(acct.SubscriptionID(), p)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("move Stripe subscription to plan %s: %w", t.Plan(), err)
	}
	events, err := acct.ChangePlan(firstItem(sub), t.Plan(), price)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	if _, err := w.append(ctx, id, dbilling.AccountStreamID, version, meta, events...); err != nil {
		return 0, fmt.Errorf("record billing.subscription_changed: %w", err)
	}
	w.Logger.InfoContext(ctx, "Stripe subscription moved to the tenant's plan", "plan", t.Plan().String())
	return 1, nil
}

func firstItem(sub *stripe.Subscription) string {
	if sub != nil && sub.Items != nil && len(sub.Items.Data) > 0 && sub.Items.Data[0] != nil {
		return sub.Items.Data[0].ID
	}
	return ""
}

// dunning suspends the tenant (reason payment_failed) when it is past due and its grace
// period has ended.
func (w *Worker) dunning(ctx context.Context, id uuid.UUID) (int, error) {
	now := w.now()
	cmd := eventstore.Command[*tenant.Tenant]{Store: w.Store, Registry: w.Registry, Tenant: id, Stream: tenant.StreamID,
		New: newTenant, Metadata: eventstore.Metadata{Actor: "billing-worker", CausationID: "dunning"}}
	var decided int
	_, _, err := cmd.Run(ctx, func(t *tenant.Tenant) ([]domain.Event, error) {
		events, err := dbilling.GraceEnded(t, now)
		decided = len(events)
		return events, err
	})
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return 0, nil
		}
		return 0, err
	}
	if decided > 0 {
		w.Logger.WarnContext(ctx, "tenant suspended: grace period after a failed payment ended")
	}
	return decided, nil
}
