package catalog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
)

// sampleEvents builds one event of every type from fuzzed parts, using each
// part when it passes its parser and a fixed valid value otherwise, so every
// event is one a command could have produced.
func sampleEvents(s1, s2 string, n, sec, nsec int64, b byte) []domain.Event {
	slug, err := domain.ParseSlug(s1)
	if err != nil {
		slug, _ = domain.ParseSlug("acme")
	}
	name, err := tenant.ParseName(s2)
	if err != nil {
		name, _ = tenant.ParseName("Acme")
	}
	mail, err := domain.ParseEmail(s1)
	if err != nil {
		mail, _ = domain.ParseEmail("ana@example.com")
	}
	metric, err := usage.ParseMetric(s1)
	if err != nil {
		metric, _ = usage.ParseMetric("api_calls")
	}
	key, err := usage.ParseIdempotencyKey(s2)
	if err != nil {
		key, _ = usage.ParseIdempotencyKey("k")
	}
	qty, err := usage.NewQuantity(n)
	if err != nil {
		qty, _ = usage.NewQuantity(1)
	}
	note := s2
	if !utf8.ValidString(note) {
		note = ""
	}
	t1, t2 := strings.ToValidUTF8(s1, ""), strings.ToValidUTF8(s2, "") // Stripe ids: text
	sum := sha256.Sum256([]byte(s1 + "\x00" + s2))
	var id1, id2 uuid.UUID
	copy(id1[:], sum[:16])
	copy(id2[:], sum[16:])

	// Any instant JSON can carry: years 0001 to 9999.
	const lo, hi = -62135596800, 253402300799
	at := time.Unix(lo+int64(uint64(sec)%uint64(hi-lo+1)), int64(uint64(nsec)%1e9)).UTC()

	role := domain.Roles()[int(b)%len(domain.Roles())]
	plan := domain.PlanNames()[int(b)%len(domain.PlanNames())]
	other := domain.PlanNames()[int(b+1)%len(domain.PlanNames())]
	reason := tenant.Reasons()[int(b)%len(tenant.Reasons())]
	status := tenant.Statuses()[int(b)%len(tenant.Statuses())]
	return []domain.Event{
		tenant.Created{TenantID: id1, Name: name, Slug: slug, Plan: plan, PlanVersion: int(b) + 1, Interval: plans.Intervals()[int(b)%2], CreatedAt: at},
		tenant.Renamed{Name: name},
		tenant.PlanChanged{From: plan, FromVersion: 1, To: other, ToVersion: int(b) + 1, Interval: plans.Intervals()[int(b)%2]},
		tenant.MarkedPastDue{Since: at, GraceEndsAt: at},
		tenant.Suspended{Reason: reason, Note: note},
		tenant.Reactivated{FromStatus: status},
		tenant.Closed{Note: note},
		membership.Joined{MemberID: id1, Email: mail, Role: role, InvitationID: id2},
		membership.Invited{InvitationID: id2, Email: mail, Role: role, InvitedBy: id1,
			TokenSHA256: membership.HashToken(s2), ExpiresAt: at},
		membership.InvitationRevoked{InvitationID: id2, Reason: invitationReasons[int(b)%len(invitationReasons)]},
		membership.RoleChanged{MemberID: id1, From: role, To: role},
		membership.Removed{MemberID: id1},
		membership.APIKeyCreated{KeyID: id2, MemberID: id1, Role: role, Name: note,
			Prefix: "tk_" + hex.EncodeToString(sum[:4]), KeySHA256: membership.HashToken(s1)},
		membership.APIKeyRevoked{KeyID: id2, Reason: keyReasons[int(b)%len(keyReasons)]},
		usage.Recorded{Metric: metric, Quantity: qty, OccurredAt: at, IdempotencyKey: key},
		usage.BatchRecorded{Records: []usage.Recorded{{Metric: metric, Quantity: qty, OccurredAt: at, IdempotencyKey: key},
			{Metric: metric, Quantity: qty, OccurredAt: at.Add(time.Second), IdempotencyKey: key}}},
		billing.CustomerLinked{CustomerID: t1, SubscriptionID: t2, SubscriptionItemID: t1, Plan: plan, PriceID: t2},
		billing.SubscriptionChanged{SubscriptionItemID: t1, Plan: other, PriceID: t2},
		billing.StripeEventReceived{StripeEventID: t1, Type: t2, Created: at, ObjectID: t1, ObjectStatus: t2,
			CustomerID: t2, SubscriptionID: t1, Outcome: outcomes[int(b)%len(outcomes)], Reason: billing.Reason(t2)},
		billing.UsageReportPlanned{Metric: metric, WindowStart: at, Revision: int(b) + 1, Quantity: usage.DecimalOf(usage.AmountOf(qty.Int64())),
			EventName: t1, CustomerID: t2, Identifier: billing.Identifier(id1, metric.String(), at, int(b)+1)},
		billing.UsageReported{Metric: metric, WindowStart: at, Revision: int(b) + 1, Quantity: usage.DecimalOf(usage.AmountOf(qty.Int64())),
			Total: usage.DecimalOf(usage.AmountOf(qty.Int64())), Identifier: billing.Identifier(id1, metric.String(), at, int(b)+1)},
		plans.PlanDefined{Plan: plans.Plan{Version: int(b) + 1, Spec: plans.Spec{Key: plan, Name: "Plan " + plan.String(),
			Intervals: map[plans.Interval]plans.Price{plans.Monthly: {StripePrice: "price_1"}, plans.Yearly: {Amount: int64(b), Currency: "usd"}},
			TrialDays: int(b) % 30, Limits: domain.Limits{Seats: 3, RequestsPerSecond: 2.5, Burst: 10},
			Features: map[string]bool{"sso": b%2 == 0}, Metrics: map[usage.Metric]plans.Quota{metric: {Beyond: plans.BeyondSoft}}}}},
		plans.PlanRetired{Plan: other, Version: int(b) + 1},
		plans.MetricDefined{Metric: plans.Metric{Definition: usage.DefaultDefinition(metric), Meter: "meter_" + metric.String()}, Version: 1},
		plans.MetricRetired{Metric: metric},
		plans.ThresholdCrossed{Metric: metric, Period: usage.Period(at), Threshold: plans.AlertThresholds[int(b)%2],
			Included: plans.Decimal{}, Usage: qty.Decimal().String(), Plan: plan, PlanVersion: int(b) + 1},
	}
}

var outcomes = []billing.Outcome{billing.OutcomeApplied, billing.OutcomeNoChange, billing.OutcomeStale, billing.OutcomeIgnored}

var invitationReasons = []string{membership.InvitationRevokedByAdmin, membership.InvitationRevokedInviterRemoved,
	membership.InvitationRevokedInviterRoleChanged}

var keyReasons = []string{membership.KeyRevokedByAdmin, membership.KeyRevokedMemberRemoved, membership.KeyRevokedRoleChanged}

func specs() map[string]catalog.Spec {
	out := map[string]catalog.Spec{}
	for _, s := range catalog.Events() {
		out[s.Type] = s
	}
	return out
}

func TestSampleEvents_CoverTheCatalog(t *testing.T) {
	covered := map[string]bool{}
	for _, e := range sampleEvents("", "", 0, 0, 0, 0) {
		covered[e.EventType()] = true
	}
	for typ := range specs() {
		require.True(t, covered[typ], "FuzzEventJSON_RoundTrip does not build %s", typ)
	}
}

// FuzzEventJSON_RoundTrip checks every event type survives the trip through
// its stored JSON into the catalog's New() value unchanged.
func FuzzEventJSON_RoundTrip(f *testing.F) {
	f.Add("acme", "Acme", int64(12), int64(1740830400), int64(5), byte(0))
	f.Add("ana@example.com", "note\nwith\ttabs", int64(-1), int64(-62135596800), int64(999999999), byte(7))
	f.Add("api_calls", "\xff\xfe", int64(1<<62), int64(253402300799), int64(-1), byte(255))
	f.Add("", "", int64(0), int64(0), int64(0), byte(3))
	reg := specs()
	f.Fuzz(func(t *testing.T, s1, s2 string, n, sec, nsec int64, b byte) {
		for _, e := range sampleEvents(s1, s2, n, sec, nsec, b) {
			data, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("%s does not encode: %v", e.EventType(), err)
			}
			spec := reg[e.EventType()]
			if spec.Version != e.SchemaVersion() {
				t.Fatalf("%s: version %d, catalog says %d", e.EventType(), e.SchemaVersion(), spec.Version)
			}
			back := spec.New()
			if err := json.Unmarshal(data, back); err != nil {
				t.Fatalf("%s: stored form %s does not decode: %v", e.EventType(), data, err)
			}
			if got := domain.Deref(back); !reflect.DeepEqual(got, e) {
				t.Fatalf("%s round trip:\n got %#v\nwant %#v", e.EventType(), got, e)
			}
		}
	})
}

// FuzzEventJSON_DecodeArbitrary feeds arbitrary bytes to every event type:
// decoding must never panic, and whatever decodes and re-encodes must be a
// fixed point of encode/decode.
func FuzzEventJSON_DecodeArbitrary(f *testing.F) {
	for _, e := range sampleEvents("acme", "Acme", 3, 1740830400, 0, 1) {
		data, _ := json.Marshal(e)
		f.Add(data)
	}
	f.Add([]byte(`{"reason":"payment failed"}`))
	f.Add([]byte(`{"quantity":1e3,"occurred_at":"2025-03-01T12:00:00+01:00"}`))
	events := catalog.Events()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range events {
			v := s.New()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				continue // a required value was absent; encoding refuses to write it
			}
			w := s.New()
			if err := json.Unmarshal(enc, w); err != nil {
				t.Fatalf("%s: re-encoded %s does not decode: %v", s.Type, enc, err)
			}
			enc2, err := json.Marshal(w)
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Fatalf("%s: encoding is not stable: %s vs %s (%v)", s.Type, enc, enc2, err)
			}
		}
	})
}
