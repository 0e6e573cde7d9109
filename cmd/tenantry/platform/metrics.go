package platform

import (
	"context"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	"github.com/tenantry/tenantry/projections"
	"github.com/tenantry/tenantry/workers/billing"
)

// worstTenants is how many of the most lagging tenants /metrics shows, by rank: a label per
// rank (1 to 5), never per tenant, keeps the series bounded however many tenants there are.
const worstTenants = 5

// processMetrics is the registry /metrics serves in serve: the API registers its own series
// in it; this adds the event store, relay, projector, billing worker and head signer.
type processMetrics struct {
	reg         *prometheus.Registry
	appended    prometheus.Counter
	appendFails prometheus.Counter
	appendTime  prometheus.Histogram
	relayed     prometheus.Counter
	relayLag    prometheus.Gauge
	projected   prometheus.Counter
	projLag     prometheus.Histogram
}

// newProcessMetrics builds the process's registry; newProcess adds the series of the
// components it builds.
func newProcessMetrics() *processMetrics {
	m := &processMetrics{
		reg: prometheus.NewRegistry(),
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_events_appended_total",
			Help: "Events appended (retries recognised as such count again)."}),
		appendFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_append_failures_total",
			Help: "Appends that failed (including refused expectations)."}),
		appendTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tenantry_append_duration_seconds",
			Help: "Time per append call.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_relay_events_total",
			Help: "Events the relay published to the bus."}),
		relayLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tenantry_relay_lag_seconds",
			Help: "Age of the newest event in the relay's last published batch when it was published."}),
		projected: prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_projection_events_total",
			Help: "Events applied to read models (a batch whose commit failed counts again)."}),
		projLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tenantry_projection_lag_seconds",
			Help:    "Time from an event's recording to its batch being applied, per batch (newest event).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
	}
	m.reg.MustRegister(m.appended, m.appendFails, m.appendTime, m.relayed, m.relayLag, m.projected, m.projLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeBacklog reads the projection backlog gauges through store, at scrape time: the
// tenantry_worker store, as they look across tenants (an API replica has none and leaves
// them to the projector replicas).
func (m *processMetrics) observeBacklog(store *eventstore.Store, names []string) {
	m.reg.MustRegister(&backlogCollector{store: store, names: names})
}

// observeStore counts appends.
func (m *processMetrics) observeStore(events int, took time.Duration, err error) {
	if err != nil {
		m.appendFails.Inc()
		return
	}
	m.appended.Add(float64(events))
	m.appendTime.Observe(took.Seconds())
}

// relayObserved counts a batch the relay published (projections.PipelineConfig.ObserveRelay).
func (m *processMetrics) relayObserved(events int, newest time.Time) {
	m.relayed.Add(float64(events))
	m.relayLag.Set(time.Since(newest).Seconds())
}

// projectorObserved counts a batch the projector applied
// (projections.PipelineConfig.ObserveProjector).
func (m *processMetrics) projectorObserved(_ uuid.UUID, events int, newest time.Time) {
	m.projected.Add(float64(events))
	m.projLag.Observe(time.Since(newest).Seconds())
}

// observeProjector exposes the projections the projector stopped, by projection.
func (m *processMetrics) observeProjector(p *projections.Projector) {
	for _, name := range p.Names() {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_projection_failures_total",
			ConstLabels: prometheus.Labels{"projection": name},
			Help:        "Events that stopped a projection of a tenant (each isolated and listed by projection_failures()), by projection, since start."},
			func() float64 { return float64(p.PoisonedIn(name)) }))
	}
}

// observeWorker exposes the billing worker's and its Stripe caller's counts.
func (m *processMetrics) observeWorker(w *billing.Worker) {
	job := prometheus.Labels{"job": "billing_cycle"}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_worker_runs_total", ConstLabels: job,
			Help: "Scheduled worker runs."}, func() float64 { return float64(w.Stats().Cycles) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_worker_failures_total", ConstLabels: job,
			Help: "Worker runs that failed, plus tenants whose part of a run failed."},
			func() float64 { s := w.Stats(); return float64(s.CycleFailures + s.TenantFailures) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_usage_windows_reported_total",
			Help: "Usage window revisions Stripe confirmed."}, func() float64 { return float64(w.Stats().Windows) }),
	)
	for outcome, f := range map[string]func(billing.CallerStats) int64{
		"sent":      func(s billing.CallerStats) int64 { return s.Calls },
		"retried":   func(s billing.CallerStats) int64 { return s.Retries },
		"gave_up":   func(s billing.CallerStats) int64 { return s.Failures },
		"succeeded": func(s billing.CallerStats) int64 { return s.Calls - s.Retries - s.Failures },
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_stripe_calls_total",
			ConstLabels: prometheus.Labels{"outcome": outcome},
			Help:        "Stripe API calls by outcome: sent (every attempt), retried, gave_up (after retries), succeeded."},
			func() float64 { return float64(f(w.StripeStats())) }))
	}
}

// observeHeadSigner exposes the periodic head signing.
func (m *processMetrics) observeHeadSigner(s *audit.HeadSigner) {
	job := prometheus.Labels{"job": "sign_heads"}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_worker_runs_total", ConstLabels: job,
			Help: "Scheduled worker runs."}, func() float64 { r, _ := s.Stats(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tenantry_worker_failures_total", ConstLabels: job,
			Help: "Worker runs that failed, plus tenants whose part of a run failed."},
			func() float64 { _, f := s.Stats(); return float64(f) }),
	)
}

// backlogCollector reads, at scrape time, how far the read models are behind the events:
// overall, and for the worst tenants by rank.
// backlogCollector reads the backlog of the named projections (Tenantry's own and the
// products' modules').
type backlogCollector struct {
	store *eventstore.Store
	names []string
}

var (
	backlogEvents  = prometheus.NewDesc("tenantry_projection_backlog_events", "Events recorded but not yet in the read models, over all tenants.", nil, nil)
	backlogTenants = prometheus.NewDesc("tenantry_projection_backlog_tenants", "Tenants whose read models are behind their events.", nil, nil)
	worstLag       = prometheus.NewDesc("tenantry_projection_backlog_worst_events", "Events behind, of the tenants furthest behind, by rank (1 is the worst).", []string{"rank"}, nil)
	failedTenants  = prometheus.NewDesc("tenantry_projection_failed_tenants", "Tenants whose projection stopped on an event it cannot apply.", nil, nil)
)

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogEvents
	ch <- backlogTenants
	ch <- worstLag
	ch <- failedTenants
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	behind, err := c.store.ProjectionsBehind(ctx, 100000, c.names...)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogEvents, err)
		return
	}
	var total int64
	for _, n := range behind {
		total += n
	}
	sort.Slice(behind, func(i, j int) bool { return behind[i] > behind[j] })
	ch <- prometheus.MustNewConstMetric(backlogEvents, prometheus.GaugeValue, float64(total))
	ch <- prometheus.MustNewConstMetric(backlogTenants, prometheus.GaugeValue, float64(len(behind)))
	for rank := 0; rank < worstTenants; rank++ {
		var n int64
		if rank < len(behind) {
			n = behind[rank]
		}
		ch <- prometheus.MustNewConstMetric(worstLag, prometheus.GaugeValue, float64(n), string(rune('1'+rank)))
	}
	if failed, err := c.store.StoppedProjections(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(failedTenants, prometheus.GaugeValue, float64(failed))
	}
}
