package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// secretsAtRest counts the places (table.column) in schemas tenantry and tenant_* whose
// stored bytes contain secret, as a superuser: every text, varchar, json, jsonb and bytea
// column of every table.
func secretsAtRest(t *testing.T, secret string) []string {
	t.Helper()
	ctx := context.Background()
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	rows, err := super.Query(ctx, `SELECT c.table_schema, c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE t.table_type = 'BASE TABLE' AND (c.table_schema = 'tenantry' OR c.table_schema ~ '^tenant_[0-9a-f]{32}$')
		  AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY')`)
	require.NoError(t, err)
	type column struct{ schema, table, name, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		return c, r.Scan(&c.schema, &c.table, &c.name, &c.typ)
	})
	require.NoError(t, err)
	require.NotEmpty(t, cols)
	var found []string
	for _, c := range cols {
		col := pgx.Identifier{c.name}.Sanitize()
		haystack := col + "::text"
		if c.typ == "bytea" {
			haystack = col
		}
		needle := "$1::text"
		if c.typ == "bytea" {
			needle = "convert_to($1::text, 'UTF8')"
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM ONLY %s WHERE position(%s IN %s) > 0`, pgx.Identifier{c.schema, c.table}.Sanitize(), needle, haystack)
		require.NoError(t, super.QueryRow(ctx, q, secret).Scan(&n), q)
		if n > 0 {
			found = append(found, c.schema+"."+c.table+"."+c.name)
		}
	}
	return found
}

// secretPart is the random part of a "tk_..." or "inv_..." secret, after the lookup prefix.
func secretPart(t *testing.T, secret string) string {
	_, random, ok := strings.Cut(secret, ".")
	require.True(t, ok, secret)
	require.GreaterOrEqual(t, len(random), 40)
	return random
}

func TestIdempotencyKey_StoresNoSecretInPlaintextAndReplaysWithoutMintingAgain(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	idem := func(key string) map[string]string { return map[string]string{"Idempotency-Key": key} }
	twice := func(r req) (response, response) {
		first, replay := a.do(r), a.do(r)
		require.Equal(t, http.StatusCreated, first.status, string(first.raw))
		require.Equal(t, http.StatusCreated, replay.status, string(replay.raw))
		require.Empty(t, first.header.Get("Idempotent-Replayed"))
		require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
		require.Equal(t, first.raw, replay.raw, "the same answer, secret included")
		return first, replay
	}

	// Signup: the founding admin's key.
	slug := "sealed-" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	signup, _ := twice(req{method: "POST", path: "/v1/tenants", token: operatorToken, header: idem("signup-" + slug),
		body: map[string]any{"name": "Sealed", "slug": slug, "plan": "pro", "admin_email": "a@" + slug + ".example.com"}})
	tenantKey := signup.str("api_key", "key")
	require.True(t, strings.HasPrefix(tenantKey, "tk_"), string(signup.raw))

	// A new API key.
	minted, _ := twice(req{method: "POST", path: "/v1/api-keys", token: tenantKey, header: idem("key-1"),
		body: map[string]any{"name": "ci"}})
	apiKey := minted.str("api_key", "key")
	require.True(t, strings.HasPrefix(apiKey, "tk_"), string(minted.raw))

	// An invitation token, and the key its acceptance mints.
	invited, _ := twice(req{method: "POST", path: "/v1/members", token: tenantKey, header: idem("invite-1"),
		body: map[string]any{"email": "v@" + slug + ".example.com", "role": "viewer"}})
	token := invited.str("token")
	require.True(t, strings.HasPrefix(token, "inv_"), string(invited.raw))
	accepted, _ := twice(req{method: "POST", path: "/v1/invitations/accept", header: idem("accept-1"), body: map[string]any{"token": token}})
	memberKey := accepted.str("api_key", "key")
	require.True(t, strings.HasPrefix(memberKey, "tk_"), string(accepted.raw))

	// Every key works and exactly one of each was minted: the admin's, "ci", the new member's.
	for _, k := range []string{tenantKey, apiKey, memberKey} {
		r := a.do(req{method: "GET", path: "/v1/tenant", token: k})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
	}
	var keys, invitations int
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	tenantID := signup.str("tenant", "id")
	require.NoError(t, super.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE event_type = 'api_key.created'), count(*) FILTER (WHERE event_type = 'member.invited')
		FROM tenantry.events WHERE tenant_id = $1`, tenantID).Scan(&keys, &invitations))
	require.Equal(t, 3, keys, "signup key, ci key, accepted member's key: a replay mints nothing")
	require.Equal(t, 1, invitations)

	// No secret, and no Idempotency-Key, rests in plaintext anywhere.
	for _, secret := range []string{tenantKey, apiKey, token, memberKey} {
		require.Empty(t, secretsAtRest(t, secret), "the secret %s… is stored in plaintext", secret[:12])
		require.Empty(t, secretsAtRest(t, secretPart(t, secret)), "the random part of %s… is stored in plaintext", secret[:12])
	}
	for _, key := range []string{"signup-" + slug, "invite-1"} {
		require.Empty(t, secretsAtRest(t, key), "the Idempotency-Key %q is stored", key)
	}
}

func TestIdempotencyKey_AnotherKeyCannotReadTheRememberedAnswer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	body := map[string]any{"name": "ci"}
	first := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, header: map[string]string{"Idempotency-Key": "mine-1"}, body: body})
	require.Equal(t, http.StatusCreated, first.status, string(first.raw))

	// The same request under another key (or another caller) is a new request: a new key.
	other := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, header: map[string]string{"Idempotency-Key": "mine-2"}, body: body})
	require.Equal(t, http.StatusCreated, other.status, string(other.raw))
	require.Empty(t, other.header.Get("Idempotent-Replayed"))
	require.NotEqual(t, first.str("api_key", "key"), other.str("api_key", "key"))
	second := a.do(req{method: "POST", path: "/v1/api-keys", token: other.str("api_key", "key"), header: map[string]string{"Idempotency-Key": "mine-1"}, body: body})
	require.Equal(t, http.StatusCreated, second.status, string(second.raw))
	require.Empty(t, second.header.Get("Idempotent-Replayed"), "another caller's key of the same name is not theirs to replay")
	require.NotEqual(t, first.str("api_key", "key"), second.str("api_key", "key"))
}

// A key-minting request whose first answer was lost (the process died after the append and
// before the answer was stored, so nothing is remembered under its Idempotency-Key) and that
// the client then sends again meets the first run's key or invitation and answers 409; it
// never mints a second one. Fails on main: the retry minted a second key and invitation.
func TestIdempotencyKey_ARetryAfterALostAnswerNeverMintsASecondSecret(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	super := pgtest.Pool(t, testDB.SuperURL, 1)
	ctx := context.Background()
	forget := func() { // what a crash between the append and storing the answer leaves behind
		_, err := super.Exec(ctx, `DELETE FROM tenantry.idempotency_keys WHERE tenant_id = $1`, ten.id)
		require.NoError(t, err)
	}
	count := func(typ string) (n int) {
		require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM tenantry.events WHERE tenant_id = $1 AND event_type = $2`, ten.id, typ).Scan(&n))
		return n
	}
	keysBefore := count("api_key.created")

	for _, rq := range []req{
		{method: "POST", path: "/v1/api-keys", token: ten.key, header: map[string]string{"Idempotency-Key": "mint-1"}, body: map[string]any{"name": "ci"}},
		{method: "POST", path: "/v1/members", token: ten.key, header: map[string]string{"Idempotency-Key": "invite-1"},
			body: map[string]any{"email": "x@" + ten.slug + ".example.com", "role": "viewer"}},
	} {
		first := a.do(rq)
		require.Equal(t, http.StatusCreated, first.status, string(first.raw))
		forget()
		retry := a.do(rq)
		require.Equal(t, http.StatusConflict, retry.status, "%s %s: %s", rq.method, rq.path, retry.raw)
		require.Equal(t, "conflict", retry.problemType())
	}
	require.Equal(t, keysBefore+1, count("api_key.created"), "one key minted, not two")
	require.Equal(t, 1, count("member.invited"), "one invitation issued, not two")

	// Another Idempotency-Key, or none, mints as usual.
	r := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, header: map[string]string{"Idempotency-Key": "mint-2"}, body: map[string]any{"name": "ci2"}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "ci3"}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
}
