package app

import (
	"context"
	"math/big"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// ReconLine compares, for one metric and one calendar month (UTC), the usage recorded with
// the usage Stripe confirmed. Recorded and Difference count only windows that had closed by
// the cutoff (the ones a push cycle covers); InProgress is usage in windows still open. The
// sums are exact integers of any size (never nil).
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

// UsageLedger reads recorded against reported usage (the usage and billing read models).
type UsageLedger interface {
	// ReconcileUsage returns the lines of windows starting in [from, to), by metric and
	// month, a window being closed when it ended at or before cutoff.
	ReconcileUsage(ctx context.Context, tenant uuid.UUID, from, to, cutoff time.Time) ([]ReconLine, error)
	// CatchUp waits, at most timeout, until the tenant's read models include every event
	// the tenant has now. behind, when not nil, says why they do not (the figures read next
	// may be stale); err is a failure to find out.
	CatchUp(ctx context.Context, tenant uuid.UUID, timeout time.Duration) (behind, err error)
}

// Reconcile compares the usage a tenant recorded with the usage Stripe confirmed, for the
// windows a push cycle covers: after a completed cycle every difference is 0.
type Reconcile struct {
	ledger UsageLedger
	settle time.Duration
}

// NewReconcile builds the use case; settle is the billing worker's (a window is due
// settle after it ends).
func NewReconcile(ledger UsageLedger, settle time.Duration) *Reconcile {
	return &Reconcile{ledger: ledger, settle: settle}
}

// ReconcileInput names the tenant and the time of the comparison. The windows compared
// start in [From, To); zero values mean the months whose usage can still change: from the
// start of the month two months back (or earlier, as far as usage may arrive late) to an
// hour after Now.
// CatchUp, when positive, is how long to wait first for the read models to include every
// event the tenant has now (the last push's usage.reported events among them), so that a
// push just done shows as reported.
type ReconcileInput struct {
	Tenant   uuid.UUID
	Now      time.Time
	From, To time.Time
	CatchUp  time.Duration
}

// Reconciliation is the comparison: Cutoff is the end of the last window due, Differences
// counts the lines whose recorded and reported usage differ. Behind, when not nil, says
// why the read models could not be brought up to date within the input's CatchUp: the
// lines may be stale.
type Reconciliation struct {
	Cutoff      time.Time
	Lines       []ReconLine
	Differences int
	Behind      error
}

// DueCutoff is the end of the last usage window due at now, windows being pushed settle
// after they end: the windows that ended by then are the ones a push cycle has covered.
// The CLI's reconcile and GET /v1/billing both compare up to it.
func DueCutoff(now time.Time, settle time.Duration) time.Time {
	return now.UTC().Add(-settle).Truncate(time.Hour)
}

// OpenMonths is [from, to), the calendar months (UTC) whose usage can still change at now
// (usage may arrive up to usage.MaxAge late): what GET /v1/billing shows by default.
func OpenMonths(now time.Time) (from, to time.Time) {
	return startOfMonth(now.Add(-usage.MaxAge - time.Hour)), startOfMonth(now).AddDate(0, 1, 0)
}

// PeriodExample shows the one form a billing period is written in.
const PeriodExample = "2026-12-01T00:00:00Z"

// ParsePeriod reads a billing period as GET /v1/billing?period= and `billing reconcile
// --period` take it, in the form every time of the API is written: an RFC 3339 instant that
// is the first instant of a UTC month (PeriodExample). Anything else, the old YYYY-MM
// included, is an invalid "period" that shows the accepted form.
func ParsePeriod(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !t.Equal(startOfMonth(t)) {
		return time.Time{}, domain.Invalid("period", "period must be the first instant of a UTC month in RFC 3339, e.g. %s", PeriodExample)
	}
	return t.UTC(), nil
}

func startOfMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Run compares recorded with reported usage for one tenant.
func (r *Reconcile) Run(ctx context.Context, in ReconcileInput) (Reconciliation, error) {
	now := in.Now.UTC()
	cutoff := DueCutoff(now, r.settle)
	from, to := in.From, in.To
	if from.IsZero() {
		from = startOfMonth(now).AddDate(0, -2, 0)
		if f := now.Add(-usage.MaxAge - time.Hour); f.Before(from) {
			from = startOfMonth(f)
		}
	}
	if to.IsZero() {
		to = now.Add(time.Hour)
	}
	var behind error
	if in.CatchUp > 0 {
		var err error
		if behind, err = r.ledger.CatchUp(ctx, in.Tenant, in.CatchUp); err != nil {
			return Reconciliation{}, err
		}
	}
	lines, err := r.ledger.ReconcileUsage(ctx, in.Tenant, from, to, cutoff)
	if err != nil {
		return Reconciliation{}, err
	}
	out := Reconciliation{Cutoff: cutoff, Lines: lines, Behind: behind}
	for _, l := range lines {
		if l.Difference.Sign() != 0 {
			out.Differences++
		}
	}
	return out, nil
}
