package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What authenticating an API key reads, in the key's own tenant transaction: the key names
// its tenant, so no lookup ever searches across tenants.

const (
	credentialSQL = `SELECT k.key_hash, k.role, k.member_id, k.revoked_at IS NOT NULL, p.status, p.plan, p.plan_version, p.slug
		FROM api_keys k CROSS JOIN profile p WHERE k.key_id = $1`
	stoppedProjectionSQL = `SELECT projection FROM tenantry.projections
		WHERE tenant_id = $1 AND projection = ANY($2::text[]) AND failed_seq IS NOT NULL ORDER BY projection LIMIT 1`
	// projectionFreshSQL: whether projection $2 of tenant $1 is stopped, and whether the
	// first event it has not applied was recorded more than $3 seconds ago (one index
	// probe: the event after its checkpoint; the database's clock on both sides).
	projectionFreshSQL = `SELECT p.failed_seq IS NOT NULL,
		coalesce((SELECT e.recorded_at < now() - make_interval(secs => $3::float8)
		            FROM tenantry.events e WHERE e.tenant_id = $1 AND e.seq = p.seq + 1), false)
		FROM tenantry.projections p WHERE p.tenant_id = $1 AND p.projection = $2`
)

// ErrProjectionBehind means a projection has not applied an event of the tenant that was
// recorded longer ago than the reader's bound: its read models may be missing a change
// that should be in force by now. Errors that wrap it are *BehindError.
var ErrProjectionBehind = errors.New("projection behind the tenant's events beyond its bound")

// BehindError is ErrProjectionBehind for one projection and bound.
type BehindError struct {
	Projection string
	Bound      time.Duration
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("the %s projection has not applied an event recorded more than %s ago", e.Projection, e.Bound)
}

// Is makes a BehindError match ErrProjectionBehind.
func (e *BehindError) Is(target error) bool { return target == ErrProjectionBehind }

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
	PlanVersion  int
	Slug         string
}

// Credential reads one key with its tenant's status; ErrNotProvisioned when the tenant has
// no read models, ErrNoCredential when there is no such key.
func (t *Tx) Credential(ctx context.Context, keyID uuid.UUID) (Credential, error) {
	var c Credential
	err := t.tx.QueryRow(ctx, credentialSQL, keyID).
		Scan(&c.KeyHash, &c.Role, &c.MemberID, &c.Revoked, &c.TenantStatus, &c.Plan, &c.PlanVersion, &c.Slug)
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

// RequireFresh fails with a *StoppedError when projection name is stopped for the
// transaction's tenant, and with a *BehindError when the first event it has not applied was
// recorded more than within ago: for readers that must not serve state that is stale beyond
// a bound (authentication fails closed on either). One statement, as cheap as
// StoppedProjection's; nil when the projection has no checkpoint yet (nothing projected).
func (t *Tx) RequireFresh(ctx context.Context, name string, within time.Duration) error {
	var stopped, behind bool
	err := t.tx.QueryRow(ctx, projectionFreshSQL, t.tenant, name, within.Seconds()).Scan(&stopped, &behind)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	case stopped:
		return &StoppedError{Projection: name}
	case behind:
		return &BehindError{Projection: name, Bound: within}
	}
	return nil
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
