package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// pageQuery reads the ?cursor= and ?limit= of a list ordered by id (domain.Page), answering
// 400 itself, naming each bad field, when they are not valid.
func (s *Server) pageQuery(c *gin.Context, list string) (domain.PageRequest, bool) {
	pr, err := domain.ParsePageRequest(list, c.Query("cursor"), c.Query("limit"))
	if err != nil {
		s.failErr(c, err)
		return pr, false
	}
	return pr, true
}

// listInvitations pages through the invitations that could still be accepted now, by id;
// expired ones are left out (they can never be accepted and hold no seat). Never a token.
func (s *Server) listInvitations(c *gin.Context, cl *call) {
	pr, ok := s.pageQuery(c, domain.ListInvitations)
	if !ok || !s.minSeq(c, cl) {
		return
	}
	var rows []eventstore.Invitation
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		var err error
		rows, err = tx.LiveInvitations(c, s.now(), pr.After, pr.Limit+1)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	pg := domain.NewPage(rows, pr.Limit, func(i eventstore.Invitation) string {
		return domain.IDCursor(domain.ListInvitations, i.InvitationID)
	})
	reply(c, http.StatusOK, api.InvitationList{Page: pageOf(pg), Invitations: mapAll(pg.Items, invitationAnswer)})
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
	if !s.admitCredential(c, secretSum(req.Token)) {
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
	cl.tenant, cl.status, cl.plan, cl.planV = tenantID, p.Status, p.Plan, p.PlanVersion
	setTenant(c, tenantID)
	if !s.checkStatus(c, cl) {
		return
	}
	cl.actor = "invitation:" + invitationID.String()
	plan, _ := domain.ParsePlanName(cl.plan)
	cl.yield()
	out, err := s.uc.members.Accept(c, app.AcceptInput{Tenant: tenantID, Plan: plan, PlanVersion: cl.planV, InvitationID: invitationID, Token: req.Token,
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
