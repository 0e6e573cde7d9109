package projections

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
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

// UsagePoint is one bucket of a usage series. The read models keep totals as numerics,
// which cannot overflow: Quantity is the total when it fits an int64; otherwise Big holds it
// and Quantity is 0 (a caller that needs an int64, such as the billing worker, skips it).
type UsagePoint struct {
	Metric   string    `json:"metric"`
	Start    time.Time `json:"start"`
	Quantity int64     `json:"quantity"`
	Big      *big.Int  `json:"-"`
}

// Total returns the bucket's total, whether or not it fits an int64.
func (p UsagePoint) Total() *big.Int {
	if p.Big != nil {
		return p.Big
	}
	return big.NewInt(p.Quantity)
}

// UsageSeries reads usage per metric and hour (daily false) or day (daily true) for buckets
// starting in [from, to), optionally for one metric.
func UsageSeries(ctx context.Context, tx pgx.Tx, metric string, from, to time.Time, daily bool) ([]UsagePoint, error) {
	return UsageSeriesLimit(ctx, tx, metric, from, to, daily, 0)
}

// UsageSeriesLimit is UsageSeries returning at most limit points (0: all), for callers
// that answer clients and must bound their work whatever the number of metrics.
func UsageSeriesLimit(ctx context.Context, tx pgx.Tx, metric string, from, to time.Time, daily bool, limit int) ([]UsagePoint, error) {
	q := `SELECT metric, hour, quantity::text FROM usage_hourly WHERE hour >= $1 AND hour < $2 AND ($3 = '' OR metric = $3) ORDER BY metric, hour LIMIT $4`
	if daily {
		q = `SELECT metric, day::timestamp AT TIME ZONE 'UTC', quantity::text FROM usage_daily
			WHERE day >= ($1 AT TIME ZONE 'UTC')::date AND day < ($2 AT TIME ZONE 'UTC')::date AND ($3 = '' OR metric = $3) ORDER BY metric, day LIMIT $4`
	}
	var lim *int64 // NULL: no limit
	if limit > 0 {
		n := int64(limit)
		lim = &n
	}
	rows, err := tx.Query(ctx, q, from, to, metric, lim)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsagePoint, error) {
		var p UsagePoint
		var total string
		if err := r.Scan(&p.Metric, &p.Start, &total); err != nil {
			return p, err
		}
		p.Start = p.Start.UTC()
		n, err := strconv.ParseInt(total, 10, 64)
		if err == nil {
			p.Quantity = n
			return p, nil
		}
		b, ok := new(big.Int).SetString(total, 10)
		if !ok {
			return p, fmt.Errorf("usage total %q of %s at %s is not an integer", total, p.Metric, p.Start.Format(time.RFC3339))
		}
		p.Big = b
		return p, nil
	})
}

// Billing is the tenant's billing read model.
type Billing struct {
	StripeCustomerID     string     `json:"stripe_customer_id,omitempty"`
	StripeSubscriptionID string     `json:"stripe_subscription_id,omitempty"`
	Status               string     `json:"status"`
	PastDueSince         *time.Time `json:"past_due_since,omitempty"`
	GraceEndsAt          *time.Time `json:"grace_ends_at,omitempty"`
}

// GetBilling reads the billing state.
func GetBilling(ctx context.Context, tx pgx.Tx) (Billing, error) {
	var b Billing
	err := tx.QueryRow(ctx, `SELECT coalesce(stripe_customer_id, ''), coalesce(stripe_subscription_id, ''), status,
		past_due_since, grace_ends_at FROM billing`).
		Scan(&b.StripeCustomerID, &b.StripeSubscriptionID, &b.Status, &b.PastDueSince, &b.GraceEndsAt)
	return b, notProvisioned(err)
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

// ReconLine compares, for one metric and one calendar month (UTC), the usage recorded with
// the usage Stripe confirmed. Recorded and Difference count only windows that had closed by
// the cutoff (the ones a push cycle covers); InProgress is usage in windows still open.
type ReconLine struct {
	Metric            string    `json:"metric"`
	Period            time.Time `json:"period"`
	Recorded          int64     `json:"recorded"`
	Reported          int64     `json:"reported"`
	Difference        int64     `json:"difference"`
	UnreportedWindows int64     `json:"unreported_windows"`
	InProgress        int64     `json:"in_progress"`
}

// Reconcile reads recorded against reported usage for windows starting in [from, to), by
// metric and month; a window is closed when it ended at or before cutoff. Recorded and
// InProgress saturate at the int64 maximum (the read models' totals are numerics that may
// exceed it; nothing that large can have been reported).
func Reconcile(ctx context.Context, tx pgx.Tx, from, to, cutoff time.Time) ([]ReconLine, error) {
	rows, err := tx.Query(ctx, `
		SELECT coalesce(r.metric, s.metric),
		       date_trunc('month', coalesce(r.hour, s.hour), 'UTC'),
		       least(sum(CASE WHEN coalesce(r.hour, s.hour) + interval '1 hour' <= $3 THEN coalesce(r.quantity, 0) ELSE 0 END), 9223372036854775807)::bigint,
		       least(sum(coalesce(s.quantity, 0)), 9223372036854775807)::bigint,
		       count(*) FILTER (WHERE coalesce(r.hour, s.hour) + interval '1 hour' <= $3
		                          AND coalesce(r.quantity, 0) <> coalesce(s.quantity, 0)),
		       least(sum(CASE WHEN coalesce(r.hour, s.hour) + interval '1 hour' > $3 THEN coalesce(r.quantity, 0) ELSE 0 END), 9223372036854775807)::bigint
		  FROM (SELECT metric, hour, quantity FROM usage_hourly WHERE hour >= $1 AND hour < $2) r
		  FULL JOIN (SELECT metric, hour, quantity FROM usage_reported WHERE hour >= $1 AND hour < $2) s
		    ON s.metric = r.metric AND s.hour = r.hour
		 GROUP BY 1, 2
		 ORDER BY 2, 1`, from, to, cutoff)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReconLine, error) {
		var l ReconLine
		err := r.Scan(&l.Metric, &l.Period, &l.Recorded, &l.Reported, &l.UnreportedWindows, &l.InProgress)
		l.Period = l.Period.UTC()
		l.Difference = l.Recorded - l.Reported
		return l, err
	})
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
