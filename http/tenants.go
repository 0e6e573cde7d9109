package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/projections"
)

type createTenantRequest struct {
	Name       string `json:"name"`
	Slug       string `json:"slug"`
	Plan       string `json:"plan"`
	AdminEmail string `json:"admin_email"`
}

type tenantView struct {
	ID     uuid.UUID `json:"id"`
	Name   string    `json:"name"`
	Slug   string    `json:"slug"`
	Plan   string    `json:"plan"`
	Status string    `json:"status"`
}

type memberView struct {
	ID    uuid.UUID `json:"id"`
	Email string    `json:"email"`
	Role  string    `json:"role"`
}

type newKeyView struct {
	ID       uuid.UUID `json:"id"`
	Key      string    `json:"key"` // shown once
	Prefix   string    `json:"prefix"`
	Role     string    `json:"role"`
	MemberID uuid.UUID `json:"member_id"`
	Name     string    `json:"name"`
}

// createTenant signs a tenant up: the tenant, its founding admin and the admin's first API
// key, appended together (all or nothing), and answers once they are routable and readable.
func (s *Server) createTenant(c *gin.Context, cl *call) {
	var req createTenantRequest
	if !decode(c, cl.body, &req) {
		return
	}
	var errs fieldErrors
	_, err := tenant.ParseName(req.Name)
	errs.add("name", err)
	slug, err := domain.ParseSlug(req.Slug)
	errs.add("slug", err)
	plan := domain.PlanFree
	if req.Plan != "" {
		plan, err = domain.ParsePlanName(req.Plan)
		errs.add("plan", err)
	}
	email, err := domain.ParseEmail(req.AdminEmail)
	errs.add("admin_email", err)
	now := s.now()
	id, memberID, keyID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	if errs.fail(c) {
		return
	}
	created, err := tenant.Create(id, req.Name, slug, plan, now)
	if err != nil {
		s.failErr(c, err)
		return
	}
	secret, prefix, sum, err := newSecret(keyScheme, id, keyID)
	if err != nil {
		s.internal(c, err)
		return
	}
	m := &membership.Membership{}
	joined, err := m.AddFounder(memberID, email, now)
	if err != nil {
		s.failErr(c, err)
		return
	}
	for _, e := range joined {
		if err := m.Apply(e); err != nil {
			s.internal(c, err)
			return
		}
	}
	keyed, err := m.CreateAPIKey(keyID, memberID, domain.RoleAdmin, "founder", prefix, sum, now)
	if err != nil {
		s.failErr(c, err)
		return
	}
	tenantEvents, err := s.encode(c, cl, created)
	if err != nil {
		s.internal(c, err)
		return
	}
	memberEvents, err := s.encode(c, cl, append(joined, keyed...))
	if err != nil {
		s.internal(c, err)
		return
	}

	// Claim the slug first: only one sign-up can hold it.
	err = s.inScope(c, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(c, `INSERT INTO tenantry.slug_claims (slug, tenant_id) VALUES ($1, $2)`, slug.String(), id)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		fail(c, http.StatusConflict, "conflict", "the slug "+slug.String()+" is taken", FieldError{Field: "slug", Message: "is taken"})
		return
	}
	if err != nil {
		s.failErr(c, err)
		return
	}
	res, err := s.d.Store.AppendStreams(c, id,
		eventstore.StreamAppend{Stream: tenant.StreamID, Expected: eventstore.NoStream, Events: tenantEvents},
		eventstore.StreamAppend{Stream: membership.StreamID, Expected: eventstore.NoStream, Events: memberEvents})
	if err != nil {
		_ = s.inScope(c, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(c, `DELETE FROM tenantry.slug_claims WHERE tenant_id = $1`, id)
			return err
		})
		s.failErr(c, err)
		return
	}
	c.Set(keyTenant, id)
	seq := res[len(res)-1].LastSeq
	s.settle(c, cl, id, seq)
	_ = s.d.Store.WaitForDirectory(c, id, s.d.SettleTimeout)
	s.slugs.Store(slug.String(), id)
	c.Set(keyTenant, id) // the request's log line names the tenant it created
	s.logger(c).Info("tenant created", "slug", slug.String(), "plan", plan.String())
	reply(c, http.StatusCreated, gin.H{
		"tenant":  tenantView{ID: id, Name: req.Name, Slug: slug.String(), Plan: plan.String(), Status: tenant.StatusActive.String()},
		"admin":   memberView{ID: memberID, Email: email.String(), Role: domain.RoleAdmin.String()},
		"api_key": newKeyView{ID: keyID, Key: secret, Prefix: prefix, Role: domain.RoleAdmin.String(), MemberID: memberID, Name: "founder"},
		"seq":     seq,
	})
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
	var p projections.Profile
	err := eventstore.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		p, err = projections.GetProfile(c, tx)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, p)
}

type patchTenantRequest struct {
	Name *string `json:"name"`
}

func (s *Server) patchTenant(c *gin.Context, cl *call) {
	var req patchTenantRequest
	if !decode(c, cl.body, &req) {
		return
	}
	if req.Name == nil {
		fail(c, http.StatusBadRequest, "invalid-request", "nothing to change: send a name", FieldError{Field: "name", Message: "is required"})
		return
	}
	t, res, ok := run(s, c, cl, cl.tenant, tenant.StreamID, newTenant,
		func(t *tenant.Tenant) ([]domain.Event, error) { return t.Rename(*req.Name, s.now()) })
	if ok {
		reply(c, http.StatusOK, gin.H{"tenant": viewOf(t), "seq": res.LastSeq})
	}
}

type putPlanRequest struct {
	Plan string `json:"plan"`
}

func (s *Server) putPlan(c *gin.Context, cl *call) {
	var req putPlanRequest
	if !decode(c, cl.body, &req) {
		return
	}
	plan, err := domain.ParsePlanName(req.Plan)
	if err != nil {
		s.failErr(c, err)
		return
	}
	t, res, ok := run(s, c, cl, cl.tenant, tenant.StreamID, newTenant,
		func(t *tenant.Tenant) ([]domain.Event, error) { return t.ChangePlan(plan, s.now()) })
	if ok {
		reply(c, http.StatusOK, gin.H{"tenant": viewOf(t), "seq": res.LastSeq})
	}
}

func viewOf(t *tenant.Tenant) tenantView {
	return tenantView{ID: t.ID(), Name: t.Name().String(), Slug: t.Slug().String(), Plan: t.Plan().String(), Status: t.Status().String()}
}
