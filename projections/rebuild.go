package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrRebuildStopped means the rebuild met an event it cannot apply; the live model is untouched.
var ErrRebuildStopped = errors.New("rebuild stopped on an event that cannot be applied")

// Rebuild replays a tenant's whole stream into a fresh shadow schema, then, in one
// transaction that holds the tenant's projection lock, applies whatever arrived meanwhile
// and swaps the shadow in. Readers see the old model until that commit and the new one
// after it, never a half-built one. progress, when set, is told the seq reached and the
// stream's length as known at the start.
func (p *Projector) Rebuild(ctx context.Context, tenant uuid.UUID, progress func(done, total int64)) error {
	var shadow string
	var head int64
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true)`, tenant.String()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT tenantry.rebuild_start($1)`, tenant).Scan(&shadow); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT seq FROM tenantry.tenant_heads WHERE tenant_id = $1`, tenant).Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("start rebuild of tenant %s: %w", tenant, err)
	}

	// Replay in batches while the live model keeps serving and updating.
	var seq int64
	for {
		var applied int
		var cut bool
		err := p.inShadow(ctx, tenant, shadow, func(tx pgx.Tx) error {
			var err error
			applied, seq, cut, err = p.applyEvents(ctx, tx, tenant, "", seq, p.batchSize(), nil, nil)
			return err
		})
		if err != nil {
			return p.rebuildError(tenant, err)
		}
		if progress != nil {
			progress(seq, max(head, seq))
		}
		if applied < p.batchSize() && !cut {
			break
		}
	}

	// Catch up and swap, holding the locks of every projection of the tenant so the live
	// projector waits (auth first, then usage: the order projectGroup's blocking locks can
	// never invert, as it only tries the auth lock).
	err = pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		for _, name := range []string{ProjectionAuth, ProjectionUsage} {
			if _, _, _, err := lockProjection(ctx, tx, tenant, name); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{shadow}.Sanitize()+", pg_catalog"); err != nil {
			return err
		}
		for {
			applied, next, cut, err := p.applyEvents(ctx, tx, tenant, "", seq, p.batchSize(), nil, nil)
			if err != nil {
				return err
			}
			seq = next
			if applied < p.batchSize() && !cut {
				break
			}
		}
		if _, err := tx.Exec(ctx, `SELECT tenantry.rebuild_swap($1)`, tenant); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tenantry.projections AS p (tenant_id, projection, seq)
			SELECT $1, name, $2 FROM unnest($3::text[]) AS name
			ON CONFLICT (tenant_id, projection) DO UPDATE SET seq = excluded.seq, failed_seq = NULL, failed_error = NULL, failed_at = NULL, updated_at = now()`,
			tenant, seq, Projections[:])
		return err
	})
	if err != nil {
		return p.rebuildError(tenant, err)
	}
	for _, name := range Projections {
		hub.publish(tenant, name, seq, false)
	}
	// The replaced model goes once its last readers are done: the drop gives way to them
	// and is retried, and a leftover is dropped by the next rebuild.
	for attempt := 0; ; attempt++ {
		_, err := p.Pool.Exec(ctx, `SELECT tenantry.rebuild_cleanup($1)`, tenant)
		if err == nil {
			break
		}
		if attempt == 50 || ctx.Err() != nil {
			p.Logger.Warn("rebuild: the replaced schema is still in use; the next rebuild drops it", "tenant_id", tenant, "err", err)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if progress != nil {
		progress(seq, max(head, seq))
	}
	return nil
}

func (p *Projector) rebuildError(tenant uuid.UUID, err error) error {
	var poison *poisonError
	if errors.As(err, &poison) {
		return fmt.Errorf("rebuild tenant %s: %w: %v", tenant, ErrRebuildStopped, poison)
	}
	return fmt.Errorf("rebuild tenant %s: %w", tenant, err)
}

// inShadow runs fn in a transaction with the tenant context and the shadow schema first on
// the search_path.
func (p *Projector) inShadow(ctx context.Context, tenant uuid.UUID, shadow string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true), set_config('search_path', $2, true)`,
			tenant.String(), pgx.Identifier{shadow}.Sanitize()+", pg_catalog"); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (p *Projector) batchSize() int {
	if p.BatchSize <= 0 {
		return 500
	}
	return p.BatchSize
}

// RebuildAll rebuilds every tenant that has a schema, one after another, and returns the
// tenants that failed (the others are rebuilt).
func (p *Projector) RebuildAll(ctx context.Context, progress func(tenant uuid.UUID, i, n int)) (map[uuid.UUID]error, error) {
	rows, err := p.Pool.Query(ctx, `SELECT tenant_id FROM tenantry.tenant_schema_list()`)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	failed := map[uuid.UUID]error{}
	for i, id := range ids {
		if progress != nil {
			progress(id, i+1, len(ids))
		}
		if err := p.Rebuild(ctx, id, nil); err != nil {
			if ctx.Err() != nil {
				return failed, ctx.Err()
			}
			failed[id] = err
		}
	}
	return failed, nil
}
