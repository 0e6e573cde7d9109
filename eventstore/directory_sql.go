package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain"
)

// The shared tenant directory (tenantry.tenants): one row per tenant, kept by the directory
// projector (projections.Directory), read to route requests and by cross-tenant jobs.

const (
	entryColumns = `tenant_id, slug, name, status, plan, plan_version, billing_interval, trial_ends_at, schema_name,
	coalesce(stripe_customer_id, ''), created_at`
	// lockDirectorySQL sets the tenant context ($1) and takes the tenant's directory lock
	// (class $2).
	lockDirectorySQL   = tenantOnlySQL + `, pg_advisory_xact_lock($2, hashtext($1))`
	upsertDirectorySQL = `INSERT INTO tenantry.tenants AS t (tenant_id, slug, name, status, plan, schema_name,
	stripe_customer_id, created_at, updated_at, seq, plan_version, billing_interval, trial_ends_at)
VALUES ($1, $2, $3, $4, $5, tenantry.tenant_schema_name($1), $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (tenant_id) DO UPDATE SET name = excluded.name, status = excluded.status, plan = excluded.plan,
	plan_version = excluded.plan_version, billing_interval = excluded.billing_interval, trial_ends_at = excluded.trial_ends_at,
	stripe_customer_id = excluded.stripe_customer_id, updated_at = greatest(t.updated_at, excluded.updated_at),
	seq = greatest(t.seq, excluded.seq)`
	findTenantSQL           = `SELECT ` + entryColumns + ` FROM tenantry.find_tenant($1, $2)`
	findTenantByCustomerSQL = `SELECT ` + entryColumns + ` FROM tenantry.find_tenant_by_customer($1)`
	listTenantsSQL          = `SELECT ` + entryColumns + ` FROM tenantry.list_tenants($1, $2)`
	tenantsOnPlanSQL        = `SELECT * FROM tenantry.tenants_on_plan($1)`
)

// PlanOn is the plan version a tenant is on, its billing interval and its trial's end (nil:
// no trial), as the read models show it.
type PlanOn struct {
	Plan        string     `json:"plan"`
	PlanVersion int        `json:"plan_version"`
	Interval    string     `json:"interval"`
	TrialEndsAt *time.Time `json:"trial_ends_at,omitempty"`
}

// TenantsOnPlan lists the tenants whose directory row names plan (any version).
func (s *Store) TenantsOnPlan(ctx context.Context, plan domain.PlanName) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, tenantsOnPlanSQL, plan.String())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// TenantEntry is one row of the tenant directory.
type TenantEntry struct {
	ID     uuid.UUID `json:"id"`
	Slug   string    `json:"slug"`
	Name   string    `json:"name"`
	Status string    `json:"status"`
	PlanOn
	Schema           string    `json:"schema"`
	StripeCustomerID string    `json:"stripe_customer_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// ErrTenantNotFound means no directory row matched.
var ErrTenantNotFound = errors.New("tenant not found")

// DirectoryRow is the directory's row of a tenant as its events say it is now, written at
// the event seq Seq recorded at UpdatedAt; StripeCustomerID nil when none is linked.
type DirectoryRow struct {
	Tenant             uuid.UUID
	Slug, Name, Status string
	PlanOn
	StripeCustomerID     *string
	CreatedAt, UpdatedAt time.Time
	Seq                  int64
}

// RefreshDirectory writes the tenant's directory row, as read by read, in one transaction
// that holds the tenant's directory lock while read runs: refreshes of one tenant take
// turns, so the last to write read the newest state. read returns nil to write nothing.
func (s *Store) RefreshDirectory(ctx context.Context, tenant uuid.UUID, read func() (*DirectoryRow, error)) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockDirectorySQL, tenant.String(), int32(LockDirectory)); err != nil {
			return err
		}
		r, err := read()
		if err != nil || r == nil {
			return err
		}
		_, err = tx.Exec(ctx, upsertDirectorySQL, r.Tenant, r.Slug, r.Name, r.Status, r.Plan, r.StripeCustomerID,
			r.CreatedAt, r.UpdatedAt, r.Seq, r.PlanVersion, r.Interval, r.TrialEndsAt)
		return err
	})
}

func scanEntry(r pgx.CollectableRow) (TenantEntry, error) {
	var t TenantEntry
	err := r.Scan(&t.ID, &t.Slug, &t.Name, &t.Status, &t.Plan, &t.PlanVersion, &t.Interval, &t.TrialEndsAt, &t.Schema,
		&t.StripeCustomerID, &t.CreatedAt)
	return t, err
}

// ParseTenantRef reads a tenant reference by the one rule every port uses wherever a tenant
// is named: a UUID in its 36-character form is an id (slug ""), a well-formed slug
// is a slug; anything else (malformed, too long) is ErrTenantNotFound. It needs no database,
// so a caller can refuse a malformed name before it opens one.
func ParseTenantRef(ref string) (id uuid.UUID, slug string, err error) {
	if u, err := uuid.Parse(ref); err == nil && len(ref) == 36 {
		return u, "", nil
	}
	if _, err := domain.ParseSlug(ref); err != nil {
		return uuid.Nil, "", fmt.Errorf("%w: %q is neither a tenant id nor a slug", ErrTenantNotFound, clip(ref))
	}
	return uuid.Nil, ref, nil
}

// FindTenant finds a tenant's directory row by its slug or its id (ParseTenantRef); a ref
// that is neither is ErrTenantNotFound without a query. ResolveTenant is the same for
// callers that need only the id.
func (s *Store) FindTenant(ctx context.Context, ref string) (TenantEntry, error) {
	u, sl, err := ParseTenantRef(ref)
	if err != nil {
		return TenantEntry{}, err
	}
	var slug *string
	var id *uuid.UUID
	if sl != "" {
		slug = &sl
	} else {
		id = &u
	}
	rows, err := s.pool.Query(ctx, findTenantSQL, slug, id)
	if err != nil {
		return TenantEntry{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return TenantEntry{}, fmt.Errorf("%w: %q", ErrTenantNotFound, clip(ref))
	}
	return t, err
}

// ResolveTenant is the one resolver of a tenant reference, a slug or an id, that every port
// uses wherever a tenant is named (the workspace path, the subdomain and X-Tenant, the admin
// routes, the CLI's --tenant). An id in its 36-character form is returned as it is, without a
// query, for the caller to check against what it does next (a credential's tenant, a
// command's stream: a tenant just created is addressable by id before the directory lists
// it); a slug is looked up in the directory; anything else is ErrTenantNotFound at once.
func (s *Store) ResolveTenant(ctx context.Context, ref string) (uuid.UUID, error) {
	if id, slug, err := ParseTenantRef(ref); err != nil || slug == "" {
		return id, err
	}
	t, err := s.FindTenant(ctx, ref)
	return t.ID, err
}

// FindTenantByCustomer finds the tenant linked to a Stripe customer.
func (s *Store) FindTenantByCustomer(ctx context.Context, customerID string) (TenantEntry, error) {
	rows, err := s.pool.Query(ctx, findTenantByCustomerSQL, customerID)
	if err != nil {
		return TenantEntry{}, err
	}
	ts, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return TenantEntry{}, err
	}
	if len(ts) != 1 {
		return TenantEntry{}, fmt.Errorf("%w: %d tenants for Stripe customer %q", ErrTenantNotFound, len(ts), customerID)
	}
	return ts[0], nil
}

// EachTenant calls fn for every tenant in the directory, in id order, a page at a time;
// it stops at fn's first error and returns it.
func (s *Store) EachTenant(ctx context.Context, fn func(TenantEntry) error) error {
	const page = 1000
	for after := uuid.Nil; ; {
		ts, err := s.ListTenants(ctx, after, page)
		if err != nil {
			return fmt.Errorf("list tenants: %w", err)
		}
		for _, t := range ts {
			if err := fn(t); err != nil {
				return err
			}
		}
		if len(ts) < page {
			return nil
		}
		after = ts[len(ts)-1].ID
	}
}

// ListTenants pages through the directory in id order, after the given id (uuid.Nil: from
// the start).
func (s *Store) ListTenants(ctx context.Context, after uuid.UUID, limit int) ([]TenantEntry, error) {
	var from *uuid.UUID
	if after != uuid.Nil {
		from = &after
	}
	rows, err := s.pool.Query(ctx, listTenantsSQL, from, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEntry)
}

// WaitForDirectory blocks until the tenant directory lists the tenant, for a caller that
// just created it and will route by slug next, or until timeout.
func (s *Store) WaitForDirectory(ctx context.Context, tenant uuid.UUID, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		_, err := s.FindTenant(ctx, tenant.String())
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

// clip shortens a caller's text before it is quoted in an error.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
