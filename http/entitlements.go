package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/http/api"
)

// Entitlements (issue 20, part 4): what the tenant's plan version allows it now, answered
// from memory kept current by the tenant's event stream (app.Entitlements). The plan and
// version are the authenticated credential's, as introspection's.

func (s *Server) getEntitlements(c *gin.Context, cl *call) {
	minSeq, ok := entitlementsMinSeq(c)
	if !ok {
		return
	}
	plan, ok := s.credentialPlan(c, cl)
	if !ok {
		return
	}
	if minSeq > 0 {
		cl.yield() // the read may wait (up to 2 s): waiting holds no fairness slot of the tenant
	}
	ans, err := s.d.Entitlements.List(c, cl.tenant, plan, cl.planV, minSeq)
	if err != nil {
		s.failEntitlements(c, err)
		return
	}
	reply(c, http.StatusOK, entitlementsAnswer(ans))
}

func (s *Server) checkEntitlement(c *gin.Context, cl *call) {
	var req api.EntitlementCheckRequest
	if !decode(c, cl.body, &req) {
		return
	}
	plan, ok := s.credentialPlan(c, cl)
	if !ok {
		return
	}
	ans, err := s.d.Entitlements.Check(c, cl.tenant, plan, cl.planV, req.Feature, req.Metric, string(req.Quantity))
	if err != nil {
		s.failEntitlements(c, err)
		return
	}
	out := api.EntitlementCheck{Allowed: ans.Allowed, Reason: ans.Reason.String(), Message: ans.Message, Feature: ans.Feature,
		Metric: ans.Name.String(), PeriodEnd: ans.Period.End, Seq: ans.Seq}
	if m := ans.Metric; m != nil {
		quota, used, rem := api.Decimal(m.Quota.Included.String()), api.Decimal(m.Usage.String()), api.Decimal(m.Remaining.String())
		out.Quota, out.Usage, out.Remaining, out.Beyond = &quota, &used, &rem, m.Quota.Beyond.String()
	}
	reply(c, http.StatusOK, out)
}

// credentialPlan is the plan the request's credential carries.
func (s *Server) credentialPlan(c *gin.Context, cl *call) (domain.PlanName, bool) {
	p, err := domain.ParsePlanName(cl.plan)
	if err != nil {
		s.internal(c, err)
		return domain.PlanName{}, false
	}
	return p, true
}

// entitlementsMinSeq reads ?min_seq=N (0 when absent).
func entitlementsMinSeq(c *gin.Context) (int64, bool) {
	v := c.Query("min_seq")
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		fail(c, http.StatusBadRequest, "invalid-request", "min_seq must be a non-negative integer",
			FieldError{Field: "min_seq", Message: "must be a non-negative integer"})
		return 0, false
	}
	return n, true
}

// failEntitlements answers a use case error: memory that has not loaded the tenant or caught
// up with min_seq within the bound is 503 with Retry-After (asking again answers it).
func (s *Server) failEntitlements(c *gin.Context, err error) {
	if errors.Is(err, app.ErrEntitlementsBehind) {
		retryAfter(c, time.Second)
		fail(c, http.StatusServiceUnavailable, "entitlements-behind",
			"this server's entitlements of the tenant are not loaded yet, or have not caught up with min_seq (it is recorded), "+
				"within 2 s; retry after the delay in Retry-After")
		return
	}
	s.failErr(c, err)
}

func entitlementsAnswer(a app.EntitlementsAnswer) api.Entitlements {
	out := api.Entitlements{Plan: a.Plan.Key.String(), PlanVersion: a.Plan.Version, PeriodStart: a.Period.Start, PeriodEnd: a.Period.End,
		Features: a.Features, Metrics: make([]api.EntitlementMetric, len(a.Metrics)), Seq: a.Seq}
	for i, m := range a.Metrics {
		out.Metrics[i] = entitlementMetric(m)
	}
	return out
}

func entitlementMetric(m entitlements.Metric) api.EntitlementMetric {
	d := m.Definition
	return api.EntitlementMetric{Metric: d.Metric.String(), Kind: d.Kind.String(), Aggregation: d.Aggregation.String(), Unit: d.Unit,
		Quota: api.Decimal(m.Quota.Included.String()), Beyond: m.Quota.Beyond.String(), Usage: api.Decimal(m.Usage.String()),
		Remaining: api.Decimal(m.Remaining.String()), Exceeded: m.Exceeded}
}

var (
	docGetEntitlements = op{id: "getEntitlements", tag: "Entitlements", summary: "List the tenant's entitlements",
		query: []param{{name: "min_seq", desc: "wait (at most 2 s) until the usage this answer reflects includes this tenant seq (POST /v1/usage answers it): read your own usage; " +
			"beyond the tenant's last seq: 400 at once; not reached in time: 503 entitlements-behind with Retry-After", schema: integerS(0, 0)}},
		result: api.Entitlements{}, errors: []int{503},
		desc: "The features of the tenant's plan version and, per metric it sets a quota for, the quota, what happens beyond it, the usage so far " +
			"in the current quota period (a UTC calendar month; a record counts in the month of its occurred_at), what remains and the period's end. " +
			"Served from memory kept current by the tenant's event stream; seq says which of the tenant's events it reflects."}
	docCheckEntitlement = op{id: "checkEntitlement", tag: "Entitlements", summary: "Check an entitlement",
		body: api.EntitlementCheckRequest{}, result: api.EntitlementCheck{}, errors: []int{422, 503},
		desc: "Answers whether the tenant's plan allows a feature ({\"feature\": \"sso\"}) or quantity more of a metric ({\"metric\": \"api_calls\", \"quantity\": 3}) now, and why: " +
			"included (fits the quota), no_quota (the plan sets none), soft_quota (beyond a soft quota: allowed and alerted), overage (beyond: allowed and billed), " +
			"quota_exceeded (beyond a hard quota: refused; a counter's usage plus the quantity, a gauge's quantity as the level reached), " +
			"feature_enabled, feature_disabled, not_in_plan. A metric the catalog does not declare and the plan does not meter is 400. " +
			"Writes nothing (no Idempotency-Key; answered while the tenant is suspended). Served from memory without I/O once the tenant is loaded."}
)
