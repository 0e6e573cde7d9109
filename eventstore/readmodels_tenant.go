package eventstore

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The tenant's own read models (profile, members, invitations, API keys), as the ports read
// them inside a tenant transaction (Store.InTenant). The queries name unqualified tables:
// the transaction's search_path is the tenant's schema.

const (
	profileSQL = `SELECT tenant_id, name, slug, plan, plan_version, billing_interval, trial_ends_at, status, coalesce(suspend_reason, ''),
		coalesce(suspend_note, ''), created_at, updated_at FROM profile`
	membersSQL = `SELECT member_id, email, role, joined_at FROM members WHERE member_id > $1
		ORDER BY member_id LIMIT $2`
	liveInvitationsSQL = `SELECT invitation_id, email, role, invited_by, expires_at, status
		FROM invitations WHERE status = 'pending' AND expires_at > $1 AND invitation_id > $2
		ORDER BY invitation_id LIMIT $3`
	apiKeysSQL = `SELECT key_id, name, prefix, role, member_id, created_at, revoked_at
		FROM api_keys WHERE key_id > $1 ORDER BY key_id LIMIT $2`
)

// Profile is the tenant's profile read model.
type Profile struct {
	TenantID uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	Slug     string    `json:"slug"`
	PlanOn
	Status        string    `json:"status"`
	SuspendReason string    `json:"suspend_reason,omitempty"`
	SuspendNote   string    `json:"suspend_note,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Profile reads the profile; ErrNotProvisioned when there is none.
func (t *Tx) Profile(ctx context.Context) (Profile, error) {
	var p Profile
	err := t.tx.QueryRow(ctx, profileSQL).
		Scan(&p.TenantID, &p.Name, &p.Slug, &p.Plan, &p.PlanVersion, &p.Interval, &p.TrialEndsAt, &p.Status, &p.SuspendReason, &p.SuspendNote, &p.CreatedAt, &p.UpdatedAt)
	return p, notProvisioned(err)
}

// Member is one row of the members read model.
type Member struct {
	MemberID uuid.UUID `json:"id"`
	Email    string    `json:"email"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// Members lists, by id, at most limit of the tenant's members after id after (uuid.Nil: from
// the start): a keyset page (domain.Page).
func (t *Tx) Members(ctx context.Context, after uuid.UUID, limit int) ([]Member, error) {
	return collect(ctx, t, membersSQL, []any{after, limit}, func(r pgx.CollectableRow, m *Member) error {
		return r.Scan(&m.MemberID, &m.Email, &m.Role, &m.JoinedAt)
	})
}

// Invitation is one row of the invitations read model (never its token hash).
type Invitation struct {
	InvitationID uuid.UUID `json:"id"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	InvitedBy    uuid.UUID `json:"invited_by"`
	ExpiresAt    time.Time `json:"expires_at"`
	Status       string    `json:"status"`
}

// LiveInvitations lists, by id (creation order), at most limit invitations after id after
// (uuid.Nil: from the start) that could still be accepted at now: neither accepted nor
// revoked, and not expired.
func (t *Tx) LiveInvitations(ctx context.Context, now time.Time, after uuid.UUID, limit int) ([]Invitation, error) {
	return collect(ctx, t, liveInvitationsSQL, []any{now, after, limit}, scanInvitation)
}

func scanInvitation(r pgx.CollectableRow, i *Invitation) error {
	return r.Scan(&i.InvitationID, &i.Email, &i.Role, &i.InvitedBy, &i.ExpiresAt, &i.Status)
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

// APIKeys lists, by id, at most limit of the tenant's keys after id after (uuid.Nil: from the
// start), revoked ones included.
func (t *Tx) APIKeys(ctx context.Context, after uuid.UUID, limit int) ([]APIKey, error) {
	return collect(ctx, t, apiKeysSQL, []any{after, limit}, func(r pgx.CollectableRow, k *APIKey) error {
		return r.Scan(&k.KeyID, &k.Name, &k.Prefix, &k.Role, &k.MemberID, &k.CreatedAt, &k.RevokedAt)
	})
}

// collect runs a read-model query and scans every row; a tenant without read models is
// ErrNotProvisioned.
func collect[T any](ctx context.Context, t *Tx, sql string, args []any, scan func(pgx.CollectableRow, *T) error) ([]T, error) {
	rows, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var v T
		return v, scan(r, &v)
	})
}
