package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

func (s *Server) listMembers(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.ProjectionAuth) {
		return
	}
	var members []eventstore.Member
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		var err error
		members, err = tx.Members(c)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	// One page holds every member (a plan's seats bound them).
	reply(c, http.StatusOK, api.MemberList{Members: mapAll(members, func(m eventstore.Member) api.Member {
		return api.Member{ID: m.MemberID, Email: m.Email, Role: m.Role, JoinedAt: m.JoinedAt}
	})})
}

// inviteMember offers a seat: the answer carries the invitation token, shown once, for the
// admin to pass on to the invitee.
func (s *Server) inviteMember(c *gin.Context, cl *call) {
	var req api.InviteRequest
	if !decode(c, cl.body, &req) {
		return
	}
	var errs fieldErrors
	email, err := domain.ParseEmail(req.Email)
	errs.add("email", err)
	role, err := domain.ParseRole(req.Role)
	errs.add("role", err)
	if errs.fail(c) {
		return
	}
	plan, _ := domain.ParsePlanName(cl.plan)
	id := mintID(c, cl, "invitation")
	cl.yield()
	out, err := s.uc.members.Invite(c, app.InviteInput{Tenant: cl.tenant, Plan: plan, InvitationID: id, Email: email, Role: role,
		InvitedBy: cl.member, Meta: metadata(c, cl)})
	if s.changed(c, cl, cl.tenant, out.Seq, err) {
		reply(c, http.StatusCreated, api.MemberInvited{
			Invitation: api.Invitation{ID: id, Email: email.String(), Role: role.String(), InvitedBy: cl.member,
				ExpiresAt: out.ExpiresAt, Status: "pending"},
			Token: out.Token,
			Seq:   out.Seq,
		})
	}
}

func (s *Server) patchMember(c *gin.Context, cl *call) {
	id, ok := pathID(c, "member")
	if !ok {
		return
	}
	var req api.UpdateMemberRequest
	if !decode(c, cl.body, &req) {
		return
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		s.failErr(c, err)
		return
	}
	cl.yield()
	mem, seq, err := s.uc.members.ChangeRole(c, app.Target{Tenant: cl.tenant, ID: id, Meta: metadata(c, cl)}, role)
	if s.changed(c, cl, cl.tenant, seq, err) {
		reply(c, http.StatusOK, api.MemberChange{Member: memberSummary(mem), Seq: seq})
	}
}

// deleteMember removes a member, with their API keys and the invitations they issued. An
// invitation's id is refused with a 404 that names the route that revokes it, so a client that
// confused the two learns it, and nothing is removed by mistake.
func (s *Server) deleteMember(c *gin.Context, cl *call) {
	id, ok := pathID(c, "member")
	if !ok {
		return
	}
	cl.yield()
	seq, err := s.uc.members.Remove(c, app.Target{Tenant: cl.tenant, ID: id, Meta: metadata(c, cl)})
	if s.changed(c, cl, cl.tenant, seq, err) {
		reply(c, http.StatusOK, api.MemberRemoved{Removed: id, Seq: seq})
	}
}

// maxInvitationPage bounds one page of GET /v1/invitations.
const maxInvitationPage = 1000

// listInvitations pages through the invitations that could still be accepted now, by id
// (?cursor=<next_cursor>&limit=N, the cursor being the last invitation id of the page before);
// expired ones are left out (they can never be accepted and hold no seat). Never a token.
func (s *Server) listInvitations(c *gin.Context, cl *call) {
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
		if err != nil || n < 1 || n > maxInvitationPage {
			errs = append(errs, FieldError{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", maxInvitationPage)})
		}
		limit = n
	}
	if errs.fail(c) || !s.minSeq(c, cl) {
		return
	}
	var list []eventstore.Invitation
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		var err error
		list, err = tx.LiveInvitations(c, s.now(), after, limit+1) // one more: is there a next page?
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	more := len(list) > limit
	list = list[:min(len(list), limit)]
	out := api.InvitationList{Invitations: mapAll(list, invitationAnswer)}
	if more {
		out.Page = page(true, list[len(list)-1].InvitationID.String())
	}
	reply(c, http.StatusOK, out)
}

// revokeInvitation withdraws a pending invitation (expired or not): 204 once the read models
// show it. An id this tenant never issued is 404; one already accepted or revoked is 409.
func (s *Server) revokeInvitation(c *gin.Context, cl *call) {
	id, ok := pathID(c, "invitation")
	if !ok {
		return
	}
	cl.yield()
	seq, err := s.uc.members.RevokeInvitation(c, app.Target{Tenant: cl.tenant, ID: id, Meta: metadata(c, cl)})
	if s.changed(c, cl, cl.tenant, seq, err) {
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
	}
}

// acceptInvitation turns an invitation into a member with their first API key. The token
// is the credential; it names its tenant, which must match the tenant the request names.
func (s *Server) acceptInvitation(c *gin.Context, cl *call) {
	var req api.AcceptInvitationRequest
	if !decode(c, cl.body, &req) {
		return
	}
	// The token is a credential: guessing is limited like API keys (admitCredential).
	if !s.admitCredential(c, req.Token) {
		return
	}
	tenantID, invitationID, ok := app.ParseSecret(app.InvitationScheme, req.Token)
	if !ok {
		s.refuseCredential(c, "the invitation token is not valid", FieldError{Field: "token", Message: "is not a valid invitation token"})
		return
	}
	named, ok := s.explicitTenant(c)
	if !ok {
		return
	}
	if named != uuid.Nil && named != tenantID {
		fail(c, http.StatusNotFound, "not-found", "invitation not found")
		return
	}
	var p eventstore.Profile
	err := s.d.Store.InTenant(c, tenantID, true, func(tx *eventstore.Tx) error {
		// Fail closed, as for API keys: the invitation may have been revoked or the
		// tenant suspended by an event the auth projection has not applied.
		if err := s.requireAuthFresh(c, tx); err != nil {
			return err
		}
		var err error
		p, err = tx.Profile(c)
		return err
	})
	if errors.Is(err, errTenantUnavailable) {
		s.failStopped(c, err)
		return
	}
	if err != nil {
		s.authFailed(c)
		fail(c, http.StatusNotFound, "not-found", "invitation not found")
		return
	}
	cl.tenant, cl.status, cl.plan = tenantID, p.Status, p.Plan
	c.Set(keyTenant, tenantID)
	if !s.checkStatus(c, cl) {
		return
	}
	cl.actor = "invitation:" + invitationID.String()
	plan, _ := domain.ParsePlanName(cl.plan)
	cl.yield()
	out, err := s.uc.members.Accept(c, app.AcceptInput{Tenant: tenantID, Plan: plan, InvitationID: invitationID, Token: req.Token,
		Meta: metadata(c, cl)})
	if !s.changed(c, cl, tenantID, out.Seq, err) {
		// No such invitation (404), or a real invitation's id with the wrong secret (403):
		// both are guesses, and a guess at a known id must cost the budget like any other.
		if st := c.Writer.Status(); st == http.StatusNotFound || st == http.StatusUnauthorized || st == http.StatusForbidden {
			s.authFailed(c)
		}
		return
	}
	reply(c, http.StatusCreated, api.InvitationAccepted{Member: memberSummary(out.Member), APIKey: newKeyAnswer(out.APIKey), Seq: out.Seq})
}
