package httpapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
)

// An invitation token's prefix (tenant and invitation id) is no secret: admins list the
// ids, and the prefix travels with every copy of the token. Wrong secrets after a real
// invitation's prefix answered 403 and never spent the failed-authentication budget, so a
// client could guess (each guess loading the tenant's membership) as fast as its rate limit
// allowed. They are counted like any other bad credential, and once the budget is spent
// even the right token is refused, so a right guess is not told apart.
func TestAuth_WrongSecretsForARealInvitationAreLimited(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	_, token := a.invite(ten.key, "guessed@example.com", "viewer")
	prefix, _, _ := strings.Cut(token, ".")
	guess := func() string {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		require.NoError(t, err)
		return prefix + "." + base64.RawURLEncoding.EncodeToString(b)
	}
	for i := 0; i < httpapi.AuthFailureBudget; i++ {
		r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": guess()}})
		require.Equal(t, http.StatusForbidden, r.status, string(r.raw))
	}
	for _, tok := range []string{guess(), token} {
		r := a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": tok}})
		require.Equal(t, http.StatusTooManyRequests, r.status, string(r.raw))
		require.NotEmpty(t, r.header.Get("Retry-After"))
	}
}
