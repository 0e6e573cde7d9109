package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// invite has admin key invite addr with role and returns the invitation id and token.
func (a *api) invite(key, addr, role string) (id, token string) {
	a.t.Helper()
	r := a.do(req{method: "POST", path: "/v1/members", token: key, body: map[string]any{"email": addr, "role": role}})
	require.Equal(a.t, http.StatusCreated, r.status, string(r.raw))
	return r.str("invitation", "id"), r.str("token")
}

// join invites addr with role and accepts, returning the new member's id and API key.
func (a *api) join(key, addr, role string) (memberID, memberKey string) {
	a.t.Helper()
	_, token := a.invite(key, addr, role)
	r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": token}})
	require.Equal(a.t, http.StatusCreated, r.status, string(r.raw))
	return r.str("member", "id"), r.str("api_key", "key")
}

// invitationIDs lists the ids GET /v1/invitations answers to key.
func (a *api) invitationIDs(key string) []string {
	a.t.Helper()
	r := a.do(req{method: "GET", path: "/v1/invitations", token: key})
	require.Equal(a.t, http.StatusOK, r.status, string(r.raw))
	ids := []string{}
	for _, inv := range r.get("invitations").([]any) {
		ids = append(ids, inv.(map[string]any)["id"].(string))
	}
	return ids
}

// requireNotMember checks that addr is no member of the tenant.
func (a *api) requireNotMember(key, addr string) {
	a.t.Helper()
	r := a.do(req{method: "GET", path: "/v1/members", token: key})
	require.Equal(a.t, http.StatusOK, r.status, string(r.raw))
	for _, m := range r.get("members").([]any) {
		require.NotEqual(a.t, addr, m.(map[string]any)["email"], "%s must not have joined", addr)
	}
}

// The attack: admin A invites X as an admin and keeps the token; admin B removes A; X tries
// to join.
func TestInvitations_ARemovedAdminsInvitationCannotBeAccepted(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro") // its founder is admin B
	aliceID, aliceKey := a.join(ten.key, "alice@example.com", "admin")
	invID, token := a.invite(aliceKey, "mallory@example.com", "admin")

	r := a.do(req{method: "DELETE", path: "/v1/members/" + aliceID, token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	r = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": token}})
	require.Equal(t, http.StatusNotFound, r.status, "the kept token must not make an admin: %s", r.raw)
	require.Equal(t, "not-found", r.problemType())
	a.requireNotMember(ten.key, "mallory@example.com")
	require.NotContains(t, a.invitationIDs(ten.key), invID, "removing alice revoked her invitation")
}

func TestInvitations_ADemotedAdminsInvitationCannotBeAccepted(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	aliceID, aliceKey := a.join(ten.key, "alice@example.com", "admin")
	invID, token := a.invite(aliceKey, "mallory@example.com", "viewer")

	r := a.do(req{method: "PATCH", path: "/v1/members/" + aliceID, token: ten.key, body: map[string]any{"role": "editor"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	r = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": token}})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	a.requireNotMember(ten.key, "mallory@example.com")
	require.NotContains(t, a.invitationIDs(ten.key), invID, "demoting alice revoked her invitation")
}

func TestInvitations_AdminListsAndRevokesPendingInvitations(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	first, firstToken := a.invite(ten.key, "first@example.com", "editor")
	second, secondToken := a.invite(ten.key, "second@example.com", "admin")

	r := a.do(req{method: "GET", path: "/v1/invitations", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, []string{first, second}, a.invitationIDs(ten.key), "by id, which is creation order")
	inv := r.get("invitations").([]any)[1].(map[string]any)
	require.Equal(t, "second@example.com", inv["email"])
	require.Equal(t, "admin", inv["role"])
	require.Equal(t, ten.adminID, inv["invited_by"])
	require.NotEmpty(t, inv["expires_at"])
	require.NotContains(t, string(r.raw), firstToken, "never a token")
	require.NotContains(t, string(r.raw), secondToken, "never a token")
	require.NotContains(t, string(r.raw), "token")

	// Paging, and the same under the workspace path.
	r = a.do(req{method: "GET", path: "/v1/workspaces/" + ten.slug + "/invitations?limit=1", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Len(t, r.get("invitations"), 1)
	require.Equal(t, first, r.get("invitations").([]any)[0].(map[string]any)["id"])
	require.Equal(t, true, r.get("has_more"))
	r = a.do(req{method: "GET", path: "/v1/invitations?limit=1&cursor=" + r.str("next_cursor"), token: ten.key})
	require.Equal(t, second, r.get("invitations").([]any)[0].(map[string]any)["id"])
	require.Equal(t, false, r.get("has_more"), "exactly the last one")
	require.Nil(t, r.get("next_cursor"))
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=nope", "after=" + first} {
		r = a.do(req{method: "GET", path: "/v1/invitations?" + q, token: ten.key})
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", q, r.raw)
	}

	// DELETE /v1/members/{invitation id} removes nothing and names the right route.
	r = a.do(req{method: "DELETE", path: "/v1/members/" + second, token: ten.key})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	require.Contains(t, r.str("detail"), "DELETE /v1/invitations/"+second)
	require.Equal(t, []string{first, second}, a.invitationIDs(ten.key))

	// Revoke: 204, gone from the list at once, its token refused.
	r = a.do(req{method: "DELETE", path: "/v1/invitations/" + second, token: ten.key})
	require.Equal(t, http.StatusNoContent, r.status, string(r.raw))
	require.Empty(t, r.raw)
	require.Equal(t, []string{first}, a.invitationIDs(ten.key))
	r = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": secondToken}})
	require.Equal(t, http.StatusNotFound, r.status, "a revoked token is refused: %s", r.raw)
	a.requireNotMember(ten.key, "second@example.com")

	// Revoked or accepted already: 409. Never issued: 404.
	r = a.do(req{method: "DELETE", path: "/v1/invitations/" + second, token: ten.key})
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": firstToken}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	r = a.do(req{method: "DELETE", path: "/v1/invitations/" + first, token: ten.key})
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	require.Equal(t, "conflict", r.problemType())
	r = a.do(req{method: "DELETE", path: "/v1/invitations/" + uuid.NewString(), token: ten.key})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	r = a.do(req{method: "DELETE", path: "/v1/invitations/" + ten.adminID, token: ten.key})
	require.Equal(t, http.StatusNotFound, r.status, "a member id is no invitation: %s", r.raw)
	require.Empty(t, a.invitationIDs(ten.key))
}

func TestInvitations_OnlyAdminsListOrRevoke(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	keys := a.keysByRole(ten)
	invID, _ := a.invite(ten.key, "x@example.com", "viewer")
	for _, role := range domain.Roles() {
		if role == domain.RoleAdmin {
			continue
		}
		r := a.do(req{method: "GET", path: "/v1/invitations", token: keys[role]})
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", role, r.raw)
		require.Equal(t, "forbidden", r.problemType())
		r = a.do(req{method: "DELETE", path: "/v1/invitations/" + invID, token: keys[role]})
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", role, r.raw)
		require.Equal(t, "forbidden", r.problemType())
	}
	require.Equal(t, []string{invID}, a.invitationIDs(ten.key), "still pending")
}

func TestInvitations_AnotherTenantsInvitationIsNotFound(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ta, tb := a.createTenant("pro"), a.createTenant("pro")
	invB, tokenB := a.invite(tb.key, "b@example.com", "admin")
	invA, _ := a.invite(ta.key, "a@example.com", "viewer")

	r := a.do(req{method: "DELETE", path: "/v1/invitations/" + invB, token: ta.key})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
	require.Equal(t, "invitation not found", r.str("detail"))
	require.Equal(t, []string{invA}, a.invitationIDs(ta.key), "a's list holds only a's invitation")
	require.Equal(t, []string{invB}, a.invitationIDs(tb.key), "b's invitation is untouched")
	r = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": tokenB}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
}

// Removing the inviter and accepting race: whichever commits first wins, and the stream never
// shows the invitation accepted after its inviter's removal. Each outcome's answer matches
// the stream.
func TestInvitations_AcceptRacingTheInvitersRemovalNeverJoinsAfterIt(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const rounds = 8
	joinedFirst := 0
	for i := 0; i < rounds; i++ {
		ten := a.createTenant("pro")
		aliceID, aliceKey := a.join(ten.key, "alice@example.com", "admin")
		invID, token := a.invite(aliceKey, "mallory@example.com", "admin")
		var wg sync.WaitGroup
		var removed, accepted response
		wg.Add(2)
		go func() {
			defer wg.Done()
			removed = a.do(req{method: "DELETE", path: "/v1/members/" + aliceID, token: ten.key})
		}()
		go func() {
			defer wg.Done()
			accepted = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": token}})
		}()
		wg.Wait()
		require.Equal(t, http.StatusOK, removed.status, string(removed.raw))

		r := a.do(req{method: "GET", path: "/v1/audit/events", token: ten.key})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		var removedSeq, joinedSeq int64
		for _, line := range bytes.Split(bytes.TrimSpace(r.raw), []byte("\n")) {
			var l struct {
				Seq  int64 `json:"seq"`
				Type string
				Data struct {
					MemberID     string `json:"member_id"`
					InvitationID string `json:"invitation_id"`
				}
			}
			require.NoError(t, json.Unmarshal(line, &l))
			switch {
			case l.Type == "member.removed" && l.Data.MemberID == aliceID:
				removedSeq = l.Seq
			case l.Type == "member.joined" && l.Data.InvitationID == invID:
				joinedSeq = l.Seq
			}
		}
		require.NotZero(t, removedSeq)
		if accepted.status == http.StatusCreated {
			joinedFirst++
			require.NotZero(t, joinedSeq)
			require.Less(t, joinedSeq, removedSeq, "round %d: joined before alice's removal", i)
		} else {
			require.Equal(t, http.StatusNotFound, accepted.status, "round %d: %s", i, accepted.raw)
			require.Zero(t, joinedSeq, "round %d: refused, and nobody joined", i)
		}
	}
	t.Logf("the invitee won %d of %d races", joinedFirst, rounds)
}
