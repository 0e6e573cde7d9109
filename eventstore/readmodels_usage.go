package eventstore

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The usage read models (usage_hourly, usage_daily) as their readers see them.

// UsagePoint is one bucket of a usage series. The read models keep totals as numerics,
// which cannot overflow: Quantity is the total when it is a whole number that fits an int64;
// a larger whole total is in Big (Quantity 0). Sum is the total as exact decimal text
// ("12", "1.25") whatever it is; a total with decimals is only there. For gauges, Max is the
// bucket's highest reading and Last its last one (by occurred_at, then seq), taken at
// LastAt; both are empty for buckets written before they were kept (until a rebuild).
type UsagePoint struct {
	Metric   string    `json:"metric"`
	Start    time.Time `json:"start"`
	Quantity int64     `json:"quantity"`
	Big      *big.Int  `json:"-"`
	Sum      string    `json:"-"`
	Max      string    `json:"-"`
	Last     string    `json:"-"`
	LastAt   time.Time `json:"-"`
	LastSeq  int64     `json:"-"`
	LastIdx  int32     `json:"-"`
}

// Total returns the bucket's total, whether or not it fits an int64, when it is a whole
// number (0 for a total with decimals: see Sum).
func (p UsagePoint) Total() *big.Int {
	if p.Big != nil {
		return p.Big
	}
	return big.NewInt(p.Quantity)
}

const (
	// usageColumnsSQL reads a bucket's values as decimal text without trailing zeros.
	usageColumnsSQL = `trim_scale(quantity)::text, coalesce(trim_scale(max_quantity)::text, ''),
		coalesce(trim_scale(last_quantity)::text, ''), coalesce(last_key, '')`
	usageHourlySQL = `SELECT metric, hour, ` + usageColumnsSQL + ` FROM usage_hourly
		WHERE hour >= $1 AND hour < $2 AND ($3 = '' OR metric = $3) ORDER BY metric, hour LIMIT $4`
	usageDailySQL = `SELECT metric, day::timestamp AT TIME ZONE 'UTC', ` + usageColumnsSQL + ` FROM usage_daily
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
		var lastKey []byte
		if err := r.Scan(&p.Metric, &p.Start, &total, &p.Max, &p.Last, &lastKey); err != nil {
			return p, err
		}
		p.Start, p.Sum, p.LastAt = p.Start.UTC(), total, time.Unix(0, 0).UTC()
		if at, seq, idx, ok := parseUsageLastKey(lastKey); ok {
			p.LastAt, p.LastSeq, p.LastIdx = at, seq, idx
		}
		if strings.IndexByte(total, '.') >= 0 {
			return p, nil // a total with decimals: Sum only
		}
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
