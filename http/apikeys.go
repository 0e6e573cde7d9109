package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
)

// listAPIKeys pages through the tenant's API keys by id, revoked ones included (never a
// secret or its hash).
func (s *Server) listAPIKeys(c *gin.Context, cl *call) {
	pr, ok := s.pageQuery(c, domain.ListAPIKeys)
	if !ok || !s.minSeq(c, cl, eventstore.ProjectionAuth) {
		return
	}
	var rows []eventstore.APIKey
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		var err error
		rows, err = tx.APIKeys(c, pr.After, pr.Limit+1)
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, domain.NewPage(rows, pr.Limit, func(k eventstore.APIKey) string {
		return domain.IDCursor(domain.ListAPIKeys, k.KeyID)
	}).Answer("api_keys"))
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
	cl.yield()
	key, seq, err := s.uc.keys.Create(c, app.CreateKeyInput{Tenant: cl.tenant, KeyID: keyID, Member: memberID, Role: role, Name: req.Name,
		Meta: metadata(c, cl)})
	if s.changed(c, cl, cl.tenant, seq, err) {
		reply(c, http.StatusCreated, gin.H{"api_key": key, "seq": seq})
	}
}

func (s *Server) revokeAPIKey(c *gin.Context, cl *call) {
	id, ok := pathID(c, "API key")
	if !ok {
		return
	}
	cl.yield()
	seq, err := s.uc.keys.Revoke(c, app.Target{Tenant: cl.tenant, ID: id, Meta: metadata(c, cl)})
	if s.changed(c, cl, cl.tenant, seq, err) {
		reply(c, http.StatusOK, gin.H{"revoked": id, "seq": seq})
	}
}
