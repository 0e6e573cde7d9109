package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/projections"
)

func (s *Server) listAPIKeys(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.ProjectionAuth) {
		return
	}
	var keys []projections.APIKey
	err := eventstore.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		keys, err = projections.ListAPIKeys(c, tx)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, gin.H{"api_keys": nonNil(keys)})
}

type createKeyRequest struct {
	Name     string     `json:"name"`
	Role     string     `json:"role"`      // default: the member's role
	MemberID *uuid.UUID `json:"member_id"` // default: the caller's member
}

// createAPIKey mints a key bound to a member; the secret is in this answer only.
func (s *Server) createAPIKey(c *gin.Context, cl *call) {
	var req createKeyRequest
	if !decode(c, cl.body, &req) {
		return
	}
	var role domain.Role
	if req.Role != "" {
		var err error
		if role, err = domain.ParseRole(req.Role); err != nil {
			s.failErr(c, err)
			return
		}
	}
	memberID := cl.member
	if req.MemberID != nil {
		memberID = *req.MemberID
	}
	keyID := mintID(c, cl, "api-key")
	secret, prefix, sum, err := newSecret(keyScheme, cl.tenant, keyID)
	if err != nil {
		s.internal(c, err)
		return
	}
	m, res, ok := run(s, c, cl, cl.tenant, membership.StreamID, newMembership, func(m *membership.Membership) ([]domain.Event, error) {
		r := role
		if r.IsZero() {
			mem, found := m.Member(memberID)
			if !found {
				return nil, domain.NotFound("member not found")
			}
			r = mem.Role
		}
		return m.CreateAPIKey(keyID, memberID, r, req.Name, prefix, sum, s.now())
	})
	if !ok {
		return
	}
	k, _ := m.APIKey(keyID)
	reply(c, http.StatusCreated, gin.H{
		"api_key": newKeyView{ID: keyID, Key: secret, Prefix: prefix, Role: k.Role.String(), MemberID: memberID, Name: k.Name},
		"seq":     res.LastSeq,
	})
}

func (s *Server) revokeAPIKey(c *gin.Context, cl *call) {
	id, ok := pathID(c, "API key")
	if !ok {
		return
	}
	_, res, ok := run(s, c, cl, cl.tenant, membership.StreamID, newMembership, func(m *membership.Membership) ([]domain.Event, error) {
		return m.RevokeAPIKey(id, s.now())
	})
	if ok {
		reply(c, http.StatusOK, gin.H{"revoked": id, "seq": res.LastSeq})
	}
}
