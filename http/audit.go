package httpapi

import (
	"context"
	"net/http"
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
	if !s.minSeq(c, cl, projections.Projections[:]...) {
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
	err := projections.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		if p, err = projections.GetProfile(c, tx); err != nil {
			return err
		}
		if b, err = projections.GetBilling(c, tx); err != nil {
			return err
		}
		// Recorded usage comes from the usage projection: a stopped one would understate it.
		if stopped, err := projections.StoppedProjection(c, tx, cl.tenant, projections.ProjectionUsage); err != nil || stopped != "" {
			if err == nil {
				err = &projections.StoppedError{Projection: stopped}
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
	out := &ndjsonWriter{c: c}
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
// byte can still be a problem response.
type ndjsonWriter struct {
	c       *gin.Context
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
	return w.c.Writer.Write(p)
}

func (s *Server) auditVerify(c *gin.Context, cl *call) {
	report, err := s.d.Store.VerifyChain(c, cl.tenant)
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
	state, err := ReplayState(c, s.d.Store, s.d.Registry, cl.tenant, asOf)
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, state)
}

// State is a tenant as its events say it was at an instant.
type State struct {
	AsOf        time.Time        `json:"as_of"`
	Seq         int64            `json:"seq"`
	Tenant      *tenantView      `json:"tenant"`
	Members     []memberView     `json:"members"`
	UsageTotals map[string]int64 `json:"usage_totals"`
}

// ReplayState replays the tenant's events recorded at or before asOf.
func ReplayState(c context.Context, store *eventstore.Store, reg *eventstore.Registry, id uuid.UUID, asOf time.Time) (State, error) {
	st := State{AsOf: asOf.UTC(), Members: []memberView{}, UsageTotals: map[string]int64{}}
	var tenantEvents, memberEvents []domain.Event
	var after int64
	for {
		page, err := store.ReadTenant(c, id, after, eventstore.MaxPage)
		if err != nil {
			return st, err
		}
		for i := range page {
			e := &page[i]
			if e.RecordedAt.After(asOf) {
				page = nil
				break
			}
			p, err := reg.DecodeEvent(e)
			if err != nil {
				return st, err
			}
			de, ok := p.(domain.Event)
			if !ok {
				continue
			}
			switch e.StreamID {
			case tenant.StreamID:
				tenantEvents = append(tenantEvents, de)
			case membership.StreamID:
				memberEvents = append(memberEvents, de)
			case usage.StreamID:
				recs, _ := usage.Records(de)
				for _, r := range recs {
					st.UsageTotals[r.Metric.String()] += r.Quantity.Int64()
				}
			}
			st.Seq = e.Seq
			after = e.Seq
		}
		if len(page) < eventstore.MaxPage {
			break
		}
	}
	if len(tenantEvents) > 0 {
		t, err := tenant.Replay(tenantEvents)
		if err != nil {
			return st, err
		}
		v := viewOf(t)
		st.Tenant = &v
	}
	m, err := membership.Replay(memberEvents)
	if err != nil {
		return st, err
	}
	for _, mem := range m.Members() {
		st.Members = append(st.Members, memberView{ID: mem.ID, Email: mem.Email.String(), Role: mem.Role.String()})
	}
	return st, nil
}
