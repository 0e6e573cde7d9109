package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

// Directory projects the shared tenant directory (tenantry.tenants) from every tenant's
// tenant.* events, as the relay delivers them in the gap-safe global order. A row only
// moves to a later seq, so redelivered events count once. An event it cannot read is
// logged, counted and skipped: one tenant must never stall routing for all the others.
type Directory struct {
	Store    *eventstore.Store
	Registry *eventstore.Registry
	Logger   *slog.Logger

	skipped atomic.Int64
}

// Skipped counts events the directory could not read.
func (d *Directory) Skipped() int64 { return d.skipped.Load() }

// Consume keeps the directory from relayed messages until ctx ends or msgs closes. Only
// messages carrying tenant.* events or billing.customer_linked are decoded; each such
// message refreshes its tenant's row in one transaction and is acknowledged after it
// commits, so redelivery after a crash is harmless.
func (d *Directory) Consume(ctx context.Context, msgs <-chan *message.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if !eventstore.MessageHasType(m, directoryEvent) {
				m.Ack()
				continue
			}
			// A refresh reads the tenant's current state, so the message's last directory
			// event stands for all of them.
			events, err := eventstore.EventsFromMessage(m)
			if err == nil {
				last := &events[len(events)-1]
				for i := range events {
					if directoryEvent(events[i].Type) {
						last = &events[i]
					}
				}
				err = pgx.BeginFunc(ctx, d.Store.Pool(), func(tx pgx.Tx) error { return d.apply(ctx, tx, last) })
			}
			if err != nil && ctx.Err() == nil {
				d.Logger.Warn("tenant directory could not apply an event; will retry", "tenant_id", m.Metadata.Get(eventstore.MetaTenantID), "err", err)
				time.Sleep(200 * time.Millisecond)
				m.Nack()
				continue
			}
			m.Ack()
		}
	}
}

// directoryEvent says whether events of type change the directory: tenant.* and the link to
// a Stripe customer.
func directoryEvent(typ string) bool {
	return strings.HasPrefix(typ, "tenant.") || typ == billing.TypeCustomerLinked
}

// apply refreshes the tenant's directory row from the tenant's current state in the event
// store, rather than applying the event as a change: with consumers in several processes,
// events can arrive out of order and more than once, and a refresh gives the same row
// whatever the order. Refreshes of one tenant take turns (a transaction-scoped lock), so
// the last to write read the newest state.
func (d *Directory) apply(ctx context.Context, tx pgx.Tx, e *eventstore.Event) error {
	if !directoryEvent(e.Type) {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('tenantry.tenant_id', $1, true), pg_advisory_xact_lock($2, hashtext($1))`,
		e.TenantID.String(), directoryLockClass); err != nil {
		return err
	}
	t, _, err := eventstore.Load(ctx, d.Store, d.Registry, e.TenantID, tenant.StreamID, func() *tenant.Tenant { return &tenant.Tenant{} })
	if err != nil {
		if errors.Is(err, eventstore.ErrUnknownEventType) {
			d.skipped.Add(1)
			d.Logger.Error("tenant directory skipped a tenant it cannot read", "tenant_id", e.TenantID, "seq", e.Seq, "err", err)
			return nil
		}
		return err
	}
	if t.Version() == 0 {
		return fmt.Errorf("tenant %s has no tenant.created yet", e.TenantID) // retried
	}
	acct, _, err := eventstore.Load(ctx, d.Store, d.Registry, e.TenantID, billing.AccountStreamID, billing.NewAccount)
	if err != nil {
		return err
	}
	var customer *string
	if acct.Linked() {
		c := acct.CustomerID()
		customer = &c
	}
	_, err = tx.Exec(ctx, `INSERT INTO tenantry.tenants AS t (tenant_id, slug, name, status, plan, schema_name,
			stripe_customer_id, created_at, updated_at, seq)
		VALUES ($1, $2, $3, $4, $5, tenantry.tenant_schema_name($1), $6, $7, $8, $9)
		ON CONFLICT (tenant_id) DO UPDATE SET name = excluded.name, status = excluded.status, plan = excluded.plan,
			stripe_customer_id = excluded.stripe_customer_id, updated_at = greatest(t.updated_at, excluded.updated_at),
			seq = greatest(t.seq, excluded.seq)`,
		e.TenantID, t.Slug().String(), t.Name().String(), t.Status().String(), t.Plan().String(), customer,
		t.CreatedAt(), e.RecordedAt, e.Seq)
	return err
}

// directoryLockClass is the advisory-lock class of directory refreshes.
const directoryLockClass = 7365713

// TenantEntry is one row of the tenant directory.
type TenantEntry struct {
	ID               uuid.UUID `json:"id"`
	Slug             string    `json:"slug"`
	Name             string    `json:"name"`
	Status           string    `json:"status"`
	Plan             string    `json:"plan"`
	Schema           string    `json:"schema"`
	StripeCustomerID string    `json:"stripe_customer_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// ErrTenantNotFound means no directory row matched.
var ErrTenantNotFound = errors.New("tenant not found")

const entryColumns = `tenant_id, slug, name, status, plan, schema_name, coalesce(stripe_customer_id, ''), created_at`

func scanEntry(r pgx.CollectableRow) (TenantEntry, error) {
	var t TenantEntry
	err := r.Scan(&t.ID, &t.Slug, &t.Name, &t.Status, &t.Plan, &t.Schema, &t.StripeCustomerID, &t.CreatedAt)
	return t, err
}

// FindTenant looks a tenant up by slug or, when ref is a UUID, by id.
func FindTenant(ctx context.Context, pool *pgxpool.Pool, ref string) (TenantEntry, error) {
	var slug *string
	var id *uuid.UUID
	if u, err := uuid.Parse(ref); err == nil {
		id = &u
	} else {
		slug = &ref
	}
	rows, err := pool.Query(ctx, `SELECT `+entryColumns+` FROM tenantry.find_tenant($1, $2)`, slug, id)
	if err != nil {
		return TenantEntry{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return TenantEntry{}, fmt.Errorf("%w: %q", ErrTenantNotFound, ref)
	}
	return t, err
}

// FindTenantByCustomer finds the tenant linked to a Stripe customer.
func FindTenantByCustomer(ctx context.Context, pool *pgxpool.Pool, customerID string) (TenantEntry, error) {
	rows, err := pool.Query(ctx, `SELECT `+entryColumns+` FROM tenantry.find_tenant_by_customer($1)`, customerID)
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
func EachTenant(ctx context.Context, pool *pgxpool.Pool, fn func(TenantEntry) error) error {
	const page = 1000
	for after := uuid.Nil; ; {
		ts, err := ListTenants(ctx, pool, after, page)
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
func ListTenants(ctx context.Context, pool *pgxpool.Pool, after uuid.UUID, limit int) ([]TenantEntry, error) {
	var from *uuid.UUID
	if after != uuid.Nil {
		from = &after
	}
	rows, err := pool.Query(ctx, `SELECT `+entryColumns+` FROM tenantry.list_tenants($1, $2)`, from, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEntry)
}
