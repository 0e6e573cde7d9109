package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The storage of signed outbound webhooks (migrations/00007_webhooks.sql): endpoints and
// their deliveries. The API reaches them under the owner's context (a tenant, or uuid.Nil
// for the operator's deployment-wide endpoints); the worker role enqueues and delivers
// across tenants. Secrets arrive here sealed (domain/webhook) and leave sealed.

var (
	// ErrWebhookEndpointNotFound means no endpoint of that id belongs to the owner.
	ErrWebhookEndpointNotFound = errors.New("webhook endpoint not found")
	// ErrWebhookEndpointLimit means the owner already has the most endpoints allowed.
	ErrWebhookEndpointLimit = errors.New("webhook endpoint limit reached")
	// ErrWebhookDeliveryNotFound means the endpoint has no delivery of that event.
	ErrWebhookDeliveryNotFound = errors.New("webhook delivery not found")
)

// WebhookEndpoint is one endpoint's row. Secrets are sealed (domain/webhook.Key).
type WebhookEndpoint struct {
	ID                  uuid.UUID
	Owner               uuid.UUID // the tenant, or uuid.Nil for the operator's
	URL                 string
	EventTypes          []string
	Description         string
	Status              string
	DisabledReason      *string
	FailingSince        *time.Time
	ConsecutiveFailures int
	SecretSealed        []byte
	PreviousSealed      []byte
	PreviousExpiresAt   *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// WebhookEndpointPatch changes the fields that are set. Status "enabled" re-enables a
// disabled endpoint and forgets its failure streak.
type WebhookEndpointPatch struct {
	URL            *string
	EventTypes     []string
	Description    *string
	Status         *string
	DisabledReason string // with Status "disabled"
}

const webhookEndpointColumns = `endpoint_id, tenant_id, url, event_types, description, status, disabled_reason,
	failing_since, consecutive_failures, secret_sealed, previous_sealed, previous_expires_at, created_at, updated_at`

func scanWebhookEndpoint(row pgx.Row) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := row.Scan(&e.ID, &e.Owner, &e.URL, &e.EventTypes, &e.Description, &e.Status, &e.DisabledReason,
		&e.FailingSince, &e.ConsecutiveFailures, &e.SecretSealed, &e.PreviousSealed, &e.PreviousExpiresAt, &e.CreatedAt, &e.UpdatedAt)
	return e, err
}

const (
	// lockWebhookOwnerSQL serialises an owner's endpoint creations so the limit holds.
	lockWebhookOwnerSQL      = `SELECT pg_advisory_xact_lock(hashtextextended('tenantry.webhook_endpoints:' || $1::text, 0))`
	countWebhookEndpointSQL  = `SELECT count(*) FROM tenantry.webhook_endpoints WHERE tenant_id = $1`
	insertWebhookEndpointSQL = `INSERT INTO tenantry.webhook_endpoints (endpoint_id, tenant_id, url, event_types, description, secret_sealed)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + webhookEndpointColumns
	listWebhookEndpointsSQL = `SELECT ` + webhookEndpointColumns + ` FROM tenantry.webhook_endpoints
		WHERE tenant_id = $1 ORDER BY created_at, endpoint_id`
	getWebhookEndpointSQL = `SELECT ` + webhookEndpointColumns + ` FROM tenantry.webhook_endpoints
		WHERE tenant_id = $1 AND endpoint_id = $2`
	patchWebhookEndpointSQL = `UPDATE tenantry.webhook_endpoints SET
		url = coalesce($3, url),
		event_types = coalesce($4, event_types),
		description = coalesce($5, description),
		status = coalesce($6, status),
		disabled_reason = CASE WHEN $6 = 'enabled' THEN NULL WHEN $6 = 'disabled' THEN $7 ELSE disabled_reason END,
		failing_since = CASE WHEN $6 = 'enabled' THEN NULL ELSE failing_since END,
		consecutive_failures = CASE WHEN $6 = 'enabled' THEN 0 ELSE consecutive_failures END,
		updated_at = now()
		WHERE tenant_id = $1 AND endpoint_id = $2 RETURNING ` + webhookEndpointColumns
	rotateWebhookSecretSQL = `UPDATE tenantry.webhook_endpoints SET
		previous_sealed = CASE WHEN $4 > 0 THEN secret_sealed END,
		previous_expires_at = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END,
		secret_sealed = $3, updated_at = now()
		WHERE tenant_id = $1 AND endpoint_id = $2 RETURNING ` + webhookEndpointColumns
	deleteWebhookEndpointSQL = `DELETE FROM tenantry.webhook_endpoints WHERE tenant_id = $1 AND endpoint_id = $2`
)

// CreateWebhookEndpoint stores a new endpoint (e.ID, e.Owner, e.URL, e.EventTypes,
// e.Description, e.SecretSealed) unless its owner already has limit endpoints.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint, limit int) (WebhookEndpoint, error) {
	var out WebhookEndpoint
	err := s.inSharedScope(ctx, e.Owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockWebhookOwnerSQL, e.Owner); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, countWebhookEndpointSQL, e.Owner).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return ErrWebhookEndpointLimit
		}
		var err error
		out, err = scanWebhookEndpoint(tx.QueryRow(ctx, insertWebhookEndpointSQL, e.ID, e.Owner, e.URL, e.EventTypes, e.Description, e.SecretSealed))
		return err
	})
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("create webhook endpoint for %s: %w", e.Owner, err)
	}
	return out, nil
}

// WebhookEndpoints lists the owner's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, owner uuid.UUID) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	err := s.inSharedScope(ctx, owner, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, listWebhookEndpointsSQL, owner)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookEndpoint, error) { return scanWebhookEndpoint(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", owner, err)
	}
	return out, nil
}

// WebhookEndpoint reads one of the owner's endpoints.
func (s *Store) WebhookEndpoint(ctx context.Context, owner, id uuid.UUID) (WebhookEndpoint, error) {
	return s.oneWebhookEndpoint(ctx, owner, "read", getWebhookEndpointSQL, owner, id)
}

// PatchWebhookEndpoint changes one of the owner's endpoints and returns it as it now is.
func (s *Store) PatchWebhookEndpoint(ctx context.Context, owner, id uuid.UUID, p WebhookEndpointPatch) (WebhookEndpoint, error) {
	return s.oneWebhookEndpoint(ctx, owner, "update", patchWebhookEndpointSQL, owner, id, p.URL, p.EventTypes, p.Description, p.Status, p.DisabledReason)
}

// RotateWebhookSecret makes sealed the endpoint's signing secret; the old one keeps
// signing beside it for overlap (none when zero).
func (s *Store) RotateWebhookSecret(ctx context.Context, owner, id uuid.UUID, sealed []byte, overlap time.Duration) (WebhookEndpoint, error) {
	return s.oneWebhookEndpoint(ctx, owner, "rotate the secret of", rotateWebhookSecretSQL, owner, id, sealed, overlap.Seconds())
}

func (s *Store) oneWebhookEndpoint(ctx context.Context, owner uuid.UUID, what, sql string, args ...any) (WebhookEndpoint, error) {
	var out WebhookEndpoint
	err := s.inSharedScope(ctx, owner, func(tx pgx.Tx) error {
		var err error
		out, err = scanWebhookEndpoint(tx.QueryRow(ctx, sql, args...))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrWebhookEndpointNotFound
		}
		return err
	})
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("%s webhook endpoint %v of %s: %w", what, args[1], owner, err)
	}
	return out, nil
}

// DeleteWebhookEndpoint removes one of the owner's endpoints and its deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, owner, id uuid.UUID) error {
	err := s.inSharedScope(ctx, owner, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteWebhookEndpointSQL, owner, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrWebhookEndpointNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s of %s: %w", id, owner, err)
	}
	return nil
}

// WebhookDelivery is one (endpoint, event) delivery's state.
type WebhookDelivery struct {
	EndpointID     uuid.UUID
	TenantID       uuid.UUID // the event's tenant
	Seq            int64
	EventID        uuid.UUID
	EventType      string
	Status         string // pending, delivered, failed
	Attempts       int
	NextAttemptAt  time.Time
	FirstAttemptAt *time.Time
	LastAttemptAt  *time.Time
	LastStatus     *int
	LastError      *string
	DeliveredAt    *time.Time
	CreatedAt      time.Time
}

// WebhookDeliveryCursor is where a page of deliveries ended (newest first).
type WebhookDeliveryCursor struct {
	CreatedAt time.Time
	TenantID  uuid.UUID
	Seq       int64
}

const (
	webhookDeliveryColumns = `endpoint_id, tenant_id, seq, event_id, event_type, status, attempts, next_attempt_at,
		first_attempt_at, last_attempt_at, last_status, last_error, delivered_at, created_at`
	listWebhookDeliveriesSQL = `SELECT ` + webhookDeliveryColumns + ` FROM tenantry.webhook_deliveries
		WHERE owner_id = $1 AND endpoint_id = $2
		  AND ($3::timestamptz IS NULL OR (created_at, tenant_id, seq) < ($3, $4, $5))
		ORDER BY created_at DESC, tenant_id DESC, seq DESC LIMIT $6`
	redeliverWebhookSQL = `UPDATE tenantry.webhook_deliveries SET status = 'pending', next_attempt_at = now(),
		first_attempt_at = NULL, lease_until = NULL
		WHERE owner_id = $1 AND endpoint_id = $2 AND tenant_id = $3 AND seq = $4`
)

func scanWebhookDelivery(row pgx.Row) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := row.Scan(&d.EndpointID, &d.TenantID, &d.Seq, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &d.NextAttemptAt,
		&d.FirstAttemptAt, &d.LastAttemptAt, &d.LastStatus, &d.LastError, &d.DeliveredAt, &d.CreatedAt)
	return d, err
}

// WebhookDeliveries pages the deliveries of one of the owner's endpoints, newest first,
// after cursor (nil: from the newest); the endpoint must exist.
func (s *Store) WebhookDeliveries(ctx context.Context, owner, endpoint uuid.UUID, after *WebhookDeliveryCursor, limit int) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := s.inSharedScope(ctx, owner, func(tx pgx.Tx) error {
		if _, err := scanWebhookEndpoint(tx.QueryRow(ctx, getWebhookEndpointSQL, owner, endpoint)); errors.Is(err, pgx.ErrNoRows) {
			return ErrWebhookEndpointNotFound
		} else if err != nil {
			return err
		}
		var at *time.Time
		var tenant uuid.UUID
		var seq int64
		if after != nil {
			at, tenant, seq = &after.CreatedAt, after.TenantID, after.Seq
		}
		rows, err := tx.Query(ctx, listWebhookDeliveriesSQL, owner, endpoint, at, tenant, seq, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookDelivery, error) { return scanWebhookDelivery(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries of webhook endpoint %s: %w", endpoint, err)
	}
	return out, nil
}

// RedeliverWebhook queues the delivery of the tenant's event seq to one of the owner's
// endpoints again, due now, with a fresh retry window: it goes before any later pending
// delivery of that tenant to that endpoint.
func (s *Store) RedeliverWebhook(ctx context.Context, owner, endpoint, tenant uuid.UUID, seq int64) error {
	err := s.inSharedScope(ctx, owner, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, redeliverWebhookSQL, owner, endpoint, tenant, seq)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrWebhookDeliveryNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("redeliver event %d of %s to webhook endpoint %s: %w", seq, tenant, endpoint, err)
	}
	return nil
}
