package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/product"
)

// request is a stand-in for Tenantry's product.Request (http's adapter is the real one,
// tested there) over the real database: the scoped store, reads as tenantry_app, and Settle
// running the module's projection up to seq as the projector would. It lets the handlers
// be tested before the server serves products.
type request struct {
	f         *fixture
	c         *gin.Context
	tenant    uuid.UUID
	role      domain.Role
	projected *int64 // the tenant's projected seq
}

var _ product.Request = (*request)(nil)

func (r *request) Tenant() uuid.UUID         { return r.tenant }
func (r *request) Member() uuid.UUID         { return uuid.Nil }
func (r *request) Role() domain.Role         { return r.role }
func (r *request) Metadata() domain.Metadata { return domain.Metadata{Actor: "test"} }
func (r *request) Events() module.EventStore {
	return Module().Scoped(eventstore.DomainStore{Store: r.f.api, Registry: r.f.reg})
}
func (r *request) Read(ctx context.Context, fn func(module.Tx) error) error {
	return r.f.api.InModule(ctx, r.tenant, true, fn)
}
func (r *request) Settle(ctx context.Context, seq int64) error {
	if seq > *r.projected {
		*r.projected = r.f.project(r.tenant, *r.projected)
	}
	return nil
}
func (r *request) Bind(v any) bool {
	dec := json.NewDecoder(r.c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		r.Fail(http.StatusBadRequest, "malformed-json", "bad body")
		return false
	}
	return true
}
func (r *request) JSON(status int, v any) { r.c.JSON(status, v) }
func (r *request) Fail(status int, code, detail string) {
	r.c.AbortWithStatusJSON(status, map[string]any{"status": status, "type": code, "detail": detail})
}
func (r *request) Error(err error) {
	status := map[domain.Code]int{domain.CodeInvalid: 400, domain.CodeNotFound: 404, domain.CodeConflict: 409}[domain.ErrorCode(err)]
	if status == 0 || errors.Is(err, module.ErrOutOfScope) {
		r.f.t.Errorf("internal error answered: %v", err)
		status = 500
	}
	r.Fail(status, string(domain.ErrorCode(err)), err.Error())
}

// server routes the product's routes for one tenant, as the server does after resolving it.
func (f *fixture) server(ten uuid.UUID) *gin.Engine {
	gin.SetMode(gin.TestMode)
	e := gin.New()
	var projected int64
	for _, rt := range Product().Routes {
		e.Handle(rt.Method, rt.Path, func(c *gin.Context) {
			rt.Handle(c, &request{f: f, c: c, tenant: ten, role: domain.RoleAdmin, projected: &projected})
		})
	}
	return e
}

func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	} else {
		rd = bytes.NewReader(nil)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, rd))
	var out map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out), w.Body.String())
	return w.Code, out
}

func TestHandlers_AnswerTheProductsRoutes(t *testing.T) {
	f := newFixture(t)
	ten := f.newTenant()
	h := f.server(ten)

	code, p := call(t, h, "POST", "/v1/projects", `{"name": "Launch", "description": "Ship it"}`)
	require.Equal(t, http.StatusCreated, code, p)
	pid := p["id"].(string)
	require.Equal(t, "Launch", p["name"])
	code, got := call(t, h, "GET", "/v1/projects/"+pid, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, p, got, "a read after the write sees it, as the write answered it")

	var taskIDs []string
	for _, title := range []string{"one", "two", "three"} {
		code, tk := call(t, h, "POST", "/v1/projects/"+pid+"/tasks", `{"title": "`+title+`"}`)
		require.Equal(t, http.StatusCreated, code, tk)
		require.Equal(t, "open", tk["status"])
		require.NotContains(t, tk, "completed_at")
		taskIDs = append(taskIDs, tk["id"].(string))
	}
	code, done := call(t, h, "POST", "/v1/projects/"+pid+"/tasks/"+taskIDs[1]+"/complete", "")
	require.Equal(t, http.StatusOK, code, done)
	require.Equal(t, "done", done["status"])
	require.NotEmpty(t, done["completed_at"])
	code, again := call(t, h, "POST", "/v1/projects/"+pid+"/tasks/"+taskIDs[1]+"/complete", "")
	require.Equal(t, http.StatusConflict, code, again)

	// Pages of two: has_more and next_cursor, as Tenantry's lists.
	code, page := call(t, h, "GET", "/v1/projects/"+pid+"/tasks?limit=2", "")
	require.Equal(t, http.StatusOK, code, page)
	require.Len(t, page["items"], 2)
	require.Equal(t, true, page["has_more"])
	code, rest := call(t, h, "GET", "/v1/projects/"+pid+"/tasks?limit=2&cursor="+page["next_cursor"].(string), "")
	require.Equal(t, http.StatusOK, code, rest)
	require.Len(t, rest["items"], 1)
	require.Equal(t, false, rest["has_more"])
	require.Nil(t, rest["next_cursor"])
	require.Contains(t, rest, "next_cursor", "null, not absent")

	code, onlyDone := call(t, h, "GET", "/v1/projects/"+pid+"/tasks?status=done", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, onlyDone["items"], 1)
	require.Equal(t, taskIDs[1], onlyDone["items"].([]any)[0].(map[string]any)["id"])

	code, project := call(t, h, "GET", "/v1/projects/"+pid, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 2.0, project["open_tasks"])
	require.Equal(t, 1.0, project["done_tasks"])

	code, list := call(t, h, "GET", "/v1/projects", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list["items"], 1)
	require.Equal(t, false, list["has_more"])

	// Another tenant's server finds none of it.
	other := f.server(f.newTenant())
	for _, path := range []string{"/v1/projects/" + pid, "/v1/projects/" + pid + "/tasks"} {
		code, _ := call(t, other, "GET", path, "")
		require.Equal(t, http.StatusNotFound, code, path)
	}
	code, _ = call(t, other, "POST", "/v1/projects/"+pid+"/tasks", `{"title": "x"}`)
	require.Equal(t, http.StatusNotFound, code)
	code, list = call(t, other, "GET", "/v1/projects", "")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, list["items"])
}

func TestHandlers_BadInputIsA4xxProblem(t *testing.T) {
	f := newFixture(t)
	ten := f.newTenant()
	h := f.server(ten)
	_, p := call(t, h, "POST", "/v1/projects", `{"name": "Launch"}`)
	pid := p["id"].(string)
	_, tk := call(t, h, "POST", "/v1/projects/"+pid+"/tasks", `{"title": "one"}`)
	_, page := call(t, h, "GET", "/v1/projects?limit=1", "")
	require.Nil(t, page["next_cursor"], "one project: no next page")
	projectsCursor := domain.IDCursor(listProjects, uuid.MustParse(pid))

	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"NonUUIDProject", "GET", "/v1/projects/launch", "", 404},
		{"UUIDWithoutDashes", "GET", "/v1/projects/" + strings.ReplaceAll(pid, "-", ""), "", 404},
		{"UnknownProject", "GET", "/v1/projects/" + uuid.NewString(), "", 404},
		{"NonUUIDTask", "POST", "/v1/projects/" + pid + "/tasks/one/complete", "", 404},
		{"UnknownTask", "POST", "/v1/projects/" + pid + "/tasks/" + uuid.NewString() + "/complete", "", 404},
		{"TaskOfAnUnknownProject", "POST", "/v1/projects/" + uuid.NewString() + "/tasks/" + tk["id"].(string) + "/complete", "", 404},
		{"AddToAnUnknownProject", "POST", "/v1/projects/" + uuid.NewString() + "/tasks", `{"title": "x"}`, 404},
		{"TasksOfAnUnknownProject", "GET", "/v1/projects/" + uuid.NewString() + "/tasks", "", 404},
		{"EmptyName", "POST", "/v1/projects", `{"name": ""}`, 400},
		{"NameTooLong", "POST", "/v1/projects", `{"name": "` + strings.Repeat("n", 101) + `"}`, 400},
		{"UnknownField", "POST", "/v1/projects", `{"name": "x", "owner": "me"}`, 400},
		{"NoBody", "POST", "/v1/projects", ``, 400},
		{"TitleTooLong", "POST", "/v1/projects/" + pid + "/tasks", `{"title": "` + strings.Repeat("t", 201) + `"}`, 400},
		{"BadStatus", "GET", "/v1/projects/" + pid + "/tasks?status=closed", "", 400},
		{"BadLimit", "GET", "/v1/projects?limit=0", "", 400},
		{"LimitTooHigh", "GET", "/v1/projects/" + pid + "/tasks?limit=1001", "", 400},
		{"ForgedCursor", "GET", "/v1/projects?cursor=abc", "", 400},
		{"AnotherListsCursor", "GET", "/v1/projects/" + pid + "/tasks?cursor=" + projectsCursor, "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, h, tt.method, tt.path, tt.body)
			require.Equal(t, tt.status, code, body)
			require.NotEmpty(t, body["detail"])
		})
	}
}
