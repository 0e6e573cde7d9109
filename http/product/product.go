// Package product is the HTTP half of Tenantry's extension API: a product's Gin routes,
// each with its permission row, served under the same tenant resolution (workspace path,
// subdomain, X-Tenant header or the API key), authentication, rate limits, fairness,
// Idempotency-Key handling, problem responses, request logs and metrics as Tenantry's own
// routes, and listed in /openapi.json. The data half is package domain/module.
package product

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/http/api"
)

// Product is what a team passes to Tenantry's Main (cmd/tenantry/platform): its module
// and its routes.
type Product struct {
	Module module.Module
	Routes []Route
}

// Route is one tenant-scoped endpoint of a product. It answers at Path and under
// /v1/workspaces/{workspace} (Path without its "/v1"), for a tenant API key whose role is in
// Roles; any other tenant's key gets 404. Writes are refused while the tenant is suspended
// (403) unless Billing is set; reads are allowed.
type Route struct {
	// Method is GET, POST, PUT, PATCH or DELETE.
	Method string
	// Path starts with "/v1/" and uses Gin's ":param" segments, e.g. "/v1/projects/:id".
	// It must not collide with Tenantry's routes or another product's.
	Path string
	// Roles may call the route (at least one).
	Roles []domain.Role
	// Billing allows the write while the tenant is suspended.
	Billing bool

	// OperationID (camelCase, unique), Tag (default: the module's name), Summary and
	// Description document the route in /openapi.json.
	OperationID, Tag, Summary, Description string
	// Query lists the query parameters the route reads; any other answers 400.
	Query []Param
	// PathParams documents the path's ":param" segments by Name (default: a UUID, as
	// Tenantry's own ids; a handler answers 404 for a malformed one).
	PathParams []Param
	// Body and Result are values of the request and response body types (nil for none);
	// their JSON schemas are derived from the Go types (encoding/json tags; a field without
	// omitempty is required).
	Body, Result any
	// Status is the success status (default 200; 201 for a creation, 204 for no body).
	Status int
	// Errors lists the 4xx statuses the handler itself may answer beyond the ones every
	// route may (400, 401, 403, 404, 429, ...), e.g. 409.
	Errors []int

	// Handle serves the request. The tenant, caller and role are resolved and checked
	// before it runs; it decodes with r.Bind, answers with r.JSON or r.Fail/r.Error.
	Handle func(c *gin.Context, r Request)
}

// Param is one query parameter.
type Param struct {
	Name, Description string
	// Type is "string" (default), "integer" (documented as int64) or "boolean".
	Type string
	// Format, for a string, is its JSON Schema format (e.g. "date-time", "uuid").
	Format string
	// Minimum and Maximum, for an integer, bound it (documentation; the handler checks).
	Minimum, Maximum *int64
	// Enum, when set, lists the allowed values (documentation; the handler checks).
	Enum []string
}

// MinSeq is the read-your-writes parameter: a read route that lists it in Query and calls
// Request.MinSeq waits until the module's projections include the seq a write answered.
var MinSeq = Param{Name: "min_seq", Type: "integer", Minimum: new(int64),
	Description: "wait (up to a few seconds) until the read models this route reads include this tenant seq (a write's answer carries it); beyond the tenant's last seq: 400 at once"}

// FieldError names one invalid input in a problem (Request.Problem).
type FieldError = api.FieldError

// Request is what a product's handler knows about the call, and its ways to answer. It is
// implemented by Tenantry's server; handlers only use it.
type Request interface {
	// Tenant is the tenant the request is for.
	Tenant() uuid.UUID
	// Member and Role are the caller's (the API key's member and role).
	Member() uuid.UUID
	Role() domain.Role
	// Metadata is what events the request causes carry (actor, request id).
	Metadata() domain.Metadata
	// Events is the event store scoped to the module (module.Module.Scoped). Calling it
	// gives up the request's turn among its tenant's requests (the request now waits on
	// the database), as Tenantry's own handlers do before they write.
	Events() module.EventStore
	// Read runs fn in a read-only transaction in the tenant's schema (tenant context and
	// search_path set, row-level security in force).
	Read(ctx context.Context, fn func(module.Tx) error) error
	// Settle waits (bounded) until the module's projections include seq, so that a read
	// after this write sees it (read-your-writes). A timeout is not an error of the write:
	// Settle returns context.DeadlineExceeded after the server's settle timeout and the
	// handler decides (the events stand; answering the write anyway is usual), and an
	// error at once when one of the projections is stopped (r.Error answers it as 503).
	Settle(ctx context.Context, seq int64) error
	// Bind decodes the JSON body into v strictly (unknown fields, trailing data, a key
	// given twice in one object and a missing body answer 400); false means a problem was
	// answered.
	Bind(v any) bool
	// JSON answers status with v as the JSON body.
	JSON(status int, v any)
	// Fail answers an RFC 9457 problem: status, a short kebab-case code, and a detail.
	Fail(status int, code, detail string)
	// Error answers err: domain errors by their code (domain.Invalid: 422 or 400,
	// not found: 404, conflicts and lost races: 409, ...), anything else as a logged 500.
	Error(err error)

	// Plan is the tenant's plan (for plan-dependent limits).
	Plan() domain.PlanName
	// NewID is the id of an object the request creates: under an Idempotency-Key it is
	// derived from the tenant, the caller, what and the key, so a request run again after
	// its first answer was lost meets the first run's object; otherwise a fresh UUIDv7.
	NewID(what string) uuid.UUID
	// MinSeq honours the route's ?min_seq= (list MinSeq in Route.Query): it waits, bounded,
	// until the module's projections include it. False means a problem was answered (400
	// beyond the tenant's last seq, 503 for a stopped projection).
	MinSeq() bool
	// Problem answers like Fail, listing the invalid inputs.
	Problem(status int, code, detail string, errs ...FieldError)
	// Logger is the request's logger (request id and tenant id attached).
	Logger() *slog.Logger
}

// Methods a route may use.
var Methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
