package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Job runs (tenantry.job_runs): which process runs a periodic job's period, so that
// replicas run each period once (workers/schedule).

const (
	claimJobRunSQL = `INSERT INTO tenantry.job_runs AS r (job, period, holder) VALUES ($1, $2, $3)
		ON CONFLICT (job, period) DO UPDATE SET holder = excluded.holder, started_at = now()
		 WHERE r.finished_at IS NULL AND r.started_at < now() - $4::interval
		RETURNING holder`
	finishJobRunSQL = `UPDATE tenantry.job_runs SET finished_at = now()
		WHERE job = $1 AND period = $2 AND holder = $3`
)

// ClaimJobRun claims job's period for holder: false when another holder has it, unless its
// claim is unfinished and older than lease (that holder died), or when it is finished.
func (s *Store) ClaimJobRun(ctx context.Context, job string, period time.Time, holder string, lease time.Duration) (bool, error) {
	var got string
	err := s.pool.QueryRow(ctx, claimJobRunSQL, job, period.UTC(), holder,
		fmt.Sprintf("%d milliseconds", lease.Milliseconds())).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s for %s: %w", job, period.UTC().Format(time.RFC3339), err)
	}
	return true, nil
}

// FinishJobRun marks holder's claim of job's period done: no replica runs it again.
func (s *Store) FinishJobRun(ctx context.Context, job string, period time.Time, holder string) error {
	_, err := s.pool.Exec(ctx, finishJobRunSQL, job, period.UTC(), holder)
	return err
}
