package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UsageTotal is one metric's usage in one quota period (a UTC calendar month) as the write
// model keeps it (tenantry.usage_totals, updated by every usage append in its transaction):
// Sum the quantities added up, Max the highest reading and Last the last one (by occurred_at,
// then seq, then record index: LastKey is eventstore.UsageLastKey's bytes). Values are exact
// decimal text without trailing zeros; Max, Last and LastKey are empty when the period holds
// no reading of the metric yet.
type UsageTotal struct {
	Metric  string
	Period  time.Time
	Sum     string
	Max     string
	Last    string
	LastKey []byte
}

// UsageTotalsSnapshot is a tenant's usage totals for one period with the tenant's head
// (its last seq) read in the same snapshot: the totals are the fold of exactly the tenant's
// events up to Head.
type UsageTotalsSnapshot struct {
	Head   int64
	Totals []UsageTotal
}

const usageTotalsSQL = `SELECT metric, period::timestamp AT TIME ZONE 'UTC', trim_scale(total)::text,
	coalesce(trim_scale(max_quantity)::text, ''), coalesce(trim_scale(last_quantity)::text, ''), coalesce(last_key, '')
FROM tenantry.usage_totals WHERE tenant_id = $1 AND period = ($2::timestamptz AT TIME ZONE 'UTC')::date ORDER BY metric`

// UsageTotals reads the tenant's usage totals of the quota period that starts at period
// (the first instant of a UTC month), with the tenant's head, in one read-only snapshot.
func (s *Store) UsageTotals(ctx context.Context, tenant uuid.UUID, period time.Time) (UsageTotalsSnapshot, error) {
	if tenant == uuid.Nil {
		return UsageTotalsSnapshot{}, ErrNoTenant
	}
	var out UsageTotalsSnapshot
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(tenantOnlySQL, tenant.String())
		b.Queue(feedHeadSQL, tenant).QueryRow(func(r pgx.Row) error { return r.Scan(&out.Head) })
		b.Queue(usageTotalsSQL, tenant, period.UTC()).Query(func(rows pgx.Rows) error {
			var err error
			out.Totals, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsageTotal, error) {
				var u UsageTotal
				err := r.Scan(&u.Metric, &u.Period, &u.Sum, &u.Max, &u.Last, &u.LastKey)
				u.Period = u.Period.UTC()
				return u, err
			})
			return err
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return UsageTotalsSnapshot{}, fmt.Errorf("read tenant %s usage totals of %s: %w", tenant, period.Format("2006-01"), err)
	}
	return out, nil
}

// UsageSums is each metric's sum in the tenant's quota period that starts at period (see
// UsageTotals): what the usage use case re-reads to fit records under hard quotas.
func (s *Store) UsageSums(ctx context.Context, tenant uuid.UUID, period time.Time) (map[string]string, error) {
	snap, err := s.UsageTotals(ctx, tenant, period)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(snap.Totals))
	for _, t := range snap.Totals {
		out[t.Metric] = t.Sum
	}
	return out, nil
}
