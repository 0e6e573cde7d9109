package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

// Directory projects the shared tenant directory (tenantry.tenants) from every tenant's
// tenant.* events, as the relay delivers them in the gap-safe global order. A row only
// moves to a later seq, so redelivered events count once. An event it cannot read is
// logged, counted and skipped: one tenant must never stall routing for all the others.
type Directory struct {
	Store    *eventstore.Store
	Registry *eventstore.Registry
	Logger   *slog.Logger

	skipped atomic.Int64
}

// Skipped counts events the directory could not read.
func (d *Directory) Skipped() int64 { return d.skipped.Load() }

// Consume keeps the directory from relayed messages until ctx ends or msgs closes. Only
// messages carrying tenant.* events or billing.customer_linked are decoded; each such
// message refreshes its tenant's row in one transaction and is acknowledged after it
// commits, so redelivery after a crash is harmless.
func (d *Directory) Consume(ctx context.Context, msgs <-chan *message.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if !eventstore.MessageHasType(m, directoryEvent) {
				m.Ack()
				continue
			}
			// A refresh reads the tenant's current state, so the message's last directory
			// event stands for all of them.
			events, err := eventstore.EventsFromMessage(m)
			if err == nil {
				last := &events[len(events)-1]
				for i := range events {
					if directoryEvent(events[i].Type) {
						last = &events[i]
					}
				}
				err = d.apply(ctx, last)
			}
			if err != nil && ctx.Err() == nil {
				d.Logger.Warn("tenant directory could not apply an event; will retry", "tenant_id", m.Metadata.Get(eventstore.MetaTenantID), "err", err)
				time.Sleep(200 * time.Millisecond)
				m.Nack()
				continue
			}
			m.Ack()
		}
	}
}

// directoryEvent says whether events of type change the directory: tenant.* and the link to
// a Stripe customer.
func directoryEvent(typ string) bool {
	return strings.HasPrefix(typ, "tenant.") || typ == billing.TypeCustomerLinked
}

// apply refreshes the tenant's directory row from the tenant's current state in the event
// store, rather than applying the event as a change: with consumers in several processes,
// events can arrive out of order and more than once, and a refresh gives the same row
// whatever the order. Refreshes of one tenant take turns (see Store.RefreshDirectory), so
// the last to write read the newest state.
func (d *Directory) apply(ctx context.Context, e *eventstore.Event) error {
	if !directoryEvent(e.Type) {
		return nil
	}
	return d.Store.RefreshDirectory(ctx, e.TenantID, func() (*eventstore.DirectoryRow, error) {
		events := eventstore.DomainStore{Store: d.Store, Registry: d.Registry}
		t, _, err := app.Load(ctx, events, e.TenantID, tenant.StreamID, func() *tenant.Tenant { return &tenant.Tenant{} })
		if err != nil {
			if errors.Is(err, eventstore.ErrUnknownEventType) {
				d.skipped.Add(1)
				d.Logger.Error("tenant directory skipped a tenant it cannot read", "tenant_id", e.TenantID, "seq", e.Seq, "err", err)
				return nil, nil
			}
			return nil, err
		}
		if t.Version() == 0 {
			return nil, fmt.Errorf("tenant %s has no tenant.created yet", e.TenantID) // retried
		}
		acct, _, err := app.Load(ctx, events, e.TenantID, billing.AccountStreamID, billing.NewAccount)
		if err != nil {
			return nil, err
		}
		var customer *string
		if acct.Linked() {
			c := acct.CustomerID()
			customer = &c
		}
		return &eventstore.DirectoryRow{Tenant: e.TenantID, Slug: t.Slug().String(), Name: t.Name().String(),
			Status: t.Status().String(), PlanOn: planOn(t.Subscription()), StripeCustomerID: customer,
			CreatedAt: t.CreatedAt(), UpdatedAt: e.RecordedAt, Seq: e.Seq}, nil
	})
}
