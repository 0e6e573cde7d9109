// Package httpapi is Tenantry's HTTP surface (Gin): routing, tenant resolution, auth and
// handlers. Handlers only parse, authorise, call the domain or a read model, and answer.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/app/logctx"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/domain/webhook"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/product"
)

// Deps are the server's collaborators and settings, wired by cmd.
type Deps struct {
	Logger   *slog.Logger
	Store    *eventstore.Store // on a pool of the runtime role, which reads use too
	Registry *eventstore.Registry
	// OperatorToken authorises operator routes; empty disables them.
	OperatorToken string
	// IntrospectionToken authorises POST /v1/introspect (a product's service token);
	// empty disables it (404).
	IntrospectionToken string
	// BaseDomain, when set, routes {slug}.BaseDomain hosts to the tenant slug.
	BaseDomain string
	// OpenSignup lets anyone create a tenant; otherwise only the operator can.
	OpenSignup bool
	// StripeWebhookSecret verifies Stripe webhook signatures; empty refuses webhooks.
	StripeWebhookSecret string
	// Webhooks applies verified Stripe events (app.StripeDeliveries.Apply); nil only
	// acknowledges them.
	Webhooks func(context.Context, app.StripeEvent) (app.StripeDelivery, error)
	// Metrics is the registry /metrics serves, which the process fills with the other
	// components' series; nil gives the API a registry of its own.
	Metrics *prometheus.Registry
	// SharedLimits keeps per-tenant rate limits in a store every API replica shares
	// (NewRedisLimits); nil keeps them in this process.
	SharedLimits SharedLimits
	// AuditSigner signs the head that ends an audit export; nil leaves it unsigned.
	AuditSigner *auditlog.Signer
	// BillingSettle is how long after a usage window ends it is due to be reported (the
	// billing worker's Settle); GET /v1/billing compares recorded and reported usage of the
	// windows due by then. Default 5 minutes.
	BillingSettle time.Duration
	// Plans are the default catalog's limits (TENANTRY_PLAN_LIMITS), used when Catalog is
	// nil; default domain.DefaultPlans.
	Plans domain.Plans
	// Catalog is the plan catalog (app.NewPlanCatalog, kept current by its Run); nil: one
	// over Store on Plans, refreshed when the API writes (tests).
	Catalog *app.PlanCatalog
	// Now is the clock (tests may fix it); default time.Now.
	Now func() time.Time
	// SettleTimeout bounds how long a write waits for its effects to be readable
	// (read-your-writes); default 5s. A write that changes authorisation state and is not
	// in force by then answers 503 tenant-unavailable (it stays recorded).
	SettleTimeout time.Duration
	// AuthLagBound is how far a tenant's authorisation state (the auth projection) may
	// lag its events: once an event it has not applied was recorded longer ago than this,
	// the tenant's credentials are refused (503 tenant-unavailable) until it catches up;
	// default DefaultAuthLagBound.
	AuthLagBound time.Duration
	// InvitationTTL is how long an invitation can be accepted; default 7 days.
	InvitationTTL time.Duration
	// TrustedProxies are the peers (load balancers) whose X-Forwarded-For is believed when
	// naming the client for per-client limits; empty believes no one, so that a client
	// cannot pick its own address (and with it a fresh budget).
	TrustedProxies []netip.Prefix
	// Timeouts bound how long a client may hold a connection (NewHTTPServer); zero fields
	// take the defaults (DefaultTimeouts).
	Timeouts Timeouts
	// NoUsageCoalescing appends each single-record usage POST on its own rather than with
	// its lane's concurrent ones (see coalescer): the plain path that coalescing's benchmark
	// (BenchmarkFastPath_UsageCoalescer) weighs it against. Off by default.
	NoUsageCoalescing bool
	// Products are the products served beside Tenantry's own routes (issue 18): each
	// route under the same pipeline, in the permission table and the OpenAPI document.
	// They must pass CheckProducts (NewChecked reports it).
	Products []product.Product
	// WebhookKey seals the signing secrets of outbound webhook endpoints
	// (TENANTRY_WEBHOOK_KEY); nil makes creating an endpoint or rotating a secret answer 503.
	WebhookKey *webhook.Key
	// WebhookAllowHTTP accepts http:// endpoint URLs for any host, not just loopback
	// (TENANTRY_WEBHOOK_ALLOW_HTTP).
	WebhookAllowHTTP bool
	// Definitions declares metrics (kind, aggregation, decimal places): POST /v1/usage
	// accepts a quantity with up to its metric's Scale decimal places, and GET /v1/usage
	// answers a gauge's value by its aggregation. nil: the plan catalog's (Catalog), whose
	// metrics: the operator declares.
	Definitions usage.Definitions
	// Entitlements answers GET /v1/entitlements, POST /v1/entitlements/check and
	// introspection's entitlements from memory (app.NewEntitlements, swept by its Run); nil:
	// one over Store and Catalog, without Run (tests).
	Entitlements *app.Entitlements
}

// Server holds the handlers' shared state.
type Server struct {
	d       Deps
	catalog *app.PlanCatalog
	limits  *limiter
	fair    *fairness
	slugs   sync.Map // slug → tenant id: slugs never change
	creds   credCache
	// authFails counts failed authentications per client (admitCredential).
	authFails *authFailures
	// feedWaits counts the requests waiting for a tenant's events (GET /v1/events?wait=).
	feedWaits feedWaiters
	audits    *auditCache
	// credLookups shares one credential lookup among the requests that need the same one.
	credLookups singleflight.Group
	metrics     *metrics
	usage       *app.RecordUsage
	uc          useCases
	doc         openAPICache
}

// New builds the Gin engine with every route. Products that fail CheckProducts are a
// configuration error New cannot return: it logs it and every request answers 500 (use
// NewChecked to refuse to start instead).
func New(d Deps) *gin.Engine {
	r, _, err := build(d)
	if err != nil {
		return broken(d, err)
	}
	return r
}

// NewChecked is New, or why d's products cannot be served (CheckProducts).
func NewChecked(d Deps) (*gin.Engine, error) {
	r, _, err := build(d)
	return r, err
}

// broken is the engine of a server that could not be built: it logs why, and answers every
// request 500 rather than serving without the routes it was given.
func broken(d Deps, err error) *gin.Engine {
	if d.Logger != nil {
		d.Logger.Error("the API cannot serve its products", "err", err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusInternalServerError, "internal", "internal error: the server's configuration is not valid")
	})
	return r
}

// build is New, also returning the server behind the engine; an error when d's products
// cannot be served (CheckProducts).
func build(d Deps) (*gin.Engine, *Server, error) {
	if err := CheckProducts(d.Products); err != nil {
		return nil, nil, fmt.Errorf("products: %w", err)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.BillingSettle <= 0 {
		d.BillingSettle = app.DefaultSettle
	}
	if d.SettleTimeout <= 0 {
		d.SettleTimeout = 5 * time.Second
	}
	if d.AuthLagBound <= 0 {
		d.AuthLagBound = DefaultAuthLagBound
	}
	if d.InvitationTTL <= 0 {
		d.InvitationTTL = 7 * 24 * time.Hour
	}
	if d.Plans == (domain.Plans{}) {
		d.Plans = domain.DefaultPlans()
	}
	if d.Catalog == nil {
		d.Catalog = app.NewPlanCatalog(eventstore.DomainStore{Store: d.Store, Registry: d.Registry}, plans.Default(d.Plans))
	}
	if d.Definitions == nil {
		d.Definitions = d.Catalog
	}
	if d.Entitlements == nil {
		d.Entitlements = app.NewEntitlements(UsageTotalsSource{Store: d.Store}, d.Catalog, app.ClockFunc(d.Now), app.EntitlementsConfig{})
	}
	s := &Server{d: d, catalog: d.Catalog, limits: newLimiter(d.Catalog.Limits), fair: newFairness(), metrics: newMetrics(d.Metrics),
		usage: newRecordUsage(d), authFails: newAuthFailures(), audits: newAuditCache(d)}
	s.limits.shared = d.SharedLimits
	var lastWarn atomic.Int64
	s.limits.onError = func(err error) { // at most one warning a minute
		if now := time.Now().Unix(); now-lastWarn.Load() >= 60 {
			lastWarn.Store(now)
			d.Logger.Warn("shared rate limits unavailable; limiting per replica", "err", err)
		}
	}
	d.Timeouts = d.Timeouts.withDefaults()
	s.d = d
	s.uc = newUseCases(d, d.Catalog)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	proxies := make([]string, len(d.TrustedProxies))
	for i, p := range d.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := r.SetTrustedProxies(proxies); err != nil { // valid prefixes cannot fail; trust no one if they do
		d.Logger.Error("ignoring TENANTRY_TRUSTED_PROXIES", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false // an API answers 404 for a path it does not serve
	r.ContextWithFallback = true
	r.Use(s.observe, s.recover, limitBody)
	r.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusNotFound, "not-found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path)
	})
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, "method-not-allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})
	for _, rt := range s.routes() {
		h := s.handle(rt)
		// Gin adds no HEAD: a GET answers it, net/http drops the body.
		for _, m := range routeMethods(rt) {
			for _, p := range routePaths(rt) {
				r.Handle(m, p, h)
			}
		}
	}
	return r, s, nil
}

// workspacePrefix is where every tenant-scoped route also answers.
const workspacePrefix = "/v1/workspaces/:workspace"

// reqState is what the pipeline learns about a request as it goes: its id (observe), its
// route (handle) and tenant (once known). It rides in the request's context, once per
// request, and is the request's log attributes too (logctx.Source): the tenant learnt
// later joins the id without another context or Gin's per-request map.
type reqState struct {
	id    string
	route string // "METHOD /path" of a route handle serves ("" otherwise)
	// rawBody is the body as the server gave it, before limitBody's limit (tooLarge
	// discards its rest through it).
	rawBody io.Reader

	mu       sync.Mutex // tenantID is set by the request's goroutine, read by what logs with its context
	tenantID string     // the tenant the request is about, formatted ("" while unknown)
}

type reqStateKey struct{}

// requestState is the request's state (a zero one outside observe, which makes it).
func requestState(c *gin.Context) *reqState {
	if st, ok := c.Request.Context().Value(reqStateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{}
}

// requestID is the request's id ("" outside observe).
func requestID(c *gin.Context) string { return requestState(c).id }

// setTenant records the tenant the request is about, for its log line and log attributes.
func setTenant(c *gin.Context, id uuid.UUID) { requestState(c).setTenant(id.String()) }

// setTenant records the tenant, formatted.
func (st *reqState) setTenant(tenantID string) {
	st.mu.Lock()
	st.tenantID = tenantID
	st.mu.Unlock()
}

// tenantOf is the tenant setTenant recorded ("" when none).
func (st *reqState) tenantOf() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.tenantID
}

// LogAttrs is the request's log attributes: request_id and, once known, tenant_id.
func (st *reqState) LogAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("request_id", st.id)}
	if t := st.tenantOf(); t != "" {
		attrs = append(attrs, slog.String("tenant_id", t))
	}
	return attrs
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// observe gives every request an id (the caller's X-Request-ID when it is sane), echoes it,
// and logs one line when the request ends: id, tenant, route, status and latency. It
// never logs headers or bodies, so no credential can reach the logs.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-Id") // canonical spelling: Header.Get need not allocate it
	if !requestIDPattern.MatchString(id) {
		id = uuid.NewString()
	}
	c.Header("X-Request-Id", id)
	// Code that logs with the request's context (...Context(c.Request.Context())) gets the
	// request id, and the tenant id once it is resolved (handle), from logctx's handler.
	st := &reqState{id: id}
	c.Request = c.Request.WithContext(logctx.WithSource(context.WithValue(c.Request.Context(), reqStateKey{}, st), st))
	c.Next()
	route := st.route
	if route == "" {
		route = c.FullPath()
	}
	if route == "" {
		route = "unmatched" // one value for every path no route serves
	}
	method := methodLabel(c.Request.Method)
	status := c.Writer.Status()
	latency := time.Since(start)
	s.metrics.observe(method, route, status, latency)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	ctx := c.Request.Context()
	if !s.d.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("request_id", id))
	if t := st.tenantOf(); t != "" {
		attrs = append(attrs, slog.String("tenant_id", t))
	}
	attrs = append(attrs, slog.String("method", method), slog.String("route", route),
		slog.Int("status", status), slog.Float64("latency_ms", float64(latency)/float64(time.Millisecond)))
	s.d.Logger.LogAttrs(ctx, level, "request", attrs...)
}

// logger is the request's logger: request id and, once resolved, tenant id.
func (s *Server) logger(c *gin.Context) *slog.Logger {
	st := requestState(c)
	l := s.d.Logger.With("request_id", st.id)
	if t := st.tenantOf(); t != "" {
		l = l.With("tenant_id", t)
	}
	return l
}

// recover turns a panic into a logged 500 problem.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger(c).Error("panic while serving", "panic", v)
			if !c.Writer.Written() {
				fail(c, http.StatusInternalServerError, "internal", "internal error; quote the request id when reporting it")
			}
			c.Abort()
		}
	}()
	c.Next()
}

func jsonMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeJSON(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeJSON appends v's JSON (HTML characters as they are) and a newline to b.
func encodeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// replyBuffers holds reply's buffers between answers: every answer is encoded into one
// and written before the next takes it (the writer copies what it keeps).
var replyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledReply is the largest buffer reply keeps for the next answer; a larger one (a
// big list) is left to the collector rather than held.
const maxPooledReply = 64 << 10

// reply writes a JSON body.
func reply(c *gin.Context, status int, v any) {
	b := replyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= maxPooledReply {
			b.Reset()
			replyBuffers.Put(b)
		}
	}()
	if err := encodeJSON(b, v); err != nil {
		fail(c, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	c.Data(status, "application/json", b.Bytes())
}

// DefaultAuthLagBound is Deps.AuthLagBound's default: more than the projector's backlog
// scan (5 s), which still drives it when the relay is held back, so that a healthy
// projector never trips it. With the credential cache's bound (credTTL) it bounds how long
// any change to authorisation state can go unenforced.
const DefaultAuthLagBound = 10 * time.Second

// settle waits, bounded, until the tenant's authorisation state (the auth projection)
// includes seq, so that a client that reads after a write sees it, and a revoked key, a
// removed member, a suspended or closed tenant take effect before the write is answered.
// It returns the wait's error: context.DeadlineExceeded when the change is not in force
// within SettleTimeout (the write stands; see changed), ErrProjectionStopped at once when
// the projection is stopped (requests for the tenant then answer 503, see lookupCred).
func (s *Server) settle(ctx context.Context, cl *call, tenant uuid.UUID, seq int64) error {
	return s.settleOn(ctx, cl, tenant, seq, eventstore.ProjectionAuth)
}

// settleOn waits, bounded by SettleTimeout, until the named projections of the tenant
// include seq; ErrProjectionStopped at once if one is stopped before it. Waiting takes no
// CPU and no query of its own (see eventstore.WaitForProjections): the request gives up
// its tenant's fairness slot first.
func (s *Server) settleOn(ctx context.Context, cl *call, tenant uuid.UUID, seq int64, projs ...string) error {
	if seq <= 0 {
		return nil
	}
	cl.yield()
	return s.d.Store.WaitForProjections(waitContext(ctx), tenant, seq, s.d.SettleTimeout, projs...)
}

// waitContext is the context a request's bounded wait derives its timer from: the request's
// own context, never the *gin.Context, which gin recycles for the next request as soon as
// the handler returns, while the timer that ended the wait (and so the handler) may still
// be unlinking itself from its parent through the recycled context's Request (a data race
// the race detector caught on the event feed's long poll).
func waitContext(ctx context.Context) context.Context {
	if c, ok := ctx.(*gin.Context); ok && c.Request != nil {
		return c.Request.Context()
	}
	return ctx
}
