package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/eventstore"
)

// metadata is what every event written for this request carries.
func metadata(c *gin.Context, cl *call) eventstore.Metadata {
	id := c.GetString(keyRequestID)
	return eventstore.Metadata{Actor: cl.actor, RequestID: id, CorrelationID: id}
}

// run executes a domain command on one stream of the request's tenant, answers the error
// if it fails, and waits (bounded) until its effects are readable.
func run[A eventstore.Aggregate](s *Server, c *gin.Context, cl *call, tenant uuid.UUID, stream string, newA func() A,
	decide func(A) ([]domain.Event, error),
) (A, eventstore.AppendResult, bool) {
	return runCmd(s, c, cl, eventstore.Command[A]{Tenant: tenant, Stream: stream, New: newA}, decide)
}

// runCmd is run for a command with its own options.
func runCmd[A eventstore.Aggregate](s *Server, c *gin.Context, cl *call, cmd eventstore.Command[A],
	decide func(A) ([]domain.Event, error),
) (A, eventstore.AppendResult, bool) {
	cmd.Store, cmd.Registry, cmd.Metadata = s.d.Store, s.d.Registry, metadata(c, cl)
	tenant := cmd.Tenant
	cl.yield() // the command waits on the database from here: let the tenant's next request in
	state, res, err := cmd.Run(c, decide)
	if err != nil {
		s.failErr(c, err)
		return state, res, false
	}
	s.settle(c, cl, tenant, res.LastSeq)
	if len(res.Events) > 0 {
		// Keys, roles, status or plan may have changed: authenticate afresh, once the read
		// models show the change (or settling gave up). A lookup begun before this is not
		// cached, so none that read them as they were survives.
		s.creds.forget(tenant)
	}
	return state, res, true
}

// encode turns domain events into events to append, with the request's metadata.
func (s *Server) encode(c *gin.Context, cl *call, events []domain.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		ne, err := s.d.Registry.Encode(e, metadata(c, cl))
		if err != nil {
			return nil, err
		}
		out[i] = ne
	}
	return out, nil
}

func (s *Server) now() time.Time { return s.d.Now().UTC() }

func (s *Server) healthz(c *gin.Context, _ *call) { reply(c, http.StatusOK, gin.H{"status": "ok"}) }

func (s *Server) readyz(c *gin.Context, _ *call) {
	ctx, cancel := context.WithTimeout(c, 2*time.Second)
	defer cancel()
	if err := s.pool().Ping(ctx); err != nil {
		s.logger(c).Warn("readiness check failed", "err", err)
		fail(c, http.StatusServiceUnavailable, "unavailable", "the database is unreachable")
		return
	}
	reply(c, http.StatusOK, gin.H{"status": "ready"})
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
