package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// useCases are the application layer's use cases this API calls, built once (build).
type useCases struct {
	signUp  app.SignUp
	tenants app.Tenants
	members app.Members
	keys    app.APIKeys
	migrate app.PlanMigration
}

func newUseCases(d Deps, catalog *app.PlanCatalog) useCases {
	events := eventstore.DomainStore{Store: d.Store, Registry: d.Registry}
	return useCases{
		signUp:  app.SignUp{Events: events, Slugs: d.Store, Plans: catalog, Now: d.Now},
		tenants: app.Tenants{Events: events, Plans: catalog, Now: d.Now},
		members: app.Members{Events: events, Now: d.Now, Plans: catalog, InvitationTTL: d.InvitationTTL},
		migrate: app.PlanMigration{Events: events, Plans: catalog, Tenants: d.Store, Now: d.Now},
		keys:    app.APIKeys{Events: events, Now: d.Now},
	}
}

// metadata is what every event written for this request carries.
func metadata(c *gin.Context, cl *call) domain.Metadata {
	id := requestID(c)
	return domain.Metadata{Actor: cl.actor, RequestID: id, CorrelationID: id}
}

// changed finishes a use case the request ran on tenant: it answers err if there is one;
// otherwise it waits (bounded) until the effects (up to seq) are readable and reports true.
// A change that is not in force within SettleTimeout is not answered as done: 503
// tenant-unavailable says it was recorded (seq) and is not in force yet (the tenant's
// credentials are refused once its authorisation state lags beyond AuthLagBound, see
// lookupCred). The caller gives up its fairness slot (cl.yield) before running the use
// case, which waits on the database.
func (s *Server) changed(c *gin.Context, cl *call, tenant uuid.UUID, seq int64, err error) bool {
	if err != nil {
		s.failErr(c, err)
		return false
	}
	err = s.settle(c, cl, tenant, seq)
	if seq > 0 {
		// Keys, roles, status or plan may have changed: authenticate afresh, once the read
		// models show the change (or settling gave up). A lookup begun before this is not
		// cached, so none that read them as they were survives.
		s.creds.forget(tenant)
	}
	if errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() == nil {
		s.logger(c).Warn("a change to authorisation state is not in force within the settle timeout", "seq", seq,
			"timeout_ms", float64(s.d.SettleTimeout)/float64(time.Millisecond))
		fail(c, http.StatusServiceUnavailable, "tenant-unavailable", fmt.Sprintf(
			"the change was recorded (seq %d) but is not in force yet: this tenant's authorisation state did not include it "+
				"within %s; its requests are refused once that state is %s behind, until it catches up. Do not repeat the "+
				"change; GET with ?min_seq=%d shows it once it is in force", seq, s.d.SettleTimeout, s.d.AuthLagBound, seq))
		return false
	}
	return true
}

func (s *Server) now() time.Time { return s.d.Now().UTC() }

func (s *Server) healthz(c *gin.Context, _ *call) { reply(c, http.StatusOK, api.Status{Status: "ok"}) }

func (s *Server) readyz(c *gin.Context, _ *call) {
	ctx, cancel := context.WithTimeout(waitContext(c), 2*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(ctx); err != nil {
		s.logger(c).Warn("readiness check failed", "err", err)
		fail(c, http.StatusServiceUnavailable, "unavailable", "the database is unreachable")
		return
	}
	reply(c, http.StatusOK, api.Status{Status: "ready"})
}

// pathID parses a uuid path parameter; a malformed one is simply not found.
func pathID(c *gin.Context, what string) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil || len(c.Param("id")) != 36 {
		fail(c, http.StatusNotFound, "not-found", what+" not found")
		return uuid.Nil, false
	}
	return id, true
}

// fieldErrors collects validation failures of one request, to report them all at once.
type fieldErrors []FieldError

func (f *fieldErrors) add(field string, err error) {
	if err != nil {
		*f = append(*f, FieldError{Field: field, Message: err.Error()})
	}
}

func (f fieldErrors) fail(c *gin.Context) bool {
	if len(f) == 0 {
		return false
	}
	fail(c, http.StatusBadRequest, "invalid-request", "the request has invalid fields", f...)
	return true
}

// failFields answers 400 naming every invalid field a use case's parser found; false when
// there is none.
func failFields(c *gin.Context, invalid []*domain.Error) bool {
	var errs fieldErrors
	for _, e := range invalid {
		errs = append(errs, FieldError{Field: e.Field, Message: e.Message})
	}
	return errs.fail(c)
}
