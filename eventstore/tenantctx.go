package eventstore

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The tenant context is what row-level security and the tenant's schema key on. It is set
// only here, only inside a transaction (set_config's third argument: local to it), never at
// session level, which would leak through the pool and through PgBouncer in transaction
// mode. Every other file of the data-access layer uses these constants or InTenant.

// TenantContextSQL sets a transaction's tenant context ($1, the tenant id as text) and puts
// the tenant's schema first on its search_path, for statements that read or write read models.
const TenantContextSQL = `SELECT set_config('tenantry.tenant_id', $1, true), set_config('search_path', tenantry.tenant_schema_name($1::uuid) || ', pg_catalog', true)`

// tenantOnlySQL sets the tenant context without touching the search_path, for transactions
// that only use schema-qualified shared tables.
const tenantOnlySQL = `SELECT set_config('tenantry.tenant_id', $1, true)`

// InTenant runs fn in one transaction with the tenant context set and the tenant's schema on
// the search_path: the only way the runtime roles read or write a tenant's rows. The
// transaction is read-only when readOnly is set.
func InTenant(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, readOnly bool, fn func(pgx.Tx) error) error {
	opts := pgx.TxOptions{}
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	return pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, TenantContextSQL, tenant.String()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// InTenant is the package-level InTenant over the store's pool.
func (s *Store) InTenant(ctx context.Context, tenant uuid.UUID, readOnly bool, fn func(pgx.Tx) error) error {
	return InTenant(ctx, s.pool, tenant, readOnly, fn)
}
