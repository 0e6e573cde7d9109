package httpapi

import (
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

func (s *Server) getBilling(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.Projections[:]...) {
		return
	}
	now := s.now().UTC()
	cutoff := app.DueCutoff(now, s.d.BillingSettle)
	// By default the months whose usage can still change; ?period= (the month's first
	// instant, RFC 3339) picks one month.
	from, to := app.OpenMonths(now)
	if v, ok := c.GetQuery("period"); ok {
		m, err := app.ParsePeriod(v)
		if err != nil {
			s.failErr(c, err)
			return
		}
		from, to = m, m.AddDate(0, 1, 0)
	}
	var b eventstore.Billing
	var p eventstore.Profile
	var lines []eventstore.ReconLine
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		var err error
		if p, err = tx.Profile(c); err != nil {
			return err
		}
		if b, err = tx.Billing(c); err != nil {
			return err
		}
		// Recorded usage comes from the usage projection: a stopped one would understate it.
		if err := tx.RequireCurrent(c, eventstore.ProjectionUsage); err != nil {
			return err
		}
		lines, err = tx.Reconcile(c, from, to, cutoff)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	usage := make([]BillingLine, len(lines))
	for i, l := range lines {
		usage[i] = NewBillingLine(app.ReconLine(l))
	}
	reply(c, http.StatusOK, api.Billing{Plan: p.Plan, TenantStatus: p.Status, Cutoff: cutoff, Usage: usage,
		Billing: api.BillingState{StripeCustomerID: b.StripeCustomerID, StripeSubscriptionID: b.StripeSubscriptionID, Status: b.Status,
			PastDueSince: b.PastDueSince, GraceEndsAt: b.GraceEndsAt}})
}

// BillingLine is a reconciliation line as GET /v1/billing answers it (and `tenantry billing
// reconcile --json` prints it): the sums are exact decimals of any size (whole ones as
// exactInt writes them).
type BillingLine = api.BillingLine

// NewBillingLine is l as BillingLine.
func NewBillingLine(l app.ReconLine) BillingLine {
	d := func(v *big.Int) api.ExactDecimal {
		return api.Decimal(usage.NewDecimal(usage.AmountFromBig(v), l.Scale).String())
	}
	return BillingLine{Metric: l.Metric, Period: l.Period, Recorded: d(l.Recorded), Reported: d(l.Reported),
		Difference: d(l.Difference), UnreportedWindows: l.UnreportedWindows, InProgress: d(l.InProgress)}
}

// maxAuditPage bounds (and is the default of) the events of one page of GET
// /v1/audit/events.
const maxAuditPage = 10000

// auditEvents streams the tenant's events as NDJSON, a page of at most limit events after the
// cursor; the page that reaches the head ends with the head line. Seqs are dense (1..head),
// so the next cursor and has_more are known before the first byte and sent as headers.
func (s *Server) auditEvents(c *gin.Context, cl *call) {
	var bad domain.Invalids
	after, err := domain.ParseSeqCursor(domain.ListAuditEvents, c.Query("cursor"))
	if err != nil {
		bad = append(bad, err.(*domain.Error))
	}
	limit, err := domain.ParsePageLimit(c.Query("limit"), maxAuditPage, maxAuditPage)
	if err != nil {
		bad = append(bad, err.(*domain.Error))
	}
	if len(bad) > 0 {
		s.failErr(c, bad)
		return
	}
	start := func(last, head int64) {
		more := last < head
		c.Header("Tenantry-Has-More", strconv.FormatBool(more))
		if more {
			c.Header("Tenantry-Next-Cursor", domain.SeqCursor(domain.ListAuditEvents, last))
		}
	}
	// The stream ends at the tenant's head as of now; the page that reaches it ends with
	// the head line, signed when the server has a signing key (AUDIT.md).
	out := &ndjsonWriter{c: c, timeout: s.d.Timeouts.Write}
	if _, err := s.audits.export.Write(c, app.ExportInput{Tenant: cl.tenant, After: after, Limit: limit, Start: start}, out); err != nil {
		if !out.started {
			c.Writer.Header().Del("Tenantry-Has-More") // a problem, not a page
			c.Writer.Header().Del("Tenantry-Next-Cursor")
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
	report, err := s.audits.verify(c, cl.tenant, time.Now())
	if err != nil {
		s.failAudit(c, err)
		return
	}
	reply(c, http.StatusOK, chainReportAnswer(report))
}

// failAudit answers an audit request's error: 429 with Retry-After when the tenant spent a
// budget of expensive audit work (auditCache), as failErr otherwise.
func (s *Server) failAudit(c *gin.Context, err error) {
	var spent *budgetSpent
	if errors.As(err, &spent) {
		retryAfter(c, spent.wait)
		fail(c, http.StatusTooManyRequests, "rate-limited", spent.Error()+"; retry after the delay in Retry-After")
		return
	}
	s.failErr(c, err)
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
	state, err := s.audits.state(c, cl.tenant, asOf, time.Now())
	if err != nil {
		s.failAudit(c, err)
		return
	}
	reply(c, http.StatusOK, stateAnswer(state))
}
