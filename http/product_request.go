package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/product"
)

// productRequest is a product route's call as its handler sees it (product.Request): the
// tenant, caller and role the pipeline resolved, and the server's ways to read, write and
// answer, bound to the route's module.
type productRequest struct {
	s  *Server
	c  *gin.Context
	cl *call
	m  module.Module
}

var _ product.Request = (*productRequest)(nil)

func (r *productRequest) Tenant() uuid.UUID         { return r.cl.tenant }
func (r *productRequest) Member() uuid.UUID         { return r.cl.member }
func (r *productRequest) Role() domain.Role         { return r.cl.role }
func (r *productRequest) Metadata() domain.Metadata { return metadata(r.c, r.cl) }
func (r *productRequest) NewID(what string) uuid.UUID {
	if r.m.Name != module.Core { // the kinds Tenantry mints ("invitation", "api_key") stay its own
		what = r.m.Name + "." + what
	}
	return mintID(r.c, r.cl, what)
}
func (r *productRequest) Logger() *slog.Logger { return r.s.logger(r.c) }

// Plan is the tenant's plan as the credential lookup found it (the zero PlanName if the
// stored name is not one this server knows).
func (r *productRequest) Plan() domain.PlanName {
	p, _ := domain.ParsePlanName(r.cl.plan)
	return p
}

// Events is the domain event store (the one Tenantry's use cases write through), scoped
// to the module; Tenantry's own module (module.Core) gets it unscoped. The request gives
// up its fairness slot first: what follows waits on the database.
func (r *productRequest) Events() module.EventStore {
	r.cl.yield()
	if r.m.Name == module.Core {
		return r.s.events()
	}
	return r.m.Scoped(r.s.events())
}

func (r *productRequest) Read(ctx context.Context, fn func(module.Tx) error) error {
	return r.s.d.Store.InModule(ctx, r.cl.tenant, true, fn)
}

// projections are the read models the module's writes settle on: its projections'
// checkpoints, or for Tenantry's own module the authorisation state.
func (r *productRequest) projections() []string {
	if r.m.Name == module.Core {
		return []string{eventstore.ProjectionAuth}
	}
	names := make([]string, len(r.m.Projections))
	for i, p := range r.m.Projections {
		names[i] = r.m.Checkpoint(p)
	}
	return names
}

// Settle waits (settleOn) for the module's projections. For Tenantry's own module it is
// settle: credentials are looked up afresh after a change (keys, roles or status may have
// changed), as changed does.
func (r *productRequest) Settle(ctx context.Context, seq int64) error {
	err := r.s.settleOn(ctx, r.cl, r.cl.tenant, seq, r.projections()...)
	if r.m.Name == module.Core && seq > 0 {
		r.s.creds.forget(r.cl.tenant)
	}
	return err
}

func (r *productRequest) MinSeq() bool { return r.s.minSeq(r.c, r.cl, r.projections()...) }

func (r *productRequest) Bind(v any) bool { return decode(r.c, r.cl.body, v) }

// JSON answers v; a 204 answers no body whatever v is.
func (r *productRequest) JSON(status int, v any) {
	if status == http.StatusNoContent {
		r.c.Status(status)
		r.c.Writer.WriteHeaderNow()
		return
	}
	reply(r.c, status, v)
}

func (r *productRequest) Fail(status int, code, detail string) { failCode(r.c, status, code, detail) }

func (r *productRequest) Problem(status int, code, detail string, errs ...product.FieldError) {
	failCode(r.c, status, code, detail, errs...)
}

// Error answers err as Tenantry's handlers do (failErr: one table maps domain error codes
// to statuses), and besides: an append outside the module's scope is a bug of the product
// (a logged 500, nothing written), a lost race on a stream (domain.ErrConcurrency, once
// the command's retries are spent) is 409, a single-row read that found no row
// (module.ErrNoRows) is 404, and a stopped module projection is 503.
func (r *productRequest) Error(err error) {
	var stopped *eventstore.StoppedError
	switch {
	case errors.Is(err, module.ErrOutOfScope):
		r.s.internal(r.c, fmt.Errorf("product bug: %w", err))
	case errors.Is(err, module.ErrNoRows):
		fail(r.c, http.StatusNotFound, "not-found", "not found")
	case errors.Is(err, domain.ErrConcurrency):
		fail(r.c, http.StatusConflict, "conflict", "the object was changed by a concurrent request; read it again and retry")
	case errors.As(err, &stopped) && stopped.Projection != eventstore.ProjectionAuth && stopped.Projection != eventstore.ProjectionUsage:
		fail(r.c, http.StatusServiceUnavailable, "read-model-unavailable", fmt.Sprintf(
			"this tenant's read model %s is stopped on an event it cannot apply; the write is recorded and "+
				"will be shown once an operator repairs it", stopped.Projection))
	default:
		r.s.failErr(r.c, err)
	}
}

// events is the event store the use cases write through (newUseCases).
func (s *Server) events() eventstore.DomainStore {
	return eventstore.DomainStore{Store: s.d.Store, Registry: s.d.Registry}
}
