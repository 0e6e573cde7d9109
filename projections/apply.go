// Package projections builds each tenant's read models in its own schema from its events:
// provisioning, the projector (exactly-once, fair across tenants, poison events isolated)
// and what each event type means for the read models. Its statements live in the
// data-access layer (eventstore: projector_sql.go, readmodels_apply.go, rebuild_sql.go,
// directory_sql.go, wait.go).
package projections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// apply writes one event's effect on the read models (usage records are summed per batch by
// usageSums instead), through the projector's transaction (eventstore.ProjectionTx): it
// decides what an event means for the read models; the data-access layer writes it.
func apply(ctx context.Context, tx *eventstore.ProjectionTx, e *eventstore.Event, p domain.Event) error {
	at := e.RecordedAt
	switch ev := domain.Deref(p).(type) {
	case tenant.Created:
		return tx.CreateTenant(ctx, ev.Name.String(), ev.Slug.String(), eventstore.PlanOn{Plan: ev.Plan.String(),
			PlanVersion: max(ev.PlanVersion, 1), Interval: ev.Interval.OrMonthly().String(), TrialEndsAt: ev.TrialEndsAt}, at)
	case tenant.Renamed:
		return tx.RenameTenant(ctx, ev.Name.String(), at)
	case tenant.PlanChanged:
		return tx.ChangePlan(ctx, eventstore.PlanOn{Plan: ev.To.String(), PlanVersion: max(ev.ToVersion, 1), Interval: ev.Interval.OrMonthly().String()}, at)
	case tenant.MarkedPastDue:
		return tx.MarkPastDue(ctx, ev.Since, ev.GraceEndsAt, at)
	case tenant.Suspended:
		return tx.SuspendTenant(ctx, ev.Reason.String(), ev.Note, at)
	case tenant.Reactivated:
		return tx.ReactivateTenant(ctx, at)
	case tenant.Closed:
		return tx.CloseTenant(ctx, at)
	case membership.Joined:
		return tx.AddMember(ctx, ev.MemberID, ev.Email.String(), ev.Role.String(), ev.InvitationID, at)
	case membership.Invited:
		return tx.AddInvitation(ctx, eventstore.NewInvitation{ID: ev.InvitationID, Email: ev.Email.String(), Role: ev.Role.String(),
			InvitedBy: ev.InvitedBy, TokenSHA256: ev.TokenSHA256, ExpiresAt: ev.ExpiresAt})
	case membership.InvitationRevoked:
		return tx.RevokeInvitation(ctx, ev.InvitationID)
	case membership.RoleChanged:
		return tx.ChangeRole(ctx, ev.MemberID, ev.To.String())
	case membership.Removed:
		return tx.RemoveMember(ctx, ev.MemberID)
	case membership.APIKeyCreated:
		hash, err := hex.DecodeString(ev.KeySHA256)
		if err != nil || len(hash) != sha256.Size {
			return fmt.Errorf("api key %s: key hash is not hex SHA-256", ev.KeyID)
		}
		return tx.AddAPIKey(ctx, eventstore.NewAPIKey{ID: ev.KeyID, Member: ev.MemberID, Name: ev.Name, Prefix: ev.Prefix,
			Role: ev.Role.String(), Hash: hash, CreatedAt: at})
	case membership.APIKeyRevoked:
		return tx.RevokeAPIKey(ctx, ev.KeyID, ev.Reason, at)
	case billing.CustomerLinked:
		return tx.LinkCustomer(ctx, ev.CustomerID, ev.SubscriptionID)
	case billing.UsageReported:
		return tx.SetUsageReported(ctx, ev.Metric.String(), ev.WindowStart, ev.Total.String(), ev.Revision)
	case billing.SubscriptionChanged, billing.StripeEventReceived, billing.UsageReportPlanned, plans.ThresholdCrossed:
		// Kept in the event store only: the plan shows in the profile, deliveries and
		// planned pushes are for auditors and the worker, quota alerts for auditors and
		// webhook endpoints.
		return nil
	default:
		return fmt.Errorf("no projection for %s v%d", e.Type, e.SchemaVersion)
	}
}

// typeUsageReported is billing's usage.reported: the usage projection applies it.
const typeUsageReported = billing.TypeUsageReported

// usageSums adds up usage records per metric and hour and per metric and day, so a batch of
// events costs two statements however many records it holds. Each bucket also keeps the
// highest reading and the last one (by occurred_at, seq, index in the event), which gauges
// are billed by: every metric gets all three, and the metric's definition picks one when
// the bucket is read, so a rebuild never depends on the definitions.
type usageSums struct {
	hourly map[usageKey]usageBucket
	daily  map[usageKey]usageBucket
}

type usageKey struct {
	metric string
	at     time.Time
}

// usageBucket is one bucket's totals in a batch. Whole quantities are summed in an int64
// with checks, as always; quantities with decimals in an exact Decimal (frac).
type usageBucket struct {
	whole    int64
	frac     usage.Decimal
	max      usage.Quantity
	last     usage.Quantity
	lastAt   time.Time
	lastSeq  int64
	lastIdx  int32
	hasFrac  bool
	hasWhole bool
}

// later reports whether reading (at, seq, idx) comes after the bucket's last one.
func (b usageBucket) later(at time.Time, seq int64, idx int32) bool {
	switch {
	case b.last.IsZero():
		return true
	case !at.Equal(b.lastAt):
		return at.After(b.lastAt)
	case seq != b.lastSeq:
		return seq > b.lastSeq
	}
	return idx > b.lastIdx
}

// merge adds o into b; ok is false when the whole sum would not fit an int64.
func (b usageBucket) merge(o usageBucket) (usageBucket, bool) {
	if o.hasWhole {
		s, ok := usage.AddQuantities(b.whole, o.whole)
		if !ok {
			return b, false
		}
		b.whole, b.hasWhole = s, true
	}
	if o.hasFrac {
		b.frac, b.hasFrac = b.frac.Add(o.frac), true
	}
	if b.max.IsZero() || o.max.Decimal().Cmp(b.max.Decimal()) > 0 {
		b.max = o.max
	}
	if !o.last.IsZero() && b.later(o.lastAt, o.lastSeq, o.lastIdx) {
		b.last, b.lastAt, b.lastSeq, b.lastIdx = o.last, o.lastAt, o.lastSeq, o.lastIdx
	}
	return b, true
}

// one is the bucket of a single record.
func one(r usage.Recorded, seq int64, idx int32) (usageBucket, bool) {
	b := usageBucket{max: r.Quantity, last: r.Quantity, lastAt: r.OccurredAt.UTC(), lastSeq: seq, lastIdx: idx}
	if r.Quantity.Scale() == 0 {
		b.whole, b.hasWhole = r.Quantity.Int64(), true
		return b, b.whole >= 0
	}
	b.frac, b.hasFrac = r.Quantity.Decimal(), true
	return b, true
}

// keys returns a record's hour and day buckets.
func keys(r usage.Recorded) (hour, day usageKey) {
	at := r.OccurredAt.UTC()
	m := r.Metric.String()
	return usageKey{m, at.Truncate(time.Hour)}, usageKey{m, time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)}
}

// addEvent adds the records of the event at seq, with checked sums: fits is false, and
// nothing is added, when a sum would not fit an int64; alone is then true if the event's
// own records fit (it only overflows together with the batch's earlier events).
func (u *usageSums) addEvent(recs []usage.Recorded, seq int64) (fits, alone bool) {
	if u.hourly == nil {
		u.hourly, u.daily = map[usageKey]usageBucket{}, map[usageKey]usageBucket{}
	}
	if len(recs) == 1 { // the common case: no scratch maps
		h, d := keys(recs[0])
		b, ok := one(recs[0], seq, 0)
		if !ok {
			return false, false
		}
		hs, ok1 := u.hourly[h].merge(b)
		ds, ok2 := u.daily[d].merge(b)
		if !ok1 || !ok2 {
			return false, true
		}
		u.hourly[h], u.daily[d] = hs, ds
		return true, true
	}
	var own usageSums
	own.hourly, own.daily = map[usageKey]usageBucket{}, map[usageKey]usageBucket{}
	for i, r := range recs {
		h, d := keys(r)
		b, ok := one(r, seq, int32(i))
		if !ok {
			return false, false
		}
		hs, ok1 := own.hourly[h].merge(b)
		ds, ok2 := own.daily[d].merge(b)
		if !ok1 || !ok2 {
			return false, false
		}
		own.hourly[h], own.daily[d] = hs, ds
	}
	for _, m := range []struct{ into, from map[usageKey]usageBucket }{{u.hourly, own.hourly}, {u.daily, own.daily}} {
		for k, v := range m.from {
			if _, ok := m.into[k].merge(v); !ok {
				return false, true
			}
		}
	}
	for _, m := range []struct{ into, from map[usageKey]usageBucket }{{u.hourly, own.hourly}, {u.daily, own.daily}} {
		for k, v := range m.from {
			m.into[k], _ = m.into[k].merge(v)
		}
	}
	return true, true
}

// totals returns the sums as the data-access layer writes them, and empties them.
func (u *usageSums) totals() (hourly, daily eventstore.UsageTotals) {
	hourly, daily = columns(u.hourly), columns(u.daily)
	u.hourly, u.daily = nil, nil
	return hourly, daily
}

func columns(sums map[usageKey]usageBucket) eventstore.UsageTotals {
	if len(sums) == 0 {
		return eventstore.UsageTotals{}
	}
	n := len(sums)
	c := eventstore.UsageTotals{Metrics: make([]string, 0, n), Starts: make([]time.Time, 0, n), Quantities: make([]string, 0, n),
		Maxes: make([]string, 0, n), LastKeys: make([][]byte, 0, n),
		Lasts: make([]string, 0, n)}
	for k, v := range sums {
		sum := strconv.FormatInt(v.whole, 10)
		if v.hasFrac {
			sum = v.frac.Add(usage.DecimalOf(usage.AmountOf(v.whole))).String()
		}
		c.Metrics, c.Starts, c.Quantities = append(c.Metrics, k.metric), append(c.Starts, k.at), append(c.Quantities, sum)
		c.Maxes, c.Lasts = append(c.Maxes, v.max.String()), append(c.Lasts, v.last.String())
		c.LastKeys = append(c.LastKeys, eventstore.UsageLastKey(v.lastAt, v.lastSeq, v.lastIdx))
	}
	return c
}

// planOn is a tenant's subscription as the read models show it.
func planOn(s tenant.Subscription) eventstore.PlanOn {
	p := eventstore.PlanOn{Plan: s.Plan.String(), PlanVersion: s.PlanVersion, Interval: s.Interval.String()}
	if !s.TrialEndsAt.IsZero() {
		end := s.TrialEndsAt
		p.TrialEndsAt = &end
	}
	return p
}
