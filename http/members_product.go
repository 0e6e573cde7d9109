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
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/product"
)

// membersProduct is Tenantry's membership area (GET/POST /v1/members, PATCH/DELETE
// /v1/members/:id) declared as a product of module.Core and served through the same
// adapter as a team's product: its handlers see only product.Request and what they capture
// here (the members use case's settings and the members read model).
func (s *Server) membersProduct() product.Product {
	m := memberRoutes{
		useCase: func(r product.Request) app.Members {
			return app.Members{Events: r.Events(), Now: s.d.Now, Plans: s.catalog, InvitationTTL: s.d.InvitationTTL}
		},
		list: func(ctx context.Context, tenant uuid.UUID, after uuid.UUID, limit int) (rows []eventstore.Member, err error) {
			err = s.d.Store.InTenant(ctx, tenant, true, func(tx *eventstore.Tx) error {
				rows, err = tx.Members(ctx, after, limit)
				return err
			})
			return rows, err
		},
		settleTimeout: s.d.SettleTimeout, authLagBound: s.d.AuthLagBound,
	}
	limit := int64(domain.MaxPageLimit)
	return product.Product{Module: module.Module{Name: module.Core}, Routes: []product.Route{
		{Method: "GET", Path: "/v1/members", Roles: allRoles, Handle: m.listMembers,
			OperationID: "listMembers", Tag: "Members", Summary: "List the members", Result: api.MemberList{},
			Query: []product.Param{product.MinSeq, cursorParam, {Name: "limit", Type: "integer", Minimum: ptr(int64(1)), Maximum: &limit,
				Description: fmt.Sprintf("page size, 1 to %d (default %d)", limit, domain.DefaultPageLimit)}},
			Description: "The tenant's members with their roles, by id, a page at a time. Pending invitations are listed by GET /v1/invitations."},
		{Method: "POST", Path: "/v1/members", Roles: admin, Handle: m.inviteMember,
			OperationID: "inviteMember", Tag: "Members", Summary: "Invite a member", Status: http.StatusCreated,
			Body: api.InviteRequest{}, Result: api.MemberInvited{},
			Description: "Invites an email address with a role. The answer holds the invitation token, shown only here: pass it to the invitee, " +
				"who accepts with POST /v1/invitations/accept. An address that is already a member or invited answers 409; " +
				"a plan's seat limit, 422."},
		{Method: "PATCH", Path: "/v1/members/:id", Roles: admin, Handle: m.patchMember,
			OperationID: "updateMember", Tag: "Members", Summary: "Change a member's role",
			Body: api.UpdateMemberRequest{}, Result: api.MemberChange{}, Errors: []int{http.StatusConflict},
			Description: "Gives a member another role; the tenant always keeps an admin (409)."},
		{Method: "DELETE", Path: "/v1/members/:id", Roles: admin, Handle: m.deleteMember,
			OperationID: "removeMember", Tag: "Members", Summary: "Remove a member", Result: api.MemberRemoved{}, Errors: []int{http.StatusConflict},
			Description: "Removes a member; their API keys and the invitations they issued are revoked. The tenant always keeps an admin (409). " +
				"An invitation's id is 404: see DELETE /v1/invitations/{id}."},
	}}
}

func ptr[T any](v T) *T { return &v }

// cursorParam is cursorP as a product's parameter.
var cursorParam = product.Param{Name: "cursor", Description: cursorP.desc}

// memberRoutes are the membership handlers and what they capture.
type memberRoutes struct {
	useCase                     func(product.Request) app.Members
	list                        func(ctx context.Context, tenant, after uuid.UUID, limit int) ([]eventstore.Member, error)
	settleTimeout, authLagBound time.Duration
}

// listMembers pages through the tenant's members by id (pending invitations are GET
// /v1/invitations).
func (m memberRoutes) listMembers(c *gin.Context, r product.Request) {
	pr, err := domain.ParsePageRequest(domain.ListMembers, c.Query("cursor"), c.Query("limit"))
	if err != nil {
		r.Error(err)
		return
	}
	if !r.MinSeq() {
		return
	}
	rows, err := m.list(c, r.Tenant(), pr.After, pr.Limit+1)
	if err != nil {
		r.Error(err)
		return
	}
	pg := domain.NewPage(rows, pr.Limit, func(m eventstore.Member) string {
		return domain.IDCursor(domain.ListMembers, m.MemberID)
	})
	r.JSON(http.StatusOK, api.MemberList{Page: pageOf(pg), Members: mapAll(pg.Items, func(m eventstore.Member) api.Member {
		return api.Member{ID: m.MemberID, Email: m.Email, Role: m.Role, JoinedAt: m.JoinedAt}
	})})
}

// inviteMember offers a seat: the answer carries the invitation token, shown once, for the
// admin to pass on to the invitee.
func (m memberRoutes) inviteMember(c *gin.Context, r product.Request) {
	var req api.InviteRequest
	if !r.Bind(&req) {
		return
	}
	var errs []product.FieldError
	email, err := domain.ParseEmail(req.Email)
	if err != nil {
		errs = append(errs, product.FieldError{Field: "email", Message: err.Error()})
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		errs = append(errs, product.FieldError{Field: "role", Message: err.Error()})
	}
	if len(errs) > 0 {
		r.Problem(http.StatusBadRequest, "invalid-request", "the request has invalid fields", errs...)
		return
	}
	id := r.NewID("invitation")
	out, err := m.useCase(r).Invite(c, app.InviteInput{Tenant: r.Tenant(), Plan: r.Plan(), PlanVersion: r.(*productRequest).cl.planV, InvitationID: id, Email: email, Role: role,
		InvitedBy: r.Member(), Meta: r.Metadata()})
	if m.changed(c, r, out.Seq, err) {
		r.JSON(http.StatusCreated, api.MemberInvited{
			Invitation: api.Invitation{ID: id, Email: email.String(), Role: role.String(), InvitedBy: r.Member(),
				ExpiresAt: out.ExpiresAt, Status: "pending"},
			Token: out.Token,
			Seq:   out.Seq,
		})
	}
}

func (m memberRoutes) patchMember(c *gin.Context, r product.Request) {
	id, ok := memberID(c, r)
	if !ok {
		return
	}
	var req api.UpdateMemberRequest
	if !r.Bind(&req) {
		return
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		r.Error(err)
		return
	}
	mem, seq, err := m.useCase(r).ChangeRole(c, app.Target{Tenant: r.Tenant(), ID: id, Meta: r.Metadata()}, role)
	if m.changed(c, r, seq, err) {
		r.JSON(http.StatusOK, api.MemberChange{Member: memberSummary(mem), Seq: seq})
	}
}

// deleteMember removes a member, with their API keys and the invitations they issued. An
// invitation's id is refused with a 404 that names the route that revokes it, so a client that
// confused the two learns it, and nothing is removed by mistake.
func (m memberRoutes) deleteMember(c *gin.Context, r product.Request) {
	id, ok := memberID(c, r)
	if !ok {
		return
	}
	seq, err := m.useCase(r).Remove(c, app.Target{Tenant: r.Tenant(), ID: id, Meta: r.Metadata()})
	if m.changed(c, r, seq, err) {
		r.JSON(http.StatusOK, api.MemberRemoved{Removed: id, Seq: seq})
	}
}

// memberID is the :id of the path; a malformed one is simply not found (as pathID).
func memberID(c *gin.Context, r product.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil || len(c.Param("id")) != 36 {
		r.Fail(http.StatusNotFound, "not-found", "member not found")
		return uuid.Nil, false
	}
	return id, true
}

// changed is Server.changed through product.Request: it answers err if there is one;
// otherwise it waits (r.Settle: the auth projection, credentials looked up afresh) and
// reports true, or answers 503 tenant-unavailable when the change is not in force within
// the settle timeout.
func (m memberRoutes) changed(c *gin.Context, r product.Request, seq int64, err error) bool {
	if err != nil {
		r.Error(err)
		return false
	}
	err = r.Settle(c, seq)
	if errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() == nil {
		r.Logger().Warn("a change to authorisation state is not in force within the settle timeout", "seq", seq,
			"timeout_ms", float64(m.settleTimeout)/float64(time.Millisecond))
		r.Fail(http.StatusServiceUnavailable, "tenant-unavailable", fmt.Sprintf(
			"the change was recorded (seq %d) but is not in force yet: this tenant's authorisation state did not include it "+
				"within %s; its requests are refused once that state is %s behind, until it catches up. Do not repeat the "+
				"change; GET with ?min_seq=%d shows it once it is in force", seq, m.settleTimeout, m.authLagBound, seq))
		return false
	}
	return true
}
