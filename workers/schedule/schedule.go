// Package schedule makes a periodic job run once per period across worker replicas: a
// replica claims (job, period) in PostgreSQL before running it, and marks it finished
// after. A claim whose holder has not finished within the lease (it died) can be taken
// over by another replica.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Claimer claims periods of jobs for one holder (a process).
type Claimer struct {
	Pool   *pgxpool.Pool
	Holder string        // who claims: host and pid
	Lease  time.Duration // how long a claim stands unfinished before another may take it (default 10m)
}

// Claim tries to claim job's period. When ok, the caller runs the job and then calls
// finish; when not, another replica has it (or finished it).
func (c *Claimer) Claim(ctx context.Context, job string, period time.Time) (finish func(), ok bool, err error) {
	lease := c.Lease
	if lease <= 0 {
		lease = 10 * time.Minute
	}
	var holder string
	err = c.Pool.QueryRow(ctx, `INSERT INTO tenantry.job_runs AS r (job, period, holder) VALUES ($1, $2, $3)
		ON CONFLICT (job, period) DO UPDATE SET holder = excluded.holder, started_at = now()
		 WHERE r.finished_at IS NULL AND r.started_at < now() - $4::interval
		RETURNING holder`, job, period.UTC(), c.Holder, fmt.Sprintf("%d milliseconds", lease.Milliseconds())).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return func() {}, false, nil
	}
	if err != nil {
		return func() {}, false, fmt.Errorf("claim %s for %s: %w", job, period.UTC().Format(time.RFC3339), err)
	}
	return func() {
		_, _ = c.Pool.Exec(context.WithoutCancel(ctx), `UPDATE tenantry.job_runs SET finished_at = now()
			WHERE job = $1 AND period = $2 AND holder = $3`, job, period.UTC(), c.Holder)
	}, true, nil
}
