package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantry/tenantry/domain"
)

// Slug claims make a slug unique across tenants before a sign-up appends anything: the
// claim is a row of tenantry.slug_claims (unique slug), visible under the claiming tenant's
// context only.

const (
	claimSlugSQL   = `INSERT INTO tenantry.slug_claims (slug, tenant_id) VALUES ($1, $2)`
	releaseSlugSQL = `DELETE FROM tenantry.slug_claims WHERE tenant_id = $1`
)

// ClaimSlug claims slug for tenant; claimed is false when another tenant holds it.
func (s *Store) ClaimSlug(ctx context.Context, tenant uuid.UUID, slug domain.Slug) (claimed bool, err error) {
	err = s.inSharedScope(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, claimSlugSQL, slug.String(), tenant)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == stateUnique {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim slug %s for tenant %s: %w", slug, tenant, err)
	}
	return true, nil
}

// ReleaseSlug drops the tenant's slug claim: the undo of a sign-up whose append failed.
func (s *Store) ReleaseSlug(ctx context.Context, tenant uuid.UUID) error {
	err := s.inSharedScope(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, releaseSlugSQL, tenant)
		return err
	})
	if err != nil {
		return fmt.Errorf("release the slug claim of tenant %s: %w", tenant, err)
	}
	return nil
}
