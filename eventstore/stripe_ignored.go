package eventstore

import (
	"context"
	"time"
)

// A Stripe delivery that concerns no tenant has no tenant stream to be recorded in: it is
// recorded in tenantry.stripe_ignored_deliveries, once per Stripe event id. The API's role
// may only insert there: ON CONFLICT names no conflict target, which would need SELECT on
// it (the primary key, the table's only unique constraint, is the one that can conflict).
const recordIgnoredStripeDeliverySQL = `INSERT INTO tenantry.stripe_ignored_deliveries
	(stripe_event_id, event_type, reason, stripe_customer_id, created_at) VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT DO NOTHING`

// RecordIgnoredStripeDelivery records that the Stripe event eventID (of eventType, created
// at created, naming customerID) was ignored for reason, because it concerns no tenant;
// false when it was recorded before (a redelivery), which changes nothing.
func (s *Store) RecordIgnoredStripeDelivery(ctx context.Context, eventID, eventType, customerID, reason string, created time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, recordIgnoredStripeDeliverySQL, eventID, eventType, reason, customerID, created.UTC())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
