package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// adminListTenants pages through the tenant directory: ?cursor=<next_cursor>&limit=N (≤ 1000),
// the cursor being the last tenant id of the previous page.
func (s *Server) adminListTenants(c *gin.Context, _ *call) {
	var errs fieldErrors
	after := uuid.Nil
	if v := c.Query("cursor"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, FieldError{Field: "cursor", Message: "must be a next_cursor of this list"})
		}
		after = id
	}
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, FieldError{Field: "limit", Message: "must be an integer from 1 to 1000"})
		}
		limit = n
	}
	if errs.fail(c) {
		return
	}
	list, err := s.d.Store.ListTenants(c, after, limit+1) // one more: is there a next page?
	if err != nil {
		s.failErr(c, err)
		return
	}
	more := len(list) > limit
	list = list[:min(len(list), limit)]
	out := api.TenantList{Tenants: mapAll(list, func(t eventstore.TenantEntry) api.TenantEntry {
		return api.TenantEntry{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status, Plan: t.Plan, Schema: t.Schema,
			StripeCustomerID: t.StripeCustomerID, CreatedAt: t.CreatedAt}
	})}
	if more {
		out.Page = page(true, list[len(list)-1].ID.String())
	}
	reply(c, http.StatusOK, out)
}

// adminTenant runs an operator's lifecycle decision on the tenant the path names.
func (s *Server) adminTenant(c *gin.Context, cl *call, decide func(id uuid.UUID) (app.TenantChange, error)) {
	id, ok := pathID(c, "tenant")
	if !ok {
		return
	}
	c.Set(keyTenant, id)
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
