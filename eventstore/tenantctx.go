package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The tenant context is what row-level security and the tenant's schema key on. It is set
// only here, only inside a transaction (set_config's third argument: local to it), never at
// session level, which would leak through the pool and through PgBouncer in transaction
// mode. Every other file of the data-access layer uses these constants or InTenant.

// TenantContextSQL sets a transaction's tenant context ($1, the tenant id as text) and puts
// the tenant's schema first on its search_path, for statements that read or write read models.
const TenantContextSQL = `SELECT set_config('tenantry.tenant_id', $1, true), set_config('search_path', tenantry.tenant_schema_name($1::uuid) || ', pg_catalog', true)`

// tenantContextOf is the set_config call alone, with tenant (an SQL expression: a
// placeholder or a column, the tenant id as text) as its value, for a statement that sets
// the context itself: an append's SQL function takes it as its tenant argument, and
// arguments are evaluated before the function runs, so the context is in place for all of
// its statements and ends with the statement's (implicit) transaction.
func tenantContextOf(tenant string) string {
	return `set_config('tenantry.tenant_id', ` + tenant + `::text, true)`
}

// tenantOnlySQL sets the tenant context ($1) without touching the search_path, for
// transactions that only use schema-qualified shared tables.
const tenantOnlySQL = `SELECT set_config('tenantry.tenant_id', $1::text, true)`

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

// Tx is a transaction in one tenant's context, as callers outside the data-access layer
// see it: they call its read-model methods (readmodels_*.go) and never see pgx or SQL.
type Tx struct {
	tx     pgx.Tx
	tenant uuid.UUID
}

// TenantID is the tenant whose context the transaction is in.
func (t *Tx) TenantID() uuid.UUID { return t.tenant }

// InTenant runs fn in one transaction of the store's pool in the tenant's context (see the
// package-level InTenant): several reads (or writes) of one tenant, one snapshot.
func (s *Store) InTenant(ctx context.Context, tenant uuid.UUID, readOnly bool, fn func(*Tx) error) error {
	return InTenant(ctx, s.pool, tenant, readOnly, func(tx pgx.Tx) error { return fn(&Tx{tx: tx, tenant: tenant}) })
}

// inSharedScope runs fn in one transaction whose tenant context is tenant (uuid.Nil for
// work outside any tenant, such as an anonymous sign-up's idempotency record) without
// touching the search_path: for statements on the shared, schema-qualified tables whose
// row-level security keys on the tenant (slug claims, idempotency keys).
func (s *Store) inSharedScope(ctx context.Context, tenant uuid.UUID, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, tenantOnlySQL, tenant.String()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// ErrNotProvisioned means the tenant has no read models (yet): unknown, or its first events
// are not projected.
var ErrNotProvisioned = errors.New("tenant read models not provisioned")

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
