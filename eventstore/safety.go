package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrUnsafeRole is the sentinel of the runtime role check: the process must not start.
var ErrUnsafeRole = errors.New("unsafe runtime database role")

const roleSQL = `SELECT current_user, r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user`

// Roles the current role can become (SET ROLE) or inherits from that could step around RLS.
const escalationSQL = `SELECT r.rolname, r.rolsuper, r.rolbypassrls
FROM pg_roles r
WHERE r.rolname <> current_user AND pg_has_role(current_user, r.oid, 'MEMBER')
  AND (r.rolsuper OR r.rolbypassrls OR r.rolname = 'tenantry_owner')
ORDER BY r.rolname LIMIT 1`

// Tenant data lives in schema tenantry and in tenant_<hex> schemas; owning any of it (or
// being a member of its owner) would allow ALTER TABLE ... DISABLE ROW LEVEL SECURITY.
const ownedSQL = `SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE pg_has_role(current_user, c.relowner, 'MEMBER')
  AND (n.nspname = 'tenantry' OR n.nspname ~ '^tenant_[0-9a-f]{32}$')
UNION ALL
SELECT format('schema %I', n.nspname) FROM pg_namespace n
WHERE pg_has_role(current_user, n.nspowner, 'MEMBER')
  AND (n.nspname = 'tenantry' OR n.nspname ~ '^tenant_[0-9a-f]{32}$')
LIMIT 1`

// Roles another runtime login could act through: the API's login must not be able to
// become the worker's (cross-tenant powers), nor the worker's the API's.
const runtimeMembershipSQL = `SELECT r.rolname FROM pg_roles r
WHERE r.rolname <> current_user AND r.rolname IN ('tenantry_app', 'tenantry_worker')
  AND pg_has_role(current_user, r.oid, 'MEMBER')
ORDER BY r.rolname LIMIT 1`

// The global cursor is the hallmark of the cross-tenant machinery: a role that may call it
// reads every tenant's events.
const crossTenantSQL = `SELECT current_user::text, current_user = 'tenantry_worker',
    has_function_privilege(current_user, 'tenantry.read_all_events(xid8, bigint, integer)', 'EXECUTE')`

// Purpose says which process a runtime pool serves, for CheckRuntimeRoleFor.
type Purpose int

const (
	// ForAPI is the internet-facing API's pool (tenantry_app): tenant data only under its
	// tenant context, no cross-tenant function.
	ForAPI Purpose = iota + 1
	// ForWorker is the cross-tenant machinery's pool (tenantry_worker): relay, projector,
	// directory, rebuilds, head signer, billing worker.
	ForWorker
)

// CheckRuntimeRoleFor runs CheckRuntimeRole and then makes sure the pool's role suits its
// purpose: the API's pool must hold no cross-tenant power (not tenantry_worker, not able
// to call the global cursor), and the worker's pool must hold them (else the relay and the
// projector would fail on every call instead of at start-up).
func CheckRuntimeRoleFor(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, purpose Purpose) error {
	if err := CheckRuntimeRole(ctx, q); err != nil {
		return err
	}
	var name string
	var isWorker, cross bool
	if err := q.QueryRow(ctx, crossTenantSQL).Scan(&name, &isWorker, &cross); err != nil {
		return fmt.Errorf("check runtime role privileges: %w", err)
	}
	switch {
	case purpose == ForAPI && (isWorker || cross):
		return fmt.Errorf("%w: role %q holds the cross-tenant machinery's powers (it may read every tenant's events), which the API must never hold; connect the API as tenantry_app (TENANTRY_APP_DATABASE_URL)", ErrUnsafeRole, name)
	case purpose == ForWorker && !cross:
		return fmt.Errorf("role %q cannot run the cross-tenant machinery (no EXECUTE on tenantry.read_all_events); connect it as tenantry_worker (TENANTRY_WORKER_DATABASE_URL) and run `tenantry migrate`", name)
	}
	return nil
}

// CheckRuntimeRole refuses a runtime connection whose role could bypass row-level security:
// a superuser, a role with BYPASSRLS, a member of such a role or of tenantry_owner, a member
// of the other runtime role (tenantry_app of tenantry_worker or the reverse), or an owner of
// any tenant-data object. It also refuses an unmigrated database. The error names the
// problem and the fix. CheckRuntimeRoleFor adds the checks for one process's purpose.
func CheckRuntimeRole(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var name string
	var super, bypass bool
	if err := q.QueryRow(ctx, roleSQL).Scan(&name, &super, &bypass); err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	const fix = "connect the API as tenantry_app (TENANTRY_APP_DATABASE_URL) and the cross-tenant machinery as tenantry_worker (TENANTRY_WORKER_DATABASE_URL)"
	switch {
	case super:
		return fmt.Errorf("%w: role %q is a superuser, which bypasses row-level security; %s", ErrUnsafeRole, name, fix)
	case bypass:
		return fmt.Errorf("%w: role %q has BYPASSRLS; %s", ErrUnsafeRole, name, fix)
	}
	var other string
	switch err := q.QueryRow(ctx, escalationSQL).Scan(&other, &super, &bypass); {
	case err == nil:
		return fmt.Errorf("%w: role %q is a member of %q, which can bypass row-level security; %s", ErrUnsafeRole, name, other, fix)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("check runtime role memberships: %w", err)
	}
	switch err := q.QueryRow(ctx, runtimeMembershipSQL).Scan(&other); {
	case err == nil:
		return fmt.Errorf("%w: role %q is a member of %q, so one process would hold both runtime roles' powers; revoke the membership; %s", ErrUnsafeRole, name, other, fix)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("check runtime role memberships: %w", err)
	}
	var owned string
	switch err := q.QueryRow(ctx, ownedSQL).Scan(&owned); {
	case err == nil:
		return fmt.Errorf("%w: role %q owns %s, and an owner can disable row-level security; %s", ErrUnsafeRole, name, owned, fix)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("check runtime role ownership: %w", err)
	}
	var migrated bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('tenantry.events') IS NOT NULL`).Scan(&migrated); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !migrated {
		return errors.New("the database has no tenantry schema: run `tenantry migrate` first")
	}
	return nil
}
