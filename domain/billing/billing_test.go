package billing_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
)

var (
	now      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tenantID = uuid.MustParse("01956b7e-0000-7000-8000-000000000001")
	grace    = 7 * 24 * time.Hour
)

func newTenant(t *testing.T, events ...domain.Event) *tenant.Tenant {
	t.Helper()
	slug, err := domain.ParseSlug("acme")
	require.NoError(t, err)
	name, err := tenant.ParseName("Acme")
	require.NoError(t, err)
	all := append([]domain.Event{tenant.Created{TenantID: tenantID, Name: name, Slug: slug, Plan: domain.PlanPro, CreatedAt: now.Add(-48 * time.Hour)}}, events...)
	tn, err := tenant.Replay(all)
	require.NoError(t, err)
	return tn
}

// The tenant's linked Stripe customer and subscription in these tests.
const (
	linkedCustomer     = "cus_linked"
	linkedSubscription = "sub_linked"
)

// signal is a Stripe event about the tenant's linked customer and subscription.
func signal(id, typ string, created time.Time, status string) billing.Signal {
	objectID := "in_1"
	if strings.HasPrefix(typ, "customer.subscription.") {
		objectID = linkedSubscription
	}
	return billing.Signal{EventID: id, Type: typ, Created: created, ObjectID: objectID, ObjectStatus: status,
		CustomerID: linkedCustomer, SubscriptionID: linkedSubscription}
}

// linkedAccount is a billing account linked to linkedCustomer and linkedSubscription.
func linkedAccount(t *testing.T) *billing.Account {
	t.Helper()
	acct := billing.NewAccount()
	events, err := acct.Link(linkedCustomer, linkedSubscription, "si_linked", domain.PlanPro, "price_pro")
	require.NoError(t, err)
	for _, e := range events {
		require.NoError(t, acct.Apply(e))
	}
	return acct
}

// deliver runs signals through Receive in order, applying what each decides, and returns the
// tenant and the outcomes.
func deliver(t *testing.T, tn *tenant.Tenant, sigs ...billing.Signal) (*tenant.Tenant, []billing.Outcome) {
	t.Helper()
	acct := linkedAccount(t)
	var outcomes []billing.Outcome
	for _, s := range sigs {
		events, rec, err := acct.Receive(tn, s, grace, now)
		require.NoError(t, err)
		for _, e := range events {
			require.NoError(t, tn.Apply(e))
		}
		require.NoError(t, acct.Apply(rec))
		outcomes = append(outcomes, rec.Outcome)
	}
	return tn, outcomes
}

func TestReceive_DecidesByCreationOrderNotArrival(t *testing.T) {
	t1, t2 := now.Add(-2*time.Hour), now.Add(-time.Hour)
	failed := signal("evt_failed", billing.StripeInvoicePaymentFailed, t1, "open")
	paid := signal("evt_paid", billing.StripeInvoicePaid, t2, "paid")

	tn, out := deliver(t, newTenant(t), paid, failed) // paid arrives first
	require.Equal(t, tenant.StatusActive, tn.Status(), "a late, older failure must not undo a newer payment")
	require.Equal(t, []billing.Outcome{billing.OutcomeNoChange, billing.OutcomeStale}, out)

	tn, out = deliver(t, newTenant(t), failed, paid) // in order
	require.Equal(t, tenant.StatusActive, tn.Status())
	require.Equal(t, []billing.Outcome{billing.OutcomeApplied, billing.OutcomeApplied}, out)
}

func TestReceive_PaymentFailedStartsGraceFromTheFailure(t *testing.T) {
	failedAt := now.Add(-time.Hour)
	tn, out := deliver(t, newTenant(t), signal("evt_1", billing.StripeInvoicePaymentFailed, failedAt, "open"))
	require.Equal(t, []billing.Outcome{billing.OutcomeApplied}, out)
	require.Equal(t, tenant.StatusPastDue, tn.Status())
	require.Equal(t, failedAt, tn.PastDueSince())
	require.Equal(t, failedAt.Add(grace), tn.GraceEndsAt())
}

func TestReceive_PaymentReactivatesOnlyPaymentSuspensions(t *testing.T) {
	paid := signal("evt_paid", billing.StripeInvoicePaid, now, "paid")
	for _, tc := range []struct {
		name   string
		reason tenant.Reason
		want   tenant.Status
	}{
		{"Payment", tenant.ReasonPaymentFailed, tenant.StatusActive},
		{"Operator", tenant.ReasonOperator, tenant.StatusSuspended},
		{"Terms", tenant.ReasonTermsViolation, tenant.StatusSuspended},
		{"Canceled", tenant.ReasonSubscriptionCanceled, tenant.StatusSuspended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn, _ := deliver(t, newTenant(t, tenant.Suspended{Reason: tc.reason}), paid)
			require.Equal(t, tc.want, tn.Status())
			if tc.want == tenant.StatusSuspended {
				require.Equal(t, tc.reason, tn.SuspendReason(), "the suspension and its reason stay")
			}
		})
	}
}

func TestReceive_SubscriptionStatusDecidesUpdates(t *testing.T) {
	for _, tc := range []struct {
		status string
		from   []domain.Event
		want   tenant.Status
	}{
		{"past_due", nil, tenant.StatusPastDue},
		{"unpaid", nil, tenant.StatusPastDue},
		{"active", []domain.Event{tenant.MarkedPastDue{Since: now.Add(-time.Hour), GraceEndsAt: now.Add(time.Hour)}}, tenant.StatusActive},
		{"canceled", nil, tenant.StatusSuspended},
		{"incomplete", nil, tenant.StatusActive},
	} {
		t.Run(tc.status, func(t *testing.T) {
			tn, _ := deliver(t, newTenant(t, tc.from...), signal("evt_s", billing.StripeSubscriptionUpdated, now, tc.status))
			require.Equal(t, tc.want, tn.Status())
		})
	}
}

func TestReceive_DeletedSubscriptionSuspendsAndLaterOlderNewsIsStale(t *testing.T) {
	deleted := signal("evt_del", billing.StripeSubscriptionDeleted, now, "canceled")
	olderActive := signal("evt_upd", billing.StripeSubscriptionUpdated, now.Add(-time.Minute), "active")
	tn, out := deliver(t, newTenant(t), deleted, olderActive)
	require.Equal(t, tenant.StatusSuspended, tn.Status())
	require.Equal(t, tenant.ReasonSubscriptionCanceled, tn.SuspendReason())
	require.Equal(t, []billing.Outcome{billing.OutcomeApplied, billing.OutcomeStale}, out)
}

func TestReceive_OtherTypesAreIgnoredAndBadSignalsRefused(t *testing.T) {
	_, out := deliver(t, newTenant(t), signal("evt_x", "customer.created", now, ""))
	require.Equal(t, []billing.Outcome{billing.OutcomeIgnored}, out)
	_, _, err := billing.NewAccount().Receive(newTenant(t), billing.Signal{Type: billing.StripeInvoicePaid}, grace, now)
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
}

func TestReceive_ActsOnlyOnTheLinkedCustomerAndSubscription(t *testing.T) {
	other := func(s billing.Signal, customer, subscription string) billing.Signal {
		s.CustomerID, s.SubscriptionID = customer, subscription
		if strings.HasPrefix(s.Type, "customer.subscription.") {
			s.ObjectID = subscription
		}
		return s
	}
	deleted := signal("evt_del", billing.StripeSubscriptionDeleted, now, "canceled")
	failed := signal("evt_fail", billing.StripeInvoicePaymentFailed, now, "open")
	pastDue := signal("evt_upd", billing.StripeSubscriptionUpdated, now, "past_due")
	for _, tc := range []struct {
		name    string
		account func(*testing.T) *billing.Account
		sig     billing.Signal
		reason  billing.Reason
	}{
		{"UnknownCustomerDeletesASubscription", linkedAccount, other(deleted, "cus_someone_else", "sub_someone_else"), billing.ReasonCustomerNotLinked},
		{"UnknownCustomerInvoiceFails", linkedAccount, other(failed, "cus_someone_else", "sub_someone_else"), billing.ReasonCustomerNotLinked},
		{"NoCustomer", linkedAccount, other(failed, "", linkedSubscription), billing.ReasonCustomerNotLinked},
		{"UnlinkedAccount", func(*testing.T) *billing.Account { return billing.NewAccount() }, deleted, billing.ReasonCustomerNotLinked},
		{"AnotherSubscriptionOfTheLinkedCustomerIsDeleted", linkedAccount, other(deleted, linkedCustomer, "sub_second"), billing.ReasonSubscriptionNotLinked},
		{"AnotherSubscriptionOfTheLinkedCustomerIsPastDue", linkedAccount, other(pastDue, linkedCustomer, "sub_second"), billing.ReasonSubscriptionNotLinked},
		{"InvoiceOfAnotherSubscription", linkedAccount, other(failed, linkedCustomer, "sub_second"), billing.ReasonSubscriptionNotLinked},
		{"InvoiceOfNoSubscription", linkedAccount, other(failed, linkedCustomer, ""), billing.ReasonSubscriptionNotLinked},
		{"UnhandledType", linkedAccount, signal("evt_x", "customer.updated", now, ""), billing.ReasonTypeNotHandled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t)
			events, rec, err := tc.account(t).Receive(tn, tc.sig, grace, now)
			require.NoError(t, err)
			require.Empty(t, events, "the tenant does not move")
			require.Equal(t, billing.OutcomeIgnored, rec.Outcome)
			require.Equal(t, tc.reason, rec.Reason)
			require.Equal(t, tc.sig.CustomerID, rec.CustomerID, "the record names what the delivery named")
			require.Equal(t, tc.sig.SubscriptionID, rec.SubscriptionID)
		})
	}

	// The linked customer and subscription still move the tenant.
	for _, sig := range []billing.Signal{deleted, failed, pastDue} {
		events, rec, err := linkedAccount(t).Receive(newTenant(t), sig, grace, now)
		require.NoError(t, err)
		require.Len(t, events, 1, sig.Type)
		require.Equal(t, billing.OutcomeApplied, rec.Outcome)
		require.Empty(t, rec.Reason)
	}
}

func TestGraceEnded_SuspendsForPaymentOnlyAfterTheGracePeriod(t *testing.T) {
	pastDue := tenant.MarkedPastDue{Since: now.Add(-grace), GraceEndsAt: now}
	events, err := billing.GraceEnded(newTenant(t, pastDue), now.Add(-time.Second))
	require.NoError(t, err)
	require.Empty(t, events, "still in grace")
	events, err = billing.GraceEnded(newTenant(t, pastDue), now)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, tenant.ReasonPaymentFailed, events[0].(tenant.Suspended).Reason)
	events, err = billing.GraceEnded(newTenant(t), now.Add(grace*2))
	require.NoError(t, err)
	require.Empty(t, events, "an active tenant is left alone")
}

func TestLedger_PlansDeltasAsRevisionsAndResendsPending(t *testing.T) {
	metric, err := usage.ParseMetric("api_calls")
	require.NoError(t, err)
	window := now.Truncate(time.Hour).Add(-2 * time.Hour)
	l := billing.NewLedger()
	apply := func(events []domain.Event, err error) []domain.Event {
		t.Helper()
		require.NoError(t, err)
		for _, e := range events {
			require.NoError(t, l.Apply(e))
		}
		return events
	}
	first := apply(l.Plan(tenantID, metric, window, amt(10), "api_calls", "cus_1"))
	require.Len(t, first, 1)
	p1 := first[0].(billing.UsageReportPlanned)
	require.Equal(t, amt(10), p1.Quantity)
	require.Equal(t, 1, p1.Revision)
	require.Equal(t, billing.Identifier(tenantID, "api_calls", window, 1), p1.Identifier)

	require.Empty(t, apply(l.Plan(tenantID, metric, window, amt(15), "api_calls", "cus_1")), "nothing new while a push is pending")
	require.Equal(t, []billing.UsageReportPlanned{p1}, l.Pending(), "the pending push is resent unchanged")

	confirmed := apply(l.Confirm(metric, window, p1.Identifier))
	require.Equal(t, amt(10), confirmed[0].(billing.UsageReported).Total)
	require.Empty(t, apply(l.Confirm(metric, window, p1.Identifier)), "a repeated confirmation changes nothing")
	require.Empty(t, apply(l.Plan(tenantID, metric, window, amt(10), "api_calls", "cus_1")), "nothing new")

	late := apply(l.Plan(tenantID, metric, window, amt(15), "api_calls", "cus_1"))
	p2 := late[0].(billing.UsageReportPlanned)
	require.Equal(t, amt(5), p2.Quantity, "late usage goes out as the delta")
	require.Equal(t, 2, p2.Revision)
	require.NotEqual(t, p1.Identifier, p2.Identifier)
	apply(l.Confirm(metric, window, p2.Identifier))
	require.Equal(t, billing.WindowState{Reported: amt(15), Revision: 2, Confirmed: p2.Identifier}, l.Window("api_calls", window))

	_, err = l.Plan(tenantID, metric, window.Add(time.Minute), amt(1), "api_calls", "cus_1")
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), "windows start on the hour")
	_, err = l.Confirm(metric, window, "tm_unknown")
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err))
}

func TestIdentifiers_AreDeterministicAndDistinct(t *testing.T) {
	w := now.Truncate(time.Hour)
	id := billing.Identifier(tenantID, "api_calls", w, 1)
	require.Equal(t, id, billing.Identifier(tenantID, "api_calls", w, 1))
	require.LessOrEqual(t, len(id), 100)
	seen := map[string]bool{id: true}
	for _, other := range []string{
		billing.Identifier(uuid.New(), "api_calls", w, 1),
		billing.Identifier(tenantID, "api_call", w, 1),
		billing.Identifier(tenantID, "api_calls", w.Add(time.Hour), 1),
		billing.Identifier(tenantID, "api_calls", w, 2),
	} {
		require.False(t, seen[other], other)
		seen[other] = true
	}
	require.Equal(t, "tenantry:meter:"+tenantID.String()+":api_calls:"+
		strconv.FormatInt(w.Unix(), 10)+":r1", billing.IdempotencyKey(tenantID, "api_calls", w, 1))
	require.Equal(t, "usage-ledger-2026-03", billing.LedgerStreamID(w))
}

// A delta beyond what one meter event carries (15 significant digits) is planned as several
// parts, fixed in the planned event; they add up to the delta, none is over the limit, and
// their identifiers and keys are derived from the revision's, the first being its own.
func TestLedger_PlansALargeDeltaAsPartsOfOneRevision(t *testing.T) {
	metric, err := usage.ParseMetric("api_calls")
	require.NoError(t, err)
	window := now.Truncate(time.Hour).Add(-2 * time.Hour)
	l := billing.NewLedger()
	recorded, err := usage.ParseDecimal("9223372036854775808") // 2^63
	require.NoError(t, err)
	events, err := l.Plan(tenantID, metric, window, recorded, "api_calls", "cus_1")
	require.NoError(t, err)
	require.Len(t, events, 1)
	p := events[0].(billing.UsageReportPlanned)
	require.Equal(t, recorded, p.Quantity)
	require.Equal(t, 9224, p.Parts, "ceil(total / 999,999,999,999,999)")
	parts, err := p.MeterEvents(tenantID)
	require.NoError(t, err)
	require.Len(t, parts, 9224)
	sum := usage.Decimal{}
	seen := map[string]bool{}
	for i, m := range parts {
		require.True(t, m.Value.Sign() > 0 && m.Value.Cmp(amt(billing.MaxMeterValue)) <= 0, "part %d: %s", i, m.Value)
		sum = sum.Add(m.Value)
		require.False(t, seen[m.Identifier] || seen[m.IdempotencyKey], "part %d is named apart", i)
		seen[m.Identifier], seen[m.IdempotencyKey] = true, true
		require.LessOrEqual(t, len(m.Identifier), 100)
	}
	require.Equal(t, recorded, sum, "the parts add up to the delta")
	require.Equal(t, p.Identifier, parts[0].Identifier)
	require.Equal(t, billing.IdempotencyKey(tenantID, "api_calls", window, 1), parts[0].IdempotencyKey)
	require.Equal(t, billing.IdempotencyKey(tenantID, "api_calls", window, 1)+":p7", parts[7].IdempotencyKey)
	again, err := p.MeterEvents(tenantID)
	require.NoError(t, err)
	require.Equal(t, parts, again, "a resend is the same meter events")

	// The planned event round-trips through JSON unchanged (parts and all), and confirming
	// it records the exact total.
	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.Contains(t, string(b), `"quantity":9223372036854775808,"parts":9224,`)
	var decoded billing.UsageReportPlanned
	require.NoError(t, json.Unmarshal(b, &decoded))
	require.Equal(t, p, decoded)
	require.NoError(t, l.Apply(p))
	confirmed, err := l.Confirm(metric, window, p.Identifier)
	require.NoError(t, err)
	require.Equal(t, recorded, confirmed[0].(billing.UsageReported).Total)
	require.NoError(t, l.Apply(confirmed[0]))

	// A delta of one meter event is planned as before parts existed.
	more := recorded.Add(amt(billing.MaxMeterValue))
	events, err = l.Plan(tenantID, metric, window, more, "api_calls", "cus_1")
	require.NoError(t, err)
	p2 := events[0].(billing.UsageReportPlanned)
	require.Zero(t, p2.Parts)
	one, err := p2.MeterEvents(tenantID)
	require.NoError(t, err)
	require.Equal(t, []billing.MeterEvent{{Identifier: p2.Identifier, IdempotencyKey: billing.IdempotencyKey(tenantID, "api_calls", window, 2), Value: amt(billing.MaxMeterValue)}}, one)
}

// One revision carries at most MaxParts meter events; the rest of a larger delta goes out
// as the next revision once it is confirmed, so nothing is left out.
func TestLedger_CarriesTheRestOfAHugeDeltaInTheNextRevision(t *testing.T) {
	metric, err := usage.ParseMetric("api_calls")
	require.NoError(t, err)
	window := now.Truncate(time.Hour).Add(-2 * time.Hour)
	l := billing.NewLedger()
	recorded, err := usage.ParseDecimal("30000000000000000000") // 3 × 10^19
	require.NoError(t, err)
	revision := usage.Decimal{} // MaxParts full meter events
	for range billing.MaxParts / 1000 {
		revision = revision.Add(amt(billing.MaxMeterValue * 1000))
	}
	reported := usage.Decimal{}
	for rev := 1; reported.Cmp(recorded) < 0; rev++ {
		require.LessOrEqual(t, rev, 4, "3 × 10^19 takes 4 revisions of at most about 10^19")
		events, err := l.Plan(tenantID, metric, window, recorded, "api_calls", "cus_1")
		require.NoError(t, err)
		p := events[0].(billing.UsageReportPlanned)
		require.Equal(t, rev, p.Revision)
		require.LessOrEqual(t, p.Parts, billing.MaxParts)
		require.True(t, p.Quantity.Cmp(revision) <= 0, "revision %d carries %s", rev, p.Quantity)
		require.NoError(t, l.Apply(p))
		confirmed, err := l.Confirm(metric, window, p.Identifier)
		require.NoError(t, err)
		require.NoError(t, l.Apply(confirmed[0]))
		reported = l.Window("api_calls", window).Reported
	}
	require.Equal(t, recorded, reported)
}

func TestStripeEventReceived_RecordsWrittenBeforeReasonsStillDecode(t *testing.T) {
	old := `{"stripe_event_id":"evt_1","type":"invoice.paid","created":"2026-01-01T00:00:00Z","object_id":"in_1","outcome":"ignored"}`
	var rec billing.StripeEventReceived
	require.NoError(t, json.Unmarshal([]byte(old), &rec))
	require.Equal(t, billing.OutcomeIgnored, rec.Outcome)
	require.Empty(t, rec.Reason)
	require.Empty(t, rec.CustomerID)
	require.NoError(t, linkedAccount(t).Apply(rec))

	// New records without a reason or ids keep the old shape exactly.
	b, err := json.Marshal(billing.StripeEventReceived{StripeEventID: "evt_1", Type: "invoice.paid",
		Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ObjectID: "in_1", Outcome: billing.OutcomeIgnored})
	require.NoError(t, err)
	require.JSONEq(t, old, string(b))
}

// amt is n as a whole decimal.
func amt(n int64) usage.Decimal { return usage.DecimalOf(usage.AmountOf(n)) }
