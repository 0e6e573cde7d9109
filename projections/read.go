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
