package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// createTenant signs a tenant up (app.SignUp) and answers once it is routable and readable.
func (s *Server) createTenant(c *gin.Context, cl *call) {
	var req api.CreateTenantRequest
	if !decode(c, cl.body, &req) {
		return
	}
	in, invalid := app.ParseSignUp(req.Name, req.Slug, req.Plan, req.Interval, req.AdminEmail)
	if failFields(c, invalid) {
		return
	}
	in.Meta = metadata(c, cl)
	out, err := s.uc.signUp.Run(c, in)
	if errors.Is(err, app.ErrSlugTaken) {
		fail(c, http.StatusConflict, "conflict", "the slug "+in.Slug.String()+" is taken", FieldError{Field: "slug", Message: "is taken"})
		return
	}
	if err != nil {
		s.failErr(c, err)
		return
	}
	id := out.Tenant.ID
	setTenant(c, id)                 // what logs from here on, and the request's log line, name the tenant it created
	_ = s.settle(c, cl, id, out.Seq) // a new tenant restricts nobody: its key works once projected
	_ = s.d.Store.WaitForDirectory(waitContext(c), id, s.d.SettleTimeout)
	s.slugs.Store(out.Tenant.Slug, id)
	s.logger(c).Info("tenant created", "slug", out.Tenant.Slug, "plan", out.Tenant.Plan)
	reply(c, http.StatusCreated, api.TenantCreated{Admin: memberSummary(out.Admin), APIKey: newKeyAnswer(out.APIKey),
		Seq: out.Seq, Tenant: tenantAnswer(out.Tenant)})
}

// minSeq honours a reader's ?min_seq=N: wait (bounded) until the read models the handler
// reads (the named projections) include it. A seq beyond the tenant's last event is refused
// at once, naming that head: no write the caller made can have reached it, and waiting for
// it would only hold a request open. A stopped projection ends the wait at once: 503 for
// readers of its read models (see failStopped).
func (s *Server) minSeq(c *gin.Context, cl *call, projs ...string) bool {
	v := c.Query("min_seq")
	if v == "" {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		fail(c, http.StatusBadRequest, "invalid-request", "min_seq must be a non-negative integer",
			FieldError{Field: "min_seq", Message: "must be a non-negative integer"})
		return false
	}
	if n == 0 {
		return true
	}
	head, _, err := s.d.Store.Head(c, cl.tenant)
	if err != nil {
		s.failErr(c, err)
		return false
	}
	if n > head {
		msg := fmt.Sprintf("must be at most the tenant's last event seq, %d", head)
		fail(c, http.StatusBadRequest, "invalid-request", fmt.Sprintf("min_seq %d is beyond the tenant's last event seq %d", n, head),
			FieldError{Field: "min_seq", Message: msg})
		return false
	}
	if err := s.settleOn(c, cl, cl.tenant, n, projs...); errors.Is(err, eventstore.ErrProjectionStopped) {
		s.failStopped(c, err)
		return false
	}
	return true
}

func (s *Server) getTenant(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.ProjectionAuth) {
		return
	}
	var p eventstore.Profile
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		var err error
		p, err = tx.Profile(c)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, profileAnswer(p))
}

func (s *Server) patchTenant(c *gin.Context, cl *call) {
	var req api.UpdateTenantRequest
	if !decode(c, cl.body, &req) {
		return
	}
	if req.Name == nil {
		fail(c, http.StatusBadRequest, "invalid-request", "nothing to change: send a name", FieldError{Field: "name", Message: "is required"})
		return
	}
	cl.yield()
	ch, err := s.uc.tenants.Rename(c, cl.tenant, *req.Name, metadata(c, cl))
	if s.changed(c, cl, cl.tenant, ch.Seq, err) {
		reply(c, http.StatusOK, api.TenantChange{Tenant: tenantAnswer(app.Summarize(ch.Tenant)), Seq: ch.Seq})
	}
}

func (s *Server) putPlan(c *gin.Context, cl *call) {
	var req api.ChangePlanRequest
	if !decode(c, cl.body, &req) {
		return
	}
	plan, err := domain.ParsePlanName(req.Plan)
	if err != nil {
		s.failErr(c, err)
		return
	}
	var interval plans.Interval
	if req.Interval != "" {
		if interval, err = plans.ParseInterval(req.Interval); err != nil {
			s.failErr(c, err)
			return
		}
	}
	cl.yield()
	ch, err := s.uc.tenants.ChangePlan(c, cl.tenant, plan, interval, metadata(c, cl))
	if s.changed(c, cl, cl.tenant, ch.Seq, err) {
		reply(c, http.StatusOK, api.TenantChange{Tenant: tenantAnswer(app.Summarize(ch.Tenant)), Seq: ch.Seq})
	}
}
