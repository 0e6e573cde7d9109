package eventstore

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The billing read models (billing, usage_reported against usage_hourly) and the billing
// worker's per-tenant lock.

// Billing is the tenant's billing read model.
type Billing struct {
	StripeCustomerID     string     `json:"stripe_customer_id,omitempty"`
	StripeSubscriptionID string     `json:"stripe_subscription_id,omitempty"`
	Status               string     `json:"status"`
	PastDueSince         *time.Time `json:"past_due_since,omitempty"`
	GraceEndsAt          *time.Time `json:"grace_ends_at,omitempty"`
}

const billingSQL = `SELECT coalesce(stripe_customer_id, ''), coalesce(stripe_subscription_id, ''), status,
	past_due_since, grace_ends_at FROM billing`

// Billing reads the billing state; ErrNotProvisioned when there is none.
func (t *Tx) Billing(ctx context.Context) (Billing, error) {
	var b Billing
	err := t.tx.QueryRow(ctx, billingSQL).
		Scan(&b.StripeCustomerID, &b.StripeSubscriptionID, &b.Status, &b.PastDueSince, &b.GraceEndsAt)
	return b, notProvisioned(err)
}

// ReconLine compares, for one metric and one calendar month (UTC), the usage recorded with
// the usage Stripe confirmed. Recorded and Difference count only windows that had closed by
// the cutoff (the ones a push cycle covers); InProgress is usage in windows still open. The
// sums are exact integers of any size (the read models' totals are numerics).
type ReconLine struct {
	Metric            string    `json:"metric"`
	Period            time.Time `json:"period"`
	Recorded          *big.Int  `json:"recorded"`
	Reported          *big.Int  `json:"reported"`
	Difference        *big.Int  `json:"difference"`
	UnreportedWindows int64     `json:"unreported_windows"`
	InProgress        *big.Int  `json:"in_progress"`
	// Scale is how many decimal places the sums have: each is its value × 10^Scale (0 but
	// for metrics that allow decimal places, whose sums may have a fraction).
	Scale int `json:"scale,omitempty"`
}

const reconcileSQL = `
	SELECT coalesce(r.metric, s.metric),
	       date_trunc('month', coalesce(r.hour, s.hour), 'UTC'),
	       trim_scale(sum(CASE WHEN coalesce(r.hour, s.hour) + interval '1 hour' <= $3 THEN coalesce(r.quantity, 0) ELSE 0 END))::text,
	       trim_scale(sum(coalesce(s.quantity, 0)))::text,
	       count(*) FILTER (WHERE coalesce(r.hour, s.hour) + interval '1 hour' <= $3
	                          AND coalesce(r.quantity, 0) <> coalesce(s.quantity, 0)),
	       trim_scale(sum(CASE WHEN coalesce(r.hour, s.hour) + interval '1 hour' > $3 THEN coalesce(r.quantity, 0) ELSE 0 END))::text
	  FROM (SELECT metric, hour, quantity FROM usage_hourly WHERE hour >= $1 AND hour < $2) r
	  FULL JOIN (SELECT metric, hour, quantity FROM usage_reported WHERE hour >= $1 AND hour < $2) s
	    ON s.metric = r.metric AND s.hour = r.hour
	 GROUP BY 1, 2
	 ORDER BY 2, 1`

// Reconcile reads recorded against reported usage for windows starting in [from, to), by
// metric and month; a window is closed when it ended at or before cutoff.
func (t *Tx) Reconcile(ctx context.Context, from, to, cutoff time.Time) ([]ReconLine, error) {
	rows, err := t.tx.Query(ctx, reconcileSQL, from, to, cutoff)
	if err != nil {
		return nil, notProvisioned(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReconLine, error) {
		var l ReconLine
		var recorded, reported, inProgress string
		if err := r.Scan(&l.Metric, &l.Period, &recorded, &reported, &l.UnreportedWindows, &inProgress); err != nil {
			return l, err
		}
		l.Period = l.Period.UTC()
		for _, src := range []string{recorded, reported, inProgress} {
			if _, frac, ok := strings.Cut(src, "."); ok {
				l.Scale = max(l.Scale, len(frac))
			}
		}
		for _, f := range []struct {
			dst **big.Int
			src string
		}{{&l.Recorded, recorded}, {&l.Reported, reported}, {&l.InProgress, inProgress}} {
			whole, frac, _ := strings.Cut(f.src, ".")
			v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", l.Scale-len(frac)), 10)
			if !ok {
				return l, fmt.Errorf("usage sum %q of %s is not a decimal", f.src, l.Metric)
			}
			*f.dst = v
		}
		l.Difference = new(big.Int).Sub(l.Recorded, l.Reported)
		return l, nil
	})
}

// ErrLockBusy means another session holds the advisory lock asked for.
var ErrLockBusy = errors.New("lock held by another session")

const (
	tryLockSQL = `SELECT pg_try_advisory_lock($1, hashtext($2))`
	unlockSQL  = `SELECT pg_advisory_unlock($1, hashtext($2))`
)

// WithTenantLock runs fn while this process holds the session-level advisory lock (class,
// the tenant): a connection is kept for the duration, so if the process dies the
// connection closes and the lock is released. ErrLockBusy when another session holds it.
// For work that spans many transactions and outside calls (the billing worker's, under
// LockBillingJob); work within one transaction takes a transaction-level lock instead.
func (s *Store) WithTenantLock(ctx context.Context, class LockClass, tenant uuid.UUID, fn func(context.Context) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	key := tenant.String()
	var got bool
	if err := conn.QueryRow(ctx, tryLockSQL, int32(class), key).Scan(&got); err != nil {
		conn.Release()
		return err
	}
	if !got {
		conn.Release()
		return ErrLockBusy
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), unlockSQL, int32(class), key); err != nil {
			_ = conn.Hijack().Close(context.WithoutCancel(ctx)) // never pool a connection that may hold the lock
			return
		}
		conn.Release()
	}()
	return fn(ctx)
}
