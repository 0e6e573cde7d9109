package eventstore

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The usage read models (usage_hourly, usage_daily) as their readers see them.

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

const (
	usageHourlySQL = `SELECT metric, hour, quantity::text FROM usage_hourly
		WHERE hour >= $1 AND hour < $2 AND ($3 = '' OR metric = $3) ORDER BY metric, hour LIMIT $4`
	usageDailySQL = `SELECT metric, day::timestamp AT TIME ZONE 'UTC', quantity::text FROM usage_daily
		WHERE day >= ($1 AT TIME ZONE 'UTC')::date AND day < ($2 AT TIME ZONE 'UTC')::date AND ($3 = '' OR metric = $3) ORDER BY metric, day LIMIT $4`
)

// UsageSeries reads usage per metric and hour (daily false) or day (daily true) for buckets
// starting in [from, to), optionally for one metric.
func (t *Tx) UsageSeries(ctx context.Context, metric string, from, to time.Time, daily bool) ([]UsagePoint, error) {
	return t.UsageSeriesLimit(ctx, metric, from, to, daily, 0)
}

// UsageSeriesLimit is UsageSeries returning at most limit points (0: all), for callers
// that answer clients and must bound their work whatever the number of metrics.
func (t *Tx) UsageSeriesLimit(ctx context.Context, metric string, from, to time.Time, daily bool, limit int) ([]UsagePoint, error) {
	q := usageHourlySQL
	if daily {
		q = usageDailySQL
	}
	var lim *int64 // NULL: no limit
	if limit > 0 {
		n := int64(limit)
		lim = &n
	}
	rows, err := t.tx.Query(ctx, q, from, to, metric, lim)
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
