package api

import (
	"time"

	"github.com/google/uuid"
)

// CreateWebhookEndpointRequest registers an endpoint (POST /v1/webhook-endpoints, or
// /v1/admin/webhook-endpoints for the operator's deployment-wide ones).
type CreateWebhookEndpointRequest struct {
	URL         string   `json:"url" doc:"where deliveries are POSTed: https (http only for a loopback host, or when the deployment allows it)"`
	EventTypes  []string `json:"event_types" doc:"the event types to deliver (e.g. tenant.suspended), or [\"*\"] for all"`
	Description string   `json:"description,omitempty" doc:"a note for people, at most 500 bytes"`
}

// UpdateWebhookEndpointRequest changes the fields it carries (PATCH).
type UpdateWebhookEndpointRequest struct {
	URL         *string  `json:"url,omitempty" doc:"a new URL"`
	EventTypes  []string `json:"event_types,omitempty" doc:"new event types"`
	Description *string  `json:"description,omitempty" doc:"a new description"`
	Status      *string  `json:"status,omitempty" jsonschema:"enum=enabled,enum=disabled" doc:"enabled re-enables an endpoint (also one disabled after sustained failure) and forgets its failures; disabled stops deliveries"`
}

// RotateWebhookSecretRequest asks for a new signing secret (POST .../rotate-secret).
type RotateWebhookSecretRequest struct {
	OverlapSeconds *int64 `json:"overlap_seconds,omitempty" doc:"how long the previous secret keeps signing beside the new one (a second v1): 0 to 604800, default 86400"`
}

// WebhookEndpoint is a registered endpoint, without its secret.
type WebhookEndpoint struct {
	ID                  uuid.UUID  `json:"id" doc:"the endpoint's id"`
	TenantID            *uuid.UUID `json:"tenant_id" jsonschema:"nullable" doc:"the tenant whose events it receives; null for the operator's endpoints (every tenant's)"`
	URL                 string     `json:"url" doc:"where deliveries are POSTed"`
	EventTypes          []string   `json:"event_types" doc:"the event types delivered (\"*\": all)"`
	Description         string     `json:"description" doc:"a note for people"`
	Status              string     `json:"status" jsonschema:"enum=enabled,enum=disabled" doc:"enabled endpoints receive deliveries"`
	DisabledReason      *string    `json:"disabled_reason" jsonschema:"nullable" doc:"why the endpoint is disabled"`
	FailingSince        *time.Time `json:"failing_since" jsonschema:"nullable" doc:"since when every attempt has failed (null while healthy)"`
	ConsecutiveFailures int        `json:"consecutive_failures" doc:"failed attempts in a row"`
	PreviousSecretUntil *time.Time `json:"previous_secret_expires_at" jsonschema:"nullable" doc:"until when the previous secret also signs (a rotation's overlap)"`
	CreatedAt           time.Time  `json:"created_at" doc:"when it was registered; it receives events recorded from then on"`
	UpdatedAt           time.Time  `json:"updated_at" doc:"when it last changed"`
}

// WebhookEndpointCreated answers a creation or a rotation: the secret is shown only here.
type WebhookEndpointCreated struct {
	Endpoint WebhookEndpoint `json:"endpoint" doc:"the endpoint"`
	Secret   string          `json:"secret" doc:"the signing secret (whsec_...), shown only in this answer: verify Tenantry-Signature with it"`
}

// WebhookEndpointList lists an owner's endpoints (at most 16).
type WebhookEndpointList struct {
	Endpoints []WebhookEndpoint `json:"endpoints" doc:"the endpoints, oldest first"`
}

// WebhookDelivery is one event's delivery to one endpoint.
type WebhookDelivery struct {
	TenantID      uuid.UUID  `json:"tenant_id" doc:"the event's tenant"`
	Seq           int64      `json:"seq" doc:"the event's seq in its tenant's stream"`
	EventID       uuid.UUID  `json:"event_id" doc:"the event's id (the body's id)"`
	EventType     string     `json:"event_type" doc:"the event's type"`
	Status        string     `json:"status" jsonschema:"enum=pending,enum=delivered,enum=failed" doc:"pending (to be tried), delivered (a 2xx answer), failed (retries ran out)"`
	Attempts      int        `json:"attempts" doc:"attempts made"`
	NextAttemptAt *time.Time `json:"next_attempt_at" jsonschema:"nullable" doc:"when the next attempt is due (null unless pending)"`
	LastAttemptAt *time.Time `json:"last_attempt_at" jsonschema:"nullable" doc:"when the last attempt was made"`
	LastStatus    *int       `json:"last_status" jsonschema:"nullable" doc:"the last answer's HTTP status code (null: none came)"`
	LastError     *string    `json:"last_error" jsonschema:"nullable" doc:"why the last attempt failed"`
	DeliveredAt   *time.Time `json:"delivered_at" jsonschema:"nullable" doc:"when it was delivered"`
	CreatedAt     time.Time  `json:"created_at" doc:"when it was queued"`
}

// WebhookDeliveryList is a page of an endpoint's deliveries, newest first.
type WebhookDeliveryList struct {
	Page
	Deliveries []WebhookDelivery `json:"deliveries" doc:"the deliveries, newest first"`
}

// WebhookRedelivery answers POST .../deliveries/{seq}/redeliver.
type WebhookRedelivery struct {
	TenantID uuid.UUID `json:"tenant_id" doc:"the event's tenant"`
	Seq      int64     `json:"seq" doc:"the event's seq, queued again, due now, before the tenant's later deliveries to the endpoint"`
}
