package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantry/tenantry/domain"
	dbilling "github.com/tenantry/tenantry/domain/billing"
)

// metrics are the API's Prometheus series. Labels are route templates, never raw paths or
// tenant ids, so their number stays bounded.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	throttled *prometheus.CounterVec
	// keyLookups counts API keys read from the database: cache misses and refreshes.
	keyLookups prometheus.Counter
	// stripeIgnored counts the Stripe deliveries ignored, by reason.
	stripeIgnored *prometheus.CounterVec
}

// newMetrics registers the API's series in reg (a fresh registry when nil, with the Go and
// process collectors); /metrics serves reg.
func newMetrics(reg *prometheus.Registry) *metrics {
	own := reg == nil
	if own {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_http_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tenantry_http_request_duration_seconds", Help: "HTTP request latency by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_rate_limited_total", Help: "Requests refused by the per-tenant rate limit, by plan.",
		}, []string{"plan"}),
		keyLookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantry_api_key_lookups_total", Help: "API keys read from the database (cache misses and background refreshes).",
		}),
		stripeIgnored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_stripe_deliveries_ignored_total",
			Help: "Stripe webhook deliveries that changed no tenant because they do not concern one (redeliveries not counted), by reason.",
		}, []string{"reason"}),
	}
	for _, plan := range []string{"free", "pro", "enterprise", "anonymous"} {
		m.throttled.WithLabelValues(plan) // present at 0 before the first refusal
	}
	for _, r := range ignoredReasons {
		m.stripeIgnored.WithLabelValues(string(r))
	}
	m.reg.MustRegister(m.requests, m.latency, m.throttled, m.keyLookups, m.stripeIgnored)
	if own {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// methodLabel maps a request method to a bounded set of label values: the method is chosen
// by the client, and one label value per invented method would grow /metrics (and the
// process's memory) forever.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// planLabel maps a plan name to a bounded set of label values: the default catalog's plan
// names, "anonymous", or "other".
func planLabel(plan string) string {
	// The catalog's plans are the operator's: only the default catalog's names are labels.
	for _, p := range domain.PlanNames() {
		if p.String() == plan {
			return plan
		}
	}
	if plan == "anonymous" {
		return plan
	}
	return "other"
}

// observe counts a request; method and route must already be bounded (methodLabel, route
// templates or "unmatched").
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *metrics) rateLimited(plan string) { m.throttled.WithLabelValues(planLabel(plan)).Inc() }

// ignoredReasons are the label values of tenantry_stripe_deliveries_ignored_total; any
// other reason is counted as "other".
var ignoredReasons = []dbilling.Reason{dbilling.ReasonCustomerNotLinked, dbilling.ReasonSubscriptionNotLinked, dbilling.ReasonTypeNotHandled}

func (m *metrics) stripeDeliveryIgnored(r dbilling.Reason) {
	label := "other"
	if slices.Contains(ignoredReasons, r) {
		label = string(r)
	}
	m.stripeIgnored.WithLabelValues(label).Inc()
}

func (s *Server) metricsHandler(c *gin.Context, _ *call) {
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(c.Writer, c.Request)
}
