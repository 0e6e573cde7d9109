package eventstore

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain/module"
)

// moduleTx is a product module's view of a transaction in one tenant's context
// (module.Tx): the module's own SQL text, values as parameters, in the tenant's schema with
// row-level security in force. It never sets or reads the tenant context itself.
type moduleTx struct {
	tx     pgx.Tx
	tenant uuid.UUID
}

var _ module.Tx = moduleTx{}

func (t moduleTx) Tenant() uuid.UUID { return t.tenant }

func (t moduleTx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (t moduleTx) Query(ctx context.Context, sql string, args ...any) (module.Rows, error) {
	rows, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (t moduleTx) QueryRow(ctx context.Context, sql string, args ...any) module.Row {
	return moduleRow{t.tx.QueryRow(ctx, sql, args...)}
}

// moduleRow names pgx's "no rows" as module.ErrNoRows, which a module can test for.
type moduleRow struct{ row pgx.Row }

func (r moduleRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return module.ErrNoRows
	}
	return err
}

// InModule runs fn in one transaction of the store's pool in the tenant's context, as a
// product module sees it (module.Tx); read-only when readOnly is set. This is how a
// module's HTTP handlers read their tables.
func (s *Store) InModule(ctx context.Context, tenant uuid.UUID, readOnly bool, fn func(module.Tx) error) error {
	return InTenant(ctx, s.pool, tenant, readOnly, func(tx pgx.Tx) error { return fn(moduleTx{tx: tx, tenant: tenant}) })
}

// Module is the projector's transaction as a product module's projection sees it
// (module.Tx): the tenant's (or a rebuild's shadow) schema on the search_path. Its writes
// run at once, in order with the batch's other per-event writes.
func (t *ProjectionTx) Module() module.Tx { return moduleTx{tx: t.tx, tenant: t.tenant} }
