package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/logctx"
	"github.com/tenantry/tenantry/projections"
)

// sendsPerTenant is how many meter events of one tenant are in flight at once.
const sendsPerTenant = 4

// ProjectionWait bounds how long a push waits for the read models to include every usage
// event the tenant had when the push began.
const ProjectionWait = 30 * time.Second

// Push sends the tenant's unreported usage to Stripe under its billing lock (ErrBusy when
// another worker has it) and returns how many window revisions Stripe confirmed.
func (w *Worker) Push(ctx context.Context, id uuid.UUID) (int, error) {
	w.init()
	ctx = logctx.With(ctx, "tenant_id", id.String())
	var n int
	err := w.withTenant(ctx, id, func(ctx context.Context) error {
		var err error
		n, err = w.pushLocked(ctx, id)
		return err
	})
	return n, err
}

// pushLocked pushes every closed window of the last usage.MaxAge whose recorded usage
// exceeds what Stripe was told, as the next revision carrying only the delta.
//
// Per month of windows it appends the planned pushes (usage.report_planned) in one append,
// sends each as a billing meter event under an identifier and idempotency key derived from
// tenant, metric, window and revision, then records the confirmed ones (usage.reported) in
// one append. A push planned by a run that died is sent again first, unchanged: same
// identifier, same key, same quantity, so Stripe counts it once.
func (w *Worker) pushLocked(ctx context.Context, id uuid.UUID) (int, error) {
	acct, _, err := eventstore.Load(ctx, w.Store, w.Registry, id, dbilling.AccountStreamID, dbilling.NewAccount)
	if err != nil || !acct.Linked() {
		return 0, err
	}
	end := w.now().Add(-w.Config.Settle)
	to := end.Truncate(dbilling.Window) // windows starting before it ended by end
	from := to.Add(-usage.MaxAge - dbilling.Window)

	// Read the recorded usage once the read models include every event the tenant has now.
	head, _, err := w.Store.Head(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := w.Store.WaitForProjections(ctx, id, head, ProjectionWait, eventstore.ProjectionUsage); err != nil {
		return 0, fmt.Errorf("read models behind seq %d: %w", head, err)
	}
	var recorded []projections.UsagePoint
	err = eventstore.InTenant(ctx, w.pool(), id, true, func(tx pgx.Tx) error {
		recorded, err = projections.UsageSeries(ctx, tx, "", from, to, false)
		return err
	})
	if err != nil {
		return 0, err
	}
	byMonth := map[string][]projections.UsagePoint{}
	months := []string{}
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(to); m = m.AddDate(0, 1, 0) {
		s := dbilling.LedgerStreamID(m)
		months = append(months, s)
		byMonth[s] = nil
	}
	for _, p := range recorded {
		if p.Big != nil {
			// A window whose recorded total does not fit an int64 cannot be a meter event
			// value, nor a delta against what was reported: leave it out, loudly, and push
			// the others.
			w.Logger.ErrorContext(ctx, "usage window total exceeds an int64; not reported to Stripe",
				"metric", p.Metric, "window_start", p.Start, "total", p.Big.String())
			continue
		}
		s := dbilling.LedgerStreamID(p.Start)
		byMonth[s] = append(byMonth[s], p)
	}
	confirmed := 0
	for _, stream := range months {
		n, err := w.pushMonth(ctx, id, acct.CustomerID(), stream, byMonth[stream])
		confirmed += n
		if err != nil {
			return confirmed, err
		}
	}
	return confirmed, nil
}

func (w *Worker) pushMonth(ctx context.Context, id uuid.UUID, customer, stream string, recorded []projections.UsagePoint) (int, error) {
	ledger, version, err := eventstore.Load(ctx, w.Store, w.Registry, id, stream, dbilling.NewLedger)
	if err != nil {
		return 0, err
	}
	var planned []domain.Event
	for _, p := range recorded {
		metric, err := usage.ParseMetric(p.Metric)
		if err != nil {
			return 0, err
		}
		events, err := ledger.Plan(id, metric, p.Start, p.Quantity, w.Config.MeterEventName(p.Metric), customer)
		if err != nil {
			return 0, err
		}
		planned = append(planned, events...)
	}
	meta := eventstore.Metadata{Actor: "billing-worker"}
	if len(planned) > 0 {
		if _, err := w.append(ctx, id, stream, version, meta, planned...); err != nil {
			return 0, fmt.Errorf("plan %d pushes in %s: %w", len(planned), stream, err)
		}
		version += int64(len(planned))
		for _, e := range planned {
			if err := ledger.Apply(e); err != nil {
				return 0, err
			}
		}
	}
	// Send the pending pushes, a few at a time (the rate limit is shared by all), and
	// confirm the ones Stripe accepted.
	pending := ledger.Pending()
	errs := make([]error, len(pending))
	sem := make(chan struct{}, sendsPerTenant)
	var wg sync.WaitGroup
	for i, p := range pending {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = w.send(ctx, id, p)
		}()
	}
	wg.Wait()
	var confirmations []domain.Event
	for i, p := range pending {
		if errs[i] != nil {
			continue
		}
		events, err := ledger.Confirm(p.Metric, p.WindowStart, p.Identifier)
		if err != nil {
			return 0, err
		}
		confirmations = append(confirmations, events...)
	}
	sendErr := errors.Join(errs...)
	if len(confirmations) > 0 {
		if _, err := w.append(ctx, id, stream, version, meta, confirmations...); err != nil {
			return 0, fmt.Errorf("record %d confirmed pushes in %s: %w", len(confirmations), stream, err)
		}
	}
	if sendErr != nil {
		return len(confirmations), sendErr
	}
	return len(confirmations), nil
}

// send sends one planned push as a billing meter event.
func (w *Worker) send(ctx context.Context, id uuid.UUID, p dbilling.UsageReportPlanned) error {
	err := w.Caller.Do(ctx, func() error {
		params := &stripe.BillingMeterEventParams{
			EventName:  stripe.String(p.EventName),
			Identifier: stripe.String(p.Identifier),
			Payload: map[string]string{
				"stripe_customer_id": p.CustomerID,
				"value":              strconv.FormatInt(p.Quantity, 10),
			},
			Timestamp: stripe.Int64(p.WindowStart.Unix()),
		}
		params.Context = ctx
		params.SetIdempotencyKey(dbilling.IdempotencyKey(id, p.Metric.String(), p.WindowStart, p.Revision))
		_, err := w.Stripe.BillingMeterEvents.New(params)
		return err
	})
	if err != nil {
		return fmt.Errorf("send meter event %s (%s %s r%d): %w", p.Identifier, p.Metric, p.WindowStart.Format(time.RFC3339), p.Revision, err)
	}
	return nil
}
