package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/usage"
)

// sendsPerTenant is how many meter events of one tenant are in flight at once.
const sendsPerTenant = 4

// PushUsage pushes every closed window of the last usage.MaxAge whose recorded usage
// exceeds what Stripe was told, as the next revision carrying only the delta, and returns
// how many window revisions Stripe confirmed. Nothing for a tenant not linked to Stripe.
// Totals are exact whatever their size: a delta beyond what one meter event carries
// (dbilling.MaxMeterValue) goes out as several, so no window is left out.
//
// Per month of windows it appends the planned pushes (usage.report_planned) in one append,
// sends each as billing meter events under identifiers and idempotency keys derived from
// tenant, metric, window, revision (and part), then records the confirmed ones
// (usage.reported) in one append. A push planned by a run that died is sent again first,
// unchanged: same identifiers, same keys, same values, so Stripe counts it once.
func (b *BillingCycle) PushUsage(ctx context.Context, id uuid.UUID) (int, error) {
	acct, _, err := Load(ctx, b.store, id, dbilling.AccountStreamID, dbilling.NewAccount)
	if err != nil || !acct.Linked() {
		return 0, err
	}
	end := b.now().Add(-b.cfg.Settle)
	to := end.Truncate(dbilling.Window) // windows starting before it ended by end
	from := to.Add(-usage.MaxAge - dbilling.Window)
	recorded, err := b.usage.HourlyUsage(ctx, id, from, to)
	if err != nil {
		return 0, err
	}
	byMonth := map[string][]UsageWindow{}
	months := []string{}
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(to); m = m.AddDate(0, 1, 0) {
		s := dbilling.LedgerStreamID(m)
		months = append(months, s)
		byMonth[s] = nil
	}
	for _, p := range recorded {
		s := dbilling.LedgerStreamID(p.Start)
		byMonth[s] = append(byMonth[s], p)
	}
	confirmed := 0
	for _, stream := range months {
		n, err := b.pushMonth(ctx, id, acct.CustomerID(), stream, byMonth[stream])
		confirmed += n
		if err != nil {
			return confirmed, err
		}
	}
	return confirmed, nil
}

func (b *BillingCycle) pushMonth(ctx context.Context, id uuid.UUID, customer, stream string, recorded []UsageWindow) (int, error) {
	ledger, version, err := Load(ctx, b.store, id, stream, dbilling.NewLedger)
	if err != nil {
		return 0, err
	}
	planned, err := b.plan(id, ledger, customer, recorded)
	if err != nil {
		return 0, err
	}
	if len(planned) > 0 {
		if err := b.appendAt(ctx, id, stream, version, planned...); err != nil {
			return 0, fmt.Errorf("plan %d pushes in %s: %w", len(planned), stream, err)
		}
		version += int64(len(planned))
		for _, e := range planned {
			if err := ledger.Apply(e); err != nil {
				return 0, err
			}
		}
	}
	// Send the pending pushes' meter events (a push of a large delta is several), a few at a
	// time (the rate limit is shared by all), and confirm the pushes whose every meter event
	// Stripe accepted. A push with a failed one stays pending and is sent again, whole and
	// unchanged, next time: Stripe counts each identifier once.
	pending := ledger.Pending()
	errs := make([]error, len(pending))
	var mu sync.Mutex
	sem := make(chan struct{}, sendsPerTenant)
	var wg sync.WaitGroup
	for i, p := range pending {
		events, err := p.MeterEvents(id)
		if err != nil {
			errs[i] = err
			continue
		}
		for j, ev := range events {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := b.send(ctx, p, ev, j, len(events)); err != nil {
					mu.Lock()
					errs[i] = errors.Join(errs[i], err)
					mu.Unlock()
				}
			}()
		}
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
		if err := b.appendAt(ctx, id, stream, version, confirmations...); err != nil {
			return 0, fmt.Errorf("record %d confirmed pushes in %s: %w", len(confirmations), stream, err)
		}
	}
	if sendErr != nil {
		return len(confirmations), sendErr
	}
	return len(confirmations), nil
}

// send sends meter event ev, part part of parts of planned push p.
func (b *BillingCycle) send(ctx context.Context, p dbilling.UsageReportPlanned, ev dbilling.MeterEvent, part, parts int) error {
	err := b.stripe.SendMeterEvent(ctx, StripeMeterEvent{EventName: p.EventName, Identifier: ev.Identifier,
		CustomerID: p.CustomerID, Value: ev.Value, Timestamp: p.Timestamp(), IdempotencyKey: ev.IdempotencyKey})
	if err != nil {
		return fmt.Errorf("send meter event %s (%s %s r%d, part %d of %d): %w", ev.Identifier, p.Metric,
			p.WindowStart.Format(time.RFC3339), p.Revision, part+1, parts, err)
	}
	return nil
}

// plan decides the pushes of one month's windows: a counter's per window (its sum), a
// gauge's per billing period (the month) by its aggregation, from all its windows of the
// month read (billing.Ledger.PlanGauge).
func (b *BillingCycle) plan(id uuid.UUID, ledger *dbilling.Ledger, customer string, recorded []UsageWindow) ([]domain.Event, error) {
	var planned []domain.Event
	gauges := map[usage.Metric][]usage.Window{}
	var order []usage.Metric
	for _, p := range recorded {
		metric, err := usage.ParseMetric(p.Metric)
		if err != nil {
			return nil, err
		}
		if usage.DefinitionOf(b.cfg.Definitions, metric).Kind == usage.KindGauge {
			if _, seen := gauges[metric]; !seen {
				order = append(order, metric)
			}
			gauges[metric] = append(gauges[metric], p.Window)
			continue
		}
		events, err := ledger.Plan(id, metric, p.Start, p.Sum, b.meterEventName(p.Metric), customer)
		if err != nil {
			return nil, err
		}
		planned = append(planned, events...)
	}
	for _, metric := range order {
		windows := gauges[metric]
		def := usage.DefinitionOf(b.cfg.Definitions, metric)
		v, at, ok := def.ValueAt(windows)
		if !ok {
			continue // windows stored before readings were kept: a rebuild gives them
		}
		events, err := ledger.PlanGauge(id, metric, def.Aggregation, dbilling.Period(windows[0].Start), v, at,
			b.meterEventName(metric.String()), customer)
		if err != nil {
			return nil, err
		}
		planned = append(planned, events...)
	}
	return planned, nil
}
