// Package projections builds each tenant's read models in its own schema from its events:
// provisioning, the projector (exactly-once, fair across tenants, poison events isolated)
// and the SQL that applies each event type.
package projections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// apply writes one event's effect on the read models (usage records are summed per batch by
// usageSums instead). It runs inside the projector's
// transaction with the tenant context and search_path set to the tenant's schema, so the
// table names are unqualified. Every statement is idempotent only together with the
// checkpoint: the projector never applies an event twice.
func apply(ctx context.Context, tx pgx.Tx, e *eventstore.Event, p domain.Event) error {
	t, at := e.TenantID, e.RecordedAt
	var err error
	switch ev := domain.Deref(p).(type) {
	case tenant.Created:
		_, err = tx.Exec(ctx, `INSERT INTO profile (tenant_id, name, slug, plan, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'active', $5, $5)`, t, ev.Name.String(), ev.Slug.String(), ev.Plan.String(), at)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO billing (tenant_id) VALUES ($1)`, t)
		}
	case tenant.Renamed:
		err = profile(ctx, tx, `name = $2`, t, at, ev.Name.String())
	case tenant.PlanChanged:
		err = profile(ctx, tx, `plan = $2`, t, at, ev.To.String())
	case tenant.MarkedPastDue:
		err = profile(ctx, tx, `status = 'past_due'`, t, at)
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE billing SET status = 'past_due', past_due_since = $2, grace_ends_at = $3 WHERE tenant_id = $1`,
				t, ev.Since, ev.GraceEndsAt)
		}
	case tenant.Suspended:
		err = profile(ctx, tx, `status = 'suspended', suspend_reason = $2, suspend_note = nullif($3, '')`, t, at, ev.Reason.String(), ev.Note)
	case tenant.Reactivated:
		err = profile(ctx, tx, `status = 'active', suspend_reason = NULL, suspend_note = NULL`, t, at)
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE billing SET status = CASE WHEN status = 'past_due' THEN 'active' ELSE status END,
				past_due_since = NULL, grace_ends_at = NULL WHERE tenant_id = $1`, t)
		}
	case tenant.Closed:
		err = profile(ctx, tx, `status = 'closed'`, t, at)
	case membership.Joined:
		_, err = tx.Exec(ctx, `INSERT INTO members (tenant_id, member_id, email, role, joined_at) VALUES ($1, $2, $3, $4, $5)`,
			t, ev.MemberID, ev.Email.String(), ev.Role.String(), at)
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE invitations SET status = 'accepted' WHERE tenant_id = $1 AND invitation_id = $2`, t, ev.InvitationID)
		}
	case membership.Invited:
		_, err = tx.Exec(ctx, `INSERT INTO invitations (tenant_id, invitation_id, email, role, invited_by, token_sha256, expires_at, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`, t, ev.InvitationID, ev.Email.String(), ev.Role.String(), ev.InvitedBy, ev.TokenSHA256, ev.ExpiresAt)
	case membership.InvitationRevoked:
		_, err = tx.Exec(ctx, `UPDATE invitations SET status = 'revoked' WHERE tenant_id = $1 AND invitation_id = $2`, t, ev.InvitationID)
	case membership.RoleChanged:
		_, err = tx.Exec(ctx, `UPDATE members SET role = $3 WHERE tenant_id = $1 AND member_id = $2`, t, ev.MemberID, ev.To.String())
	case membership.Removed:
		_, err = tx.Exec(ctx, `DELETE FROM members WHERE tenant_id = $1 AND member_id = $2`, t, ev.MemberID)
	case membership.APIKeyCreated:
		hash, herr := hex.DecodeString(ev.KeySHA256)
		if herr != nil || len(hash) != sha256.Size {
			return fmt.Errorf("api key %s: key hash is not hex SHA-256", ev.KeyID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO api_keys (tenant_id, key_id, prefix, key_hash, role, member_id, created_at, name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, t, ev.KeyID, ev.Prefix, hash, ev.Role.String(), ev.MemberID, at, ev.Name)
	case membership.APIKeyRevoked:
		var tag pgconn.CommandTag
		tag, err = tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND key_id = $2`,
			t, ev.KeyID, at, ev.Reason)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("api key %s missing", ev.KeyID)
		}
	case billing.CustomerLinked:
		_, err = tx.Exec(ctx, `UPDATE billing SET stripe_customer_id = $2, stripe_subscription_id = $3,
			status = CASE WHEN status = 'none' THEN 'active' ELSE status END WHERE tenant_id = $1`,
			t, ev.CustomerID, ev.SubscriptionID)
	case billing.UsageReported:
		_, err = tx.Exec(ctx, `INSERT INTO usage_reported AS u (tenant_id, metric, hour, quantity, revision)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, metric, hour) DO UPDATE SET quantity = excluded.quantity, revision = excluded.revision`,
			t, ev.Metric.String(), ev.WindowStart, ev.Total, ev.Revision)
	case billing.SubscriptionChanged, billing.StripeEventReceived, billing.UsageReportPlanned:
		// Kept in the event store only: the plan shows in the profile, deliveries and
		// planned pushes are for auditors and the worker.
	default:
		return fmt.Errorf("no projection for %s v%d", e.Type, e.SchemaVersion)
	}
	return err
}

// typeUsageReported is billing's usage.reported: the usage projection applies it.
const typeUsageReported = billing.TypeUsageReported

// profile updates the tenant's profile row; set is a fixed SET clause written in this file.
func profile(ctx context.Context, tx pgx.Tx, set string, t any, at time.Time, args ...any) error {
	tag, err := tx.Exec(ctx, `UPDATE profile SET `+set+`, updated_at = $`+fmt.Sprint(len(args)+2)+` WHERE tenant_id = $1`,
		append(append([]any{t}, args...), at)...)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("tenant profile missing")
	}
	return err
}

// usageSums adds up usage records per metric and hour and per metric and day, so a batch of
// events costs two statements however many records it holds.
type usageSums struct {
	hourly map[usageKey]int64
	daily  map[usageKey]int64
}

type usageKey struct {
	metric string
	at     time.Time
}

// keys returns a record's hour and day buckets.
func keys(r usage.Recorded) (hour, day usageKey) {
	at := r.OccurredAt.UTC()
	m := r.Metric.String()
	return usageKey{m, at.Truncate(time.Hour)}, usageKey{m, time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)}
}

// addEvent adds one event's records, with checked sums: fits is false, and nothing is
// added, when a sum would not fit an int64; alone is then true if the event's own records
// fit (it only overflows together with the batch's earlier events).
func (u *usageSums) addEvent(recs []usage.Recorded) (fits, alone bool) {
	if u.hourly == nil {
		u.hourly, u.daily = map[usageKey]int64{}, map[usageKey]int64{}
	}
	if len(recs) == 1 { // the common case: no scratch maps
		h, d := keys(recs[0])
		q := recs[0].Quantity.Int64()
		hs, ok1 := usage.AddQuantities(u.hourly[h], q)
		ds, ok2 := usage.AddQuantities(u.daily[d], q)
		if !ok1 || !ok2 || q < 0 {
			return false, q >= 0
		}
		u.hourly[h], u.daily[d] = hs, ds
		return true, true
	}
	var own usageSums
	own.hourly, own.daily = map[usageKey]int64{}, map[usageKey]int64{}
	for _, r := range recs {
		h, d := keys(r)
		q := r.Quantity.Int64()
		hs, ok1 := usage.AddQuantities(own.hourly[h], q)
		ds, ok2 := usage.AddQuantities(own.daily[d], q)
		if !ok1 || !ok2 || q < 0 {
			return false, false
		}
		own.hourly[h], own.daily[d] = hs, ds
	}
	for _, m := range []struct{ into, from map[usageKey]int64 }{{u.hourly, own.hourly}, {u.daily, own.daily}} {
		for k, v := range m.from {
			if _, ok := usage.AddQuantities(m.into[k], v); !ok {
				return false, true
			}
		}
	}
	for k, v := range own.hourly {
		u.hourly[k] += v
	}
	for k, v := range own.daily {
		u.daily[k] += v
	}
	return true, true
}

// queue adds the statements that write the sums to b.
func (u *usageSums) queue(b *pgx.Batch, tenant any) {
	if len(u.hourly) == 0 {
		return
	}
	for _, q := range []struct {
		sums map[usageKey]int64
		sql  string
	}{
		{u.hourly, `INSERT INTO usage_hourly AS u (tenant_id, metric, hour, quantity)
			SELECT $1, m, h, q FROM unnest($2::text[], $3::timestamptz[], $4::bigint[]) AS x(m, h, q)
			ON CONFLICT (tenant_id, metric, hour) DO UPDATE SET quantity = u.quantity + excluded.quantity`},
		{u.daily, `INSERT INTO usage_daily AS u (tenant_id, metric, day, quantity)
			SELECT $1, m, (d AT TIME ZONE 'UTC')::date, q FROM unnest($2::text[], $3::timestamptz[], $4::bigint[]) AS x(m, d, q)
			ON CONFLICT (tenant_id, metric, day) DO UPDATE SET quantity = u.quantity + excluded.quantity`},
	} {
		metrics := make([]string, 0, len(q.sums))
		ats := make([]time.Time, 0, len(q.sums))
		qty := make([]int64, 0, len(q.sums))
		for k, v := range q.sums {
			metrics, ats, qty = append(metrics, k.metric), append(ats, k.at), append(qty, v)
		}
		b.Queue(q.sql, tenant, metrics, ats, qty)
	}
	u.hourly, u.daily = nil, nil
}
