package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A rebuild replays a tenant's events into a fresh shadow schema, then swaps it in (see
// projections.Projector.Rebuild). These are its statements.

const (
	rebuildStartSQL   = `SELECT tenantry.rebuild_start($1)`
	rebuildHeadSQL    = `SELECT seq FROM tenantry.tenant_heads WHERE tenant_id = $1`
	rebuildSwapSQL    = `SELECT tenantry.rebuild_swap($1)`
	rebuildCleanupSQL = `SELECT tenantry.rebuild_cleanup($1)`
	tenantSchemasSQL  = `SELECT tenant_id FROM tenantry.tenant_schema_list()`
	// shadowContextSQL sets the tenant context ($1) and the search_path ($2) to a shadow
	// schema.
	shadowContextSQL = tenantOnlySQL + `, set_config('search_path', $2, true)`
	// shadowSearchPathSQL points the search_path at a shadow schema ($1).
	shadowSearchPathSQL = `SELECT set_config('search_path', $1, true)`
	// rebuiltCheckpointsSQL sets projections $3 of tenant $1 to seq $2 and clears their
	// failures.
	rebuiltCheckpointsSQL = `INSERT INTO tenantry.projections AS p (tenant_id, projection, seq)
SELECT $1, name, $2 FROM unnest($3::text[]) AS name
ON CONFLICT (tenant_id, projection) DO UPDATE SET seq = excluded.seq, failed_seq = NULL, failed_error = NULL, failed_at = NULL, updated_at = now()`
)

// StartRebuild creates the tenant's shadow schema and returns its name, with the tenant's
// last seq as known now (0 for none).
func (s *Store) StartRebuild(ctx context.Context, tenant uuid.UUID) (shadow string, head int64, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, tenantOnlySQL, tenant.String()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, rebuildStartSQL, tenant).Scan(&shadow); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, rebuildHeadSQL, tenant).Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return shadow, head, err
}

// ErrForeignShadow means a shadow schema named by a caller is not the one
// tenantry.rebuild_start makes for the tenant: its writes would land in another tenant's
// (or an arbitrary) schema.
var ErrForeignShadow = errors.New("not the tenant's rebuild schema")

// checkShadow refuses a shadow name other than the tenant's own: the name reaches
// search_path from the caller, so it is checked against the one generated from the id
// (tenantry.tenant_schema_name(tenant) || '_rebuild') rather than trusted.
func checkShadow(tenant uuid.UUID, shadow string) error {
	if shadow != "tenant_"+strings.ReplaceAll(tenant.String(), "-", "")+"_rebuild" {
		return fmt.Errorf("%w: %q for tenant %s", ErrForeignShadow, shadow, tenant)
	}
	return nil
}

// InShadow runs fn in a transaction with the tenant context and the shadow schema first on
// the search_path: the read-model writes of fn go to the shadow. ErrForeignShadow when
// shadow is not the tenant's (StartRebuild's answer).
func (s *Store) InShadow(ctx context.Context, tenant uuid.UUID, shadow string, fn func(*ProjectionTx) error) error {
	if err := checkShadow(tenant, shadow); err != nil {
		return err
	}
	return s.InProjection(ctx, tenant, func(t *ProjectionTx) error {
		if _, err := t.tx.Exec(ctx, shadowContextSQL, tenant.String(), shadowPath(shadow)); err != nil {
			return err
		}
		return fn(t)
	})
}

// UseShadow points the transaction's search_path at the shadow schema (after Lock set it to
// the live one); ErrForeignShadow when it is not the transaction's tenant's.
func (t *ProjectionTx) UseShadow(ctx context.Context, shadow string) error {
	if err := checkShadow(t.tenant, shadow); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, shadowSearchPathSQL, shadowPath(shadow))
	return err
}

func shadowPath(shadow string) string { return pgx.Identifier{shadow}.Sanitize() + ", pg_catalog" }

// SwapRebuild swaps the shadow schema in as the tenant's read models and sets the
// checkpoints of projections to seq, clearing their failures.
func (t *ProjectionTx) SwapRebuild(ctx context.Context, seq int64, projections []string) error {
	if _, err := t.tx.Exec(ctx, rebuildSwapSQL, t.tenant); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, rebuiltCheckpointsSQL, t.tenant, seq, projections); err != nil {
		return err
	}
	for _, name := range projections {
		t.moved = append(t.moved, movedCheckpoint{t.tenant, name, seq, false})
	}
	return nil
}

// CleanupRebuild drops the schema a rebuild replaced; it fails while readers still use it.
func (s *Store) CleanupRebuild(ctx context.Context, tenant uuid.UUID) error {
	_, err := s.pool.Exec(ctx, rebuildCleanupSQL, tenant)
	return err
}

// TenantSchemas lists the tenants that have read models.
func (s *Store) TenantSchemas(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, tenantSchemasSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}
