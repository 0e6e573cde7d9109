package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/eventstore"
)

// ErrNotProvisioned is eventstore.ErrNotProvisioned.
var ErrNotProvisioned = eventstore.ErrNotProvisioned

// InTenant is eventstore.InTenant (kept while callers move to the data-access layer).
func InTenant(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, readOnly bool, fn func(pgx.Tx) error) error {
	return eventstore.InTenant(ctx, pool, tenant, readOnly, fn)
}

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

// notProvisioned maps a missing read model (no schema yet: undefined table; no row) to
// ErrNotProvisioned.
func notProvisioned(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) || isUndefinedTable(err) {
		return fmt.Errorf("%w: %v", ErrNotProvisioned, err)
	}
	return err
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// WaitForDirectory blocks until the tenant directory lists the tenant, for a caller that
// just created it and will route by slug next, or until timeout.
func WaitForDirectory(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		_, err := FindTenant(ctx, pool, tenant.String())
		if !errors.Is(err, ErrTenantNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Progress returns the tenant's last event seq and the seq all its read models include
// (the least of its projections' checkpoints).
func Progress(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID) (head, projected int64, err error) {
	err = InTenant(ctx, pool, tenant, true, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce((SELECT seq FROM tenantry.tenant_heads WHERE tenant_id = $1), 0),
			coalesce((SELECT min(seq) FROM tenantry.projections WHERE tenant_id = $1 AND projection = ANY($2::text[])
			          HAVING count(*) = cardinality($2::text[])), 0)`, tenant, Projections[:]).Scan(&head, &projected)
	})
	return head, projected, err
}

// StoppedProjection returns the name of a projection among names that is stopped for the
// tenant, or "": read in tx, which has the tenant context. Readers of a stopped
// projection's read models say so instead of serving them as current.
func StoppedProjection(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, names ...string) (string, error) {
	var name string
	err := tx.QueryRow(ctx, `SELECT projection FROM tenantry.projections
		WHERE tenant_id = $1 AND projection = ANY($2::text[]) AND failed_seq IS NOT NULL ORDER BY projection LIMIT 1`, tenant, names).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return name, err
}
