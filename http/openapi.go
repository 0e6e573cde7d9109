package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/invopop/jsonschema"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/product"
)

// op documents one route for the OpenAPI document. Request and response bodies are Go
// values of http/api types: their schemas are derived from the types (schemaOf), never
// written by hand.
type op struct {
	id      string // operationId: readable and stable
	tag     string
	summary string
	desc    string // the operation's description (what it does, its rules)
	query   []param
	body    any              // request body: a value of its api type (nil: none)
	status  int              // success status (default 200)
	result  any              // success body: a value of its api type (nil: none)
	media   string           // success media type (default application/json)
	errors  []int            // statuses the handler answers beyond those derived from the route (errorStatuses)
	headers []string         // response headers of the success answer beyond the common ones (components/headers)
	paths   map[string]param // path parameters by name, when not the default (a UUID id)
}

// param is a query parameter.
type param struct {
	name, desc string
	schema     schema
	required   bool
}

type schema = map[string]any

func strf(format string) schema { return schema{"type": "string", "format": format} }
func integerS(min, max int64) schema {
	s := schema{"type": "integer", "format": "int64", "minimum": min}
	if max > 0 {
		s["maximum"] = max
	}
	return s
}

var (
	minSeqP = param{name: "min_seq", desc: "wait (up to a few seconds) until the read models this route reads include this tenant seq (a write's answer carries it); beyond the tenant's last seq: 400 at once", schema: integerS(0, 0)}
	limitP  = func(max int64) param {
		return param{name: "limit", desc: "page size, 1 to " + strconv.FormatInt(max, 10) + " (default " + strconv.Itoa(domain.DefaultPageLimit) + ")", schema: integerS(1, max)}
	}
	cursorP = param{name: "cursor", desc: "the next_cursor of the previous page (opaque; omit for the first page)", schema: schema{"type": "string"}}
)

// usageRequest and auditLine are unions: one of two api types.
var unions = map[reflect.Type][]any{
	reflect.TypeFor[api.UsageRequest](): {api.UsageRecord{}, api.UsageBatch{}},
	reflect.TypeFor[api.AuditLine]():    {api.AuditEvent{}, api.AuditHeadLine{}},
}

// typeDocs are the descriptions of the api types in components/schemas.
var typeDocs = map[string]string{
	"Problem":               "An RFC 9457 problem detail: the body of every error answer (application/problem+json).",
	"FieldError":            "One invalid input.",
	"Status":                "A health check's answer.",
	"Tenant":                "A tenant's summary.",
	"Profile":               "The tenant's profile.",
	"Member":                "A member of the tenant.",
	"MemberSummary":         "A member, as writes and the audit replay show it.",
	"Invitation":            "An invitation to join the tenant (never with its token).",
	"NewAPIKey":             "A new API key with its secret, shown once.",
	"APIKey":                "An API key, without its secret.",
	"UsageRequest":          "One usage record, or a batch of up to 1,000.",
	"UsageRecord":           "One usage record.",
	"UsageBatch":            "A batch of usage records.",
	"UsageSeries":           "One metric's usage series.",
	"UsagePoint":            "One bucket of a usage series.",
	"BillingState":          "The tenant's link to Stripe.",
	"BillingLine":           "Usage recorded against usage reported to Stripe, for one metric and month.",
	"AuditLine":             "One NDJSON line of the audit export: an event line, or the head line that ends the page reaching the tenant's head.",
	"AuditEvent":            "An event line of the audit export (AUDIT.md).",
	"AuditHeadLine":         "The head line: the last line of the page that reaches the tenant's head.",
	"AuditHead":             "The tenant's chain head, signed when the server has a signing key.",
	"ChainReport":           "The outcome of re-hashing the tenant's chain.",
	"AuditState":            "The tenant as of an instant, replayed from its events.",
	"TenantEntry":           "A tenant in the operator's directory.",
	"StripeEvent":           "A Stripe event (https://docs.stripe.com/api/events/object); its signature, not its shape, is checked.",
	"WebhookReceipt":        "What a Stripe delivery did.",
	"IntrospectionRequest":  "The API key to introspect.",
	"Introspection":         "Whether an API key is active and, if so, what it stands for (RFC 7662's shape).",
	"IntrospectedTenant":    "An active key's tenant.",
	"IntrospectedMember":    "The member an active key acts for.",
	"IntrospectedPlanLimit": "The limits of a plan as Tenantry's API enforces them.",
	"FeedEvent":             "One event of the tenant's feed.",
	"EventList":             "A page of the tenant's events.",
}

// reflector derives JSON Schema 2020-12 (OpenAPI 3.1's dialect) from the api types.
func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		Anonymous:      true,
		DoNotReference: false,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch t {
			case reflect.TypeFor[uuid.UUID]():
				return &jsonschema.Schema{Type: "string", Format: "uuid"}
			case reflect.TypeFor[json.RawMessage](): // an event's data and metadata: JSON objects, passed through as stored
				return &jsonschema.Schema{Type: "object"}
			case reflect.TypeFor[api.ExactInt]():
				return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
					{Type: "integer", Minimum: json.Number(strconv.Itoa(-api.MaxSafeJSONInt)), Maximum: json.Number(strconv.Itoa(api.MaxSafeJSONInt))},
					{Type: "string", Pattern: "^-?[0-9]+$"}}}
			case reflect.TypeFor[api.ExactDecimal]():
				return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
					{Type: "number"},
					{Type: "string", Pattern: `^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$`}}}
			case reflect.TypeFor[json.Number](), reflect.TypeFor[api.Quantity](): // a JSON number, never a string (the field's tags bound it)
				return &jsonschema.Schema{Type: "number"}
			case reflect.TypeFor[api.QuotaText]():
				return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
					{Type: "number"},
					{Type: "string", Pattern: `^[0-9]+(\.[0-9]+)?$`}}}
			}
			if t == reflect.TypeFor[int64]() { // generators map it to a 64-bit integer
				return &jsonschema.Schema{Type: "integer", Format: "int64"}
			}
			if alts, ok := unions[t]; ok {
				s := &jsonschema.Schema{}
				for _, a := range alts {
					s.OneOf = append(s.OneOf, &jsonschema.Schema{Ref: "#/$defs/" + reflect.TypeOf(a).Name()})
				}
				return s
			}
			return nil
		},
		LookupComment: func(t reflect.Type, field string) string {
			if field == "" {
				return typeDocs[t.Name()]
			}
			if f, ok := t.FieldByName(field); ok {
				return f.Tag.Get("doc")
			}
			return ""
		},
	}
}

// schemas collects the components/schemas of the document.
type schemas struct {
	defs schema
	// clashes are names under which two different schemas were derived (two Go types of
	// one name, e.g. two products' Task): the document would show only one.
	clashes []string
}

// of is v's schema: a $ref to its type in components/schemas (added with every type it
// uses), or an inline schema for a type without a name.
func (c *schemas) of(v any) schema {
	t := reflect.TypeOf(v)
	r := reflector()
	root := r.ReflectFromType(t)
	for _, alt := range unions[t] {
		c.of(alt)
	}
	raw, err := json.Marshal(root)
	if err != nil {
		panic("openapi: " + err.Error()) // the api types are fixed: a failure is a bug
	}
	raw = []byte(strings.ReplaceAll(string(raw), `"#/$defs/`, `"#/components/schemas/`))
	var s schema
	if err := json.Unmarshal(raw, &s); err != nil {
		panic("openapi: " + err.Error())
	}
	delete(s, "$schema")
	domainEnums(s)
	if defs, ok := s["$defs"].(schema); ok {
		for name, d := range defs {
			d = nullables(d)
			if old, ok := c.defs[name]; ok && !reflect.DeepEqual(old, d) && !slices.Contains(c.clashes, name) {
				c.clashes = append(c.clashes, name)
			}
			c.defs[name] = d
		}
		delete(s, "$defs")
	}
	return nullables(s).(schema)
}

// domainEnums gives each schema marked x-domain-enum (a role or plan field of the api
// types) the domain's own values, so the document lists exactly what the handlers parse.
func domainEnums(v any) {
	switch x := v.(type) {
	case schema:
		if name, ok := x["x-domain-enum"].(string); ok {
			delete(x, "x-domain-enum")
			switch name {
			case "role":
				x["enum"] = namesOf(domain.Roles())
			case "plan": // plans are the catalog's, which the operator changes at run time
				x["pattern"] = "^[a-z][a-z0-9_]{0,62}$"
				x["maxLength"] = 63
			default:
				panic("openapi: unknown x-domain-enum " + name) // the api types are fixed: a bug
			}
		}
		for _, e := range x {
			domainEnums(e)
		}
	case []any:
		for _, e := range x {
			domainEnums(e)
		}
	}
}

func namesOf[T fmt.Stringer](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// nullables rewrites the reflector's nullable form, oneOf [X, {type: null}], as X with
// "null" added to its type (type: [string, null]) where X is a plain typed schema, and
// moves X's description onto the property either way: generators read both forms, the
// type array is the one every 3.1 generator maps to an optional value.
func nullables(v any) any {
	switch x := v.(type) {
	case schema:
		for k, e := range x {
			x[k] = nullables(e)
		}
		alts, ok := x["oneOf"].([]any)
		if !ok || len(alts) != 2 {
			return x
		}
		first, _ := alts[0].(schema)
		second, _ := alts[1].(schema)
		if first == nil || second == nil || len(second) != 1 || second["type"] != "null" {
			return x
		}
		if d, ok := first["description"]; ok {
			x["description"] = d
			delete(first, "description")
		}
		if t, ok := first["type"].(string); ok {
			delete(x, "oneOf")
			for k, e := range first {
				x[k] = e
			}
			x["type"] = []string{t, "null"}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = nullables(e)
		}
	}
	return v
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openAPIPath turns a Gin path into an OpenAPI path template.
func openAPIPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// DefaultServerURL is where `make run` listens.
const DefaultServerURL = "http://127.0.0.1:8080"

var tags = []schema{
	{"name": "System", "description": "Health checks, metrics and this document."},
	{"name": "Tenants", "description": "Sign-up, the tenant's profile and plan."},
	{"name": "Members", "description": "The tenant's members and their roles."},
	{"name": "Invitations", "description": "Invitations to join a tenant."},
	{"name": "API keys", "description": "The tenant's API keys."},
	{"name": "Usage", "description": "Metered usage: recording and reading it."},
	{"name": "Billing", "description": "The tenant's billing state and usage reported to Stripe."},
	{"name": "Audit", "description": "The tenant's hash-chained event log: export, verification, replay."},
	{"name": "Admin", "description": "The operator's tenant directory and lifecycle decisions, and the plan catalog."},
	{"name": "Webhooks", "description": "Deliveries from Stripe."},
	{"name": "Integration", "description": "For products beside Tenantry: API key introspection (a service token) and the tenant's event feed."},
}

const infoDescription = `Multi-tenant platform API. Errors are RFC 9457 problem details (application/problem+json, schema Problem); every operation lists the statuses it can answer.

**Tenants.** A tenant-scoped operation (one with ` + "`x-tenantry-workspace-path`" + `) acts on one tenant, resolved from (first match) the workspace path, the {slug} subdomain, the X-Tenant header (slug or id), or the API key's own tenant; a key never reaches another tenant (404). The **workspace form**: every tenant-scoped operation also answers under ` + "`/v1/workspaces/{workspace}/...`" + ` (the path without its /v1 prefix, after the tenant's slug or id), exactly as documented for its /v1 path; its ` + "`x-tenantry-workspace-path`" + ` names that path. It is described once here rather than repeating every operation.

**HEAD.** Every GET operation also answers HEAD, with the same status and headers and no body (RFC 9110); HEAD operations are not listed separately.

**Read your writes.** A write answers the tenant's event seq it reached; pass it as min_seq to a read to see the write.

**Inputs.** Unknown body fields and query parameters not listed for an operation answer 400. Every response carries X-Request-ID (the request's, when it sends a sane one; else a new id). Tenant operations carry the IETF RateLimit and RateLimit-Policy headers once the tenant is known.`

// Document builds the OpenAPI 3.1 document from the route table (products' routes
// included).
func (s *Server) Document() schema {
	doc := document(s.routes(), &schemas{defs: schema{}})
	describeProducts(doc, s.d.Products)
	return doc
}

// describeProducts adds to each product's tag what its roles mean in its own terms and the
// usage metrics it records, as its module declares them.
func describeProducts(doc schema, products []product.Product) {
	tags, _ := doc["tags"].([]schema)
	for _, p := range products {
		m := p.Module
		var b strings.Builder
		for _, r := range domain.Roles() {
			if meaning, ok := m.Roles[r]; ok {
				fmt.Fprintf(&b, "\n- %s: %s", r, meaning)
			}
		}
		roles := b.String()
		b.Reset()
		for _, mt := range m.Metrics {
			fmt.Fprintf(&b, "\n- `%s` (%s): %s", mt.Name, mt.Unit, mt.Description)
		}
		metrics := b.String()
		for _, t := range tags {
			if t["name"] != m.Name && !productTagOf(p, t) {
				continue
			}
			desc, _ := t["description"].(string)
			if roles != "" {
				desc += "\n\nWhat each role may do here:" + roles
			}
			if metrics != "" {
				desc += "\n\nUsage metrics it records (POST /v1/usage):" + metrics
			}
			t["description"] = desc
		}
	}
}

// productTagOf reports whether tag t is one a route of product p names.
func productTagOf(p product.Product, t schema) bool {
	for _, rt := range p.Routes {
		if rt.Tag != "" && t["name"] == rt.Tag {
			return true
		}
	}
	return false
}

// document is the OpenAPI document of routes, collecting their schemas in c.
func document(routes []route, c *schemas) schema {
	c.of(api.Problem{})
	allTags := slices.Clone(tags)
	for _, rt := range routes {
		if !slices.ContainsFunc(allTags, func(t schema) bool { return t["name"] == rt.doc.tag }) {
			allTags = append(allTags, schema{"name": rt.doc.tag, "description": "The routes of the product module " + rt.product + "."})
		}
	}
	paths := schema{}
	for _, rt := range routes {
		p := openAPIPath(rt.path)
		item, _ := paths[p].(schema)
		if item == nil {
			item = schema{}
			paths[p] = item
		}
		item[strings.ToLower(rt.method)] = operation(c, rt)
	}
	return schema{
		"openapi": "3.1.0",
		"info": schema{"title": "Tenantry API", "version": "1", "description": infoDescription,
			"contact": schema{"name": "Tenantry", "url": "https://tenantry.dev"}},
		"servers": []schema{{"url": DefaultServerURL, "description": "a local server started by `make run`"}},
		"tags":    allTags,
		"paths":   paths,
		"components": schema{"schemas": c.defs, "headers": responseHeaders, "securitySchemes": schema{
			"apiKey":        schema{"type": "http", "scheme": "bearer", "description": "a tenant API key (Authorization: Bearer <key>); its role decides what it may do"},
			"operatorToken": schema{"type": "http", "scheme": "bearer", "description": "the operator token (TENANTRY_OPERATOR_TOKEN)"},
			"serviceToken":  schema{"type": "http", "scheme": "bearer", "description": "the introspection service token (TENANTRY_INTROSPECTION_TOKEN)"},
		}},
	}
}

// problemDescriptions describe each error status in the document.
var problemDescriptions = map[int]string{
	400: "The request is not valid: a malformed or unknown query parameter, field or header (errors lists them).",
	401: "No credential, or a credential that is not valid.",
	403: "The credential may not do this (role), or the tenant is suspended (tenant-suspended), or usage beyond a hard quota of the tenant's plan (quota-exceeded, POST /v1/usage).",
	404: "No such tenant or object (for this credential).",
	409: "The request conflicts with the current state, or its Idempotency-Key's first request is still in progress (request-in-progress, with Retry-After).",
	410: "The tenant is closed.",
	413: "The request body is too large.",
	415: "The request body is not application/json.",
	422: "A plan limit would be exceeded, or the Idempotency-Key was used with a different request.",
	429: "Too many requests (the plan's rate limit, failed authentications from this address, or an audit budget); retry after Retry-After.",
	500: "Internal error; quote the request id when reporting it.",
	503: "Temporarily unavailable: the database, a read model or the tenant's authorisation state is not available, or the request was canceled.",
}

// errorStatuses is every 4xx and 5xx the route can answer: those of its access kind, body,
// idempotency and rate limiting, plus its own (op.errors).
func errorStatuses(rt route) []int {
	st := []int{400, 429, 500} // unknown query parameters; rate limits; a panic
	add := func(codes ...int) { st = append(st, codes...) }
	switch rt.access {
	case operator:
		add(401)
	case signup:
		add(401)
	case member:
		add(401, 403, 404, 410, 503)
	case invitee:
		add(401, 403, 404, 410, 503)
	case stripe:
		add(503)
	case service:
		add(401, 404, 503) // 404: not enabled; 503: the key's tenant's authorisation state cannot be trusted now
	}
	if writeVerb[rt.method] && rt.access != stripe {
		add(413, 415)
	}
	if rt.access == stripe {
		add(413)
	}
	if rt.takesIdempotencyKey() {
		add(409, 422) // Idempotency-Key in progress; reused
	}
	add(rt.doc.errors...)
	slices.Sort(st)
	return slices.Compact(st)
}

func header(desc string, s schema) schema { return schema{"description": desc, "schema": s} }

// The response headers, in components/headers; operations refer to them.
var responseHeaders = schema{
	"X-Request-ID":         requestIDHeader,
	"Retry-After":          retryAfterH,
	"RateLimit":            rateLimitH,
	"RateLimit-Policy":     rateLimitPolH,
	"Idempotent-Replayed":  replayedH,
	"Tenantry-Has-More":    header("whether another page follows this one", schema{"type": "string", "enum": []string{"true", "false"}}),
	"Tenantry-Next-Cursor": header("pass as cursor for the next page; absent on the last page", schema{"type": "string"}),
}

func headerRef(name string) schema { return schema{"$ref": "#/components/headers/" + name} }

var (
	requestIDHeader = header("the request's id: the X-Request-ID sent (1 to 128 of A-Z a-z 0-9 . _ : -) or a new one", schema{"type": "string"})
	retryAfterH     = header("seconds to wait before retrying", schema{"type": "integer", "minimum": 1})
	rateLimitH      = header(`what is left of the tenant's rate limit (IETF draft-ietf-httpapi-ratelimit-headers): "plan";r=<requests left now>;t=<seconds until the bucket is full>`, schema{"type": "string"})
	rateLimitPolH   = header(`the tenant's rate limit: "plan";q=<burst>;w=<seconds to refill it>`, schema{"type": "string"})
	replayedH       = header("true when this answer replays the first answer to the same Idempotency-Key", schema{"type": "string", "enum": []string{"true"}})
)

func operation(c *schemas, rt route) schema {
	d := rt.doc
	var params []schema
	for _, m := range ginParam.FindAllStringSubmatch(rt.path, -1) {
		p := schema{"name": m[1], "in": "path", "required": true, "description": pathParamDocs[rt.path+":"+m[1]], "schema": strf("uuid")}
		if m[1] == "tenant" {
			p["description"], p["schema"] = "the tenant's slug or id", schema{"type": "string"}
		}
		if q, ok := d.paths[m[1]]; ok {
			p["description"], p["schema"] = q.desc, q.schema
		}
		params = append(params, p)
	}
	for _, q := range d.query {
		p := schema{"name": q.name, "in": "query", "description": q.desc, "schema": q.schema}
		if q.required {
			p["required"] = true
		}
		params = append(params, p)
	}
	if rt.scoped {
		params = append(params, schema{"name": "X-Tenant", "in": "header", "description": "the tenant's slug or id (default: the API key's tenant)", "schema": schema{"type": "string"}})
	}
	idempotent := rt.takesIdempotencyKey()
	if idempotent {
		params = append(params, schema{"name": "Idempotency-Key", "in": "header",
			"description": "1 to 255 visible ASCII characters: a repeated request with the same key (and body) replays the first answer for 24 hours instead of running again",
			"schema":      schema{"type": "string", "minLength": 1, "maxLength": 255}})
	}
	if rt.access == stripe {
		params = append(params, schema{"name": "Stripe-Signature", "in": "header", "required": true, "description": "Stripe's signature of the body (checked with the webhook secret, 300 s tolerance)", "schema": schema{"type": "string"}})
	}
	params = append(params, schema{"name": "X-Request-ID", "in": "header", "description": "the request's id for logs and problems (1 to 128 of A-Z a-z 0-9 . _ : -); echoed, generated when absent or not sane", "schema": schema{"type": "string", "maxLength": 128}})

	status, media := d.status, d.media
	if status == 0 {
		status = http.StatusOK
	}
	if media == "" {
		media = "application/json"
	}
	headers := func(extra schema) schema {
		h := schema{"X-Request-ID": headerRef("X-Request-ID")}
		if rt.access == member {
			h["RateLimit"], h["RateLimit-Policy"] = headerRef("RateLimit"), headerRef("RateLimit-Policy")
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	success := schema{"description": http.StatusText(status), "headers": headers(nil)}
	extra := schema{}
	if idempotent {
		extra["Idempotent-Replayed"] = headerRef("Idempotent-Replayed")
	}
	for _, h := range d.headers {
		extra[h] = headerRef(h)
	}
	success["headers"] = headers(extra)
	switch {
	case d.result == textResult:
		success["content"] = schema{media: schema{"schema": schema{"type": "string", "description": "the Prometheus text exposition format"}}}
	case d.result != nil:
		success["content"] = schema{media: schema{"schema": c.of(d.result)}}
	}
	responses := schema{strconv.Itoa(status): success}
	for _, code := range errorStatuses(rt) {
		var extra schema
		if code == 429 || code == 503 || (code == 409 && idempotent) {
			extra = schema{"Retry-After": headerRef("Retry-After")}
		}
		if idempotent {
			if extra == nil {
				extra = schema{}
			}
			extra["Idempotent-Replayed"] = headerRef("Idempotent-Replayed")
		}
		responses[strconv.Itoa(code)] = schema{"description": problemDescriptions[code], "headers": headers(extra),
			"content": schema{"application/problem+json": schema{"schema": schema{"$ref": "#/components/schemas/Problem"}}}}
	}
	o := schema{
		"operationId":       d.id,
		"tags":              []string{d.tag},
		"summary":           d.summary,
		"description":       d.desc,
		"parameters":        params,
		"responses":         responses,
		"x-tenantry-access": rt.access.String(),
	}
	if rt.scoped {
		o["x-tenantry-workspace-path"] = openAPIPath(workspacePrefix + rt.path[len("/v1"):])
	}
	if rt.access == member {
		roles := make([]string, len(rt.roles))
		for i, r := range rt.roles {
			roles[i] = r.String()
		}
		o["x-tenantry-roles"] = roles
	}
	switch rt.access {
	case member:
		o["security"] = []schema{{"apiKey": []string{}}}
	case operator:
		o["security"] = []schema{{"operatorToken": []string{}}}
	case service:
		o["security"] = []schema{{"serviceToken": []string{}}}
	case signup:
		o["security"] = []schema{{"operatorToken": []string{}}, {}} // anonymous when signup is open
	default:
		o["security"] = []schema{}
	}
	if d.body != nil {
		o["requestBody"] = schema{"required": rt.access != operator, "content": schema{"application/json": schema{"schema": c.of(d.body)}}}
	}
	return o
}

// textResult marks a plain-text success body (metrics).
var textResult = &struct{ text string }{}

// pathParamDocs describe the path parameters.
var pathParamDocs = map[string]string{
	"/v1/members/:id:id":     "the member's id",
	"/v1/invitations/:id:id": "the invitation's id",
	"/v1/api-keys/:id:id":    "the API key's id",
}

func (s *Server) openAPI(c *gin.Context, _ *call) {
	s.doc.once.Do(func() {
		b, err := jsonMarshal(s.Document())
		if err != nil {
			panic("openapi: " + err.Error())
		}
		s.doc.json = b
	})
	c.Data(http.StatusOK, "application/json", s.doc.json)
}

// openAPICache is a server's /openapi.json, encoded on first request.
type openAPICache struct {
	once sync.Once
	json []byte
}

// DocumentJSON is the OpenAPI document of Tenantry's own routes as /openapi.json answers
// it (indented).
func DocumentJSON() ([]byte, error) { return DocumentJSONFor(nil) }

// DocumentJSONFor is the OpenAPI document of a server with products (indented), or why
// they cannot be served (CheckProducts).
func DocumentJSONFor(products []product.Product) ([]byte, error) {
	if err := CheckProducts(products); err != nil {
		return nil, err
	}
	s := Server{d: Deps{Products: products}}
	return json.MarshalIndent(s.Document(), "", "  ")
}

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
