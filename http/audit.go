package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	"github.com/tenantry/tenantry/projections"
)

func (s *Server) getBilling(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.Projections[:]...) {
		return
	}
	now := s.now().UTC()
	cutoff := now.Add(-s.d.BillingSettle).Truncate(time.Hour) // the end of the last window due
	// By default the months whose usage can still change (usage may arrive up to
	// usage.MaxAge late); ?period=YYYY-MM picks one month.
	from := startOfMonth(now.Add(-usage.MaxAge - time.Hour))
	to := startOfMonth(now).AddDate(0, 1, 0)
	if v, ok := c.GetQuery("period"); ok {
		m, err := time.Parse("2006-01", v)
		if err != nil {
			fail(c, http.StatusBadRequest, "invalid-request", "period must be a month written YYYY-MM",
				FieldError{Field: "period", Message: "must be YYYY-MM"})
			return
		}
		from, to = m.UTC(), m.UTC().AddDate(0, 1, 0)
	}
	var b projections.Billing
	var p projections.Profile
	var lines []projections.ReconLine
	err := eventstore.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		if p, err = projections.GetProfile(c, tx); err != nil {
			return err
		}
		if b, err = projections.GetBilling(c, tx); err != nil {
			return err
		}
		// Recorded usage comes from the usage projection: a stopped one would understate it.
		if stopped, err := eventstore.StoppedProjectionIn(c, tx, cl.tenant, eventstore.ProjectionUsage); err != nil || stopped != "" {
			if err == nil {
				err = &eventstore.StoppedError{Projection: stopped}
			}
			return err
		}
		lines, err = projections.Reconcile(c, tx, from, to, cutoff)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	if lines == nil {
		lines = []projections.ReconLine{}
	}
	reply(c, http.StatusOK, gin.H{"plan": p.Plan, "tenant_status": p.Status, "billing": b, "cutoff": cutoff, "usage": lines})
}

func startOfMonth(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// auditEvents streams the tenant's events after after_seq as NDJSON, limit lines at most
// (default and maximum 10,000); the next page starts after the last line's seq.
func (s *Server) auditEvents(c *gin.Context, cl *call) {
	after, limit := int64(0), 10000
	var errs fieldErrors
	if v := c.Query("after_seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, FieldError{Field: "after_seq", Message: "must be a non-negative integer"})
		}
		after = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			errs = append(errs, FieldError{Field: "limit", Message: "must be an integer from 1 to 10000"})
		}
		limit = n
	}
	if errs.fail(c) {
		return
	}
	// The stream ends at the tenant's head as of now; the page that reaches it ends with
	// the head line, signed when the server has a signing key (AUDIT.md).
	out := &ndjsonWriter{c: c, timeout: s.d.Timeouts.Write}
	if _, _, err := audit.ExportPage(c, s.d.Store, cl.tenant, out, after, limit, s.d.AuditSigner, s.now, nil); err != nil {
		if !out.started {
			s.failErr(c, err)
		} else {
			s.logger(c).Error("audit export interrupted", "err", err)
		}
		return
	}
	out.start()
}

// ndjsonWriter answers 200 with NDJSON on the first write, so that an error before any
// byte can still be a problem response. A stream may last longer than the server's write
// timeout: each write moves the connection's deadlines to a full timeout from now, so an
// export completes however long it is while the client keeps reading, and a client that
// stops reading is still cut off after one timeout.
type ndjsonWriter struct {
	c       *gin.Context
	timeout time.Duration // the server's write timeout
	started bool
}

func (w *ndjsonWriter) start() {
	if !w.started {
		w.started = true
		w.c.Header("Content-Type", "application/x-ndjson")
		w.c.Status(http.StatusOK)
		w.c.Writer.WriteHeaderNow()
	}
}

func (w *ndjsonWriter) Write(p []byte) (int, error) {
	w.start()
	rc := http.NewResponseController(w.c.Writer)
	deadline := time.Now().Add(w.timeout)
	// The read deadline too: once the server's read timeout passes, its wait for the
	// connection's next request fails, and that cancels the request's context mid-stream.
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	return w.c.Writer.Write(p)
}

func (s *Server) auditVerify(c *gin.Context, cl *call) {
	report, err := s.audits.verify(c, s.d.Store, cl.tenant, time.Now())
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, report)
}

// auditState rebuilds the tenant as of an instant from its events alone.
func (s *Server) auditState(c *gin.Context, cl *call) {
	asOf := s.now()
	if v := c.Query("as_of"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			fail(c, http.StatusBadRequest, "invalid-request", "as_of must be an RFC 3339 time",
				FieldError{Field: "as_of", Message: "must be an RFC 3339 time"})
			return
		}
		asOf = t
	}
	state, wait, err := s.audits.state(c, s.d.Store, s.d.Registry, cl.tenant, asOf, time.Now())
	if wait > 0 {
		retryAfter(c, wait)
		fail(c, http.StatusTooManyRequests, "rate-limited", fmt.Sprintf(
			"replaying the history to an earlier instant is limited to %d a minute per tenant (the current state, and instants asked for recently, are not); retry after the delay in Retry-After",
			historicalReplayBudget))
		return
	}
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, state)
}

// State is a tenant as its events say it was at an instant.
type State struct {
	AsOf    time.Time    `json:"as_of"`
	Seq     int64        `json:"seq"`
	Tenant  *tenantView  `json:"tenant"`
	Members []memberView `json:"members"`
	// UsageTotals are exact sums, written as JSON integers of any size: a metric's records
	// over a tenant's whole history can add up to more than an int64 (10^12 a record), and
	// events stored before that bound may carry up to 2^63-1 each.
	UsageTotals map[string]json.Number `json:"usage_totals"`
}

// ReplayState replays the tenant's events recorded at or before asOf.
func ReplayState(c context.Context, store *eventstore.Store, reg *eventstore.Registry, id uuid.UUID, asOf time.Time) (State, error) {
	var r replay
	if err := r.fold(c, store, reg, id, asOf); err != nil {
		return State{AsOf: asOf.UTC(), Members: []memberView{}, UsageTotals: map[string]json.Number{}}, err
	}
	return r.state(asOf)
}

// replay is a tenant's history folded up to seq: what State is built from. It can be
// folded further as the history grows, so that the current state costs only the events
// recorded since it was last asked for.
type replay struct {
	seq                        int64
	last                       time.Time // when the event at seq was recorded
	tenantEvents, memberEvents []domain.Event
	usageTotals                map[string]*big.Int // exact: int64 sums wrapped around
}

// fold adds the tenant's events after r.seq recorded at or before asOf (events are
// recorded in seq order).
func (r *replay) fold(c context.Context, store *eventstore.Store, reg *eventstore.Registry, id uuid.UUID, asOf time.Time) error {
	if r.usageTotals == nil {
		r.usageTotals = map[string]*big.Int{}
	}
	var q big.Int
	for {
		page, err := store.ReadTenantBounded(c, id, r.seq, eventstore.MaxPage)
		if err != nil {
			return err
		}
		if len(page) == 0 { // a short page may be cut by size: only an empty one ends
			return nil
		}
		for i := range page {
			e := &page[i]
			if e.RecordedAt.After(asOf) {
				return nil
			}
			p, err := reg.DecodeEvent(e)
			if err != nil {
				return err
			}
			if de, ok := p.(domain.Event); ok {
				switch e.StreamID {
				case tenant.StreamID:
					r.tenantEvents = append(r.tenantEvents, de)
				case membership.StreamID:
					r.memberEvents = append(r.memberEvents, de)
				case usage.StreamID:
					recs, _ := usage.Records(de)
					for _, rec := range recs {
						sum := r.usageTotals[rec.Metric.String()]
						if sum == nil {
							sum = new(big.Int)
							r.usageTotals[rec.Metric.String()] = sum
						}
						sum.Add(sum, q.SetInt64(rec.Quantity.Int64()))
					}
				}
			}
			r.seq, r.last = e.Seq, e.RecordedAt
		}
	}
}

// clone is a copy that can be folded further without changing r.
func (r *replay) clone() *replay {
	out := &replay{seq: r.seq, last: r.last, tenantEvents: slices.Clip(r.tenantEvents),
		memberEvents: slices.Clip(r.memberEvents), usageTotals: make(map[string]*big.Int, len(r.usageTotals))}
	for k, v := range r.usageTotals { // the sums are added to in place: copy them
		out.usageTotals[k] = new(big.Int).Set(v)
	}
	return out
}

// state is the tenant as the folded events leave it, as of asOf.
func (r *replay) state(asOf time.Time) (State, error) {
	st := State{AsOf: asOf.UTC(), Seq: r.seq, Members: []memberView{}, UsageTotals: make(map[string]json.Number, len(r.usageTotals))}
	for k, v := range r.usageTotals {
		st.UsageTotals[k] = json.Number(v.String())
	}
	if len(r.tenantEvents) > 0 {
		t, err := tenant.Replay(r.tenantEvents)
		if err != nil {
			return st, err
		}
		v := viewOf(t)
		st.Tenant = &v
	}
	m, err := membership.Replay(r.memberEvents)
	if err != nil {
		return st, err
	}
	for _, mem := range m.Members() {
		st.Members = append(st.Members, memberView{ID: mem.ID, Email: mem.Email.String(), Role: mem.Role.String()})
	}
	return st, nil
}
