package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// adminListTenants pages through the tenant directory by id.
func (s *Server) adminListTenants(c *gin.Context, _ *call) {
	pr, ok := s.pageQuery(c, domain.ListTenants)
	if !ok {
		return
	}
	rows, err := s.d.Store.ListTenants(c, pr.After, pr.Limit+1)
	if err != nil {
		s.failErr(c, err)
		return
	}
	pg := domain.NewPage(rows, pr.Limit, func(t eventstore.TenantEntry) string {
		return domain.IDCursor(domain.ListTenants, t.ID)
	})
	reply(c, http.StatusOK, api.TenantList{Page: pageOf(pg), Tenants: mapAll(pg.Items, func(t eventstore.TenantEntry) api.TenantEntry {
		return api.TenantEntry{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status, Plan: t.Plan,
			PlanVersion: t.PlanVersion, Interval: t.Interval, TrialEndsAt: t.TrialEndsAt, Schema: t.Schema,
			StripeCustomerID: t.StripeCustomerID, CreatedAt: t.CreatedAt}
	})})
}

// adminTenant runs an operator's lifecycle decision on the tenant the path names by slug or
// id (eventstore.ResolveTenant, the resolver every port uses): an unknown or malformed name
// is 404.
func (s *Server) adminTenant(c *gin.Context, cl *call, decide func(id uuid.UUID) (app.TenantChange, error)) {
	id, err := s.d.Store.ResolveTenant(c, c.Param("tenant"))
	if errors.Is(err, eventstore.ErrTenantNotFound) {
		fail(c, http.StatusNotFound, "not-found", "tenant not found")
		return
	}
	if err != nil {
		s.failErr(c, err)
		return
	}
	setTenant(c, id)
	cl.yield()
	ch, err := decide(id)
	if s.changed(c, cl, id, ch.Seq, err) {
		reply(c, http.StatusOK, api.TenantChange{Tenant: tenantAnswer(app.Summarize(ch.Tenant)), Seq: ch.Seq})
	}
}

func (s *Server) adminSuspend(c *gin.Context, cl *call) {
	req := api.SuspendRequest{Reason: tenant.ReasonOperator.String()}
	if len(cl.body) > 0 && !decode(c, cl.body, &req) {
		return
	}
	reason, err := tenant.ParseReason(req.Reason)
	if err != nil {
		s.failErr(c, err)
		return
	}
	s.adminTenant(c, cl, func(id uuid.UUID) (app.TenantChange, error) {
		return s.uc.tenants.Suspend(c, id, reason, req.Note, metadata(c, cl))
	})
}

func (s *Server) adminReactivate(c *gin.Context, cl *call) {
	if len(cl.body) > 0 {
		var empty api.ReactivateRequest
		if !decode(c, cl.body, &empty) {
			return
		}
	}
	s.adminTenant(c, cl, func(id uuid.UUID) (app.TenantChange, error) {
		return s.uc.tenants.Reactivate(c, id, metadata(c, cl))
	})
}

func (s *Server) adminClose(c *gin.Context, cl *call) {
	var req api.CloseRequest
	if len(cl.body) > 0 && !decode(c, cl.body, &req) {
		return
	}
	s.adminTenant(c, cl, func(id uuid.UUID) (app.TenantChange, error) {
		return s.uc.tenants.Close(c, id, req.Note, metadata(c, cl))
	})
}
