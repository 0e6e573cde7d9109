package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/projections"
)

func newMembership() *membership.Membership { return &membership.Membership{} }

func newTenant() *tenant.Tenant { return &tenant.Tenant{} }

func (s *Server) listMembers(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.ProjectionAuth) {
		return
	}
	var members []projections.Member
	var invitations []projections.Invitation
	err := eventstore.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		if members, err = projections.ListMembers(c, tx); err != nil {
			return err
		}
		invitations, err = projections.ListPendingInvitations(c, tx)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, gin.H{"members": nonNil(members), "invitations": nonNil(invitations)})
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

type inviteRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// inviteMember offers a seat: the answer carries the invitation token, shown once, for the
// admin to pass on to the invitee.
func (s *Server) inviteMember(c *gin.Context, cl *call) {
	var req inviteRequest
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
	seats := s.d.Plans.Limits(plan).Seats
	id := mintID(c, cl, "invitation")
	token, _, sum, err := newSecret(invitationScheme, cl.tenant, id)
	if err != nil {
		s.internal(c, err)
		return
	}
	now := s.now()
	expires := now.Add(s.d.InvitationTTL)
	_, res, ok := run(s, c, cl, cl.tenant, membership.StreamID, newMembership, func(m *membership.Membership) ([]domain.Event, error) {
		return m.Invite(id, email, role, cl.member, sum, expires, seats, now)
	})
	if ok {
		reply(c, http.StatusCreated, gin.H{
			"invitation": projections.Invitation{InvitationID: id, Email: email.String(), Role: role.String(), InvitedBy: cl.member,
				ExpiresAt: expires, Status: "pending"},
			"token": token,
			"seq":   res.LastSeq,
		})
	}
}

type patchMemberRequest struct {
	Role string `json:"role"`
}

func (s *Server) patchMember(c *gin.Context, cl *call) {
	id, ok := pathID(c, "member")
	if !ok {
		return
	}
	var req patchMemberRequest
	if !decode(c, cl.body, &req) {
		return
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		s.failErr(c, err)
		return
	}
	m, res, ok := run(s, c, cl, cl.tenant, membership.StreamID, newMembership, func(m *membership.Membership) ([]domain.Event, error) {
		return m.ChangeRole(id, role, s.now())
	})
	if ok {
		mem, _ := m.Member(id)
		reply(c, http.StatusOK, gin.H{"member": memberView{ID: id, Email: mem.Email.String(), Role: mem.Role.String()}, "seq": res.LastSeq})
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
	_, res, ok := run(s, c, cl, cl.tenant, membership.StreamID, newMembership, func(m *membership.Membership) ([]domain.Event, error) {
		if _, isInvitation := m.Invitation(id); isInvitation {
			return nil, domain.NotFound("no member %s: it is a pending invitation; revoke it with DELETE /v1/invitations/%s", id, id)
		}
		return m.Remove(id, s.now())
	})
	if ok {
		reply(c, http.StatusOK, gin.H{"removed": id, "seq": res.LastSeq})
	}
}

// maxInvitationPage bounds one page of GET /v1/invitations.
const maxInvitationPage = 1000

// listInvitations pages through the invitations that could still be accepted now, by id;
// expired ones are left out (they can never be accepted and hold no seat). Never a token.
func (s *Server) listInvitations(c *gin.Context, cl *call) {
	var errs fieldErrors
	after := uuid.Nil
	if v := c.Query("after"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, FieldError{Field: "after", Message: "must be an invitation id"})
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
	var list []projections.Invitation
	err := eventstore.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		list, err = projections.ListLiveInvitations(c, tx, s.now(), after, limit)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	out := gin.H{"invitations": nonNil(list)}
	if len(list) == limit {
		out["next_after"] = list[len(list)-1].InvitationID
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
	_, _, ok = run(s, c, cl, cl.tenant, membership.StreamID, newMembership, func(m *membership.Membership) ([]domain.Event, error) {
		return m.RevokeInvitation(id, s.now())
	})
	if ok {
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
	}
}

type acceptRequest struct {
	Token string `json:"token"`
}

// acceptInvitation turns an invitation into a member with their first API key. The token
// is the credential; it names its tenant, which must match the tenant the request names.
func (s *Server) acceptInvitation(c *gin.Context, cl *call) {
	var req acceptRequest
	if !decode(c, cl.body, &req) {
		return
	}
	// The token is a credential: guessing is limited like API keys (admitCredential).
	if !s.admitCredential(c, req.Token) {
		return
	}
	tenantID, invitationID, ok := parseSecret(invitationScheme, req.Token)
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
	var p projections.Profile
	err := eventstore.InTenant(c, s.pool(), tenantID, true, func(tx pgx.Tx) error {
		// Fail closed, as for API keys: the invitation may have been revoked or the
		// tenant suspended by an event the stopped auth projection has not applied.
		if stopped, err := eventstore.StoppedProjectionIn(c, tx, tenantID, eventstore.ProjectionAuth); err != nil || stopped != "" {
			if err == nil {
				err = errTenantUnavailable
			}
			return err
		}
		var err error
		p, err = projections.GetProfile(c, tx)
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
	memberID, keyID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	secret, prefix, sum, err := newSecret(keyScheme, tenantID, keyID)
	if err != nil {
		s.internal(c, err)
		return
	}
	cl.actor = "invitation:" + invitationID.String()
	plan, _ := domain.ParsePlanName(cl.plan)
	seats := s.d.Plans.Limits(plan).Seats
	now := s.now()
	cmd := eventstore.Command[*membership.Membership]{Tenant: tenantID, Stream: membership.StreamID, New: newMembership, Applied: true}
	m, res, ok := runCmd(s, c, cl, cmd, func(m *membership.Membership) ([]domain.Event, error) {
		joined, err := m.Accept(invitationID, membership.HashToken(req.Token), memberID, seats, now)
		if err != nil {
			return nil, err
		}
		for _, e := range joined {
			if err := m.Apply(e); err != nil {
				return nil, err
			}
		}
		mem, _ := m.Member(memberID)
		keyed, err := m.CreateAPIKey(keyID, memberID, mem.Role, "invitation", prefix, sum, now)
		if err != nil {
			return nil, err
		}
		for _, e := range keyed {
			if err := m.Apply(e); err != nil {
				return nil, err
			}
		}
		return append(joined, keyed...), nil
	})
	if !ok {
		// No such invitation (404), or a real invitation's id with the wrong secret (403):
		// both are guesses, and a guess at a known id must cost the budget like any other.
		if st := c.Writer.Status(); st == http.StatusNotFound || st == http.StatusUnauthorized || st == http.StatusForbidden {
			s.authFailed(c)
		}
		return
	}
	mem, _ := m.Member(memberID)
	reply(c, http.StatusCreated, gin.H{
		"member":  memberView{ID: memberID, Email: mem.Email.String(), Role: mem.Role.String()},
		"api_key": newKeyView{ID: keyID, Key: secret, Prefix: prefix, Role: mem.Role.String(), MemberID: memberID, Name: "invitation"},
		"seq":     res.LastSeq,
	})
}
