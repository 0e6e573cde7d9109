package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/workers/billing"
)

func TestBillingCycle_ProvisionLinksTheTenantOnceAndFollowsItsPlan(t *testing.T) {
	f := newBillingFixture(t)
	steps := f.cycle(t)
	ctx := context.Background()
	id := f.createTenant(t, domain.PlanPro)

	n, err := steps.Provision(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	acct, _, err := app.Load(ctx, f.events, id, dbilling.AccountStreamID, dbilling.NewAccount)
	require.NoError(t, err)
	require.True(t, acct.Linked())
	require.NotEmpty(t, acct.CustomerID())
	require.NotEmpty(t, acct.SubscriptionID())
	require.Equal(t, domain.PlanPro, acct.Plan())

	n, err = steps.Provision(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n, "a linked tenant on its plan is left alone")

	f.tenantCommand(t, id, func(tn *tenant.Tenant) ([]domain.Event, error) {
		return tn.ChangePlan(domain.PlanEnterprise, f.clock())
	})
	n, err = steps.Provision(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n, "a plan change moves the subscription")
	acct, _, err = app.Load(ctx, f.events, id, dbilling.AccountStreamID, dbilling.NewAccount)
	require.NoError(t, err)
	require.Equal(t, domain.PlanEnterprise, acct.Plan())
}

func TestBillingCycle_PushUsageReportsEachClosedWindowOnceAndReconcileAgrees(t *testing.T) {
	f := newBillingFixture(t)
	steps := f.cycle(t)
	ctx := context.Background()
	id := f.createTenant(t, domain.PlanPro)
	_, err := steps.Provision(ctx, id)
	require.NoError(t, err)
	h := f.clock().Truncate(time.Hour)
	f.record(t, id, 2, h.Add(-3*time.Hour+time.Minute), h.Add(-3*time.Hour+2*time.Minute), h.Add(-2*time.Hour+time.Minute))
	f.record(t, id, 5, h.Add(time.Minute)) // the current window: not due yet

	rec := app.NewReconcile(billing.UsageLedger{Store: f.store}, 5*time.Minute)
	require.Eventually(t, func() bool {
		before, err := rec.Run(ctx, app.ReconcileInput{Tenant: id, Now: f.clock()})
		return err == nil && before.Differences == 1 && len(before.Lines) == 1 &&
			before.Lines[0].Recorded.Int64() == 6 && before.Lines[0].Reported.Int64() == 0 && before.Lines[0].InProgress.Int64() == 5
	}, time.Minute, 20*time.Millisecond, "usage recorded and not yet reported")

	n, err := steps.PushUsage(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 2, n, "two closed windows")
	n, err = steps.PushUsage(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n, "nothing new to report")

	require.Eventually(t, func() bool {
		after, err := rec.Run(ctx, app.ReconcileInput{Tenant: id, Now: f.clock()})
		return err == nil && after.Differences == 0 && len(after.Lines) == 1 &&
			after.Lines[0].Recorded.Int64() == 6 && after.Lines[0].Reported.Int64() == 6 && after.Lines[0].InProgress.Int64() == 5
	}, time.Minute, 20*time.Millisecond, "the read models show the reported usage")

	// The window closes: only it is pushed, as its own revision.
	f.advance(time.Hour)
	n, err = steps.PushUsage(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestBillingCycle_DunningSuspendsAPastDueTenantOnlyAfterItsGracePeriod(t *testing.T) {
	f := newBillingFixture(t)
	steps := f.cycle(t)
	ctx := context.Background()
	id := f.createTenant(t, domain.PlanPro)
	f.tenantCommand(t, id, func(tn *tenant.Tenant) ([]domain.Event, error) {
		return tn.MarkPastDue(f.clock(), f.clock().Add(24*time.Hour), f.clock())
	})

	n, err := steps.Dunning(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n, "still within the grace period")
	require.Equal(t, tenant.StatusPastDue, f.loadTenant(t, id).Status())

	f.advance(24*time.Hour + time.Minute)
	n, err = steps.Dunning(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, tenant.StatusSuspended, f.loadTenant(t, id).Status())
	n, err = steps.Dunning(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n, "a suspended tenant is not suspended again")
}

// invoiceEvent is a verified Stripe event of typ about an invoice of the customer's
// subscription "sub_<customer>".
func invoiceEvent(t *testing.T, typ, customer, status string, created time.Time) app.StripeEvent {
	t.Helper()
	obj, err := json.Marshal(map[string]any{"id": "in_" + uuid.NewString()[:13], "object": "invoice",
		"customer": customer, "status": status, "subscription": "sub_" + customer})
	require.NoError(t, err)
	return app.StripeEvent{ID: "evt_" + uuid.NewString(), Type: typ, Created: created.Unix(), Object: obj}
}

func TestStripeDeliveries_AppliesAFailedPaymentOnceAndIgnoresUnknownCustomers(t *testing.T) {
	f := newBillingFixture(t)
	ctx := context.Background()
	deliveries, err := app.NewStripeDeliveries(f.events, f.store, f.reads, f.api, 7*24*time.Hour, app.ClockFunc(f.clock), nil)
	require.NoError(t, err)
	id := f.createTenant(t, domain.PlanPro)
	cus := "cus_app_" + uuid.NewString()[:8]
	_, err = f.events.Append(ctx, id, dbilling.AccountStreamID, domain.NoStream, domain.Metadata{Actor: "test"},
		domain.Pending{Event: dbilling.CustomerLinked{CustomerID: cus, SubscriptionID: "sub_" + cus, SubscriptionItemID: "si_" + cus,
			Plan: domain.PlanPro, PriceID: "price_tenantry_pro"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := f.reads.TenantOfStripeCustomer(ctx, cus)
		return err == nil && got == id
	}, time.Minute, 10*time.Millisecond, "the directory links the customer")

	failed := invoiceEvent(t, dbilling.StripeInvoicePaymentFailed, cus, "open", f.clock().Add(-time.Minute))
	d, err := deliveries.Apply(ctx, failed)
	require.NoError(t, err)
	require.Equal(t, id, d.TenantID)
	require.Equal(t, dbilling.OutcomeApplied, d.Outcome)
	require.False(t, d.Duplicate)
	require.Positive(t, d.Seq)
	tn := f.loadTenant(t, id)
	require.Equal(t, tenant.StatusPastDue, tn.Status())
	require.Equal(t, f.clock().Add(-time.Minute+7*24*time.Hour), tn.GraceEndsAt().UTC(), "grace runs from the failure Stripe reported")

	again, err := deliveries.Apply(ctx, failed)
	require.NoError(t, err)
	require.Equal(t, app.StripeDelivery{TenantID: id, Duplicate: true}, again, "a redelivery changes nothing")
	page, err := f.events.ReadStream(ctx, id, dbilling.AccountStreamID, 1, 100)
	require.NoError(t, err)
	require.Len(t, page, 2, "the link and one delivery record")
	require.Equal(t, app.DeliveryEventID(id, failed.ID), deliveryID(t, f, id))

	nobody := invoiceEvent(t, dbilling.StripeInvoicePaymentFailed, "cus_nobody", "open", f.clock())
	other, err := deliveries.Apply(ctx, nobody)
	require.NoError(t, err)
	require.Equal(t, app.StripeDelivery{Outcome: dbilling.OutcomeIgnored, Reason: dbilling.ReasonCustomerNotLinked}, other)
	other, err = deliveries.Apply(ctx, nobody)
	require.NoError(t, err)
	require.Equal(t, app.StripeDelivery{Outcome: dbilling.OutcomeIgnored, Reason: dbilling.ReasonCustomerNotLinked, Duplicate: true}, other,
		"recorded once: a redelivery is a duplicate")

	_, err = deliveries.Apply(ctx, app.StripeEvent{ID: "evt_x", Type: dbilling.StripeInvoicePaid, Created: 1, Object: []byte(`[]`)})
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), "a malformed object is invalid: %v", err)
}

// deliveryID is the id of the tenant's stored delivery record (the account stream's second
// event).
func deliveryID(t *testing.T, f *billingFixture, id uuid.UUID) uuid.UUID {
	t.Helper()
	seen, err := f.store.StoredEventIDs(context.Background(), id, []uuid.UUID{app.DeliveryEventID(id, "evt_none")})
	require.NoError(t, err)
	require.Empty(t, seen)
	page, err := f.store.ReadStream(context.Background(), id, dbilling.AccountStreamID, 2, 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	return page[0].ID
}
