package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
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
	pg := domain.NewPage(rows, pr.Limit, func(k eventstore.APIKey) string {
		return domain.IDCursor(domain.ListAPIKeys, k.KeyID)
	})
	reply(c, http.StatusOK, api.APIKeyList{Page: pageOf(pg), APIKeys: mapAll(pg.Items, func(k eventstore.APIKey) api.APIKey {
		return api.APIKey{ID: k.KeyID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, MemberID: k.MemberID, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
	})})
}

// createAPIKey mints a key bound to a member; the secret is in this answer only.
func (s *Server) createAPIKey(c *gin.Context, cl *call) {
	var req api.CreateAPIKeyRequest
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
		reply(c, http.StatusCreated, api.APIKeyCreated{APIKey: newKeyAnswer(key), Seq: seq})
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
		reply(c, http.StatusOK, api.APIKeyRevoked{Revoked: id, Seq: seq})
	}
}
