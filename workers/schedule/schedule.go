// Package schedule makes a periodic job run once per period across worker replicas: a
// replica claims (job, period) in PostgreSQL before running it, and marks it finished
// after. A claim whose holder has not finished within the lease (it died) can be taken
// over by another replica.
package schedule

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/eventstore"
)

// Claimer claims periods of jobs for one holder (a process).
type Claimer struct {
	Store  *eventstore.Store
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
	ok, err = c.Store.ClaimJobRun(ctx, job, period, c.Holder, lease)
	if err != nil || !ok {
		return func() {}, false, err
	}
	return func() { _ = c.Store.FinishJobRun(context.WithoutCancel(ctx), job, period, c.Holder) }, true, nil
}
