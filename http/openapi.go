package httpapi

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// op documents one route for the OpenAPI document.
type op struct {
	summary string
	query   []param
	body    schema // request body (JSON), if any
	status  int    // success status (default 200)
	result  schema // success body
	media   string // success media type (default application/json)
}

type param struct {
	name, desc string
	schema     schema
	required   bool
}

type schema = map[string]any

func str(desc string) schema { return schema{"type": "string", "description": desc} }
func strf(format, desc string) schema {
	return schema{"type": "string", "format": format, "description": desc}
}
func integer(desc string) schema {
	return schema{"type": "integer", "format": "int64", "description": desc}
}

// exactIntS is an exactInt: an integer up to 2^53-1 either way, else a string of digits.
func exactIntS(desc string) schema {
	return schema{"description": desc + " (an exact integer: a JSON number up to 2^53-1 either way, beyond it a string of decimal digits)",
		"oneOf": []schema{{"type": "integer", "minimum": -maxSafeJSONInt, "maximum": maxSafeJSONInt}, {"type": "string", "pattern": "^-?[0-9]+$"}}}
}
func enum(desc string, values ...string) schema {
	return schema{"type": "string", "enum": values, "description": desc}
}
func array(items schema) schema { return schema{"type": "array", "items": items} }
func obj(required []string, props schema) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
func ref(name string) schema { return schema{"$ref": "#/components/schemas/" + name} }

var (
	uuidS   = strf("uuid", "")
	timeS   = strf("date-time", "")
	seqS    = integer("the tenant's event sequence number this write reached; pass it as min_seq to read your write")
	roleS   = enum("a member role", "admin", "editor", "viewer", "billing_manager", "auditor")
	planS   = enum("a plan", "free", "pro", "enterprise")
	cursorP = param{name: "cursor", desc: "the next_cursor of the previous page (opaque; default: the first page)", schema: str("")}
	limitP  = param{name: "limit", desc: "1 to 1000 (default 100)", schema: integer("")}
	// nextCursorS and hasMoreS close every paged answer: both always present.
	nextCursorS = schema{"type": []string{"string", "null"}, "description": "pass as cursor for the next page; null when there is none"}
	hasMoreS    = schema{"type": "boolean", "description": "whether another page follows"}
	minSeqP     = param{name: "min_seq", desc: "wait (up to a few seconds) until the read models this route reads include this tenant seq; beyond the tenant's last seq: 400 at once", schema: integer("")}
)

var components = schema{
	"Problem": obj([]string{"type", "title", "status"}, schema{
		"type": strf("uri", "problem type, e.g. "+ProblemBase+"tenant-suspended"), "title": str(""), "status": integer(""),
		"detail": str(""), "instance": str(""), "request_id": str(""),
		"errors": schema{"type": "array", "maxItems": MaxFieldErrors + 1,
			"description": "every invalid field (at most 100; a usage batch with more adds one entry, field \"records\", counting the rest)",
			"items":       obj([]string{"field", "message"}, schema{"field": str(""), "message": str("")})},
	}),
	"Tenant":     obj(nil, schema{"id": uuidS, "name": str(""), "slug": str(""), "plan": planS, "status": enum("", "active", "past_due", "suspended", "closed")}),
	"Profile":    obj(nil, schema{"id": uuidS, "name": str(""), "slug": str(""), "plan": planS, "status": str(""), "suspend_reason": str(""), "suspend_note": str(""), "created_at": timeS, "updated_at": timeS}),
	"Member":     obj(nil, schema{"id": uuidS, "email": strf("email", ""), "role": roleS, "joined_at": timeS}),
	"Invitation": obj(nil, schema{"id": uuidS, "email": strf("email", ""), "role": roleS, "invited_by": uuidS, "expires_at": timeS, "status": str("")}),
	"NewAPIKey": obj(nil, schema{"id": uuidS, "key": str("the secret, shown only in this answer"), "prefix": str("public lookup prefix"),
		"role": roleS, "member_id": uuidS, "name": str("")}),
	"APIKey": obj(nil, schema{"id": uuidS, "name": str(""), "prefix": str(""), "role": roleS, "member_id": uuidS, "created_at": timeS, "revoked_at": timeS}),
	"UsageRecord": obj([]string{"metric", "quantity", "idempotency_key"}, schema{
		"metric": str("metric name, e.g. api_calls"), "quantity": integer("a positive integer"),
		"occurred_at": strf("date-time", "when it happened (default: now)"), "idempotency_key": str("unique per record; a repeated key is counted once")}),
	"TenantEntry": obj(nil, schema{"id": uuidS, "slug": str(""), "name": str(""), "status": str(""), "plan": planS, "schema": str(""), "stripe_customer_id": str(""), "created_at": timeS}),
	"ChainReport": obj(nil, schema{"tenant_id": uuidS, "events_checked": integer(""), "head_seq": integer(""), "head_hash": str(""), "ok": schema{"type": "boolean"},
		"first_bad_seq": integer(""), "problem": str(""), "detail": str("")}),
}

var tenantWrite = func(extra schema) schema {
	props := schema{"tenant": ref("Tenant"), "seq": seqS}
	for k, v := range extra {
		props[k] = v
	}
	return obj(nil, props)
}

var (
	docHealthz = op{summary: "Liveness", result: obj(nil, schema{"status": str("")})}
	docReadyz  = op{summary: "Readiness: the database answers", result: obj(nil, schema{"status": str("")})}
	docMetrics = op{summary: "Prometheus metrics", media: "text/plain", result: str("Prometheus text format")}
	docOpenAPI = op{summary: "This document", result: schema{"type": "object"}}

	docCreateTenant = op{summary: "Create a tenant with its first admin and the admin's API key", status: 201,
		body:   obj([]string{"name", "slug", "admin_email"}, schema{"name": str(""), "slug": str("lowercase letters, digits and dashes"), "plan": planS, "admin_email": strf("email", "")}),
		result: obj(nil, schema{"tenant": ref("Tenant"), "admin": ref("Member"), "api_key": ref("NewAPIKey"), "seq": seqS})}
	docGetTenant   = op{summary: "The tenant's profile", query: []param{minSeqP}, result: ref("Profile")}
	docPatchTenant = op{summary: "Rename the tenant", body: obj([]string{"name"}, schema{"name": str("")}), result: tenantWrite(nil)}
	docPutPlan     = op{summary: "Change the tenant's plan; allowed while the tenant is suspended (it stays suspended)", body: obj([]string{"plan"}, schema{"plan": planS}), result: tenantWrite(nil)}

	docListMembers = op{summary: "The tenant's members by id, a page at a time (pending invitations: GET /v1/invitations)", query: []param{minSeqP, cursorP, limitP},
		result: obj([]string{"members", "next_cursor", "has_more"}, schema{"members": array(ref("Member")), "next_cursor": nextCursorS, "has_more": hasMoreS})}
	docInviteMember = op{summary: "Invite a member; the answer holds the invitation token, shown once", status: 201,
		body:   obj([]string{"email", "role"}, schema{"email": strf("email", ""), "role": roleS}),
		result: obj(nil, schema{"invitation": ref("Invitation"), "token": str("pass to the invitee"), "seq": seqS})}
	docPatchMember      = op{summary: "Change a member's role", body: obj([]string{"role"}, schema{"role": roleS}), result: obj(nil, schema{"member": ref("Member"), "seq": seqS})}
	docDeleteMember     = op{summary: "Remove a member (their API keys and the invitations they issued are revoked); an invitation id is 404, see DELETE /v1/invitations/{id}", result: obj(nil, schema{"removed": uuidS, "seq": seqS})}
	docAcceptInvitation = op{summary: "Accept an invitation: become a member and get an API key", status: 201,
		body:   obj([]string{"token"}, schema{"token": str("the invitation token")}),
		result: obj(nil, schema{"member": ref("Member"), "api_key": ref("NewAPIKey"), "seq": seqS})}

	docListInvitations = op{summary: "Invitations that can still be accepted (pending, not expired), by id; never their tokens",
		query:  []param{minSeqP, cursorP, limitP},
		result: obj([]string{"invitations", "next_cursor", "has_more"}, schema{"invitations": array(ref("Invitation")), "next_cursor": nextCursorS, "has_more": hasMoreS})}
	docRevokeInvitation = op{summary: "Revoke a pending invitation: 204; 404 if this tenant never issued it, 409 if it was accepted or revoked already", status: 204}

	docListAPIKeys = op{summary: "The tenant's API keys (without secrets) by id, revoked ones included, a page at a time", query: []param{minSeqP, cursorP, limitP},
		result: obj([]string{"api_keys", "next_cursor", "has_more"}, schema{"api_keys": array(ref("APIKey")), "next_cursor": nextCursorS, "has_more": hasMoreS})}
	docCreateAPIKey = op{summary: "Create an API key; the secret is shown once", status: 201,
		body:   obj(nil, schema{"name": str(""), "role": roleS, "member_id": uuidS}),
		result: obj(nil, schema{"api_key": ref("NewAPIKey"), "seq": seqS})}
	docRevokeAPIKey = op{summary: "Revoke an API key", result: obj(nil, schema{"revoked": uuidS, "seq": seqS})}

	docPostUsage = op{summary: "Record usage: one record, or {records: [...]} with up to 1,000", status: 202,
		body: schema{"oneOf": []schema{ref("UsageRecord"), obj([]string{"records"}, schema{"records": schema{"type": "array", "items": ref("UsageRecord"), "minItems": 1, "maxItems": MaxUsageRecords}})}},
		result: obj(nil, schema{"accepted": integer("records counted now"), "duplicates": integer("records whose key was seen before"),
			"seq": integer("the newest event holding this request's records (a duplicate's is the event that recorded it first, never 0); pass it as min_seq")})}
	docGetUsage = op{summary: "Usage series per metric and hour or day", query: []param{
		{name: "metric", desc: "one metric (default: all)", schema: str("")},
		{name: "from", desc: "start (RFC 3339; default: 24 hours or 30 days before to)", schema: timeS},
		{name: "to", desc: "end, exclusive (RFC 3339; default: the end of the current bucket)", schema: timeS},
		{name: "granularity", desc: "hour (range ≤ 31 days) or day (range ≤ 400 days)", schema: enum("", "hour", "day")},
		minSeqP},
		result: obj(nil, schema{"granularity": str(""), "from": timeS, "to": timeS, "series": array(obj(nil, schema{
			"metric": str(""), "total": exactIntS("the series' total"), "points": array(obj(nil, schema{"start": timeS, "quantity": exactIntS("the bucket's total")}))}))})}

	docGetBilling = op{summary: "Billing state, and usage recorded against usage reported to Stripe per metric and month",
		query: []param{minSeqP, {name: "period", desc: "one month: its first instant, RFC 3339 UTC, e.g. 2026-12-01T00:00:00Z (default: the months whose usage can still change)", schema: timeS}},
		result: obj(nil, schema{"plan": planS, "tenant_status": str(""),
			"billing": obj(nil, schema{"stripe_customer_id": str(""), "stripe_subscription_id": str(""), "status": str(""), "past_due_since": timeS, "grace_ends_at": timeS}),
			"cutoff":  strf("date-time", "windows that ended by this time are due to be reported"),
			"usage": array(obj(nil, schema{"metric": str(""), "period": timeS, "recorded": exactIntS("usage in windows that ended by the cutoff"),
				"reported": exactIntS("usage Stripe confirmed"), "difference": exactIntS("recorded minus reported; 0 after a completed cycle"),
				"unreported_windows": integer(""), "in_progress": exactIntS("usage in windows not yet due")}))})}

	docAuditEvents = op{summary: "The tenant's events as NDJSON, one event per line, a page at a time (the page that reaches the head ends with the head line); " +
		"the Tenantry-Next-Cursor (absent on the last page) and Tenantry-Has-More headers say where the next page starts", media: "application/x-ndjson",
		query: []param{cursorP, {name: "limit", desc: "at most this many events (1 to 10,000; default 10,000)", schema: integer("")}},
		result: obj(nil, schema{"tenant_id": uuidS, "seq": integer(""), "event_id": uuidS, "stream_id": str(""), "stream_version": integer(""), "type": str(""),
			"schema_version": integer(""), "data": schema{"type": "object"}, "metadata": schema{"type": "object"}, "recorded_at": timeS, "prev_hash": str("hex"), "hash": str("hex")})}
	docAuditVerify = op{summary: "Verify the tenant's hash chain", result: ref("ChainReport")}
	docAuditState  = op{summary: "The tenant as of an instant, replayed from its events", query: []param{{name: "as_of", desc: "RFC 3339 instant (default: now)", schema: timeS}},
		result: obj(nil, schema{"as_of": timeS, "seq": integer(""), "tenant": ref("Tenant"), "members": array(ref("Member")), "usage_totals": schema{"type": "object", "additionalProperties": exactIntS("the metric's total over the tenant's history up to as_of")}})}

	docAdminListTenants = op{summary: "The tenant directory by id, a page at a time", query: []param{cursorP, limitP},
		result: obj([]string{"tenants", "next_cursor", "has_more"}, schema{"tenants": array(ref("TenantEntry")), "next_cursor": nextCursorS, "has_more": hasMoreS})}
	docAdminSuspend = op{summary: "Suspend a tenant", body: obj(nil, schema{"reason": enum("default operator", "payment_failed", "operator", "terms_violation", "subscription_canceled"), "note": str("")}),
		result: tenantWrite(nil)}
	docAdminReactivate = op{summary: "Reactivate a suspended tenant", result: tenantWrite(nil)}
	docAdminClose      = op{summary: "Close a tenant for good", body: obj(nil, schema{"note": str("")}), result: tenantWrite(nil)}

	docStripeWebhook = op{summary: "Stripe webhook deliveries (signature checked, 300 s tolerance)", body: schema{"type": "object"},
		result: obj(nil, schema{"received": schema{"type": "boolean"}, "id": str(""), "type": str(""),
			"outcome":   enum("what the delivery did", "applied", "no_change", "stale", "ignored"),
			"reason":    enum("why an ignored delivery changed nothing", "customer_not_linked", "subscription_not_linked", "type_not_handled"),
			"duplicate": schema{"type": "boolean"},
			"seq":       integer("the tenant's seq after recording the delivery (0 when nothing was recorded)")})}
)

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openAPIPath turns a Gin path into an OpenAPI path template.
func openAPIPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// Document builds the OpenAPI 3.1 document from the route table.
func (s *Server) Document() schema {
	paths := schema{}
	for _, rt := range s.routes() {
		add := func(path string, workspace bool) {
			item, _ := paths[openAPIPath(path)].(schema)
			if item == nil {
				item = schema{}
				paths[openAPIPath(path)] = item
			}
			o := s.operation(rt, path, workspace)
			item[strings.ToLower(rt.method)] = o
			if rt.method == http.MethodGet {
				item["head"] = headOperation(o, path)
			}
		}
		add(rt.path, false)
		if rt.scoped {
			add(workspacePrefix+rt.path[len("/v1"):], true)
		}
	}
	return schema{
		"openapi": "3.1.0",
		"info": schema{"title": "Tenantry API", "version": "1",
			"description": "Multi-tenant platform API. Errors are RFC 9457 problem details. Tenant-scoped routes resolve the tenant from " +
				"the workspace path, the {slug} subdomain, the X-Tenant header (slug or id) or the API key; a key never reaches another tenant. " +
				"Unknown body fields and query parameters not listed for an operation answer 400."},
		"paths":      paths,
		"components": schema{"schemas": components, "securitySchemes": schema{"bearer": schema{"type": "http", "scheme": "bearer", "description": "a tenant API key or the operator token"}}},
	}
}

func (s *Server) operation(rt route, path string, workspace bool) schema {
	d := rt.doc
	var params []schema
	for _, m := range ginParam.FindAllStringSubmatch(path, -1) {
		desc, sch := "the "+m[1], uuidS
		if m[1] == "workspace" || m[1] == "tenant" {
			desc, sch = "the tenant's slug or id", str("")
		}
		params = append(params, schema{"name": m[1], "in": "path", "required": true, "description": desc, "schema": sch})
	}
	for _, q := range d.query {
		params = append(params, schema{"name": q.name, "in": "query", "required": q.required, "description": q.desc, "schema": q.schema})
	}
	if rt.scoped && !workspace {
		params = append(params, schema{"name": "X-Tenant", "in": "header", "description": "the tenant's slug or id", "schema": str("")})
	}
	if rt.method == http.MethodPost && rt.access != stripe {
		params = append(params, schema{"name": "Idempotency-Key", "in": "header", "description": "replays the first answer for the same request (24 hours)", "schema": str("")})
	}
	if rt.access == stripe {
		params = append(params, schema{"name": "Stripe-Signature", "in": "header", "required": true, "schema": str("")})
	}
	params = append(params, schema{"name": "X-Request-ID", "in": "header", "description": "echoed; generated when absent", "schema": str("")})
	status, media := d.status, d.media
	if status == 0 {
		status = http.StatusOK
	}
	if media == "" {
		media = "application/json"
	}
	problem := schema{"description": "an RFC 9457 problem", "content": schema{"application/problem+json": schema{"schema": ref("Problem")}}}
	success := schema{"description": http.StatusText(status), "content": schema{media: schema{"schema": d.result}}}
	if status == http.StatusNoContent {
		success = schema{"description": http.StatusText(status)}
	}
	if rt.access == member { // tenant routes: the tenant's bucket (see rateLimitHeaders)
		limits := schema{
			"RateLimit-Policy": schema{"description": `the tenant's rate limit (draft-ietf-httpapi-ratelimit-headers): "plan";q=<burst>;w=<seconds to refill it>`, "schema": str("")},
			"RateLimit":        schema{"description": `what is left of it: "plan";r=<requests left now>;t=<seconds until the bucket is full>`, "schema": str("")},
		}
		success["headers"], problem["headers"] = limits, limits
	}
	o := schema{
		"operationId": operationID(rt.method, path),
		"summary":     d.summary,
		"parameters":  params,
		"responses": schema{
			strconv.Itoa(status): success,
			"default":            problem,
		},
		"x-tenantry-access": rt.access.String(),
	}
	if rt.access == member {
		roles := make([]string, len(rt.roles))
		for i, r := range rt.roles {
			roles[i] = r.String()
		}
		o["x-tenantry-roles"] = roles
	}
	switch rt.access {
	case member, operator, signup:
		o["security"] = []schema{{"bearer": []string{}}}
	}
	if d.body != nil {
		o["requestBody"] = schema{"required": rt.access != operator, "content": schema{"application/json": schema{"schema": d.body}}}
	}
	return o
}

// headOperation is a GET operation's HEAD twin: the same parameters, statuses and headers,
// no body.
func headOperation(get schema, path string) schema {
	o := schema{}
	for k, v := range get {
		o[k] = v
	}
	o["operationId"] = operationID(http.MethodHead, path)
	o["summary"] = "HEAD of: " + get["summary"].(string)
	responses := schema{}
	for status, r := range get["responses"].(schema) {
		resp := schema{}
		for k, v := range r.(schema) {
			if k != "content" {
				resp[k] = v
			}
		}
		responses[status] = resp
	}
	o["responses"] = responses
	return o
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '-' || r == ':' || r == '.' || r == '{' || r == '}' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (s *Server) openAPI(c *gin.Context, _ *call) { reply(c, http.StatusOK, s.Document()) }

// PermissionTable renders the route × role table as Markdown (the README shows it).
func (s *Server) PermissionTable() string {
	roles := allRoles
	var b strings.Builder
	b.WriteString("| route |")
	for _, r := range roles {
		b.WriteString(" " + r.String() + " |")
	}
	b.WriteString("\n|---|")
	for range roles {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, rt := range s.routes() {
		if rt.access != member {
			continue
		}
		b.WriteString("| `" + rt.method + " " + openAPIPath(rt.path) + "` |")
		for _, r := range roles {
			if rt.allows(r) {
				b.WriteString(" ✔ |")
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
