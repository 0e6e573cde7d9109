package eventstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain"
)

// The projector's writes to a tenant's read models, one method per kind of change. They
// run in a ProjectionTx whose search_path starts with the tenant's (or a rebuild's shadow)
// schema, so the table names are unqualified. Each is idempotent only together with the
// checkpoint: the projector never applies an event twice.

const (
	insertProfileSQL = `INSERT INTO profile (tenant_id, name, slug, plan, plan_version, billing_interval, trial_ends_at,
	status, created_at, updated_at) VALUES ($1, $2, $3, $4, $6, $7, $8, 'active', $5, $5)`
	insertBillingSQL     = `INSERT INTO billing (tenant_id) VALUES ($1)`
	renameProfileSQL     = `UPDATE profile SET name = $2, updated_at = $3 WHERE tenant_id = $1`
	profilePlanSQL       = `UPDATE profile SET plan = $2, updated_at = $3, plan_version = $4, billing_interval = $5 WHERE tenant_id = $1`
	profilePastDueSQL    = `UPDATE profile SET status = 'past_due', updated_at = $2 WHERE tenant_id = $1`
	billingPastDueSQL    = `UPDATE billing SET status = 'past_due', past_due_since = $2, grace_ends_at = $3 WHERE tenant_id = $1`
	profileSuspendedSQL  = `UPDATE profile SET status = 'suspended', suspend_reason = $2, suspend_note = nullif($3, ''), updated_at = $4 WHERE tenant_id = $1`
	profileReactivateSQL = `UPDATE profile SET status = 'active', suspend_reason = NULL, suspend_note = NULL, updated_at = $2 WHERE tenant_id = $1`
	billingReactivateSQL = `UPDATE billing SET status = CASE WHEN status = 'past_due' THEN 'active' ELSE status END,
	past_due_since = NULL, grace_ends_at = NULL WHERE tenant_id = $1`
	profileClosedSQL    = `UPDATE profile SET status = 'closed', updated_at = $2 WHERE tenant_id = $1`
	insertMemberSQL     = `INSERT INTO members (tenant_id, member_id, email, role, joined_at) VALUES ($1, $2, $3, $4, $5)`
	acceptInvitationSQL = `UPDATE invitations SET status = 'accepted' WHERE tenant_id = $1 AND invitation_id = $2`
	insertInvitationSQL = `INSERT INTO invitations (tenant_id, invitation_id, email, role, invited_by, token_sha256, expires_at, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`
	revokeInvitationSQL = `UPDATE invitations SET status = 'revoked' WHERE tenant_id = $1 AND invitation_id = $2`
	memberRoleSQL       = `UPDATE members SET role = $3 WHERE tenant_id = $1 AND member_id = $2`
	deleteMemberSQL     = `DELETE FROM members WHERE tenant_id = $1 AND member_id = $2`
	insertAPIKeySQL     = `INSERT INTO api_keys (tenant_id, key_id, prefix, key_hash, role, member_id, created_at, name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	revokeAPIKeySQL = `UPDATE api_keys SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND key_id = $2`
	linkCustomerSQL = `UPDATE billing SET stripe_customer_id = $2, stripe_subscription_id = $3,
	status = CASE WHEN status = 'none' THEN 'active' ELSE status END WHERE tenant_id = $1`
	usageReportedSQL = `INSERT INTO usage_reported AS u (tenant_id, metric, hour, quantity, revision)
VALUES ($1, $2, $3, $4::text::numeric, $5)
ON CONFLICT (tenant_id, metric, hour) DO UPDATE SET quantity = excluded.quantity, revision = excluded.revision`
	addUsageHourlySQL = `INSERT INTO usage_hourly AS u (tenant_id, metric, hour, quantity, max_quantity, last_key, last_quantity)
SELECT $1, m, h, q, mx, lk, lq
  FROM unnest($2::text[], $3::timestamptz[], $4::text[]::numeric[], $5::text[]::numeric[], $6::bytea[], $7::text[]::numeric[])
    AS x(m, h, q, mx, lk, lq)
ON CONFLICT (tenant_id, metric, hour) DO UPDATE SET ` + usageMergeSQL
	addUsageDailySQL = `INSERT INTO usage_daily AS u (tenant_id, metric, day, quantity, max_quantity, last_key, last_quantity)
SELECT $1, m, (d AT TIME ZONE 'UTC')::date, q, mx, lk, lq
  FROM unnest($2::text[], $3::timestamptz[], $4::text[]::numeric[], $5::text[]::numeric[], $6::bytea[], $7::text[]::numeric[])
    AS x(m, d, q, mx, lk, lq)
ON CONFLICT (tenant_id, metric, day) DO UPDATE SET ` + usageMergeSQL
	// usageMergeSQL adds a batch's totals to a window: sums add, the maximum is the greater
	// one, the last reading the later by its key (occurred_at, seq, index: UsageLastKey);
	// every expression sees the row as it was. Sums keep no trailing zeros (trim_scale), so a
	// window holds the same numeric however its events were batched. (One key compared once
	// instead of three columns compared per column: this statement runs for every usage
	// batch, and the four row comparisons it replaced cost the projector half its speed.)
	usageMergeSQL = `quantity = trim_scale(u.quantity + excluded.quantity),
	max_quantity = greatest(u.max_quantity, excluded.max_quantity),
	last_key = greatest(u.last_key, excluded.last_key),
	last_quantity = CASE WHEN u.last_key IS NULL OR excluded.last_key > u.last_key THEN excluded.last_quantity ELSE u.last_quantity END`
)

// errProfileMissing is a profile update that found no profile row.
var errProfileMissing = errors.New("tenant profile missing")

// exec runs one statement; when one is set, it must change exactly one row (or fail with
// missing).
func (t *ProjectionTx) exec(ctx context.Context, one error, sql string, args ...any) error {
	tag, err := t.tx.Exec(ctx, sql, args...)
	if err == nil && one != nil && tag.RowsAffected() != 1 {
		return one
	}
	return err
}

// CreateTenant adds the tenant's profile (active) and an empty billing row.
func (t *ProjectionTx) CreateTenant(ctx context.Context, name, slug string, plan PlanOn, at time.Time) error {
	if err := t.exec(ctx, nil, insertProfileSQL, t.tenant, name, slug, plan.Plan, at, plan.PlanVersion, plan.Interval, plan.TrialEndsAt); err != nil {
		return err
	}
	return t.exec(ctx, nil, insertBillingSQL, t.tenant)
}

// RenameTenant sets the profile's name.
func (t *ProjectionTx) RenameTenant(ctx context.Context, name string, at time.Time) error {
	return t.exec(ctx, errProfileMissing, renameProfileSQL, t.tenant, name, at)
}

// ChangePlan sets the profile's plan version and interval (the trial's end stays).
func (t *ProjectionTx) ChangePlan(ctx context.Context, plan PlanOn, at time.Time) error {
	return t.exec(ctx, errProfileMissing, profilePlanSQL, t.tenant, plan.Plan, at, plan.PlanVersion, plan.Interval)
}

// MarkPastDue marks the profile and the billing state past due, with its grace period.
func (t *ProjectionTx) MarkPastDue(ctx context.Context, since, graceEndsAt, at time.Time) error {
	if err := t.exec(ctx, errProfileMissing, profilePastDueSQL, t.tenant, at); err != nil {
		return err
	}
	return t.exec(ctx, nil, billingPastDueSQL, t.tenant, since, graceEndsAt)
}

// SuspendTenant marks the profile suspended, with its reason and note ("" for none).
func (t *ProjectionTx) SuspendTenant(ctx context.Context, reason, note string, at time.Time) error {
	return t.exec(ctx, errProfileMissing, profileSuspendedSQL, t.tenant, reason, note, at)
}

// ReactivateTenant marks the profile active and ends a past-due billing state.
func (t *ProjectionTx) ReactivateTenant(ctx context.Context, at time.Time) error {
	if err := t.exec(ctx, errProfileMissing, profileReactivateSQL, t.tenant, at); err != nil {
		return err
	}
	return t.exec(ctx, nil, billingReactivateSQL, t.tenant)
}

// CloseTenant marks the profile closed.
func (t *ProjectionTx) CloseTenant(ctx context.Context, at time.Time) error {
	return t.exec(ctx, errProfileMissing, profileClosedSQL, t.tenant, at)
}

// AddMember adds a member and marks the invitation it accepted (if any) accepted.
func (t *ProjectionTx) AddMember(ctx context.Context, member uuid.UUID, email, role string, invitation uuid.UUID, at time.Time) error {
	if err := t.exec(ctx, nil, insertMemberSQL, t.tenant, member, email, role, at); err != nil {
		return err
	}
	return t.exec(ctx, nil, acceptInvitationSQL, t.tenant, invitation)
}

// NewInvitation is an invitation row to add.
type NewInvitation struct {
	ID          uuid.UUID
	Email, Role string
	InvitedBy   uuid.UUID
	TokenSHA256 string
	ExpiresAt   time.Time
}

// AddInvitation adds a pending invitation.
func (t *ProjectionTx) AddInvitation(ctx context.Context, i NewInvitation) error {
	return t.exec(ctx, nil, insertInvitationSQL, t.tenant, i.ID, i.Email, i.Role, i.InvitedBy, i.TokenSHA256, i.ExpiresAt)
}

// RevokeInvitation marks an invitation revoked.
func (t *ProjectionTx) RevokeInvitation(ctx context.Context, invitation uuid.UUID) error {
	return t.exec(ctx, nil, revokeInvitationSQL, t.tenant, invitation)
}

// ChangeRole sets a member's role.
func (t *ProjectionTx) ChangeRole(ctx context.Context, member uuid.UUID, role string) error {
	return t.exec(ctx, nil, memberRoleSQL, t.tenant, member, role)
}

// RemoveMember deletes a member.
func (t *ProjectionTx) RemoveMember(ctx context.Context, member uuid.UUID) error {
	return t.exec(ctx, nil, deleteMemberSQL, t.tenant, member)
}

// NewAPIKey is an API key row to add; Hash is the key's SHA-256.
type NewAPIKey struct {
	ID, Member         uuid.UUID
	Name, Prefix, Role string
	Hash               []byte
	CreatedAt          time.Time
}

// AddAPIKey adds an API key.
func (t *ProjectionTx) AddAPIKey(ctx context.Context, k NewAPIKey) error {
	return t.exec(ctx, nil, insertAPIKeySQL, t.tenant, k.ID, k.Prefix, k.Hash, k.Role, k.Member, k.CreatedAt, k.Name)
}

// RevokeAPIKey marks an API key revoked; the key must exist.
func (t *ProjectionTx) RevokeAPIKey(ctx context.Context, key uuid.UUID, reason string, at time.Time) error {
	return t.exec(ctx, fmt.Errorf("api key %s missing", key), revokeAPIKeySQL, t.tenant, key, at, reason)
}

// LinkCustomer records the tenant's Stripe customer and subscription, and makes a billing
// state that was none active.
func (t *ProjectionTx) LinkCustomer(ctx context.Context, customer, subscription string) error {
	return t.exec(ctx, nil, linkCustomerSQL, t.tenant, customer, subscription)
}

// SetUsageReported records the usage total Stripe was told for a metric's hour, at a
// revision; total is a decimal integer of any size (the column is a numeric).
func (t *ProjectionTx) SetUsageReported(ctx context.Context, metric string, hour time.Time, total string, revision int) error {
	return t.exec(ctx, nil, usageReportedSQL, t.tenant, metric, hour, total, revision)
}

// UsageTotals are usage totals to add, one entry per metric and bucket start (an hour, or
// a day's midnight UTC), as columns: they are sent as arrays. Values are exact decimals in
// plain notation ("12", "1.25"): Quantities the sums, Maxes the highest readings, and
// Lasts the last readings, at LastKeys (UsageLastKey of occurred_at, the event's seq, the
// record's index in its event).
type UsageTotals struct {
	Metrics    []string
	Starts     []time.Time
	Quantities []string
	Maxes      []string
	LastKeys   [][]byte
	Lasts      []string
}

// UsageLastKey is the position of a usage reading as the read models order them: 20 bytes
// that sort (as bytea, byte by byte) as (at in unix nanoseconds, seq, idx).
func UsageLastKey(at time.Time, seq int64, idx int32) []byte {
	return domain.UsageLastKey(at, seq, idx)
}

// parseUsageLastKey reads UsageLastKey's bytes back; ok is false for any other length.
func parseUsageLastKey(k []byte) (at time.Time, seq int64, idx int32, ok bool) {
	if len(k) != 20 {
		return time.Time{}, 0, 0, false
	}
	at = time.Unix(0, int64(binary.BigEndian.Uint64(k)^1<<63)).UTC()
	return at, int64(binary.BigEndian.Uint64(k[8:]) ^ 1<<63), int32(binary.BigEndian.Uint32(k[16:]) ^ 1<<31), true
}

// queueUsage queues adding hourly and daily totals to tenant's read models; nothing when
// there are none.
func queueUsage(b *pgx.Batch, tenant uuid.UUID, hourly, daily UsageTotals) {
	if len(hourly.Metrics) == 0 {
		return
	}
	for _, t := range []struct {
		sql string
		u   UsageTotals
	}{{addUsageHourlySQL, hourly}, {addUsageDailySQL, daily}} {
		b.Queue(t.sql, tenant, t.u.Metrics, t.u.Starts, t.u.Quantities, t.u.Maxes, t.u.LastKeys, t.u.Lasts)
	}
}
