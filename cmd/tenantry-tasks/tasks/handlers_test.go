package tasks_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// The product's handlers over the real server (tenantry-tasks serving a fresh database),
// with a tenant admin's key: what they answer, and that bad input is a 4xx problem.

// handler is a tenant admin's view of a serving tenantry-tasks.
type handler struct {
	s   *server
	key string
}

func (f fixtureServer) server(ten tenantOf) handler { return handler{s: f.s, key: ten.key} }

// fixtureServer starts one server for a test and creates tenants on it.
type fixtureServer struct {
	t *testing.T
	s *server
	n int
}

func newServerFixture(t *testing.T) *fixtureServer { return &fixtureServer{t: t, s: start(t, nil)} }

func (f *fixtureServer) newTenant() tenantOf {
	f.n++
	return f.s.createTenant(f.t, "h-"+strings.Repeat("x", f.n))
}

func call(t *testing.T, h handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, h.s.base+path, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	require.Less(t, resp.StatusCode, 500, string(b))
	return resp.StatusCode, out
}

func TestHandlers_AnswerTheProductsRoutes(t *testing.T) {
	f := newServerFixture(t)
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
	f := newServerFixture(t)
	ten := f.newTenant()
	h := f.server(ten)
	_, p := call(t, h, "POST", "/v1/projects", `{"name": "Launch"}`)
	pid := p["id"].(string)
	_, tk := call(t, h, "POST", "/v1/projects/"+pid+"/tasks", `{"title": "one"}`)
	_, page := call(t, h, "GET", "/v1/projects?limit=1", "")
	require.Nil(t, page["next_cursor"], "one project: no next page")
	projectsCursor := domain.IDCursor("projects", uuid.MustParse(pid))

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
