// Package api holds the request and response bodies of Tenantry's HTTP API: the handlers
// answer these types and the OpenAPI document (/openapi.json) is derived from them, so the
// two cannot drift. It imports neither Gin nor pgx, so a Go client can import it.
//
// JSON tags decide what the document requires: a field without omitempty is always sent
// (required); a nullable field is a pointer tagged jsonschema:"nullable" and is always sent,
// as null when it has no value. The doc tag is the property's description in the document.
// A role or plan field is tagged jsonschema_extras:"x-domain-enum=role" (or plan): the
// document lists the domain's own values (domain.Roles, domain.PlanNames), written once.
package api

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// ProblemBase prefixes every problem type: the type of a suspended tenant's refusal is
// ProblemBase + "tenant-suspended".
const ProblemBase = "https://tenantry.dev/problems/"

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type      string         `json:"type" jsonschema:"format=uri" doc:"the problem type, a URI under https://tenantry.dev/problems/ (e.g. .../tenant-suspended); its last segment names the kind"`
	Title     string         `json:"title" doc:"a short summary of the problem type (the same for every problem of the type)"`
	Status    int            `json:"status" doc:"the HTTP status code of this answer"`
	Detail    string         `json:"detail,omitempty" doc:"what went wrong with this request, for a human"`
	Instance  string         `json:"instance,omitempty" doc:"the request's path"`
	RequestID string         `json:"request_id,omitempty" doc:"the request's id (X-Request-ID); quote it when reporting a problem"`
	Errors    []FieldError   `json:"errors,omitempty" jsonschema:"maxItems=101" doc:"every invalid field (at most 100; a usage batch with more adds one entry, field \"records\", counting the rest)"`
	Quota     *QuotaExceeded `json:"quota,omitempty" doc:"the hard quota a quota-exceeded problem refused usage for"`
}

// QuotaExceeded names the hard quota that refused usage (problem type quota-exceeded).
type QuotaExceeded struct {
	Metric      string    `json:"metric" doc:"the metric"`
	Quota       string    `json:"quota" doc:"the plan's hard quota of the metric per period (a decimal, as text)"`
	Used        string    `json:"used,omitempty" doc:"the period's usage before the refused records (counters; a decimal, as text)"`
	Reading     string    `json:"reading,omitempty" doc:"the refused reading (gauges: the quota bounds each reading)"`
	PeriodStart time.Time `json:"period_start" doc:"the quota period's start (a calendar month in UTC)"`
	PeriodEnd   time.Time `json:"period_end" doc:"the quota period's end, when the next period starts afresh"`
}

// FieldError names one bad input.
type FieldError struct {
	Field   string `json:"field" doc:"the field, query parameter or header, e.g. slug or records[3].quantity"`
	Message string `json:"message" doc:"what is wrong with it"`
}

// Status is the answer of the health checks.
type Status struct {
	Status string `json:"status" jsonschema:"enum=ok,enum=ready" doc:"ok (live) or ready (the database answers)"`
}

// Tenant is a tenant's summary, as writes answer it.
type Tenant struct {
	ID          uuid.UUID  `json:"id" doc:"the tenant's id"`
	Name        string     `json:"name" doc:"display name"`
	Slug        string     `json:"slug" doc:"the tenant's unique slug: lowercase letters, digits and dashes"`
	Plan        string     `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the tenant's plan"`
	PlanVersion int        `json:"plan_version" doc:"the version of the plan the tenant is on (a new version of a plan leaves its tenants on theirs)"`
	Interval    string     `json:"interval" jsonschema:"enum=monthly,enum=yearly" doc:"the billing interval"`
	TrialEndsAt *time.Time `json:"trial_ends_at,omitempty" doc:"when the trial the tenant started with ends (absent: no trial)"`
	Status      string     `json:"status" jsonschema:"enum=active,enum=past_due,enum=suspended,enum=closed" doc:"lifecycle status"`
}

// Profile is the tenant as GET /v1/tenant answers it.
type Profile struct {
	ID            uuid.UUID  `json:"id" doc:"the tenant's id"`
	Name          string     `json:"name" doc:"display name"`
	Slug          string     `json:"slug" doc:"the tenant's unique slug"`
	Plan          string     `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the tenant's plan"`
	PlanVersion   int        `json:"plan_version" doc:"the version of the plan the tenant is on (a new version of a plan leaves its tenants on theirs)"`
	Interval      string     `json:"interval" jsonschema:"enum=monthly,enum=yearly" doc:"the billing interval"`
	TrialEndsAt   *time.Time `json:"trial_ends_at,omitempty" doc:"when the trial the tenant started with ends (absent: no trial)"`
	Status        string     `json:"status" jsonschema:"enum=active,enum=past_due,enum=suspended,enum=closed" doc:"lifecycle status"`
	SuspendReason string     `json:"suspend_reason,omitempty" jsonschema:"enum=payment_failed,enum=operator,enum=terms_violation,enum=subscription_canceled" doc:"why the tenant is suspended (only while suspended)"`
	SuspendNote   string     `json:"suspend_note,omitempty" doc:"the operator's note on the suspension (only while suspended, when one was given)"`
	CreatedAt     time.Time  `json:"created_at" doc:"when the tenant was created"`
	UpdatedAt     time.Time  `json:"updated_at" doc:"when the tenant last changed"`
}

// Member is a member as GET /v1/members lists it.
type Member struct {
	ID       uuid.UUID `json:"id" doc:"the member's id"`
	Email    string    `json:"email" jsonschema:"format=email" doc:"the member's email address"`
	Role     string    `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the member's role"`
	JoinedAt time.Time `json:"joined_at" doc:"when the member joined"`
}

// MemberSummary is a member as writes answer it (and as GET /v1/audit/state replays it).
type MemberSummary struct {
	ID    uuid.UUID `json:"id" doc:"the member's id"`
	Email string    `json:"email" jsonschema:"format=email" doc:"the member's email address"`
	Role  string    `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the member's role"`
}

// Invitation is an invitation, never with its token.
type Invitation struct {
	ID        uuid.UUID `json:"id" doc:"the invitation's id"`
	Email     string    `json:"email" jsonschema:"format=email" doc:"the invitee's email address"`
	Role      string    `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the role the invitee gets"`
	InvitedBy uuid.UUID `json:"invited_by" doc:"the id of the member who invited"`
	ExpiresAt time.Time `json:"expires_at" doc:"after this the invitation can no longer be accepted"`
	Status    string    `json:"status" jsonschema:"enum=pending,enum=accepted,enum=revoked" doc:"pending until accepted or revoked"`
}

// NewAPIKey is an API key with its secret, answered once, when it is created.
type NewAPIKey struct {
	ID       uuid.UUID `json:"id" doc:"the key's id"`
	Key      string    `json:"key" doc:"the secret, shown only in this answer: send it as Authorization: Bearer <key>"`
	Prefix   string    `json:"prefix" doc:"the key's public lookup prefix (shown in lists)"`
	Role     string    `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the key's role (at most its member's)"`
	MemberID uuid.UUID `json:"member_id" doc:"the member the key acts for"`
	Name     string    `json:"name" doc:"the key's name (may be empty)"`
}

// APIKey is an API key as listed, without its secret.
type APIKey struct {
	ID        uuid.UUID  `json:"id" doc:"the key's id"`
	Name      string     `json:"name" doc:"the key's name (may be empty)"`
	Prefix    string     `json:"prefix" doc:"the key's public lookup prefix"`
	Role      string     `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the key's role"`
	MemberID  uuid.UUID  `json:"member_id" doc:"the member the key acts for"`
	CreatedAt time.Time  `json:"created_at" doc:"when the key was created"`
	RevokedAt *time.Time `json:"revoked_at,omitempty" doc:"when the key was revoked (absent while it works)"`
}

// CreateTenantRequest is the body of POST /v1/tenants.
type CreateTenantRequest struct {
	Name       string `json:"name" doc:"display name"`
	Slug       string `json:"slug" doc:"unique slug: lowercase letters, digits and dashes"`
	Plan       string `json:"plan,omitempty" jsonschema_extras:"x-domain-enum=plan" doc:"the plan's key in the catalog (default free); the tenant joins its current version"`
	Interval   string `json:"interval,omitempty" jsonschema:"enum=monthly,enum=yearly" doc:"the billing interval (default monthly); the plan must be sold at it"`
	AdminEmail string `json:"admin_email" jsonschema:"format=email" doc:"the first admin's email address"`
}

// TenantCreated is the answer of POST /v1/tenants.
type TenantCreated struct {
	Admin  MemberSummary `json:"admin" doc:"the tenant's first admin"`
	APIKey NewAPIKey     `json:"api_key" doc:"the admin's API key, with its secret (shown once)"`
	Seq    int64         `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
	Tenant Tenant        `json:"tenant" doc:"the new tenant"`
}

// UpdateTenantRequest is the body of PATCH /v1/tenant.
type UpdateTenantRequest struct {
	Name *string `json:"name" doc:"the new display name"`
}

// ChangePlanRequest is the body of PUT /v1/tenant/plan.
type ChangePlanRequest struct {
	Plan     string `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the plan's key in the catalog; the tenant moves to its current version"`
	Interval string `json:"interval,omitempty" jsonschema:"enum=monthly,enum=yearly" doc:"the billing interval (default monthly); the plan must be sold at it"`
}

// TenantChange answers a write to a tenant's profile or lifecycle.
type TenantChange struct {
	Tenant Tenant `json:"tenant" doc:"the tenant after the change"`
	Seq    int64  `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// Page is the paging part of every list: pass next_cursor as ?cursor= for the next page.
// It is embedded in each list answer.
type Page struct {
	NextCursor *string `json:"next_cursor" jsonschema:"nullable" doc:"pass as cursor to get the next page; null on the last page"`
	HasMore    bool    `json:"has_more" doc:"whether a next page exists"`
}

// MemberList is the answer of GET /v1/members.
type MemberList struct {
	Members []Member `json:"members" doc:"the tenant's members, by id"`
	Page
}

// InviteRequest is the body of POST /v1/members.
type InviteRequest struct {
	Email string `json:"email" jsonschema:"format=email" doc:"the invitee's email address"`
	Role  string `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the role the invitee gets"`
}

// MemberInvited is the answer of POST /v1/members.
type MemberInvited struct {
	Invitation Invitation `json:"invitation" doc:"the new invitation"`
	Token      string     `json:"token" doc:"the invitation token, shown once: pass it to the invitee, who accepts with it"`
	Seq        int64      `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// UpdateMemberRequest is the body of PATCH /v1/members/{id}.
type UpdateMemberRequest struct {
	Role string `json:"role" jsonschema_extras:"x-domain-enum=role" doc:"the member's new role"`
}

// MemberChange answers PATCH /v1/members/{id}.
type MemberChange struct {
	Member MemberSummary `json:"member" doc:"the member after the change"`
	Seq    int64         `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// MemberRemoved answers DELETE /v1/members/{id}.
type MemberRemoved struct {
	Removed uuid.UUID `json:"removed" doc:"the removed member's id"`
	Seq     int64     `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// InvitationList is the answer of GET /v1/invitations.
type InvitationList struct {
	Invitations []Invitation `json:"invitations" doc:"invitations that can still be accepted, by id"`
	Page
}

// AcceptInvitationRequest is the body of POST /v1/invitations/accept.
type AcceptInvitationRequest struct {
	Token string `json:"token" doc:"the invitation token the inviting admin passed on"`
}

// InvitationAccepted is the answer of POST /v1/invitations/accept.
type InvitationAccepted struct {
	Member MemberSummary `json:"member" doc:"the new member"`
	APIKey NewAPIKey     `json:"api_key" doc:"the new member's API key, with its secret (shown once)"`
	Seq    int64         `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// APIKeyList is the answer of GET /v1/api-keys.
type APIKeyList struct {
	APIKeys []APIKey `json:"api_keys" doc:"the tenant's API keys, revoked ones included, without secrets"`
	Page
}

// CreateAPIKeyRequest is the body of POST /v1/api-keys.
type CreateAPIKeyRequest struct {
	Name     string     `json:"name,omitempty" doc:"a name for the key"`
	Role     string     `json:"role,omitempty" jsonschema_extras:"x-domain-enum=role" doc:"the key's role (default: its member's role; at most that)"`
	MemberID *uuid.UUID `json:"member_id,omitempty" doc:"the member the key acts for (default: the caller's member)"`
}

// APIKeyCreated is the answer of POST /v1/api-keys.
type APIKeyCreated struct {
	APIKey NewAPIKey `json:"api_key" doc:"the new key, with its secret (shown once)"`
	Seq    int64     `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// APIKeyRevoked answers DELETE /v1/api-keys/{id}.
type APIKeyRevoked struct {
	Revoked uuid.UUID `json:"revoked" doc:"the revoked key's id"`
	Seq     int64     `json:"seq" doc:"the tenant's event sequence number this write reached; pass it as min_seq to read your write"`
}

// UsageRecord is one usage record of POST /v1/usage.
type UsageRecord struct {
	Metric         string      `json:"metric" doc:"metric name, e.g. api_calls"`
	Quantity       json.Number `json:"quantity" jsonschema:"exclusiveMinimum=0,maximum=1000000000000" doc:"how much was used: a positive whole number, or, for a metric declared with decimal places, a decimal of at most that many places (1.25), written as plain digits"`
	OccurredAt     *time.Time  `json:"occurred_at,omitempty" doc:"when it happened (default: now)"`
	IdempotencyKey string      `json:"idempotency_key" doc:"unique per record: a repeated key is counted once"`
}

// UsageBatch is the batch form of POST /v1/usage.
type UsageBatch struct {
	Records []UsageRecord `json:"records" jsonschema:"minItems=1,maxItems=1000" doc:"1 to 1,000 usage records"`
}

// UsageRequest is the body of POST /v1/usage: one UsageRecord or a UsageBatch.
type UsageRequest struct{}

// UsageRecorded is the answer of POST /v1/usage.
type UsageRecorded struct {
	Accepted   int   `json:"accepted" doc:"records counted now"`
	Duplicates int   `json:"duplicates" doc:"records whose idempotency key was seen before (counted once, earlier)"`
	Seq        int64 `json:"seq" doc:"the newest event holding this request's records (a duplicate's is the event that recorded it first, never 0); pass it as min_seq"`
}

// Usage is the answer of GET /v1/usage.
type Usage struct {
	Granularity string        `json:"granularity" jsonschema:"enum=hour,enum=day" doc:"the buckets' size"`
	From        time.Time     `json:"from" doc:"the range's start"`
	To          time.Time     `json:"to" doc:"the range's end (exclusive)"`
	Series      []UsageSeries `json:"series" doc:"one series per metric with usage in the range, by metric"`
}

// UsageSeries is one metric's series. A gauge's series also names its aggregation and
// its value over the range by it (a counter's value is its total).
type UsageSeries struct {
	Metric      string        `json:"metric" doc:"the metric"`
	Points      []UsagePoint  `json:"points" doc:"the buckets with usage, by start"`
	Total       ExactDecimal  `json:"total" doc:"the series' total (the sum of its records; for a gauge, of its readings)"`
	Aggregation string        `json:"aggregation,omitempty" jsonschema:"enum=max,enum=last" doc:"a gauge's aggregation: its billed value is its highest reading (max) or its last one by occurred_at (last); absent for counters"`
	Value       *ExactDecimal `json:"value,omitempty" doc:"a gauge's value over the range by its aggregation; absent for counters (their value is total)"`
}

// UsagePoint is one bucket of a usage series.
type UsagePoint struct {
	Start    time.Time     `json:"start" doc:"the bucket's start"`
	Quantity ExactDecimal  `json:"quantity" doc:"the bucket's total"`
	Max      *ExactDecimal `json:"max,omitempty" doc:"a gauge's highest reading in the bucket"`
	Last     *ExactDecimal `json:"last,omitempty" doc:"a gauge's last reading in the bucket (by occurred_at)"`
	LastAt   *time.Time    `json:"last_at,omitempty" doc:"when a gauge's last reading in the bucket occurred"`
}

// Billing is the answer of GET /v1/billing.
type Billing struct {
	Plan         string        `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the tenant's plan"`
	TenantStatus string        `json:"tenant_status" jsonschema:"enum=active,enum=past_due,enum=suspended,enum=closed" doc:"the tenant's lifecycle status"`
	Billing      BillingState  `json:"billing" doc:"the tenant's link to Stripe"`
	Cutoff       time.Time     `json:"cutoff" doc:"usage windows that ended by this time are due to be reported"`
	Usage        []BillingLine `json:"usage" doc:"recorded against reported usage, per metric and month"`
}

// BillingState is a tenant's link to Stripe.
type BillingState struct {
	StripeCustomerID     string     `json:"stripe_customer_id,omitempty" doc:"the Stripe customer (absent until created)"`
	StripeSubscriptionID string     `json:"stripe_subscription_id,omitempty" doc:"the Stripe subscription (absent until created)"`
	Status               string     `json:"status" doc:"the subscription's status as Stripe last reported it (e.g. none, active, past_due, canceled)"`
	PastDueSince         *time.Time `json:"past_due_since,omitempty" doc:"when payment first failed (only while past due)"`
	GraceEndsAt          *time.Time `json:"grace_ends_at,omitempty" doc:"when a past-due tenant is suspended (only while past due)"`
}

// BillingLine is a reconciliation line: the sums are exact integers of any size.
type BillingLine struct {
	Metric            string       `json:"metric" doc:"the metric"`
	Period            time.Time    `json:"period" doc:"the month's start (RFC 3339)"`
	Recorded          ExactDecimal `json:"recorded" doc:"usage in windows that ended by the cutoff"`
	Reported          ExactDecimal `json:"reported" doc:"usage Stripe confirmed"`
	Difference        ExactDecimal `json:"difference" doc:"recorded minus reported; 0 after a completed cycle"`
	UnreportedWindows int64        `json:"unreported_windows" doc:"due windows not yet reported to Stripe"`
	InProgress        ExactDecimal `json:"in_progress" doc:"usage in windows not yet due"`
}

// AuditEvent is an event line of GET /v1/audit/events (AUDIT.md, "Event lines").
type AuditEvent struct {
	TenantID      uuid.UUID      `json:"tenant_id" doc:"the tenant's id"`
	Seq           int64          `json:"seq" doc:"the event's sequence number in the tenant's chain, from 1"`
	EventID       uuid.UUID      `json:"event_id" doc:"the event's id"`
	StreamID      string         `json:"stream_id" doc:"the stream (aggregate) the event belongs to"`
	StreamVersion int64          `json:"stream_version" doc:"the event's version in its stream"`
	Type          string         `json:"type" doc:"the event type, e.g. tenant.created"`
	SchemaVersion int            `json:"schema_version" doc:"the version of the event type's data schema"`
	RecordedAt    time.Time      `json:"recorded_at" doc:"when the event was stored"`
	PrevHash      string         `json:"prev_hash" jsonschema:"pattern=^[0-9a-f]{64}$" doc:"the previous event's hash (zeros for seq 1), hex"`
	Hash          string         `json:"hash" jsonschema:"pattern=^[0-9a-f]{64}$" doc:"this event's chain hash, hex"`
	Data          map[string]any `json:"data" doc:"the event's data, as stored"`
	Metadata      map[string]any `json:"metadata" doc:"the event's metadata (actor, request and correlation ids), as stored"`
}

// AuditHeadLine is the last line of the export page that reaches the tenant's head.
type AuditHeadLine struct {
	Head AuditHead `json:"head" doc:"the tenant's chain head as of the export"`
}

// AuditHead is a tenant's chain head, signed when the server has a signing key.
type AuditHead struct {
	TenantID  uuid.UUID `json:"tenant_id" doc:"the tenant's id"`
	Seq       int64     `json:"seq" doc:"the head's seq (the last event's)"`
	Hash      string    `json:"hash" doc:"the last event's hash, hex"`
	SignedAt  time.Time `json:"signed_at" doc:"when the head was signed (the zero time when unsigned)"`
	KeyID     string    `json:"key_id" doc:"the signing key's id (empty when unsigned)"`
	Signature string    `json:"signature" doc:"the Ed25519 signature, base64 (empty when unsigned)"`
}

// AuditLine is one line of GET /v1/audit/events: an AuditEvent or the AuditHeadLine.
type AuditLine struct{}

// ChainReport is the answer of GET /v1/audit/verify.
type ChainReport struct {
	TenantID    uuid.UUID `json:"tenant_id" doc:"the tenant's id"`
	Events      int64     `json:"events_checked" doc:"how many events were re-hashed"`
	HeadSeq     int64     `json:"head_seq" doc:"the tenant's head seq"`
	HeadHash    string    `json:"head_hash" doc:"the tenant's head hash, hex"`
	OK          bool      `json:"ok" doc:"whether the whole chain verified"`
	FirstBadSeq int64     `json:"first_bad_seq,omitempty" doc:"the first seq that failed (only when not ok)"`
	Problem     string    `json:"problem,omitempty" doc:"why it failed (only when not ok)"`
	Detail      string    `json:"detail,omitempty" doc:"details of the failure (only when not ok)"`
	FullCheckAt time.Time `json:"full_check_at" doc:"when the whole chain was last re-hashed (later answers re-hash only the events after it)"`
}

// AuditState is the answer of GET /v1/audit/state.
type AuditState struct {
	AsOf        time.Time               `json:"as_of" doc:"the instant the state is replayed to"`
	Seq         int64                   `json:"seq" doc:"the last event at or before as_of (0 when none)"`
	Tenant      *Tenant                 `json:"tenant" jsonschema:"nullable" doc:"the tenant as of as_of; null before it was created"`
	Members     []MemberSummary         `json:"members" doc:"the members as of as_of"`
	UsageTotals map[string]ExactDecimal `json:"usage_totals" doc:"each metric's total over the tenant's history up to as_of"`
	Modules     map[string]any          `json:"modules,omitempty" doc:"each product module's own replayed state, by module name (modules that declare one; absent when none does)"`
}

// TenantEntry is a tenant in the operator's directory.
type TenantEntry struct {
	ID               uuid.UUID  `json:"id" doc:"the tenant's id"`
	Slug             string     `json:"slug" doc:"the tenant's slug"`
	Name             string     `json:"name" doc:"display name"`
	Status           string     `json:"status" jsonschema:"enum=active,enum=past_due,enum=suspended,enum=closed" doc:"lifecycle status"`
	Plan             string     `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the tenant's plan"`
	PlanVersion      int        `json:"plan_version" doc:"the version of the plan the tenant is on (a new version of a plan leaves its tenants on theirs)"`
	Interval         string     `json:"interval" jsonschema:"enum=monthly,enum=yearly" doc:"the billing interval"`
	TrialEndsAt      *time.Time `json:"trial_ends_at,omitempty" doc:"when the trial the tenant started with ends (absent: no trial)"`
	Schema           string     `json:"schema" doc:"the tenant's PostgreSQL schema"`
	StripeCustomerID string     `json:"stripe_customer_id,omitempty" doc:"the Stripe customer (absent until created)"`
	CreatedAt        time.Time  `json:"created_at" doc:"when the tenant was created"`
}

// TenantList is the answer of GET /v1/admin/tenants.
type TenantList struct {
	Tenants []TenantEntry `json:"tenants" doc:"the tenants, by id"`
	Page
}

// SuspendRequest is the (optional) body of POST /v1/admin/tenants/{id}/suspend.
type SuspendRequest struct {
	Reason string `json:"reason,omitempty" jsonschema:"enum=payment_failed,enum=operator,enum=terms_violation,enum=subscription_canceled" doc:"why (default operator)"`
	Note   string `json:"note,omitempty" doc:"a note for the record"`
}

// CloseRequest is the (optional) body of POST /v1/admin/tenants/{id}/close.
type CloseRequest struct {
	Note string `json:"note,omitempty" doc:"a note for the record"`
}

// ReactivateRequest is the (optional, empty) body of POST /v1/admin/tenants/{id}/reactivate.
type ReactivateRequest struct{}

// StripeEvent is a Stripe event delivery (https://docs.stripe.com/api/events/object); its
// signature, not its shape, is what the API checks.
type StripeEvent map[string]any

// WebhookReceipt is the answer of POST /v1/webhooks/stripe.
type WebhookReceipt struct {
	Received  bool   `json:"received" doc:"always true: the delivery was verified and handled"`
	ID        string `json:"id" doc:"the Stripe event's id"`
	Type      string `json:"type" doc:"the Stripe event's type"`
	Outcome   string `json:"outcome,omitempty" jsonschema:"enum=applied,enum=no_change,enum=stale,enum=ignored" doc:"what the delivery did (absent for a duplicate: the first delivery's outcome stands)"`
	Reason    string `json:"reason,omitempty" jsonschema:"enum=customer_not_linked,enum=subscription_not_linked,enum=type_not_handled" doc:"why an ignored delivery changed nothing"`
	Duplicate bool   `json:"duplicate" doc:"whether this event was delivered before"`
	Seq       int64  `json:"seq" doc:"the tenant's seq after recording the delivery (0 when nothing was recorded)"`
}

// ExactInt is an integer of any size in an answer: a JSON number while every JSON parser
// reads it exactly (at most 2^53-1 either way, I-JSON, RFC 7493), otherwise a JSON string
// of its decimal digits, which no parser rounds. Usage totals have no bound, and a
// JavaScript client would silently read 2^53+1 as 2^53. The zero value is 0.
type ExactInt struct{ v *big.Int }

// MaxSafeJSONInt is 2^53-1, the largest integer a double holds with all its neighbours.
const MaxSafeJSONInt = 1<<53 - 1

var (
	safeMax = big.NewInt(MaxSafeJSONInt)
	safeMin = big.NewInt(-MaxSafeJSONInt)
)

// Exact is v as an ExactInt (nil is 0).
func Exact(v *big.Int) ExactInt { return ExactInt{v: v} }

// Big is e's value (never nil).
func (e ExactInt) Big() *big.Int {
	if e.v == nil {
		return new(big.Int)
	}
	return e.v
}

// MarshalJSON writes a number or a string of digits (see ExactInt); nil is 0.
func (e ExactInt) MarshalJSON() ([]byte, error) {
	if e.v == nil {
		return []byte("0"), nil
	}
	if e.v.Cmp(safeMax) <= 0 && e.v.Cmp(safeMin) >= 0 {
		return strconv.AppendInt(nil, e.v.Int64(), 10), nil
	}
	return strconv.AppendQuote(nil, e.v.String()), nil
}

// UnmarshalJSON reads a JSON number or a string of decimal digits.
func (e *ExactInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("api: %q is not an exact integer", b)
	}
	e.v = v
	return nil
}

// IntrospectionRequest is the body of POST /v1/introspect.
type IntrospectionRequest struct {
	Token   string   `json:"token" doc:"the tenant API key to introspect, as its holder presents it"`
	Include []string `json:"include,omitempty" jsonschema:"maxItems=1,uniqueItems=true" doc:"more to answer for an active key: \"entitlements\" adds the tenant's entitlements (as GET /v1/entitlements answers them)"`
}

// Introspection is the answer of POST /v1/introspect (as OAuth's RFC 7662): active is
// false for anything that is not a usable API key, without saying why, and the other
// fields are then absent.
type Introspection struct {
	Active   bool                   `json:"active" doc:"whether the key is an API key Tenantry's own API would accept now (for reads at least: see tenant.status)"`
	Tenant   *IntrospectedTenant    `json:"tenant,omitempty" doc:"the key's tenant (active keys only)"`
	Member   *IntrospectedMember    `json:"member,omitempty" doc:"the member the key acts for (active keys only)"`
	Role     string                 `json:"role,omitempty" jsonschema_extras:"x-domain-enum=role" doc:"the key's role (active keys only)"`
	KeyID    *uuid.UUID             `json:"key_id,omitempty" doc:"the key's id (active keys only)"`
	Limits   *IntrospectedPlanLimit `json:"limits,omitempty" doc:"the limits of the tenant's plan as Tenantry's API enforces them (active keys only)"`
	Features map[string]bool        `json:"features,omitempty" doc:"the features of the tenant's plan version, on (true) or off (false), by name, as the plan catalog defines them (active keys only; absent when the version defines none)"`
	// Entitlements is answered only when asked for (include), so the plain answer stays as cheap.
	Entitlements *Entitlements `json:"entitlements,omitempty" doc:"the tenant's entitlements: features, and per metered metric quota, usage, remaining (active keys, when include names \"entitlements\")"`
}

// IntrospectedTenant is an active key's tenant.
type IntrospectedTenant struct {
	ID          uuid.UUID `json:"id" doc:"the tenant's id"`
	Slug        string    `json:"slug" doc:"the tenant's slug"`
	Status      string    `json:"status" jsonschema:"enum=active,enum=past_due,enum=suspended" doc:"lifecycle status: while suspended Tenantry's own API serves reads and billing writes only, and a product should do the same"`
	Plan        string    `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the tenant's plan"`
	PlanVersion int       `json:"plan_version" doc:"the version of the plan the tenant is on (a version never changes under a tenant; moving tenants to a newer one is an operator action)"`
}

// IntrospectedMember is the member an active key acts for.
type IntrospectedMember struct {
	ID uuid.UUID `json:"id" doc:"the member's id"`
}

// IntrospectedPlanLimit is a plan's limits.
type IntrospectedPlanLimit struct {
	Seats             int     `json:"seats" doc:"members plus pending invitations the tenant may have"`
	RequestsPerSecond float64 `json:"requests_per_second" doc:"the tenant's sustained request rate on Tenantry's API"`
	Burst             int     `json:"burst" doc:"requests the tenant may make at once beyond the sustained rate"`
}

// FeedEvent is one event of GET /v1/events.
type FeedEvent struct {
	Seq           int64           `json:"seq" doc:"the event's sequence number in the tenant, from 1, dense"`
	ID            uuid.UUID       `json:"id" doc:"the event's id (unique in the tenant)"`
	Type          string          `json:"type" doc:"the event type, e.g. tenant.suspended"`
	SchemaVersion int             `json:"schema_version" doc:"the version of the event type's data schema"`
	StreamID      string          `json:"stream_id" doc:"the stream (aggregate) the event belongs to"`
	StreamVersion int64           `json:"stream_version" doc:"the event's version in its stream"`
	RecordedAt    time.Time       `json:"recorded_at" doc:"when the event was stored"`
	Data          json.RawMessage `json:"data" doc:"the event's data, as stored"`
	Metadata      json.RawMessage `json:"metadata" doc:"the event's metadata (actor, request and correlation ids), as stored"`
}

// EventList is the answer of GET /v1/events. Unlike other lists, its next_cursor is set
// on the last page too (once the tenant has events): a feed reader keeps it to wait for
// the next events (wait=).
type EventList struct {
	Items      []FeedEvent `json:"items" doc:"the tenant's events after the cursor, in seq order"`
	NextCursor *string     `json:"next_cursor" jsonschema:"nullable" doc:"pass as cursor for the events after this page, on the last page too (to wait for new ones); the request's own cursor when the page is empty, null only when the tenant has no events and no cursor was given"`
	HasMore    bool        `json:"has_more" doc:"whether events after this page are already recorded"`
}
