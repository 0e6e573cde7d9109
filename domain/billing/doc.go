// Package billing records what Tenantry and Stripe tell each other, as events in the
// tenant's own streams, and decides what Stripe's news means for the tenant.
//
// Two aggregates live here. Account (stream "billing") links the tenant to its Stripe
// customer and subscription and keeps every Stripe webhook delivery it acted on, so a
// delivery is handled once and an older one never overrides a newer one. Ledger (one stream
// per month of usage windows, see LedgerStreamID) is the ledger of metered usage pushed to
// Stripe: each push is planned (usage.report_planned) before the call and confirmed
// (usage.reported) after it, so a push interrupted by a crash is resent with the same
// identifier, idempotency key and quantity, and Stripe counts it once.
package billing

import (
	"fmt"
	"time"
)

// AccountStreamID is the stream of a tenant's Stripe link and webhook deliveries.
const AccountStreamID = "billing"

// LedgerStreamID names the stream holding the reports of usage windows that start in the
// UTC month of windowStart, e.g. "usage-ledger-2026-11". A month per stream bounds what a
// push cycle reads: usage may be recorded at most usage.MaxAge late, so only the streams of
// the last two or three months can still change.
func LedgerStreamID(windowStart time.Time) string {
	t := windowStart.UTC()
	return fmt.Sprintf("usage-ledger-%04d-%02d", t.Year(), int(t.Month()))
}

// Window is the length of a usage window reported to Stripe.
const Window = time.Hour
