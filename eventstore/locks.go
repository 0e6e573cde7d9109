package eventstore

// LockClass is the first half of a two-part PostgreSQL advisory lock key
// (pg_advisory_xact_lock(class, key)): each class names one kind of exclusive work, so two
// kinds never collide on a key. The numbers are part of the database contract (SQL functions
// and running processes of an older version use them too): never renumber one.
type LockClass int32

const (
	// LockTenantAppend serialises appends per tenant (key: hashtext(tenant id)); the
	// append_events SQL function takes it, and holding it marks a transaction as an event
	// writer for the relay's horizon.
	LockTenantAppend LockClass = 7365710
	// LockBillingJob makes one worker at a time run a tenant's billing job.
	LockBillingJob LockClass = 7365711
	// LockRelayLease elects the one relay that publishes (key 0).
	LockRelayLease LockClass = 7365712
	// LockDirectory serialises directory updates per tenant (key: hashtext(tenant id)).
	LockDirectory LockClass = 7365713
	// LockWebhookClaim serialises webhook delivery claims across workers (key 0), so each
	// claim sees the others' leases and the per-endpoint bound holds deployment-wide.
	LockWebhookClaim LockClass = 7365714
)
