package platform

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// `tenants list` pages as GET /v1/admin/tenants does: --cursor and --limit, and --json prints
// the API's page object.
func TestTenantsList_PagesByCursorToTheEnd(t *testing.T) {
	db := pgtest.New(t)
	ctx := startServe(t, db)
	env := map[string]string{"DATABASE_URL": db.SuperURL, "LOG_FORMAT": "json"}
	pool := pgtest.Pool(t, db.AppURL, 4)
	store := eventstore.New(pool)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	var ids []string
	for _, slug := range []string{"paged-a", "paged-b", "paged-c", "paged-d", "paged-e"} {
		ids = append(ids, appendTenant(t, store, reg, slug, domain.PlanFree).String())
	}
	slices.Sort(ids)
	require.Eventually(t, func() bool { _, err := store.FindTenant(ctx, "paged-e"); return err == nil }, time.Minute, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if _, err := store.FindTenant(ctx, id); err != nil {
				return false
			}
		}
		return true
	}, time.Minute, 10*time.Millisecond)

	type page struct {
		Tenants []struct {
			ID   string `json:"id"`
			Slug string `json:"slug"`
			Lag  *int64 `json:"lag"`
		} `json:"tenants"`
		NextCursor *string `json:"next_cursor"`
		HasMore    *bool   `json:"has_more"`
	}
	list := func(args ...string) page {
		out, err := run(t, ctx, env, append([]string{"tenants", "list", "--json"}, args...)...)
		require.NoError(t, err, out)
		require.Contains(t, out, `"next_cursor":`, "always present")
		var keys map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(out), &keys), out)
		require.Len(t, keys, 3, "tenants, next_cursor, has_more: %s", out)
		var p page
		require.NoError(t, json.Unmarshal([]byte(out), &p), out)
		require.NotNil(t, p.HasMore, out)
		require.Equal(t, *p.HasMore, p.NextCursor != nil, "a next cursor exactly when there is more: %s", out)
		return p
	}
	for _, limit := range []string{"1", "2", "5"} {
		var got []string
		cursor := []string{}
		for range 10 {
			p := list(append([]string{"--limit", limit}, cursor...)...)
			for _, tn := range p.Tenants {
				require.NotNil(t, tn.Lag)
				got = append(got, tn.ID)
			}
			if !*p.HasMore {
				break
			}
			cursor = []string{"--cursor", *p.NextCursor}
		}
		require.Equal(t, ids, got, "limit %s: every tenant once, by id", limit)
	}
	require.False(t, *list("--limit", "5").HasMore, "exactly limit tenants: the last page")
	require.Len(t, list().Tenants, 5, "default limit 100")

	out, err := run(t, ctx, env, "tenants", "list", "--limit", "2")
	require.NoError(t, err, out)
	require.True(t, strings.Contains(out, "more: --cursor "), "the table says how to go on: %s", out)
	_, err = run(t, ctx, env, "tenants", "list", "--cursor", "bm90IG91cnM", "--limit", "0")
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "--cursor: ")
	require.ErrorContains(t, err, "--limit: ")
}
