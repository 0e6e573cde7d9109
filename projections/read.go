package projections

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantry/tenantry/eventstore"
)

// Profile is the tenant's profile read model.
type Profile struct {
	TenantID      uuid.UUID `json:"id"`
	Name          string    `json:"name"`
	Slug          string    `json:"slug"`
	Plan          string    `json:"plan"`
	Status        string    `json:"status"`
	SuspendReason string    `json:"suspend_reason,omitempty"`
	SuspendNote   string    `json:"suspend_note,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// GetProfile reads the profile; ErrNotProvisioned when there is none.
func GetProfile(ctx context.Context, tx pgx.Tx) (Profile, error) {
	var p Profile
	err := tx.QueryRow(ctx, `SELECT tenant_id, name, slug, plan, status, coalesce(suspend_reason, ''),
		coalesce(suspend_note, ''), created_at, updated_at FROM profile`).
		Scan(&p.TenantID, &p.Name, &p.Slug, &p.Plan, &p.Status, &p.SuspendReason, &p.SuspendNote, &p.CreatedAt, &p.UpdatedAt)
	return p, notProvisioned(err)
}

// Member is one row of the members read model.
type Member struct {
	MemberID uuid.UUID `json:"id"`
	Email    string    `json:"email"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// ListMembers lists the tenant's members by join time.
func ListMembers(ctx context.Context, tx pgx.Tx) ([]Member, error) {
	rows, err := tx.Query(ctx, `SELECT member_id, email, role, joined_at FROM members ORDER BY joined_at, member_id`)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.MemberID, &m.Email, &m.Role, &m.JoinedAt)
	})
}

// Invitation is one row of the invitations read model.
type Invitation struct {
	InvitationID uuid.UUID `json:"id"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	InvitedBy    uuid.UUID `json:"invited_by"`
	ExpiresAt    time.Time `json:"expires_at"`
	Status       string    `json:"status"`
}

// ListPendingInvitations lists invitations not yet accepted or revoked (expired ones too,
// marked by ExpiresAt).
func ListPendingInvitations(ctx context.Context, tx pgx.Tx) ([]Invitation, error) {
	rows, err := tx.Query(ctx, `SELECT invitation_id, email, role, invited_by, expires_at, status
		FROM invitations WHERE status = 'pending' ORDER BY expires_at, invitation_id`)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) {
		var i Invitation
		return i, r.Scan(&i.InvitationID, &i.Email, &i.Role, &i.InvitedBy, &i.ExpiresAt, &i.Status)
	})
}

// ListLiveInvitations lists, by id (creation order), at most limit invitations after id
// after (uuid.Nil: from the start) that could still be accepted at now: neither accepted nor
// revoked, and not expired. The token hash is never read.
func ListLiveInvitations(ctx context.Context, tx pgx.Tx, now time.Time, after uuid.UUID, limit int) ([]Invitation, error) {
	rows, err := tx.Query(ctx, `SELECT invitation_id, email, role, invited_by, expires_at, status
		FROM invitations WHERE status = 'pending' AND expires_at > $1 AND invitation_id > $2
		ORDER BY invitation_id LIMIT $3`, now, after, limit)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) {
		var i Invitation
		return i, r.Scan(&i.InvitationID, &i.Email, &i.Role, &i.InvitedBy, &i.ExpiresAt, &i.Status)
	})
}

// APIKey is one row of the api_keys read model, without its hash.
type APIKey struct {
	KeyID     uuid.UUID  `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Role      string     `json:"role"`
	MemberID  uuid.UUID  `json:"member_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// ListAPIKeys lists the tenant's keys, newest first, revoked ones included.
func ListAPIKeys(ctx context.Context, tx pgx.Tx) ([]APIKey, error) {
	rows, err := tx.Query(ctx, `SELECT key_id, name, prefix, role, member_id, created_at, revoked_at
		FROM api_keys ORDER BY created_at DESC, key_id`)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		return k, r.Scan(&k.KeyID, &k.Name, &k.Prefix, &k.Role, &k.MemberID, &k.CreatedAt, &k.RevokedAt)
	})
}

// Credential is what authenticating an API key needs: the key's hash, role and member, and
// the tenant's status.
type Credential struct {
	KeyHash      []byte
	Role         string
	MemberID     uuid.UUID
	Revoked      bool
	TenantStatus string
	Plan         string
	Slug         string
}

// LookupCredential reads one key with its tenant's status; ErrNotProvisioned when the tenant
// has no read models, pgx.ErrNoRows when there is no such key.
func LookupCredential(ctx context.Context, tx pgx.Tx, keyID uuid.UUID) (Credential, error) {
	var c Credential
	err := tx.QueryRow(ctx, `SELECT k.key_hash, k.role, k.member_id, k.revoked_at IS NOT NULL, p.status, p.plan, p.slug
		FROM api_keys k CROSS JOIN profile p WHERE k.key_id = $1`, keyID).
		Scan(&c.KeyHash, &c.Role, &c.MemberID, &c.Revoked, &c.TenantStatus, &c.Plan, &c.Slug)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, err
	}
	return c, notProvisioned(err)
}

// UsagePoint is one bucket of a usage series. The read models keep totals as numerics,
// which cannot overflow: Quantity is the total when it fits an int64; otherwise Big holds it
// and Quantity is 0 (a caller that needs an int64, such as the billing worker, skips it).
type UsagePoint struct {
	Metric   string    `json:"metric"`
	Start    time.Time `json:"start"`
	Quantity int64     `json:"quantity"`
	Big      *big.Int  `json:"-"`
}

// Total returns the bucket's total, whether or not it fits an int64.
func (p UsagePoint) Total() *big.Int {
	if p.Big != nil {
		return p.Big
	}
	return big.NewInt(p.Quantity)
}

// UsageSeries reads usage per metric and hour (daily false) or day (daily true) for buckets
// starting in [from, to), optionally for one metric.
func UsageSeries(ctx context.Context, tx pgx.Tx, metric string, from, to time.Time, daily bool) ([]UsagePoint, error) {
	return UsageSeriesLimit(ctx, tx, metric, from, to, daily, 0)
}

// UsageSeriesLimit is UsageSeries returning at most limit points (0: all), for callers
// that answer clients and must bound their work whatever the number of metrics.
func UsageSeriesLimit(ctx context.Context, tx pgx.Tx, metric string, from, to time.Time, daily bool, limit int) ([]UsagePoint, error) {
	q := `SELECT metric, hour, quantity::text FROM usage_hourly WHERE hour >= $1 AND hour < $2 AND ($3 = '' OR metric = $3) ORDER BY metric, hour LIMIT $4`
	if daily {
		q = `SELECT metric, day::timestamp AT TIME ZONE 'UTC', quantity::text FROM usage_daily
			WHERE day >= ($1 AT TIME ZONE 'UTC')::date AND day < ($2 AT TIME ZONE 'UTC')::date AND ($3 = '' OR metric = $3) ORDER BY metric, day LIMIT $4`
	}
	var lim *int64 // NULL: no limit
	if limit > 0 {
		n := int64(limit)
		lim = &n
	}
	rows, err := tx.Query(ctx, q, from, to, metric, lim)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsagePoint, error) {
		var p UsagePoint
		var total string
		if err := r.Scan(&p.Metric, &p.Start, &total); err != nil {
			return p, err
		}
		p.Start = p.Start.UTC()
		n, err := strconv.ParseInt(total, 10, 64)
		if err == nil {
			p.Quantity = n
			return p, nil
		}
		b, ok := new(big.Int).SetString(total, 10)
		if !ok {
			return p, fmt.Errorf("usage total %q of %s at %s is not an integer", total, p.Metric, p.Start.Format(time.RFC3339))
		}
		p.Big = b
		return p, nil
	})
}

// Billing is the tenant's billing read model.
type Billing struct {
	StripeCustomerID     string     `json:"stripe_customer_id,omitempty"`
	StripeSubscriptionID string     `json:"stripe_subscription_id,omitempty"`
	Status               string     `json:"status"`
	PastDueSince         *time.Time `json:"past_due_since,omitempty"`
	GraceEndsAt          *time.Time `json:"grace_ends_at,omitempty"`
}

// GetBilling reads the billing state.
func GetBilling(ctx context.Context, tx pgx.Tx) (Billing, error) {
	var b Billing
	err := tx.QueryRow(ctx, `SELECT coalesce(stripe_customer_id, ''), coalesce(stripe_subscription_id, ''), status,
		past_due_since, grace_ends_at FROM billing`).
		Scan(&b.StripeCustomerID, &b.StripeSubscriptionID, &b.Status, &b.PastDueSince, &b.GraceEndsAt)
	return b, notProvisioned(err)
}

// notProvisioned maps a missing read model (no schema yet: undefined table; no row) to
// ErrNotProvisioned.
func notProvisioned(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) || isUndefinedTable(err) {
		return fmt.Errorf("%w: %v", eventstore.ErrNotProvisioned, err)
	}
	return err
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// ReconLine compares, for one metric and one calendar month (UTC), the usage recorded with
// the usage Stripe confirmed. Recorded and Difference count only windows that had closed by
// the cutoff (the ones a push cycle covers); InProgress is usage in windows still open.
type ReconLine struct {
	Metric            string    `json:"metric"`
	Period            time.Time `json:"period"`
	Recorded          int64     `json:"recorded"`
	Reported          int64     `json:"reported"`
	Difference        int64     `json:"difference"`
	UnreportedWindows int64     `json:"unreported_windows"`
	InProgress        int64     `json:"in_progress"`
}

// Reconcile reads recorded against reported usage for windows starting in [from, to), by
// metric and month; a window is closed when it ended at or before cutoff. Recorded and
// InProgress saturate at the int64 maximum (the read models' totals are numerics that may
// exceed it; nothing that large can have been reported).
func Reconcile(ctx context.Context, tx pgx.Tx, from, to, cutoff time.Time) ([]ReconLine, error) {
	rows, err := tx.Query(ctx, `
		SELECT coalesce(r.metric, s.metric),
		       date_trunc('month', coalesce(r.hour, s.hour), 'UTC'),
		       least(sum(CASE WHEN coalesce(r.hour, s.hour) + interval '1 hour' <= $3 THEN coalesce(r.quantity, 0) ELSE 0 END), 9223372036854775807)::bigint,
		       least(sum(coalesce(s.quantity, 0)), 9223372036854775807)::bigint,
		       count(*) FILTER (WHERE coalesce(r.hour, s.hour) + interval '1 hour' <= $3
		                          AND coalesce(r.quantity, 0) <> coalesce(s.quantity, 0)),
		       least(sum(CASE WHEN coalesce(r.hour, s.hour) + interval '1 hour' > $3 THEN coalesce(r.quantity, 0) ELSE 0 END), 9223372036854775807)::bigint
		  FROM (SELECT metric, hour, quantity FROM usage_hourly WHERE hour >= $1 AND hour < $2) r
		  FULL JOIN (SELECT metric, hour, quantity FROM usage_reported WHERE hour >= $1 AND hour < $2) s
		    ON s.metric = r.metric AND s.hour = r.hour
		 GROUP BY 1, 2
		 ORDER BY 2, 1`, from, to, cutoff)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReconLine, error) {
		var l ReconLine
		err := r.Scan(&l.Metric, &l.Period, &l.Recorded, &l.Reported, &l.UnreportedWindows, &l.InProgress)
		l.Period = l.Period.UTC()
		l.Difference = l.Recorded - l.Reported
		return l, err
	})
}
