package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/tenant"
)

// adminListTenants pages through the tenant directory: ?after=<tenant id>&limit=N (≤ 1000).
func (s *Server) adminListTenants(c *gin.Context, _ *call) {
	var errs fieldErrors
	after := uuid.Nil
	if v := c.Query("after"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, FieldError{Field: "after", Message: "must be a tenant id"})
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
	list, err := s.d.Store.ListTenants(c, after, limit)
	if err != nil {
		s.failErr(c, err)
		return
	}
	out := gin.H{"tenants": nonNil(list)}
	if len(list) == limit {
		out["next_after"] = list[len(list)-1].ID
	}
	reply(c, http.StatusOK, out)
}

type suspendRequest struct {
	Reason string `json:"reason"` // default operator
	Note   string `json:"note"`
}

type closeRequest struct {
	Note string `json:"note"`
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
		reply(c, http.StatusOK, gin.H{"tenant": app.Summarize(ch.Tenant), "seq": ch.Seq})
	}
}

func (s *Server) adminSuspend(c *gin.Context, cl *call) {
	req := suspendRequest{Reason: tenant.ReasonOperator.String()}
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
		var empty struct{}
		if !decode(c, cl.body, &empty) {
			return
		}
	}
	s.adminTenant(c, cl, func(id uuid.UUID) (app.TenantChange, error) {
		return s.uc.tenants.Reactivate(c, id, metadata(c, cl))
	})
}

func (s *Server) adminClose(c *gin.Context, cl *call) {
	var req closeRequest
	if len(cl.body) > 0 && !decode(c, cl.body, &req) {
		return
	}
	s.adminTenant(c, cl, func(id uuid.UUID) (app.TenantChange, error) {
		return s.uc.tenants.Close(c, id, req.Note, metadata(c, cl))
	})
}
