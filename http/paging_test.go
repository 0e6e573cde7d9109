package httpapi_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// page asks for one page of a list and checks the shape every list answers: the items under
// key, next_cursor (a string exactly when has_more) and has_more, all three present.
func (a *api) page(token, path, key, cursor string, limit int) (ids []string, next string, more bool) {
	a.t.Helper()
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	r := a.do(req{method: "GET", path: path + sep + q.Encode(), token: token})
	require.Equal(a.t, http.StatusOK, r.status, string(r.raw))
	require.Contains(a.t, r.body, "next_cursor", string(r.raw))
	require.Contains(a.t, r.body, "has_more", string(r.raw))
	items, ok := r.get(key).([]any)
	require.True(a.t, ok, "%s is an array: %s", key, r.raw)
	require.LessOrEqual(a.t, len(items), limit)
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	more = r.get("has_more").(bool)
	if more {
		next = r.str("next_cursor")
		require.NotEmpty(a.t, next, string(r.raw))
		require.Len(a.t, items, limit, "a page with more after it is full")
	} else {
		require.Nil(a.t, r.get("next_cursor"), "no next_cursor on the last page: %s", r.raw)
	}
	return ids, next, more
}

// walk pages through a whole list limit items at a time and returns every id, checking
// they come in strictly increasing order (no duplicate, keyset order).
func (a *api) walk(token, path, key string, limit int) []string {
	a.t.Helper()
	var all []string
	cursor := ""
	for range 10000 {
		ids, next, more := a.page(token, path, key, cursor, limit)
		all = append(all, ids...)
		if !more {
			break
		}
		cursor = next
	}
	for i := 1; i < len(all); i++ {
		require.Less(a.t, all[i-1], all[i], "ids strictly increase across pages: %v", all)
	}
	return all
}

func TestPaging_WalksMembersInvitationsAndAPIKeysToTheEndWithNoDuplicateOrGap(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("enterprise")
	members := []string{ten.adminID}
	for i := range 4 {
		id, _ := a.join(ten.key, "m"+strconv.Itoa(i)+"@example.com", "viewer")
		members = append(members, id)
	}
	var invitations []string
	for i := range 5 {
		id, _ := a.invite(ten.key, "i"+strconv.Itoa(i)+"@example.com", "editor")
		invitations = append(invitations, id)
	}
	keys := a.walk(ten.key, "/v1/api-keys", "api_keys", 1000) // the admin's and each member's first key
	require.Len(t, keys, 5)
	for i := range 3 {
		r := a.do(req{method: "POST", path: "/v1/api-keys", token: ten.key, body: map[string]any{"name": "k" + strconv.Itoa(i)}})
		require.Equal(t, http.StatusCreated, r.status, string(r.raw))
		keys = append(keys, r.str("api_key", "id"))
	}
	slices.Sort(members)
	slices.Sort(invitations)
	slices.Sort(keys)

	for _, limit := range []int{1, 2, 3} {
		require.Equal(t, members, a.walk(ten.key, "/v1/members", "members", limit), "limit %d", limit)
		require.Equal(t, invitations, a.walk(ten.key, "/v1/invitations", "invitations", limit), "limit %d", limit)
		require.Equal(t, keys, a.walk(ten.key, "/v1/api-keys", "api_keys", limit), "limit %d", limit)
	}
	// The workspace form pages the same way.
	require.Equal(t, members, a.walk(ten.key, "/v1/workspaces/"+ten.slug+"/members", "members", 2))

	// Members no longer carry the invitations.
	r := a.do(req{method: "GET", path: "/v1/members", token: ten.key})
	require.NotContains(t, r.body, "invitations")
	require.Len(t, r.get("members"), len(members), "default limit 100")
}

func TestPaging_ExactlyLimitItemsLeftIsTheLastPage(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("enterprise")
	for i := range 4 {
		a.invite(ten.key, "x"+strconv.Itoa(i)+"@example.com", "viewer")
	}
	ids, _, more := a.page(ten.key, "/v1/invitations", "invitations", "", 4)
	require.Len(t, ids, 4)
	require.False(t, more, "exactly limit items: nothing more")

	ids, next, more := a.page(ten.key, "/v1/invitations", "invitations", "", 2)
	require.Len(t, ids, 2)
	require.True(t, more)
	ids, _, more = a.page(ten.key, "/v1/invitations", "invitations", next, 2)
	require.Len(t, ids, 2)
	require.False(t, more, "the two left fill the page exactly: has_more false, next_cursor null")

	// An empty list is a page too.
	other := a.createTenant("pro")
	ids, _, more = a.page(other.key, "/v1/invitations", "invitations", "", 5)
	require.Empty(t, ids)
	require.False(t, more)
}

func TestPaging_RefusesCursorsItDidNotIssueAndLimitsOutOfRange(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("enterprise")
	membersCursor := domain.IDCursor(domain.ListMembers, uuid.New())
	lists := []struct{ token, path string }{
		{ten.key, "/v1/members"}, {ten.key, "/v1/invitations"}, {ten.key, "/v1/api-keys"},
		{operatorToken, "/v1/admin/tenants"}, {ten.key, "/v1/audit/events"},
	}
	for _, l := range lists {
		for query, field := range map[string]string{
			"cursor=garbage":                                               "cursor",
			"cursor=" + strings.Repeat("QUFB", 4000):                       "cursor",
			"cursor=" + url.QueryEscape(domain.IDCursor("v0", uuid.New())): "cursor",
			"cursor=djIubWVtYmVycy4x":                                      "cursor", // "v2.members.1"
			"cursor=" + domain.SeqCursor(domain.ListAuditEvents+"x", 1):    "cursor",
			"limit=0":                    "limit",
			"limit=-1":                   "limit",
			"limit=x":                    "limit",
			"limit=2.5":                  "limit",
			"limit=99999999999999999999": "limit",
		} {
			r := a.do(req{method: "GET", path: l.path + "?" + query, token: l.token})
			require.Equal(t, http.StatusBadRequest, r.status, "%s?%s: %s", l.path, query, r.raw)
			require.Equal(t, "invalid-request", r.problemType())
			require.Equal(t, field, fieldOf(r), "%s?%s: %s", l.path, query, r.raw)
		}
		if l.path != "/v1/members" {
			r := a.do(req{method: "GET", path: l.path + "?cursor=" + membersCursor, token: l.token})
			require.Equal(t, http.StatusBadRequest, r.status, "another list's cursor on %s: %s", l.path, r.raw)
		}
		r := a.do(req{method: "GET", path: l.path + "?cursor=junk&limit=0", token: l.token})
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Len(t, r.get("errors"), 2, "both named: %s", r.raw)
	}
	for _, path := range []string{"/v1/members?limit=1001", "/v1/audit/events?limit=10001"} {
		r := a.do(req{method: "GET", path: path, token: ten.key})
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
		require.Equal(t, "limit", fieldOf(r))
	}
	r := a.do(req{method: "GET", path: "/v1/audit/events?limit=10000", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, "the audit export keeps its own bound")
}

// fieldOf is the field of a problem's first error.
func fieldOf(r response) string {
	errs, _ := r.get("errors").([]any)
	if len(errs) == 0 {
		return ""
	}
	f, _ := errs[0].(map[string]any)["field"].(string)
	return f
}

func TestPaging_ACursorFromOneTenantShowsNothingOfAnother(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tenA, tenB := a.createTenant("enterprise"), a.createTenant("enterprise")
	var aMembers []string
	for i := range 3 {
		id, _ := a.join(tenA.key, "a"+strconv.Itoa(i)+"@example.com", "viewer")
		aMembers = append(aMembers, id)
		a.join(tenB.key, "b"+strconv.Itoa(i)+"@example.com", "viewer")
	}
	bMembers := a.walk(tenB.key, "/v1/members", "members", 100)
	_, cursorA, more := a.page(tenA.key, "/v1/members", "members", "", 1)
	require.True(t, more)

	ids, _, _ := a.page(tenB.key, "/v1/members", "members", cursorA, 100)
	for _, id := range ids {
		require.Contains(t, bMembers, id, "only B's members")
		require.NotContains(t, aMembers, id)
		require.NotEqual(t, tenA.adminID, id)
	}
	// The same through X-Tenant naming B with A's key: refused, never B's data.
	r := a.do(req{method: "GET", path: "/v1/members?cursor=" + cursorA, token: tenA.key, header: map[string]string{"X-Tenant": tenB.slug}})
	require.Equal(t, http.StatusNotFound, r.status, string(r.raw))
}

func TestAdminTenants_PagesTheWholeDirectoryByCursor(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mine := []string{a.createTenant("pro").id, a.createTenant("pro").id, a.createTenant("pro").id}
	require.Eventually(t, func() bool {
		all := a.walk(operatorToken, "/v1/admin/tenants", "tenants", 1000)
		for _, id := range mine {
			if !slices.Contains(all, id) {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "the directory lists the new tenants")
	all := a.walk(operatorToken, "/v1/admin/tenants", "tenants", 1000)
	for _, limit := range []int{1, 2} {
		paged := a.walk(operatorToken, "/v1/admin/tenants", "tenants", limit) // strictly increasing: no duplicate
		for _, id := range all {
			require.Contains(t, paged, id, "no gap (limit %d)", limit) // tenants made meanwhile may add to paged
		}
	}
	r := a.do(req{method: "GET", path: "/v1/admin/tenants?after=" + mine[0], token: operatorToken})
	require.Equal(t, http.StatusBadRequest, r.status, "after is gone: %s", r.raw)
}

func TestAdminRoutes_NameTheTenantBySlugOrID(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	require.Eventually(t, func() bool {
		r := a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.slug + "/suspend", token: operatorToken})
		return r.status == http.StatusOK && r.str("tenant", "status") == "suspended"
	}, 10*time.Second, 20*time.Millisecond, "suspended by slug once the directory lists it")
	r := a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/reactivate", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "active", r.str("tenant", "status"))
	require.Equal(t, ten.id, r.str("tenant", "id"))
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.slug + "/close", token: operatorToken})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "closed", r.str("tenant", "status"))

	for _, name := range []string{"no-such-tenant", uuid.NewString(), "Not_A_Slug", "%2e%2e", "a", strings.Repeat("x", 5000),
		strings.ReplaceAll(uuid.NewString(), "-", ""), "urn:uuid:" + uuid.NewString()} {
		r := a.do(req{method: "POST", path: "/v1/admin/tenants/" + name + "/suspend", token: operatorToken})
		require.Equal(t, http.StatusNotFound, r.status, "%.40s: %s", name, r.raw)
		require.Equal(t, "not-found", r.problemType())
	}
}

func TestAuditEvents_PagesByCursorWithHeadersToTheHead(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	for i := range 3 {
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 1,
			"idempotency_key": "k" + strconv.Itoa(i)}})
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	}
	whole := a.do(req{method: "GET", path: "/v1/audit/events", token: ten.key})
	require.Equal(t, http.StatusOK, whole.status, string(whole.raw))
	require.Equal(t, "false", whole.header.Get("Tenantry-Has-More"))
	require.Empty(t, whole.header.Values("Tenantry-Next-Cursor"))
	lines := bytes.Split(bytes.TrimSuffix(whole.raw, []byte("\n")), []byte("\n"))
	events := lines[:len(lines)-1]
	require.True(t, bytes.HasPrefix(lines[len(lines)-1], []byte(`{"head":`)))
	require.GreaterOrEqual(t, len(events), 4)

	for _, limit := range []int{1, 2, len(events)} {
		var got [][]byte
		cursor, pages := "", 0
		for {
			path := "/v1/audit/events?limit=" + strconv.Itoa(limit)
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := a.do(req{method: "GET", path: path, token: ten.key})
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			pages++
			page := bytes.Split(bytes.TrimSuffix(r.raw, []byte("\n")), []byte("\n"))
			more := r.header.Get("Tenantry-Has-More")
			if more == "true" {
				require.Len(t, page, limit, "a full page, no head line")
				cursor = r.header.Get("Tenantry-Next-Cursor")
				require.NotEmpty(t, cursor)
				got = append(got, page...)
				continue
			}
			require.Equal(t, "false", more)
			require.Empty(t, r.header.Values("Tenantry-Next-Cursor"))
			require.True(t, bytes.HasPrefix(page[len(page)-1], []byte(`{"head":`)), "the last page ends with the head")
			got = append(got, page[:len(page)-1]...)
			break
		}
		require.Equal(t, events, got, "limit %d: every event once, in order", limit)
		require.Equal(t, (len(events)+limit-1)/limit, pages, "limit %d: a page ending exactly at the head is the last", limit)
	}
	// HEAD tells the same headers without the lines.
	r := a.do(req{method: "HEAD", path: "/v1/audit/events?limit=1", token: ten.key})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "true", r.header.Get("Tenantry-Has-More"))
	require.NotEmpty(t, r.header.Get("Tenantry-Next-Cursor"))
}

func TestBilling_PeriodIsTheFirstInstantOfAUTCMonth(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	for period, ok := range map[string]bool{
		"2026-12-01T00:00:00Z":      true,
		"2026-01-01T00:00:00.000Z":  true,
		"2026-12-01T01:00:00+01:00": true, // the same instant
		"2026-12":                   false,
		"2026-12-01":                false,
		"2026-12-02T00:00:00Z":      false,
		"2026-12-01T00:00:00.5Z":    false,
		"2026-12-01T00:00:00+01:00": false,
		"2026-12-01 00:00:00Z":      false,
		"":                          false,
	} {
		r := a.do(req{method: "GET", path: "/v1/billing?period=" + url.QueryEscape(period), token: ten.key})
		if ok {
			require.Equal(t, http.StatusOK, r.status, "%s: %s", period, r.raw)
			continue
		}
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", period, r.raw)
		require.Equal(t, "period", fieldOf(r))
		require.Contains(t, r.str("detail"), "2026-12-01T00:00:00Z", "the message shows the accepted form")
	}
}
