package eventstore

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What authenticating an API key reads, in the key's own tenant transaction: the key names
// its tenant, so no lookup ever searches across tenants.

const (
	credentialSQL = `SELECT k.key_hash, k.role, k.member_id, k.revoked_at IS NOT NULL, p.status, p.plan, p.slug
		FROM api_keys k CROSS JOIN profile p WHERE k.key_id = $1`
	stoppedProjectionSQL = `SELECT projection FROM tenantry.projections
		WHERE tenant_id = $1 AND projection = ANY($2::text[]) AND failed_seq IS NOT NULL ORDER BY projection LIMIT 1`
)

// ErrNoCredential means the tenant has no API key with the id asked for.
var ErrNoCredential = errors.New("no such API key")

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

// Credential reads one key with its tenant's status; ErrNotProvisioned when the tenant has
// no read models, ErrNoCredential when there is no such key.
func (t *Tx) Credential(ctx context.Context, keyID uuid.UUID) (Credential, error) {
	var c Credential
	err := t.tx.QueryRow(ctx, credentialSQL, keyID).
		Scan(&c.KeyHash, &c.Role, &c.MemberID, &c.Revoked, &c.TenantStatus, &c.Plan, &c.Slug)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNoCredential
	}
	return c, notProvisioned(err)
}

// RequireCurrent fails with a *StoppedError (ErrProjectionStopped) when one of the named
// projections is stopped for the transaction's tenant: for readers whose answer would be
// wrong, not just late, if served from a stopped read model.
func (t *Tx) RequireCurrent(ctx context.Context, names ...string) error {
	stopped, err := t.StoppedProjection(ctx, names...)
	if err == nil && stopped != "" {
		err = &StoppedError{Projection: stopped}
	}
	return err
}

// StoppedProjection returns the name of a projection among names that is stopped for the
// transaction's tenant, or "". Readers of a stopped projection's read models say so instead
// of serving them as current; authentication fails closed on a stopped auth projection.
func (t *Tx) StoppedProjection(ctx context.Context, names ...string) (string, error) {
	var name string
	err := t.tx.QueryRow(ctx, stoppedProjectionSQL, t.tenant, names).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return name, err
}
