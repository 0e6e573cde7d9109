package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/app/logctx"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
)

const webhookSecret = "whsec_test_secret"

// billingAPI is the API with the Stripe delivery use case handling webhooks.
func billingAPI(t *testing.T) *api {
	return newAPI(t, func(d *httpapi.Deps) { d.Webhooks = stripeDeliveries(t, d, nil) })
}

// stripeDeliveries is the use case as cmd wires it for the API: on the API's store, the
// directory finding the tenant, the default grace period.
func stripeDeliveries(t *testing.T, d *httpapi.Deps, log *slog.Logger) func(context.Context, app.StripeEvent) (app.StripeDelivery, error) {
	t.Helper()
	uc, err := app.NewStripeDeliveries(eventstore.DomainStore{Store: d.Store, Registry: d.Registry}, d.Store,
		projections.ReadModels{Store: d.Store}, d.Store, billing.DefaultGrace, nil, log)
	require.NoError(t, err)
	return uc.Apply
}

// linked creates a tenant linked to a fresh Stripe customer id and returns both.
func (a *api) linked(plan string) (tenantFixture, string) {
	a.t.Helper()
	ten := a.createTenant(plan)
	id := uuid.MustParse(ten.id)
	cus := "cus_test" + fmt.Sprint(customerCounter.Add(1)) + uuid.NewString()[:8]
	ne, err := a.deps.Registry.Encode(dbilling.CustomerLinked{CustomerID: cus, SubscriptionID: "sub_" + cus,
		SubscriptionItemID: "si_" + cus, Plan: domain.PlanPro, PriceID: "price_tenantry_pro"}, eventstore.Metadata{Actor: "test"})
	require.NoError(a.t, err)
	_, err = a.deps.Store.Append(context.Background(), id, dbilling.AccountStreamID, eventstore.NoStream, ne)
	require.NoError(a.t, err)
	require.Eventually(a.t, func() bool {
		got, err := a.deps.Store.FindTenantByCustomer(context.Background(), cus)
		return err == nil && got.ID == id
	}, time.Minute, 10*time.Millisecond)
	return ten, cus
}

var customerCounter, stripeEventCounter atomic.Int64

// stripeEvent is a Stripe event of typ about an object of the customer, created at created.
func stripeEvent(typ, customer, status string, created time.Time) (string, []byte) {
	obj := map[string]any{"id": "in_" + uuid.NewString()[:13], "object": "invoice", "customer": customer, "status": status, "subscription": "sub_" + customer}
	if typ == dbilling.StripeSubscriptionUpdated || typ == dbilling.StripeSubscriptionDeleted {
		obj = map[string]any{"id": "sub_" + customer, "object": "subscription", "customer": customer, "status": status}
	}
	return stripeEventOf(typ, obj, created)
}

// stripeEventOf is a Stripe event of typ about obj, created at created.
func stripeEventOf(typ string, obj map[string]any, created time.Time) (string, []byte) {
	id := fmt.Sprintf("evt_test_%d_%d", time.Now().UnixNano(), stripeEventCounter.Add(1))
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": created.Unix(),
		"api_version": "2023-10-16", "livemode": false, "data": map[string]any{"object": obj}})
	return id, b
}

// deliver posts payload signed at signedAt (with secret) as Stripe would.
func (a *api) deliver(payload []byte, secret string, signedAt time.Time) response {
	a.t.Helper()
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: signedAt})
	return a.do(req{method: "POST", path: "/v1/webhooks/stripe", body: payload, header: map[string]string{"Stripe-Signature": sp.Header}})
}

func (a *api) tenantState(ten tenantFixture) *tenant.Tenant {
	a.t.Helper()
	tn, _, err := app.Load(context.Background(), eventstore.DomainStore{Store: a.deps.Store, Registry: a.deps.Registry}, uuid.MustParse(ten.id), tenant.StreamID,
		func() *tenant.Tenant { return &tenant.Tenant{} })
	require.NoError(a.t, err)
	return tn
}

func TestWebhook_VerifiesSignaturesAndDeduplicates(t *testing.T) {
	a := billingAPI(t)
	ten, cus := a.linked("pro")
	now := time.Now()
	evID, payload := stripeEvent(dbilling.StripeInvoicePaymentFailed, cus, "open", now.Add(-time.Minute))

	require.Equal(t, http.StatusBadRequest, a.deliver(payload, "whsec_wrong", now).status, "forged signature")
	require.Equal(t, http.StatusBadRequest, a.deliver(payload, webhookSecret, now.Add(-301*time.Second)).status, "stale signature")
	require.Equal(t, tenant.StatusActive, a.tenantState(ten).Status(), "nothing trusted from a bad delivery")

	r := a.deliver(payload, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "applied", r.str("outcome"))
	require.Equal(t, false, r.get("duplicate"))
	seq := int64(r.get("seq").(float64))
	tn := a.tenantState(ten)
	require.Equal(t, tenant.StatusPastDue, tn.Status())
	version := tn.Version()

	r = a.deliver(payload, webhookSecret, now) // Stripe redelivers
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, true, r.get("duplicate"))
	require.Equal(t, version, a.tenantState(ten).Version(), "a redelivery changes nothing")

	// The change names the Stripe event as its cause.
	events, err := a.deps.Store.ReadStream(context.Background(), uuid.MustParse(ten.id), tenant.StreamID, int64(version), 1)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, tenant.TypeMarkedPastDue, events[0].Type)
	require.Contains(t, string(events[0].Metadata), evID)

	// GET /v1/billing shows the past-due state.
	b := a.do(req{method: "GET", path: "/v1/billing?min_seq=" + fmt.Sprint(seq), token: ten.key})
	require.Equal(t, http.StatusOK, b.status, string(b.raw))
	require.Equal(t, "past_due", b.str("billing", "status"))
	require.Equal(t, cus, b.str("billing", "stripe_customer_id"))
}

func TestWebhook_ConcurrentRedeliveriesApplyOnce(t *testing.T) {
	a := billingAPI(t)
	ten, cus := a.linked("pro")
	now := time.Now()
	_, payload := stripeEvent(dbilling.StripeInvoicePaymentFailed, cus, "open", now)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.deliver(payload, webhookSecret, now)
			if r.status == http.StatusOK && r.get("duplicate") == false {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(1), firsts.Load(), "one delivery handled, the others recognised")
	require.Equal(t, 2, a.tenantState(ten).Version(), "created, then marked past due once")
}

func TestWebhook_OutOfOrderDeliveriesEndInTheRightState(t *testing.T) {
	a := billingAPI(t)
	ten, cus := a.linked("pro")
	now := time.Now()
	_, failed := stripeEvent(dbilling.StripeInvoicePaymentFailed, cus, "open", now.Add(-2*time.Minute))
	_, paid := stripeEvent(dbilling.StripeInvoicePaid, cus, "paid", now.Add(-time.Minute))

	r := a.deliver(paid, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.deliver(failed, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "stale", r.str("outcome"))
	require.Equal(t, tenant.StatusActive, a.tenantState(ten).Status(), "paid, then an older failure: still paid")
}

func TestWebhook_PaymentReactivatesOnlyPaymentSuspensions(t *testing.T) {
	a := billingAPI(t)
	now := time.Now()

	// Suspended for payment (past due, then the grace check): invoice.paid reactivates.
	ten, cus := a.linked("pro")
	_, failed := stripeEvent(dbilling.StripeInvoicePaymentFailed, cus, "open", now.Add(-2*time.Minute))
	require.Equal(t, http.StatusOK, a.deliver(failed, webhookSecret, now).status)
	cmd := app.Command[*tenant.Tenant]{Store: eventstore.DomainStore{Store: a.deps.Store, Registry: a.deps.Registry}, Tenant: uuid.MustParse(ten.id),
		Stream: tenant.StreamID, New: func() *tenant.Tenant { return &tenant.Tenant{} }}
	_, _, err := cmd.Run(context.Background(), func(t *tenant.Tenant) ([]domain.Event, error) {
		return dbilling.GraceEnded(t, t.GraceEndsAt())
	})
	require.NoError(t, err)
	require.Equal(t, tenant.StatusSuspended, a.tenantState(ten).Status())
	_, paid := stripeEvent(dbilling.StripeInvoicePaid, cus, "paid", now.Add(-time.Minute))
	require.Equal(t, http.StatusOK, a.deliver(paid, webhookSecret, now).status)
	require.Equal(t, tenant.StatusActive, a.tenantState(ten).Status())

	// Suspended by the operator: a payment does not lift it.
	ten, cus = a.linked("pro")
	r := a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken,
		body: map[string]any{"reason": "terms_violation", "note": "abuse"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	_, paid = stripeEvent(dbilling.StripeInvoicePaid, cus, "paid", now)
	r = a.deliver(paid, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "no_change", r.str("outcome"))
	tn := a.tenantState(ten)
	require.Equal(t, tenant.StatusSuspended, tn.Status())
	require.Equal(t, tenant.ReasonTermsViolation, tn.SuspendReason())
}

func TestWebhook_DeletedSubscriptionSuspendsAndUnknownCustomersAreIgnored(t *testing.T) {
	a := billingAPI(t)
	ten, cus := a.linked("pro")
	now := time.Now()
	_, deleted := stripeEvent(dbilling.StripeSubscriptionDeleted, cus, "canceled", now)
	r := a.deliver(deleted, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	tn := a.tenantState(ten)
	require.Equal(t, tenant.StatusSuspended, tn.Status())
	require.Equal(t, tenant.ReasonSubscriptionCanceled, tn.SuspendReason())

	_, other := stripeEvent(dbilling.StripeInvoicePaymentFailed, "cus_not_ours", "open", now)
	r = a.deliver(other, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "ignored", r.str("outcome"))

	_, unhandled := stripeEvent("customer.updated", cus, "", now)
	r = a.deliver(unhandled, webhookSecret, now)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "ignored", r.str("outcome"))
}

// billingEvents is the tenant's billing stream.
func (a *api) billingEvents(ten tenantFixture) []eventstore.Event {
	a.t.Helper()
	events, err := a.deps.Store.ReadStream(context.Background(), uuid.MustParse(ten.id), dbilling.AccountStreamID, 0, 1000)
	require.NoError(a.t, err)
	return events
}

// A valid signature proves an event comes from Stripe, not that it is about this tenant:
// Stripe signs events about every customer and subscription of the account.
func TestWebhook_OnlyTheLinkedCustomerAndSubscriptionMoveATenant(t *testing.T) {
	a := billingAPI(t)
	now := time.Now()
	ignored := func(t *testing.T, r response, reason string) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, "ignored", r.str("outcome"), string(r.raw))
		require.Equal(t, reason, r.str("reason"), string(r.raw))
	}

	t.Run("UnknownCustomerNamingTheTenantInMetadata", func(t *testing.T) {
		ten, _ := a.linked("pro")
		before := len(a.billingEvents(ten))
		for _, typ := range []string{dbilling.StripeSubscriptionDeleted, dbilling.StripeInvoicePaymentFailed} {
			_, ev := stripeEventOf(typ, map[string]any{"id": "sub_attacker", "object": "subscription", "customer": "cus_attacker",
				"status": "canceled", "subscription": "sub_attacker", "metadata": map[string]any{"tenant_id": ten.id},
				"subscription_details": map[string]any{"metadata": map[string]any{"tenant_id": ten.id}}}, now)
			ignored(t, a.deliver(ev, webhookSecret, now), "customer_not_linked")
		}
		require.Equal(t, tenant.StatusActive, a.tenantState(ten).Status())
		require.Equal(t, 1, a.tenantState(ten).Version(), "the tenant is unchanged")
		require.Len(t, a.billingEvents(ten), before, "nothing is written to a tenant the customer is not linked to")
	})

	t.Run("AnotherSubscriptionOfTheLinkedCustomer", func(t *testing.T) {
		ten, cus := a.linked("pro")
		_, deleted := stripeEventOf(dbilling.StripeSubscriptionDeleted,
			map[string]any{"id": "sub_second_" + cus, "object": "subscription", "customer": cus, "status": "canceled"}, now)
		ignored(t, a.deliver(deleted, webhookSecret, now), "subscription_not_linked")
		_, pastDue := stripeEventOf(dbilling.StripeSubscriptionUpdated,
			map[string]any{"id": "sub_second_" + cus, "object": "subscription", "customer": map[string]any{"id": cus}, "status": "past_due"}, now)
		ignored(t, a.deliver(pastDue, webhookSecret, now), "subscription_not_linked")
		require.Equal(t, tenant.StatusActive, a.tenantState(ten).Status())
		require.Equal(t, 1, a.tenantState(ten).Version(), "the tenant is unchanged")

		// The deliveries are recorded in the tenant's billing stream, with the reason.
		recs := a.billingEvents(ten)
		require.Len(t, recs, 3, "linked, then two ignored deliveries")
		for _, e := range recs[1:] {
			require.Equal(t, dbilling.TypeStripeEventReceived, e.Type)
			var rec dbilling.StripeEventReceived
			require.NoError(t, json.Unmarshal(e.Data, &rec))
			require.Equal(t, dbilling.OutcomeIgnored, rec.Outcome)
			require.Equal(t, dbilling.ReasonSubscriptionNotLinked, rec.Reason)
			require.Equal(t, "sub_second_"+cus, rec.SubscriptionID)
		}
	})

	t.Run("InvoiceOfAnotherSubscription", func(t *testing.T) {
		ten, cus := a.linked("pro")
		for _, sub := range []any{"sub_second_" + cus, map[string]any{"id": "sub_second_" + cus}, nil} {
			_, failed := stripeEventOf(dbilling.StripeInvoicePaymentFailed,
				map[string]any{"id": "in_" + uuid.NewString()[:13], "object": "invoice", "customer": cus, "status": "open", "subscription": sub}, now)
			ignored(t, a.deliver(failed, webhookSecret, now), "subscription_not_linked")
		}
		require.Equal(t, tenant.StatusActive, a.tenantState(ten).Status())

		// The linked subscription's invoice still acts, under the newer API's shape too.
		_, failed := stripeEventOf(dbilling.StripeInvoicePaymentFailed, map[string]any{"id": "in_" + uuid.NewString()[:13], "object": "invoice",
			"customer": cus, "status": "open", "parent": map[string]any{"subscription_details": map[string]any{"subscription": "sub_" + cus}}}, now)
		r := a.deliver(failed, webhookSecret, now)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, "applied", r.str("outcome"), string(r.raw))
		require.Equal(t, tenant.StatusPastDue, a.tenantState(ten).Status())
	})
}

// Every line logged while serving a tenant carries its id: the API's own lines, and the
// billing worker's, which only see the request's context.
func TestLogs_EveryLineServingATenantCarriesItsID(t *testing.T) {
	var buf safeBuffer
	log := slog.New(logctx.NewHandler(slog.NewJSONHandler(&buf, nil)))
	a := newAPI(t, func(d *httpapi.Deps) {
		d.Logger = log
		d.Webhooks = stripeDeliveries(t, d, log)
	})
	ten, cus := a.linked("pro")
	_, payload := stripeEvent(dbilling.StripeInvoicePaymentFailed, cus, "open", time.Now())
	require.Equal(t, http.StatusOK, a.deliver(payload, webhookSecret, time.Now()).status)

	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		msg, _ := m["msg"].(string)
		if msg == "tenant created" && m["slug"] != nil || msg == "Stripe event handled" || msg == "stripe webhook handled" ||
			msg == "request" && (m["route"] == "POST /v1/webhooks/stripe" || m["route"] == "POST /v1/tenants") {
			if m["route"] == "POST /v1/tenants" || msg == "tenant created" {
				require.NotEmpty(t, m["tenant_id"], l)
			} else {
				require.Equal(t, ten.id, m["tenant_id"], l)
			}
			seen[msg] = true
			require.Equal(t, 1, strings.Count(l, `"tenant_id"`), "once: %s", l)
		}
	}
	for _, msg := range []string{"tenant created", "Stripe event handled", "stripe webhook handled", "request"} {
		require.True(t, seen[msg], msg)
	}
}

// A delivery that concerns no tenant (its customer is no tenant's) is recorded once, in the
// platform's record of ignored deliveries, with the reason; counted in a metric by reason
// (redeliveries not counted), as are the ignored deliveries about a tenant; and logged
// without a tenant id (it used to carry the nil id).
func TestWebhook_DeliveriesAboutNoTenantAreRecordedCountedAndLoggedWithoutATenant(t *testing.T) {
	var buf safeBuffer
	log := slog.New(logctx.NewHandler(slog.NewJSONHandler(&buf, nil)))
	a := newAPI(t, func(d *httpapi.Deps) {
		d.Logger = log
		d.Webhooks = stripeDeliveries(t, d, log)
	})
	metric := func(reason string) float64 {
		return a.metricValue(`tenantry_stripe_deliveries_ignored_total{reason="` + reason + `"}`)
	}
	now := time.Now().Truncate(time.Second)
	nobody := "cus_nobody_" + uuid.NewString()[:8]
	evID, payload := stripeEvent(dbilling.StripeSubscriptionDeleted, nobody, "canceled", now.Add(-time.Minute))
	for i, dup := range []bool{false, true} {
		r := a.deliver(payload, webhookSecret, now)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, "ignored", r.str("outcome"), string(r.raw))
		require.Equal(t, "customer_not_linked", r.str("reason"), string(r.raw))
		require.Equal(t, dup, r.get("duplicate"), "delivery %d: %s", i+1, r.raw)
	}

	super := pgtest.Pool(t, testDB.SuperURL, 1)
	rows, err := super.Query(context.Background(), `SELECT event_type, reason, stripe_customer_id, created_at
		FROM tenantry.stripe_ignored_deliveries WHERE stripe_event_id = $1`, evID)
	require.NoError(t, err)
	type record struct {
		Type, Reason, Customer string
		Created                time.Time
	}
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[record])
	require.NoError(t, err)
	require.Len(t, recs, 1, "recorded once")
	require.Equal(t, record{Type: dbilling.StripeSubscriptionDeleted, Reason: "customer_not_linked", Customer: nobody}, record{
		Type: recs[0].Type, Reason: recs[0].Reason, Customer: recs[0].Customer})
	require.True(t, now.Add(-time.Minute).Equal(recs[0].Created), "Stripe's creation time: %s", recs[0].Created)
	require.Equal(t, float64(1), metric("customer_not_linked"), "counted once")

	// Ignored deliveries about a tenant are counted too (and recorded in its billing stream).
	_, cus := a.linked("pro")
	_, otherSub := stripeEventOf(dbilling.StripeSubscriptionDeleted,
		map[string]any{"id": "sub_second_" + cus, "object": "subscription", "customer": cus, "status": "canceled"}, now)
	require.Equal(t, "subscription_not_linked", a.deliver(otherSub, webhookSecret, now).str("reason"))
	_, unhandled := stripeEvent("customer.updated", cus, "", now)
	require.Equal(t, "type_not_handled", a.deliver(unhandled, webhookSecret, now).str("reason"))
	require.Equal(t, float64(1), metric("subscription_not_linked"))
	require.Equal(t, float64(1), metric("type_not_handled"))
	require.Equal(t, float64(1), metric("customer_not_linked"))

	var handled int
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.Contains(l, evID) && !strings.Contains(l, `"route":"POST /v1/webhooks/stripe"`) {
			continue
		}
		require.NotContains(t, l, uuid.Nil.String(), "no line names the nil tenant: %s", l)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == "stripe webhook handled" && m["stripe_event_id"] == evID {
			handled++
			require.NotContains(t, m, "tenant_id", l)
			require.Equal(t, "customer_not_linked", m["reason"], l)
		}
	}
	require.Equal(t, 2, handled, "one line per delivery")
}
